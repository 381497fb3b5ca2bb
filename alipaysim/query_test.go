package alipaysim_test

import (
	"errors"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

// TestQueryReferences: trade_no wins over out_trade_no; another app's
// trades are invisible.
func TestQueryReferences(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *alipaysim.Config) {
		c.Apps = append(c.Apps, alipaysim.App{AppID: otherAppID, PublicKey: &otherKey().PublicKey})
	})
	a := e.paidTrade("QA", "1.00", "")
	b := e.paidTrade("QB", "2.00", "")
	q, err := e.client.Query(ctx(t), alipay.TradeRef{OutTradeNo: "QA", TradeNo: b.TradeNo})
	if err != nil || q.OutTradeNo != "QB" {
		t.Fatalf("trade_no does not win: %v %+v", err, q)
	}
	_, err = e.client.Query(ctx(t), alipay.TradeRef{OutTradeNo: "QA", TradeNo: "2024051322001999999999999999"})
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeNotExist)
	other := e.newClient(otherAppID, otherKey(), nil)
	_, err = other.Query(ctx(t), alipay.TradeRef{TradeNo: a.TradeNo})
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeNotExist)
	_, err = other.Query(ctx(t), alipay.TradeRef{OutTradeNo: "QA"})
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeNotExist)
	// The same out_trade_no is free for another app.
	if _, err := other.Pay(ctx(t), alipay.PayRequest{OutTradeNo: "QA", AuthCode: "280000000000000009", Subject: "s", TotalAmount: 5}); err != nil {
		t.Fatal(err)
	}
}

// TestClose: §3.5.
func TestClose(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	e := setup(t)
	closeTrade := func(out string) (*alipay.CloseResponse, error) {
		return e.client.Close(ctx(t), alipay.CloseRequest{OutTradeNo: out})
	}
	if _, err := e.pay("CL1", "270000000000000001", "1.00", "", rcv.url()); err != nil {
		t.Fatal(err)
	}
	r, err := closeTrade("CL1")
	if err != nil || r.OutTradeNo != "CL1" || r.TradeNo == "" {
		t.Fatalf("close: %v %+v", err, r)
	}
	e.mustStatus("CL1", alipay.TradeClosed)
	if f := rcv.next(t); f.Get("trade_status") != alipay.TradeClosed || f.Get("gmt_close") == "" {
		t.Fatalf("close notification %v", f)
	}
	_, err = closeTrade("CL1")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeStatusError)
	e.paidTrade("CL2", "1.00", "")
	_, err = closeTrade("CL2")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeStatusError)
	_, err = closeTrade("CL3")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeNotExist)

	// A code nobody scanned: TRADE_NOT_EXIST, yet it can no longer be paid.
	code := e.precreate("CL4", "1.00", "")
	_, err = closeTrade("CL4")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeNotExist)
	if err := e.sim.PayQR(ctx(t), code, ""); !errors.Is(err, alipaysim.ErrTradeClosed) {
		t.Fatalf("voided code: %v", err)
	}
	_, err = e.client.Precreate(ctx(t), alipay.PrecreateRequest{OutTradeNo: "CL4", TotalAmount: 100, Subject: "coffee"})
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeHasClose)
	_, err = e.pay("CL4", "280000000000000001", "1.00", "", "")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeHasClose)
	_, err = e.query("CL4")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeNotExist)
	rcv.none(t, 50*time.Millisecond)
}

// TestCancel: §3.4 and §8.3.
func TestCancel(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	e := setup(t)
	cancel := func(out string) (*alipay.CancelResponse, error) {
		return e.client.Cancel(ctx(t), alipay.TradeRef{OutTradeNo: out})
	}

	// Unpaid: close.
	if _, err := e.pay("CA1", "270000000000000001", "1.00", "", rcv.url()); err != nil {
		t.Fatal(err)
	}
	r, err := cancel("CA1")
	if err != nil || r.Action != alipay.ActionClose || r.RetryFlag != "N" || r.TradeNo == "" {
		t.Fatalf("cancel unpaid: %v %+v", err, r)
	}
	if f := rcv.next(t); f.Get("trade_status") != alipay.TradeClosed {
		t.Fatalf("notification %v", f)
	}
	if r, err := cancel("CA1"); err != nil || r.Action != alipay.ActionClose {
		t.Fatalf("repeat: %v %+v", err, r)
	}

	// Paid: full refund.
	e.paidTrade("CA2", "3.00", rcv.url())
	rcv.next(t) // TRADE_SUCCESS
	e.clock.Advance(time.Minute)
	r, err = cancel("CA2")
	if err != nil || r.Action != alipay.ActionRefund || r.GmtRefundPay != "2024-05-13 10:01:00" || r.RetryFlag != "N" {
		t.Fatalf("cancel paid: %v %+v", err, r)
	}
	q := e.mustStatus("CA2", alipay.TradeClosed)
	if q.ReceiptAmount != yuan("3.00") {
		t.Fatalf("refunded trade %+v", q)
	}
	f := rcv.next(t)
	if f.Get("trade_status") != alipay.TradeClosed || f.Get("refund_fee") != "3.00" || f.Get("gmt_refund") != "2024-05-13 10:01:00.000" || f.Get("out_biz_no") != "CA2" {
		t.Fatalf("cancel-refund notification %v", f)
	}
	rq, err := e.client.RefundQuery(ctx(t), alipay.RefundQueryRequest{OutTradeNo: "CA2", OutRequestNo: "CA2"})
	if err != nil || !rq.Refunded() || rq.RefundAmount != yuan("3.00") {
		t.Fatalf("refund query after cancel: %v %+v", err, rq)
	}
	e.clock.Advance(48 * time.Hour)
	if r, err := cancel("CA2"); err != nil || r.Action != alipay.ActionRefund {
		t.Fatalf("repeat after the window: %v %+v", err, r)
	}

	// Unknown: 10000 without action, and the out_trade_no is spent.
	r, err = cancel("CA3")
	if err != nil || r.Action != "" || r.RetryFlag != "N" || r.OutTradeNo != "CA3" {
		t.Fatalf("cancel unknown: %v %+v", err, r)
	}
	if r, err := cancel("CA3"); err != nil || r.Action != "" {
		t.Fatalf("repeat unknown: %v %+v", err, r)
	}
	_, err = e.pay("CA3", "280000000000000001", "1.00", "", "")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeHasClose)
	_, err = e.client.Precreate(ctx(t), alipay.PrecreateRequest{OutTradeNo: "CA3", TotalAmount: 100, Subject: "s"})
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeHasClose)

	// A code nobody scanned: no action, and the code can no longer be scanned.
	code := e.precreate("CA4", "1.00", "")
	if r, err := cancel("CA4"); err != nil || r.Action != "" {
		t.Fatalf("cancel unscanned: %v %+v", err, r)
	}
	if err := e.sim.ScanQR(ctx(t), code, ""); !errors.Is(err, alipaysim.ErrTradeClosed) {
		t.Fatalf("scan after cancel: %v", err)
	}

	// Beyond the window.
	e.paidTrade("CA5", "1.00", "")
	e.clock.Advance(24*time.Hour + time.Second)
	_, err = cancel("CA5")
	ae := wantSub(t, err, alipay.OutcomeFailed, alipay.SubCancelTimeOut)
	_ = ae
	e.mustStatus("CA5", alipay.TradeSuccess)

	// A trade closed by timeout answers close; a 29… trade cancelled before
	// the buyer confirms is never paid.
	if _, err := e.pay("CA6", "291234567890123456", "1.00", "", ""); err != nil {
		t.Fatal(err)
	}
	if r, err := cancel("CA6"); err != nil || r.Action != alipay.ActionClose {
		t.Fatalf("cancel 29: %v %+v", err, r)
	}
	e.clock.Advance(time.Minute)
	e.mustStatus("CA6", alipay.TradeClosed)
}

// TestCancelRetryFlagOnFailure: a failed cancel still carries retry_flag.
func TestCancelRetryFlagOnFailure(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *alipaysim.Config) { c.RefundPeriod = time.Hour })
	e.paidTrade("CF1", "1.00", "")
	e.clock.Advance(time.Hour)
	e.mustStatus("CF1", alipay.TradeFinished)
	r, err := e.client.Cancel(ctx(t), alipay.TradeRef{OutTradeNo: "CF1"})
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeHasFinished)
	if r.RetryFlag != "N" {
		t.Fatalf("retry_flag %q", r.RetryFlag)
	}
}
