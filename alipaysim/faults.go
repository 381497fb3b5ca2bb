package alipaysim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/simfault"
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
	err := simfault.Check([]simfault.Rate{
		{Name: "gateway_error_rate", Value: f.GatewayErrorRate}, {Name: "unknown_rate", Value: f.UnknownRate},
		{Name: "timeout_rate", Value: f.TimeoutRate}, {Name: "notify_drop_rate", Value: f.NotifyDropRate},
		{Name: "notify_duplicate_rate", Value: f.NotifyDuplicateRate}, {Name: "cancel_retry_rate", Value: f.CancelRetryRate},
		{Name: "bad_signature_rate", Value: f.BadSignatureRate},
	}, []simfault.Delay{{Name: "latency_ms", MS: f.LatencyMS}, {Name: "notify_delay_ms", MS: f.NotifyDelayMS}})
	if err != nil {
		return err
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
	return simfault.ParseSchedule(s, alipaySchedule())
}

// appliesTo reports whether the call faults cover method.
func (f Faults) appliesTo(method string) bool {
	return len(f.Methods) == 0 || slices.Contains(f.Methods, method)
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
