package alipaysim_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

var tradeNoPattern = regexp.MustCompile(`^2024051322001\d{15}$`)

// TestPrecreateScanPay follows a QR order: no trade until the scan, then
// WAIT_BUYER_PAY with a trade_no, then TRADE_SUCCESS.
func TestPrecreateScanPay(t *testing.T) {
	t.Parallel()
	e := setup(t)
	code := e.precreate("P1", "12.34", "")
	if !strings.HasPrefix(code, "https://qr.alipay.com/bax0") {
		t.Fatalf("qr_code %s", code)
	}
	_, err := e.query("P1")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeNotExist)
	if v := e.view("P1"); v.TradeStatus != "" || v.QRCode != code || v.TradeNo != "" {
		t.Fatalf("unscanned view %+v", v)
	}

	e.clock.Advance(time.Minute)
	if err := e.sim.ScanQR(ctx(t), code, "2088000000000042"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.ScanQR(ctx(t), code, ""); err != nil {
		t.Fatalf("scanning again: %v", err)
	}
	if err := e.sim.ScanQR(ctx(t), code, "2088000000000043"); !errors.Is(err, alipaysim.ErrOtherBuyer) {
		t.Fatalf("another buyer: %v", err)
	}
	q := e.mustStatus("P1", alipay.TradeWaitBuyerPay)
	if !tradeNoPattern.MatchString(q.TradeNo) || q.BuyerUserID != "2088000000000042" || q.TotalAmount != yuan("12.34") || q.ReceiptAmount != 0 {
		t.Fatalf("scanned trade %+v", q)
	}
	if !regexp.MustCompile(`^1\d\d\*\*\*\*\d{4}$`).MatchString(q.BuyerLogonID) {
		t.Fatalf("buyer_logon_id %q is not masked", q.BuyerLogonID)
	}
	// By trade_no too.
	if q2, err := e.client.Query(ctx(t), alipay.TradeRef{TradeNo: q.TradeNo}); err != nil || q2.OutTradeNo != "P1" {
		t.Fatalf("query by trade_no: %v %+v", err, q2)
	}

	e.clock.Advance(time.Minute)
	if err := e.sim.PayQR(ctx(t), code, ""); err != nil {
		t.Fatal(err)
	}
	q = e.mustStatus("P1", alipay.TradeSuccess)
	if q.SendPayDate != "2024-05-13 10:02:00" || q.ReceiptAmount != yuan("12.34") || q.BuyerPayAmount != yuan("12.34") ||
		len(q.FundBillList) != 1 || q.FundBillList[0].FundChannel != "ALIPAYACCOUNT" {
		t.Fatalf("paid trade %+v", q)
	}
	if err := e.sim.PayQR(ctx(t), code, ""); !errors.Is(err, alipaysim.ErrTradePaid) {
		t.Fatalf("paying twice: %v", err)
	}
}

// TestPrecreateRepeats covers §8.3's rules for reusing an out_trade_no.
func TestPrecreateRepeats(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pre := func(out, amount, subject string) (string, error) {
		r, err := e.client.Precreate(ctx(t), alipay.PrecreateRequest{OutTradeNo: out, TotalAmount: yuan(amount), Subject: subject})
		return r.QRCode, err
	}
	c1, _ := pre("R1", "1.00", "s")
	c2, _ := pre("R1", "1.00", "s")
	if c1 != c2 {
		t.Fatal("same parameters before a scan gave a new code")
	}
	c3, _ := pre("R1", "2.00", "s")
	if c3 == c1 {
		t.Fatal("changed parameters before a scan kept the code")
	}
	if err := e.sim.PayQR(ctx(t), c1, ""); !errors.Is(err, alipaysim.ErrUnknownCode) {
		t.Fatalf("replaced code still payable: %v", err)
	}
	if err := e.sim.ScanQR(ctx(t), c3, ""); err != nil {
		t.Fatal(err)
	}
	if c, err := pre("R1", "2.00", "s"); err != nil || c != c3 {
		t.Fatalf("same parameters after the scan: %v %s", err, c)
	}
	_, err := pre("R1", "2.00", "other subject")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubContextInconsistent)
	_, err = e.client.Pay(ctx(t), alipay.PayRequest{OutTradeNo: "R1", AuthCode: "280000000000000001", Subject: "s", TotalAmount: yuan("2.00")})
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubContextInconsistent)
	if err := e.sim.PayQR(ctx(t), c3, ""); err != nil {
		t.Fatal(err)
	}
	_, err = pre("R1", "2.00", "s")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeHasSuccess)

	c4, _ := pre("R2", "1.00", "s")
	if err := e.sim.ScanQR(ctx(t), c4, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Close(ctx(t), alipay.CloseRequest{OutTradeNo: "R2"}); err != nil {
		t.Fatal(err)
	}
	_, err = pre("R2", "1.00", "s")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeHasClose)
	if err := e.sim.PayQR(ctx(t), c4, ""); !errors.Is(err, alipaysim.ErrTradeClosed) {
		t.Fatalf("closed trade payable: %v", err)
	}
}

// TestPrecreateExpiries: qr_code_timeout_express counts from the code,
// timeout_express from the scan, and the code's expiry also closes the trade.
func TestPrecreateExpiries(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	e := setup(t)
	r, err := e.client.Precreate(ctx(t), alipay.PrecreateRequest{OutTradeNo: "E1", TotalAmount: 100, Subject: "s", QRCodeTimeoutExpress: "5m"})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Minute)
	if err := e.sim.PayQR(ctx(t), r.QRCode, ""); !errors.Is(err, alipaysim.ErrCodeExpired) {
		t.Fatalf("expired code: %v", err)
	}
	r2, err := e.client.Precreate(ctx(t), alipay.PrecreateRequest{OutTradeNo: "E1", TotalAmount: 100, Subject: "s", QRCodeTimeoutExpress: "5m"})
	if err != nil || r2.QRCode == r.QRCode {
		t.Fatalf("precreate after expiry: %v, same code %v", err, r2.QRCode == r.QRCode)
	}
	if err := e.sim.PayQR(ctx(t), r2.QRCode, ""); err != nil {
		t.Fatalf("new code: %v", err)
	}

	// timeout_express from the scan: scanned at +2m, closes at +12m.
	r3, err := e.client.Precreate(ctx(t), alipay.PrecreateRequest{OutTradeNo: "E2", TotalAmount: 100, Subject: "s", TimeoutExpress: "10m", NotifyURL: rcv.url()})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	if err := e.sim.ScanQR(ctx(t), r3.QRCode, ""); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10*time.Minute - time.Second)
	e.mustStatus("E2", alipay.TradeWaitBuyerPay)
	e.clock.Advance(time.Second)
	f := rcv.next(t) // the sweeper closes it and notifies
	if f.Get("trade_status") != alipay.TradeClosed || f.Get("out_trade_no") != "E2" || f.Get("gmt_close") != alipay.FormatTime(e.clock.Now()) {
		t.Fatalf("timeout notification %v", f)
	}
	e.mustStatus("E2", alipay.TradeClosed)
	if v := e.view("E2"); v.CloseReason != "timeout" {
		t.Fatalf("close reason %q", v.CloseReason)
	}

	// The code's expiry bounds the trade: code 5m, trade 1h, scan at +1m.
	r4, err := e.client.Precreate(ctx(t), alipay.PrecreateRequest{OutTradeNo: "E3", TotalAmount: 100, Subject: "s", TimeoutExpress: "1h", QRCodeTimeoutExpress: "5m"})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if err := e.sim.ScanQR(ctx(t), r4.QRCode, ""); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(4 * time.Minute)
	e.mustStatus("E3", alipay.TradeClosed)
}

// TestOneDayExpiry: "1c" ends at midnight China time.
func TestOneDayExpiry(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r, err := e.client.Precreate(ctx(t), alipay.PrecreateRequest{OutTradeNo: "D1", TotalAmount: 100, Subject: "s", QRCodeTimeoutExpress: "1c"})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(13*time.Hour + 59*time.Minute) // 23:59
	if err := e.sim.ScanQR(ctx(t), r.QRCode, ""); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	e.mustStatus("D1", alipay.TradeClosed)
}

// TestBizValidation: every field rule of §3 answers ACQ.INVALID_PARAMETER
// with a sub_msg naming the field; valid edge values pass.
func TestBizValidation(t *testing.T) {
	t.Parallel()
	e := setup(t)
	long := strings.Repeat("x", 65)
	tests := []struct {
		method, biz, field string // field "" = must succeed
	}{
		{alipay.MethodPrecreate, `{"total_amount":"1.00","subject":"s"}`, "out_trade_no"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V1","subject":"s"}`, "total_amount"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V1","total_amount":"1.00"}`, "subject"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V-1","total_amount":"1.00","subject":"s"}`, "out_trade_no"},
		{alipay.MethodPrecreate, `{"out_trade_no":"` + long + `","total_amount":"1.00","subject":"s"}`, "out_trade_no"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V1","total_amount":"1.00","subject":"` + strings.Repeat("字", 257) + `"}`, "subject"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V1","total_amount":"1.00","subject":"` + strings.Repeat("字", 256) + `"}`, ""},
		{alipay.MethodPrecreate, `{"out_trade_no":"V2","total_amount":"0","subject":"s"}`, "total_amount"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V2","total_amount":"0.001","subject":"s"}`, "total_amount"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V2","total_amount":"1e3","subject":"s"}`, "total_amount"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V2","total_amount":"-1.00","subject":"s"}`, "total_amount"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V2","total_amount":" 1.00","subject":"s"}`, "total_amount"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V2","total_amount":"100000000.01","subject":"s"}`, "total_amount"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V2","total_amount":"1.","subject":"s"}`, "total_amount"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V2","total_amount":true,"subject":"s"}`, "total_amount"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V3","total_amount":"100000000","subject":"s"}`, ""},
		{alipay.MethodPrecreate, `{"out_trade_no":"V4","total_amount":"1.5","subject":"s"}`, ""},
		{alipay.MethodPrecreate, `{"out_trade_no":"V5","total_amount":0.01,"subject":"s"}`, ""},
		{alipay.MethodPrecreate, `{"out_trade_no":"V6","total_amount":"1","subject":"a/b=c&d"}`, ""},
		{alipay.MethodPrecreate, `{"out_trade_no":"V7","total_amount":"1","subject":"s","timeout_express":"0m"}`, "timeout_express"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V7","total_amount":"1","subject":"s","timeout_express":"16d"}`, "timeout_express"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V7","total_amount":"1","subject":"s","timeout_express":"1.5h"}`, "timeout_express"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V7","total_amount":"1","subject":"s","timeout_express":"90s"}`, "timeout_express"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V7","total_amount":"1","subject":"s","qr_code_timeout_express":"2c"}`, "qr_code_timeout_express"},
		{alipay.MethodPrecreate, `{"out_trade_no":"V8","total_amount":"1","subject":"s","timeout_express":"15d","qr_code_timeout_express":"1c"}`, ""},
		{alipay.MethodPrecreate, `{"out_trade_no":"V9","total_amount":"1","subject":"s","timeout_express":"21600m"}`, ""},
		{alipay.MethodPay, `{"out_trade_no":"V1","auth_code":"280000000000000001","subject":"s","total_amount":"1"}`, "scene"},
		{alipay.MethodPay, `{"out_trade_no":"V1","scene":"wave","auth_code":"280000000000000001","subject":"s","total_amount":"1"}`, "scene"},
		{alipay.MethodPay, `{"out_trade_no":"V1","scene":"bar_code","subject":"s","total_amount":"1"}`, "auth_code"},
		{alipay.MethodPay, `{"out_trade_no":"V1","scene":"bar_code","auth_code":"280000000000000001","subject":"s"}`, "total_amount"},
		{alipay.MethodQuery, `{}`, "out_trade_no"},
		{alipay.MethodRefund, `{"out_trade_no":"V1"}`, "refund_amount"},
		{alipay.MethodRefund, `{"out_trade_no":"V1","refund_amount":"1","out_request_no":"a b"}`, "out_request_no"},
		{alipay.MethodRefund, `{"out_trade_no":"V1","refund_amount":"1","out_request_no":"` + long + `"}`, "out_request_no"},
		{alipay.MethodRefundQuery, `{"out_trade_no":"V1"}`, "out_request_no"},
	}
	for _, tc := range tests {
		p, err := e.client.Params(tc.method, []byte(tc.biz), "")
		if err != nil {
			t.Fatal(err)
		}
		_, body := e.raw("", p.Encode())
		n := decode(t, body, tc.method)
		if tc.field == "" {
			if n.Fields["code"] != "10000" {
				t.Errorf("%s %s: %s", tc.method, tc.biz, body)
			}
			continue
		}
		if n.Fields["sub_code"] != alipay.SubInvalidParameter || !strings.Contains(n.Fields["sub_msg"], tc.field) {
			t.Errorf("%s %s: want ACQ.INVALID_PARAMETER naming %s, got %s", tc.method, tc.biz, tc.field, body)
		}
	}
	// A bad notify_url.
	p, _ := e.client.Params(alipay.MethodPrecreate, []byte(`{"out_trade_no":"N1","total_amount":"1","subject":"s"}`), "http://shop.example/n?x=1")
	_, body := e.raw("", p.Encode())
	decode(t, body, alipay.MethodPrecreate).want(t, "40004", alipay.SubInvalidParameter)
}
