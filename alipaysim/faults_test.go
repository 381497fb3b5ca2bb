package alipaysim_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

// TestGatewayErrorFault: HTTP 502 and nothing done.
func TestGatewayErrorFault(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *alipaysim.Config) { c.Faults = alipaysim.Faults{GatewayErrorRate: 1} })
	_, err := e.pay("F1", "280000000000000001", "1.00", "", "")
	if alipay.OutcomeOf(err) != alipay.OutcomeUnknown || !strings.Contains(err.Error(), "502") {
		t.Fatalf("gateway error: %v", err)
	}
	if err := e.sim.SetFaults(alipaysim.Faults{}); err != nil {
		t.Fatal(err)
	}
	_, err = e.query("F1")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeNotExist)
}

// TestUnknownFault: a signed 20000, but the call took effect.
func TestUnknownFault(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *alipaysim.Config) {
		c.Faults = alipaysim.Faults{UnknownRate: 1, Methods: []string{alipay.MethodPay}}
	})
	_, err := e.pay("F2", "280000000000000001", "1.00", "", "")
	ae := wantSub(t, err, alipay.OutcomeUnknown, "isp.unknow-error")
	if ae.Code != "20000" || ae.SubMsg != "系统繁忙" {
		t.Fatalf("unknown: %v", err)
	}
	e.mustStatus("F2", alipay.TradeSuccess) // query is not in Methods
}

// TestTimeoutFault: no answer in time, but the call took effect.
func TestTimeoutFault(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *alipaysim.Config) {
		c.Faults = alipaysim.Faults{TimeoutRate: 1, Methods: []string{alipay.MethodPay}}
	})
	cctx, cancel := context.WithTimeout(ctx(t), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.client.Pay(cctx, alipay.PayRequest{OutTradeNo: "F3", AuthCode: "280000000000000001", Subject: "s", TotalAmount: 100})
	if alipay.OutcomeOf(err) != alipay.OutcomeUnknown {
		t.Fatalf("timeout: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the client waited %v", d)
	}
	e.mustStatus("F3", alipay.TradeSuccess)
}

// TestBadSignatureFault: the answer does not verify, the call took effect.
func TestBadSignatureFault(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *alipaysim.Config) {
		c.Faults = alipaysim.Faults{BadSignatureRate: 1, Methods: []string{alipay.MethodPrecreate}}
	})
	_, err := e.client.Precreate(ctx(t), alipay.PrecreateRequest{OutTradeNo: "F4", TotalAmount: 100, Subject: "s"})
	if alipay.OutcomeOf(err) != alipay.OutcomeUnknown || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("bad signature: %v", err)
	}
	if v := e.view("F4"); v.QRCode == "" {
		t.Fatal("precreate did not take effect")
	}
}

// TestCancelRetryFault: ACQ.SYSTEM_ERROR with retry_flag Y, nothing done.
func TestCancelRetryFault(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.paidTrade("F5", "1.00", "")
	if err := e.sim.SetFaults(alipaysim.Faults{CancelRetryRate: 1}); err != nil {
		t.Fatal(err)
	}
	r, err := e.client.Cancel(ctx(t), alipay.TradeRef{OutTradeNo: "F5"})
	wantSub(t, err, alipay.OutcomeUnknown, alipay.SubCodeSystemError)
	if !r.Retry() {
		t.Fatalf("retry_flag %q", r.RetryFlag)
	}
	e.mustStatus("F5", alipay.TradeSuccess)
	if err := e.sim.SetFaults(alipaysim.Faults{}); err != nil {
		t.Fatal(err)
	}
	if r, err := e.client.Cancel(ctx(t), alipay.TradeRef{OutTradeNo: "F5"}); err != nil || r.Action != alipay.ActionRefund {
		t.Fatalf("retried cancel: %v %+v", err, r)
	}
}

// TestLatencyFault delays calls.
func TestLatencyFault(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *alipaysim.Config) { c.Faults = alipaysim.Faults{LatencyMS: 200} })
	start := time.Now()
	_, _ = e.query("X")
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("answered in %v", d)
	}
}

// TestFaultsAPI: validation, GET/POST /sim/faults, and the seeded dice.
func TestFaultsAPI(t *testing.T) {
	t.Parallel()
	e := setup(t)
	bad := []string{
		`{"unknown_rate":1.5}`, `{"timeout_rate":-0.1}`, `{"latency_ms":-1}`, `{"notify_schedule":"1s,x"}`,
		`{"notify_schedule":"0s"}`, `{"amount_skew_fen":10000000001}`, `{"methods":["alipay.trade.create"]}`, `{"typo_rate":0.1}`, `[1]`, `{"latency_ms":1}{}`,
	}
	for _, b := range bad {
		resp, err := http.Post(e.srv.URL+"/sim/faults", "application/json", strings.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", b, resp.StatusCode)
		}
	}
	var got alipaysim.Faults
	want := alipaysim.Faults{UnknownRate: 0.5, NotifySchedule: "1s,2s", Methods: []string{alipay.MethodPay}}
	if code := e.simJSON(http.MethodPost, "/sim/faults", want, &got); code != http.StatusOK || got.UnknownRate != 0.5 {
		t.Fatalf("POST: %d %+v", code, got)
	}
	got = alipaysim.Faults{}
	if e.simJSON(http.MethodGet, "/sim/faults", nil, &got); got.NotifySchedule != "1s,2s" || len(got.Methods) != 1 {
		t.Fatalf("GET: %+v", got)
	}
	if f := e.sim.Faults(); f.UnknownRate != 0.5 {
		t.Fatalf("Faults() %+v", f)
	}
	if _, err := alipaysim.New(alipaysim.Config{AlipayKey: alipayKey(), Faults: alipaysim.Faults{GatewayErrorRate: 2}}); err == nil {
		t.Fatal("New accepted a bad fault set")
	}

	// About half the pays are unknown with rate 0.5, the same with the same seed.
	outcomes := func() string {
		e := setup(t, func(c *alipaysim.Config) {
			c.Seed = 42
			c.Faults = alipaysim.Faults{UnknownRate: 0.5}
		})
		var s strings.Builder
		for range 20 {
			_, err := e.query("X")
			s.WriteString(alipay.OutcomeOf(err).String()[:1])
		}
		return s.String()
	}
	a, b := outcomes(), outcomes()
	if a != b || !strings.Contains(a, "u") || !strings.Contains(a, "f") {
		t.Fatalf("seeded outcomes %s and %s", a, b)
	}
}

// TestAmountSkewFault: the answers of the methods named report the trade's
// total and the refund's amount off by the skew, signed so that they
// verify; the trade itself and other methods' answers are untouched.
func TestAmountSkewFault(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *alipaysim.Config) {
		c.Faults = alipaysim.Faults{AmountSkewFen: 1, Methods: []string{alipay.MethodQuery, alipay.MethodRefundQuery}}
	})
	pay := e.paidTrade("SK1", "5.00", "")
	if pay.TotalAmount != yuan("5.00") {
		t.Fatalf("pay answer total %s; pay is not in Methods", pay.TotalAmount)
	}
	q, err := e.query("SK1")
	if err != nil || q.TotalAmount != yuan("5.01") || q.ReceiptAmount != yuan("5.00") {
		t.Fatalf("query answer: %+v, %v; want total_amount 5.01 (signed), receipt_amount untouched", q, err)
	}
	if _, err := e.client.Refund(ctx(t), alipay.RefundRequest{OutTradeNo: "SK1", RefundAmount: yuan("2.00"), OutRequestNo: "r1"}); err != nil {
		t.Fatal(err)
	}
	rq, err := e.client.RefundQuery(ctx(t), alipay.RefundQueryRequest{OutTradeNo: "SK1", OutRequestNo: "r1"})
	if err != nil || rq.RefundAmount != yuan("2.01") || rq.TotalAmount != yuan("5.01") {
		t.Fatalf("refund query answer: %+v, %v; want refund_amount 2.01", rq, err)
	}
	if v := e.view("SK1"); v.TotalAmount != yuan("5.00") || v.RefundFee != yuan("2.00") {
		t.Fatalf("the trade itself changed: total %s, refunded %s", v.TotalAmount, v.RefundFee)
	}
}
