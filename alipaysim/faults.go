package alipaysim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
)

// Faults is the simulator's fault injection, as contract.md names its keys.
// Every field is optional; the zero value injects nothing. Rates are
// probabilities in [0, 1], rolled independently for each call or notification.
type Faults struct {
	// LatencyMS delays every gateway call by this many milliseconds.
	LatencyMS int `json:"latency_ms,omitempty"`
	// GatewayErrorRate answers HTTP 502 with an HTML page; nothing is done.
	GatewayErrorRate float64 `json:"gateway_error_rate,omitempty"`
	// UnknownRate lets the call take effect, then answers a signed 20000
	// isp.unknow-error 系统繁忙 in place of the real result.
	UnknownRate float64 `json:"unknown_rate,omitempty"`
	// TimeoutRate lets the call take effect, then holds the answer until the
	// client gives up (its request context ends) or 60 s pass.
	TimeoutRate float64 `json:"timeout_rate,omitempty"`
	// NotifyDropRate drops a notification entirely: never sent, never retried.
	NotifyDropRate float64 `json:"notify_drop_rate,omitempty"`
	// NotifyDuplicateRate sends a delivery twice.
	NotifyDuplicateRate float64 `json:"notify_duplicate_rate,omitempty"`
	// NotifyDelayMS waits a random time in [0, n] ms before each delivery,
	// which also reorders notifications.
	NotifyDelayMS int `json:"notify_delay_ms,omitempty"`
	// NotifySchedule replaces Alipay's retry delays (4m,10m,10m,1h,2h,6h,15h)
	// with a comma-separated list of Go durations such as "1s,2s,4s".
	NotifySchedule string `json:"notify_schedule,omitempty"`
	// Methods limits the call faults (latency, gateway error, unknown,
	// timeout, bad signature, cancel retry) to these API method names; empty
	// means every method. Notification faults are not affected.
	Methods []string `json:"methods,omitempty"`
	// CancelRetryRate makes alipay.trade.cancel answer 40004 ACQ.SYSTEM_ERROR
	// with retry_flag=Y and do nothing, as a transient cancel failure does.
	CancelRetryRate float64 `json:"cancel_retry_rate,omitempty"`
	// BadSignatureRate answers with a sign that does not verify; the call
	// takes effect.
	BadSignatureRate float64 `json:"bad_signature_rate,omitempty"`
	// AmountSkewFen adds this many fen (negative: takes them) to every
	// total_amount and refund_amount of the answers, correctly signed: an
	// Alipay that reports another amount than the order's, which a gateway
	// must not apply. The call takes effect; Methods limits it. A test knob,
	// not a fault seen in the wild.
	AmountSkewFen int64 `json:"amount_skew_fen,omitempty"`
	// BillSameDay lets the bill download URL query serve today's trade bill
	// (China time), so far, as Alipay never does (a day's bill exists only
	// once the day is over): a test can reconcile the day it made. A test
	// knob, not a fault.
	BillSameDay bool `json:"bill_same_day,omitempty"`
}

// maxLatency bounds latency and notification delay faults, so a typo cannot
// stall a test run for hours.
const maxLatency = 10 * time.Minute

// maxSkewFen bounds amount_skew_fen: Alipay's largest amount, 100,000,000
// yuan.
const maxSkewFen = 100_000_000_00

// skewedAmount matches the amounts amount_skew_fen changes in an answer
// node: the trade's total and a refund's amount, never fund_bill_list's.
var skewedAmount = regexp.MustCompile(`"(total_amount|refund_amount)":"(-?[0-9]+\.[0-9]{2})"`)

// skewAmounts adds fen to every total_amount and refund_amount of n.
func skewAmounts(n *node, fen int64) {
	n.buf = skewedAmount.ReplaceAllFunc(n.buf, func(m []byte) []byte {
		sub := skewedAmount.FindSubmatch(m)
		v, err := paygate.ParseYuan(string(sub[2]))
		if err != nil {
			return m
		}
		return fmt.Appendf(nil, `"%s":"%s"`, sub[1], (v + paygate.Money(fen)).Yuan())
	})
}

// alipaySchedule is the retry schedule of §5.1 after the first delivery:
// 1 delivery and 7 retries over about 24 h 24 min.
func alipaySchedule() []time.Duration {
	return []time.Duration{
		4 * time.Minute, 10 * time.Minute, 10 * time.Minute,
		time.Hour, 2 * time.Hour, 6 * time.Hour, 15 * time.Hour,
	}
}

// ParseFaults reads a Faults JSON object strictly: unknown keys, trailing
// data and invalid values are errors that say what is wrong.
func ParseFaults(data []byte) (Faults, error) {
	var f Faults
	if len(bytes.TrimSpace(data)) == 0 {
		return f, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Faults{}, fmt.Errorf("faults: %w", err)
	}
	if dec.More() {
		return Faults{}, errors.New("faults: data after the JSON object")
	}
	if err := f.Validate(); err != nil {
		return Faults{}, err
	}
	return f, nil
}

// Validate checks that rates are in [0, 1], durations are in range, the
// schedule parses and the methods are ones the simulator serves.
func (f Faults) Validate() error {
	rates := []struct {
		name string
		v    float64
	}{
		{"gateway_error_rate", f.GatewayErrorRate}, {"unknown_rate", f.UnknownRate},
		{"timeout_rate", f.TimeoutRate}, {"notify_drop_rate", f.NotifyDropRate},
		{"notify_duplicate_rate", f.NotifyDuplicateRate}, {"cancel_retry_rate", f.CancelRetryRate},
		{"bad_signature_rate", f.BadSignatureRate},
	}
	for _, r := range rates {
		if !(r.v >= 0 && r.v <= 1) { // also rejects NaN
			return fmt.Errorf("faults: %s is %v; want a probability in [0, 1]", r.name, r.v)
		}
	}
	delays := []struct {
		name string
		ms   int
	}{{"latency_ms", f.LatencyMS}, {"notify_delay_ms", f.NotifyDelayMS}}
	for _, d := range delays {
		if d.ms < 0 || time.Duration(d.ms)*time.Millisecond > maxLatency {
			return fmt.Errorf("faults: %s is %d; want 0 to %d", d.name, d.ms, maxLatency.Milliseconds())
		}
	}
	if f.AmountSkewFen < -maxSkewFen || f.AmountSkewFen > maxSkewFen {
		return fmt.Errorf("faults: amount_skew_fen is %d; want %d to %d", f.AmountSkewFen, -maxSkewFen, maxSkewFen)
	}
	if _, err := parseSchedule(f.NotifySchedule); err != nil {
		return err
	}
	for _, m := range f.Methods {
		if !knownMethod(m) {
			return fmt.Errorf("faults: methods: %q is not a method the simulator serves", m)
		}
	}
	return nil
}

// parseSchedule reads "1s,2s,4s"; empty means Alipay's own schedule.
func parseSchedule(s string) ([]time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return alipaySchedule(), nil
	}
	var out []time.Duration
	for part := range strings.SplitSeq(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 || d > 48*time.Hour {
			return nil, fmt.Errorf("faults: notify_schedule %q: %q is not a duration between 1ns and 48h (like \"1s,2s,4s\")", s, part)
		}
		out = append(out, d)
	}
	return out, nil
}

// appliesTo reports whether the call faults cover method.
func (f Faults) appliesTo(method string) bool {
	return len(f.Methods) == 0 || slices.Contains(f.Methods, method)
}

// dice rolls fault probabilities from a seeded source, so a run with a fixed
// Config.Seed injects the same faults in the same order.
type dice struct {
	mu  sync.Mutex
	rng *rand.Rand
}

func newDice(seed int64) *dice {
	if seed == 0 {
		return &dice{rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	}
	return &dice{rng: rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))}
}

// roll reports true with probability p.
func (d *dice) roll(p float64) bool {
	if p <= 0 {
		return false
	}
	if p >= 1 {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rng.Float64() < p
}

// upTo returns a random duration in [0, ms] milliseconds.
func (d *dice) upTo(ms int) time.Duration {
	if ms <= 0 {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return time.Duration(d.rng.Int64N(int64(ms)*int64(time.Millisecond) + 1))
}

// knownMethod reports whether the simulator serves method.
func knownMethod(m string) bool {
	switch m {
	case alipay.MethodPrecreate, alipay.MethodPay, alipay.MethodQuery, alipay.MethodCancel,
		alipay.MethodClose, alipay.MethodRefund, alipay.MethodRefundQuery, alipay.MethodBillURL:
		return true
	}
	return false
}
