package chaos

// The driver: a shop and its buyers. Orders of every kind are created with
// bounded concurrency, spread round robin over the gateway nodes, on both
// channels: a third of the QR orders on Alipay, a third on WeChat Pay and a
// third "auto" (both codes, paid on either side and now and then on both,
// the second payment a late one the gateway must refund); barcode orders
// carry every kind of Alipay auth code and WeChat Pay payment code, some
// with "auto" (routed by the code's prefix). Buyers pay part of the QR
// orders through the simulators (some at once, some later, some just at the
// expiry, some never), paid orders are refunded in part, in full, in steps
// and concurrently, and some pending orders are closed. Like a real shop, the
// driver repeats a request that got no answer (a transport error, a 5xx) with
// the same out_trade_no / out_request_no and Idempotency-Key until it gets
// one, and counts those retries.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paygate/paygate/client"
)

// orderRec is what the driver did with one order and what it was told.
type orderRec struct {
	No       string
	Subject  string // "chaos-<No>": the marker the simulators record, to match its trades
	Mode     string // qr or barcode
	Channel  string // the channel asked for: alipay, wechat or auto
	Plan     string // what the buyer and the shop do, see plans
	Side     string // an auto QR order's: the code(s) the buyer pays, alipay, wechat, alipay+wechat or wechat+alipay
	AuthCode string
	Amount   int64 // fen

	mu         sync.Mutex
	Answered   bool              // the create got a final answer
	CreateResp string            // status and code of that answer
	CreateErr  string            // no answer at all (the driver gave up)
	QRCodes    map[string]string // by channel, from the create's answer
	SimPay     string            // what /sim/pay answered (each side's, for an auto order)
	SimPaid    bool              // /sim/pay answered 200 on some side: the buyer's money moved
	SimPaidOn  map[string]bool   // the sides where it did
	Close      string            // what the close answered
	SeenStatus string            // the last status the driver saw
	Refunds    []*refundRec
	Notes      []string
}

type refundRec struct {
	OutRequestNo string
	Amount       int64
	Answer       string // HTTP status and code, or the refund's status
	Status       string // the refund's status in a 2xx answer
	Err          string // no answer at all
}

func (r *orderRec) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// The plans and their weights.
var (
	qrPlans = []weighted{
		{"qr-pay", 30}, {"qr-pay-later", 15}, {"qr-pay-at-expiry", 8}, {"qr-scan-only", 8},
		{"qr-never", 19}, {"qr-close", 12}, {"qr-close-vs-pay", 8},
	}
	// WeChat Pay's Native codes have no "scanned" state apart from NOTPAY:
	// the scan-only plan's weight goes to the buyer who never pays.
	wxQRPlans = []weighted{
		{"qr-pay", 30}, {"qr-pay-later", 15}, {"qr-pay-at-expiry", 8},
		{"qr-never", 27}, {"qr-close", 12}, {"qr-close-vs-pay", 8},
	}
	// autoSides is the code an auto QR order's buyer pays: now and then
	// both, one after the other (the second is a late payment).
	autoSides = []weighted{{"alipay", 40}, {"wechat", 40}, {"alipay+wechat", 10}, {"wechat+alipay", 10}}
	// Alipay's auth codes: 28 paid, 29 paid after the pay delay, 27 never
	// confirmed, 26 no balance, and an invalid one.
	barcodePlans = []weighted{
		{"bc-28", 32}, {"bc-29", 24}, {"bc-27", 16}, {"bc-26", 14}, {"bc-invalid", 14},
	}
	// WeChat Pay's payment codes (wechatpaysim): 10 paid, 11 paid after the
	// pay delay (USERPAYING first), 12 never confirmed, 13 no balance, and
	// 14 (a WeChat Pay prefix the simulator refuses).
	wxBarcodePlans = []weighted{
		{"wx-10", 32}, {"wx-11", 24}, {"wx-12", 16}, {"wx-13", 14}, {"wx-invalid", 14},
	}
	// autoBarcodePlans are the valid codes of both wallets, for "auto".
	autoBarcodePlans = []weighted{
		{"bc-28", 16}, {"bc-29", 12}, {"bc-27", 8}, {"bc-26", 7},
		{"wx-10", 16}, {"wx-11", 12}, {"wx-12", 8}, {"wx-13", 7},
	}
	// barcodeChannels spreads barcode orders over the channel asked for.
	barcodeChannels = []weighted{{"alipay", 40}, {"wechat", 40}, {"auto", 20}}
	refundPlans     = []weighted{
		{"none", 30}, {"partial", 18}, {"full", 14}, {"partial+rest", 13}, {"concurrent", 18}, {"repeat", 7},
	}
)

type weighted struct {
	name   string
	weight int
}

func pick(rng *rand.Rand, ws []weighted) string {
	total := 0
	for _, w := range ws {
		total += w.weight
	}
	n := rng.IntN(total)
	for _, w := range ws {
		if n < w.weight {
			return w.name
		}
		n -= w.weight
	}
	return ws[len(ws)-1].name
}

// driver runs the workload against env.
type driver struct {
	e       *env
	seed    uint64
	recs    []*orderRec
	rr      atomic.Uint64
	sem     chan struct{} // bounds the requests in flight
	giveUp  time.Duration // a request unanswered this long is given up and reported
	done    atomic.Int64  // orders whose lifecycle ended
	started atomic.Int64  // orders whose lifecycle began
	// creates are the attempts of creates answered with an order (sent,
	// answered): the failover drill measures its outage by them.
	createsMu sync.Mutex
	creates   [][2]time.Time

	mu      sync.Mutex
	retries map[string]int // by reason
	gaveUp  []string
}

func newDriver(e *env, n int, seed uint64, workers int) *driver {
	d := &driver{e: e, seed: seed, sem: make(chan struct{}, workers), giveUp: 3 * time.Minute, retries: map[string]int{}}
	run := fmt.Sprintf("%04d", seed%10000)
	for i := range n {
		rng := d.rng(i, 0)
		r := &orderRec{No: fmt.Sprintf("C%s_%s%05d", run, e.store[:1], i)}
		r.Subject = "chaos-" + r.No
		r.Amount = amount(rng)
		if rng.IntN(100) < 55 {
			r.Mode = "qr"
			switch r.Channel = []string{"alipay", "wechat", "auto"}[rng.IntN(3)]; r.Channel {
			case "alipay":
				r.Plan = pick(rng, qrPlans)
			case "wechat":
				r.Plan = pick(rng, wxQRPlans)
			case "auto":
				r.Side = pick(rng, autoSides)
				r.Plan = pick(rng, qrPlans)
				if r.Plan == "qr-scan-only" && r.Side != "alipay" {
					r.Plan = "qr-never" // only Alipay's code can be scanned without paying
				}
			}
		} else {
			r.Mode, r.Channel = "barcode", pick(rng, barcodeChannels)
			switch r.Channel {
			case "alipay":
				r.Plan = pick(rng, barcodePlans)
			case "wechat":
				r.Plan = pick(rng, wxBarcodePlans)
			case "auto":
				r.Plan = pick(rng, autoBarcodePlans)
			}
			r.AuthCode = authCode(rng, r.Plan)
		}
		d.recs = append(d.recs, r)
	}
	return d
}

// rng is order i's random source; stream separates its uses.
func (d *driver) rng(i int, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(d.seed^uint64(i)*0x9e3779b97f4a7c15, stream+1))
}

// amount is 0.01 now and then (no partial refund possible), else up to 999.99.
func amount(rng *rand.Rand) int64 {
	switch n := rng.IntN(100); {
	case n < 4:
		return 1
	case n < 10:
		return 2 + rng.Int64N(98)
	default:
		return 100 + rng.Int64N(99900)
	}
}

// authCode is an 18-digit code whose prefix decides the simulator's outcome
// (and, with "auto", the channel).
func authCode(rng *rand.Rand, plan string) string {
	prefix := map[string]string{
		"bc-28": "28", "bc-29": "29", "bc-27": "27", "bc-26": "26", "bc-invalid": "10",
		"wx-10": "10", "wx-11": "11", "wx-12": "12", "wx-13": "13", "wx-invalid": "14",
	}[plan]
	var b strings.Builder
	b.WriteString(prefix)
	for b.Len() < 18 {
		b.WriteByte(byte('0' + rng.IntN(10)))
	}
	return b.String()
}

func yuan(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }

// run drives every order, at most liveCap at a time, starting one every
// spacing at most, and calls progress after each start. It returns when
// every lifecycle has ended.
func (d *driver) run(ctx context.Context, liveCap int, spacing time.Duration, progress func()) {
	live := make(chan struct{}, liveCap)
	var wg sync.WaitGroup
	for i, r := range d.recs {
		select {
		case live <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-live }()
			d.order(ctx, i, r)
			d.done.Add(1)
		}()
		d.started.Add(1)
		progress()
		time.Sleep(spacing)
	}
	wg.Wait()
}

// call sends one API request, repeating it until it gets a final answer: a
// 2xx, or a 4xx, or a 502 PAYMENT_FAILED (a refusal). A transport error, any
// other 5xx, 409 IDEMPOTENCY_IN_FLIGHT and 429 are retried with the same
// body and Idempotency-Key, on the next node. A key still in flight after
// 10 s (its first request died with a killed node and holds the key's
// lease, 2 minutes) is replaced by a fresh one: the body is the same, and
// out_trade_no / out_request_no keep the repeat idempotent. It returns the
// final status (and the API error for a non-2xx), or an error when no answer
// came within giveUp.
func (d *driver) call(ctx context.Context, what, method, path string, query url.Values, body any, idemKey string, out any) (int, *client.APIError, error) {
	start := time.Now()
	key := idemKey
	var inFlightSince time.Time
	last := ""
	for attempt := 0; ; attempt++ {
		c := d.e.clients[int(d.rr.Add(1))%len(d.e.clients)]
		var opts []client.CallOption
		if key != "" {
			opts = append(opts, client.WithIdempotencyKey(key))
		}
		d.sem <- struct{}{}
		sent := time.Now()
		resp, err := c.Do(ctx, method, path, query, body, out, opts...)
		<-d.sem
		if err == nil && method == http.MethodPost && path == "/api/v1/orders" {
			d.createsMu.Lock()
			d.creates = append(d.creates, [2]time.Time{sent, time.Now()})
			d.createsMu.Unlock()
		}
		var apiErr *client.APIError
		reason := ""
		switch {
		case err == nil:
			return resp.StatusCode, nil, nil
		case errors.As(err, &apiErr):
			switch {
			case apiErr.StatusCode >= 500 && apiErr.Code != "PAYMENT_FAILED":
				reason = fmt.Sprintf("%d %s", apiErr.StatusCode, apiErr.Code)
			case apiErr.StatusCode == http.StatusConflict && apiErr.Code == "IDEMPOTENCY_IN_FLIGHT":
				reason = "409 IDEMPOTENCY_IN_FLIGHT"
				if inFlightSince.IsZero() {
					inFlightSince = time.Now()
				} else if time.Since(inFlightSince) > 10*time.Second && key != "" {
					key = fmt.Sprintf("%s~%d", idemKey, attempt)
					inFlightSince = time.Time{}
					d.countRetry("idempotency key replaced")
				}
			case apiErr.StatusCode == http.StatusTooManyRequests:
				reason = "429"
			default:
				return apiErr.StatusCode, apiErr, nil
			}
			last = apiErr.Error()
		case resp != nil && resp.StatusCode/100 == 2:
			return resp.StatusCode, nil, fmt.Errorf("%s: %w", what, err) // undecodable 2xx: a bug, not a retry
		case ctx.Err() != nil:
			return 0, nil, fmt.Errorf("%s: %w", what, ctx.Err())
		default:
			reason, last = "transport", err.Error()
		}
		d.countRetry(reason)
		if time.Since(start) > d.giveUp {
			msg := fmt.Sprintf("%s: no final answer after %s and %d attempts (last: %s)", what, d.giveUp, attempt+1, last)
			d.mu.Lock()
			d.gaveUp = append(d.gaveUp, msg)
			d.mu.Unlock()
			return 0, nil, errors.New(msg)
		}
		backoff := min(100*time.Millisecond<<min(attempt, 5), 2*time.Second)
		time.Sleep(backoff/2 + rand.N(backoff/2+1))
	}
}

func (d *driver) countRetry(reason string) {
	d.mu.Lock()
	d.retries[reason]++
	d.mu.Unlock()
}

// retryTotals is the number of retries and a summary by reason.
func (d *driver) retryTotals() (int, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	total := 0
	var parts []string
	for k, v := range d.retries {
		if k != "idempotency key replaced" {
			total += v
		}
		parts = append(parts, fmt.Sprintf("%s:%d", strings.ReplaceAll(k, " ", "_"), v))
	}
	sort.Strings(parts)
	return total, strings.Join(parts, ",")
}

// order is one order's whole lifecycle.
func (d *driver) order(ctx context.Context, i int, r *orderRec) {
	rng := d.rng(i, 1)
	req := client.CreateOrderRequest{OutTradeNo: r.No, Subject: r.Subject, TotalAmount: yuan(r.Amount), Mode: r.Mode,
		Channel: r.Channel, AuthCode: r.AuthCode}
	var o client.Order
	status, apiErr, err := d.call(ctx, "create "+r.No, http.MethodPost, "/api/v1/orders", nil, req, "create-"+r.No, &o)
	r.mu.Lock()
	switch {
	case err != nil:
		r.CreateErr = err.Error()
	case apiErr != nil:
		r.Answered, r.CreateResp = true, fmt.Sprintf("%d %s", apiErr.StatusCode, apiErr.Code)
	default:
		r.Answered, r.CreateResp, r.QRCodes, r.SeenStatus = true, fmt.Sprintf("%d %s", status, o.Status), o.QRCodes, o.Status
	}
	r.mu.Unlock()
	if err != nil || apiErr != nil {
		return // a barcode refused (502 PAYMENT_FAILED) ends here; anything else is checked at the end
	}
	if r.Mode == "barcode" {
		st := o.Status
		if st == "pending" { // undecided in time: settled in the background
			st = d.await(ctx, r, 45*time.Second)
		}
		if st == "paid" {
			d.refunds(ctx, r, rng)
		}
		return
	}
	d.qr(ctx, r, &o, rng)
}

// qr plays a QR order's plan.
func (d *driver) qr(ctx context.Context, r *orderRec, o *client.Order, rng *rand.Rand) {
	codes := r.payCodes(o)
	if len(codes) == 0 && r.Plan != "qr-never" && r.Plan != "qr-close" {
		r.note("no code to pay in the create answer (status %s, qr_codes %v): the buyer cannot scan", o.Status, o.QRCodes)
		return
	}
	sleep := func(lo, hi time.Duration) { time.Sleep(lo + rand.N(hi-lo+1)) }
	paid := false
	switch r.Plan {
	case "qr-pay":
		paid = d.buyerPays(ctx, r, codes)
	case "qr-pay-later":
		sleep(500*time.Millisecond, 8*time.Second)
		paid = d.buyerPays(ctx, r, codes)
	case "qr-pay-at-expiry":
		at := time.Now().Add(orderTimeout)
		if o.ExpiresAt != nil {
			at = *o.ExpiresAt
		}
		time.Sleep(time.Until(at.Add(time.Duration(rng.Int64N(int64(7*time.Second))) - 3*time.Second)))
		paid = d.buyerPays(ctx, r, codes)
	case "qr-scan-only":
		sleep(0, 3*time.Second)
		for _, c := range codes {
			d.sim(ctx, r, "/sim/scan", c)
		}
	case "qr-never":
	case "qr-close":
		sleep(0, 3*time.Second)
		d.closeOrder(ctx, r)
	case "qr-close-vs-pay":
		sleep(300*time.Millisecond, 2*time.Second)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); d.closeOrder(ctx, r) }()
		go func() { defer wg.Done(); paid = d.buyerPays(ctx, r, codes) }()
		wg.Wait()
	}
	if paid && d.await(ctx, r, 30*time.Second) == "paid" {
		d.refunds(ctx, r, rng)
	}
}

// payCode is one code the buyer scans: the channel it belongs to and the
// code.
type payCode struct{ channel, code string }

// payCodes are the codes the buyer of a QR order pays, in order: the
// order's code, or for an auto order the side(s) of r.Side among those the
// gateway offered (the other when the one chosen was not offered).
func (r *orderRec) payCodes(o *client.Order) []payCode {
	if r.Channel != "auto" {
		if o.QRCode == "" {
			return nil
		}
		return []payCode{{r.Channel, o.QRCode}}
	}
	sides := strings.Split(r.Side, "+")
	both := len(sides) == 2
	if !both {
		other := map[string]string{"alipay": "wechat", "wechat": "alipay"}[r.Side]
		sides = append(sides, other) // paid only when the first is missing
	}
	var out []payCode
	for _, side := range sides {
		if c := o.QRCodes[side]; c != "" {
			out = append(out, payCode{side, c})
		}
	}
	if !both && len(out) > 1 {
		out = out[:1]
	}
	if len(out) > 0 && out[0].channel != sides[0] {
		r.note("%s's code was not offered (qr_codes %v): the buyer pays %s's", sides[0], o.QRCodes, out[0].channel)
	}
	return out
}

// buyerPays scans and pays the codes at the simulator, the second of two
// (an auto order paid on both sides) within 300 ms of the first, before
// the gateway has heard of the first payment or while it closes the other
// side (a second payment refused there is a buyer who came too late); true
// when money moved on some side.
func (d *driver) buyerPays(ctx context.Context, r *orderRec, codes []payCode) bool {
	paid := false
	for i, c := range codes {
		if i > 0 {
			time.Sleep(rand.N(300 * time.Millisecond))
		}
		if d.sim(ctx, r, "/sim/pay", c) == http.StatusOK {
			paid = true
		}
	}
	return paid
}

// sim posts a buyer action (POST /sim/pay pays a weixin:// code at WeChat
// Pay's simulator, an Alipay code at Alipay's); the simulator is never
// killed, so only a transport hiccup is retried.
func (d *driver) sim(ctx context.Context, r *orderRec, path string, c payCode) int {
	body, _ := json.Marshal(map[string]string{"qr_code": c.code})
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.e.simURL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := d.e.hc.Do(req)
		if err != nil {
			if attempt < 5 && ctx.Err() == nil {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			r.note("%s %s: %v", path, c.channel, err)
			return 0
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		r.mu.Lock()
		if path == "/sim/pay" {
			answer := fmt.Sprintf("%d %s", resp.StatusCode, truncate(strings.TrimSpace(string(data)), 120))
			if r.Channel == "auto" {
				answer = c.channel + ": " + answer
			}
			if r.SimPay != "" {
				answer = r.SimPay + "; " + answer
			}
			r.SimPay = answer
			if resp.StatusCode == http.StatusOK {
				r.SimPaid = true
				if r.SimPaidOn == nil {
					r.SimPaidOn = map[string]bool{}
				}
				r.SimPaidOn[c.channel] = true
			}
		} else {
			r.Notes = append(r.Notes, fmt.Sprintf("%s %s: %d", path, c.channel, resp.StatusCode))
		}
		r.mu.Unlock()
		return resp.StatusCode
	}
}

// closeOrder asks the gateway to close the order.
func (d *driver) closeOrder(ctx context.Context, r *orderRec) {
	var o client.Order
	status, apiErr, err := d.call(ctx, "close "+r.No, http.MethodPost, "/api/v1/orders/"+r.No+"/close", nil, nil, "close-"+r.No, &o)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil:
		r.Close = "no answer: " + err.Error()
	case apiErr != nil:
		r.Close = fmt.Sprintf("%d %s", apiErr.StatusCode, apiErr.Code)
	default:
		r.Close, r.SeenStatus = fmt.Sprintf("%d %s", status, o.Status), o.Status
	}
}

// await polls the order until it is no longer pending or max passes, asking
// the channel (refresh=true) every fourth time; it returns the last status.
func (d *driver) await(ctx context.Context, r *orderRec, max time.Duration) string {
	deadline := time.Now().Add(max)
	st := ""
	for n := 0; time.Now().Before(deadline); n++ {
		var o client.Order
		var q url.Values
		if n%4 == 3 {
			q = url.Values{"refresh": {"true"}}
		}
		_, apiErr, err := d.call(ctx, "get "+r.No, http.MethodGet, "/api/v1/orders/"+r.No, q, nil, "", &o)
		if err != nil || apiErr != nil {
			r.note("get while waiting: %v %v", err, apiErr)
			return st
		}
		st = o.Status
		r.mu.Lock()
		r.SeenStatus = st
		r.mu.Unlock()
		if st != "pending" {
			return st
		}
		time.Sleep(300 * time.Millisecond)
	}
	r.note("still %s after waiting %s", st, max)
	return st
}

// refunds plays a refund plan on a paid order.
func (d *driver) refunds(ctx context.Context, r *orderRec, rng *rand.Rand) {
	total := r.Amount
	plan := pick(rng, refundPlans)
	if total < 2 && (plan == "partial" || plan == "partial+rest" || plan == "repeat") {
		plan = "full"
	}
	r.note("refund plan %s", plan)
	n := 0
	next := func() string { n++; return fmt.Sprintf("R%s_%d", r.No, n) }
	part := func() int64 { return 1 + rng.Int64N(total-1) }
	switch plan {
	case "none":
	case "partial":
		d.refund(ctx, r, next(), part(), "")
	case "full":
		d.refund(ctx, r, next(), total, "")
	case "partial+rest":
		a := part()
		d.refund(ctx, r, next(), a, "")
		d.refund(ctx, r, next(), total-a, "")
	case "repeat":
		no, a := next(), part()
		d.refund(ctx, r, no, a, "")
		d.refund(ctx, r, no, a, "-again") // the same out_request_no under another key: the same refund
	case "concurrent":
		k := 2 + rng.IntN(2)
		amounts := make([]int64, k)
		if rng.IntN(2) == 0 && total >= int64(k) { // exactly the total, split
			left := total
			for j := range k - 1 {
				amounts[j] = 1 + rng.Int64N(left-int64(k-1-j))
				left -= amounts[j]
			}
			amounts[k-1] = left
		} else { // oversubscribed: some must be refused
			for j := range amounts {
				amounts[j] = 1 + rng.Int64N(total)
			}
		}
		var wg sync.WaitGroup
		for _, a := range amounts {
			no := next()
			wg.Add(1)
			go func() { defer wg.Done(); d.refund(ctx, r, no, a, "") }()
		}
		wg.Wait()
	}
}

// refund asks for one refund and records the answer.
func (d *driver) refund(ctx context.Context, r *orderRec, outRequestNo string, amount int64, keySuffix string) {
	rr := &refundRec{OutRequestNo: outRequestNo, Amount: amount}
	r.mu.Lock()
	r.Refunds = append(r.Refunds, rr)
	r.mu.Unlock()
	var out client.Refund
	body := client.RefundRequest{OutRequestNo: outRequestNo, Amount: yuan(amount), Reason: "chaos"}
	status, apiErr, err := d.call(ctx, "refund "+outRequestNo, http.MethodPost, "/api/v1/orders/"+r.No+"/refunds", nil, body,
		"refund-"+outRequestNo+keySuffix, &out)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil:
		rr.Err = err.Error()
	case apiErr != nil:
		rr.Answer = fmt.Sprintf("%d %s", apiErr.StatusCode, apiErr.Code)
	default:
		rr.Answer, rr.Status = fmt.Sprintf("%d %s", status, out.Status), out.Status
	}
}

// firstCreateSentAfter is when the first create attempt sent after t was
// answered with an order (zero: none yet).
func (d *driver) firstCreateSentAfter(t time.Time) time.Time {
	d.createsMu.Lock()
	defer d.createsMu.Unlock()
	var first time.Time
	for _, c := range d.creates {
		if c[0].After(t) && (first.IsZero() || c[1].Before(first)) {
			first = c[1]
		}
	}
	return first
}
