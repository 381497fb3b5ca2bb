package wechatpaysim_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/paygate/paygate/wechatpay"
	"github.com/paygate/paygate/wechatpaysim"
)

// TestTradeBill: a day's bill, plain and gzipped, parsed by
// wechatpay.BillReader, whose rows and totals match the trades; too early
// is STATEMENT_CREATING, an empty day NO_STATEMENT_EXIST.
func TestTradeBill(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	ctx := context.Background()
	if _, err := e.sim.Pay(prepay(t, e, "PG20240518B1", 1000), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := codePay(e, "PG20240518B2", "101234567890123457", 2550); err != nil {
		t.Fatal(err)
	}
	if _, err := codePay(e, "PG20240518B3", "101234567890123458", 300); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Reverse(ctx, "PG20240518B3"); err != nil {
		t.Fatal(err)
	}
	prepay(t, e, "PG20240518B4", 99) // unpaid: not in the bill
	if _, err := e.client.Refund(ctx, wechatpay.RefundRequest{OutTradeNo: "PG20240518B1", OutRefundNo: "RFB1",
		Amount: wechatpay.RefundAmount{Refund: 400, Total: 1000}}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Second)

	_, err := e.client.TradeBill(ctx, wechatpay.BillRequest{BillDate: "2024-05-18"})
	wantCode(t, err, http.StatusBadRequest, "STATEMENT_CREATING")
	e.clock.Add(22 * time.Hour) // 2024-05-19 10:00:01 Beijing
	_, err = e.client.TradeBill(ctx, wechatpay.BillRequest{BillDate: "2024-05-17"})
	wantCode(t, err, http.StatusBadRequest, "NO_STATEMENT_EXIST")

	var pay, refund int64
	for _, v := range e.sim.Trades() {
		if v.PaidAt != nil {
			pay += v.Total
		}
		for _, r := range v.Refunds {
			if r.Status == wechatpay.RefundSuccess {
				refund += r.Amount
			}
		}
	}
	for _, gz := range []bool{false, true} {
		u, err := e.client.TradeBill(ctx, wechatpay.BillRequest{BillDate: "2024-05-18", Gzip: gz})
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.client.DownloadBill(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Rows) != 5 || b.Summary.Count != 5 || b.Summary.Settlement != pay || b.Summary.Refund != refund ||
			pay != 1000+2550+300 || refund != 400+300 {
			t.Fatalf("gzip %v: %d rows, summary %+v; trades paid %d refunded %d", gz, len(b.Rows), b.Summary, pay, refund)
		}
		for _, r := range b.Rows {
			if r.MchID != testMchID || r.AppID != testAppID || !txnIDRe.MatchString(r.TransactionID) {
				t.Fatalf("row %+v", r)
			}
		}
	}
	u, err := e.client.TradeBill(ctx, wechatpay.BillRequest{BillDate: "2024-05-18", BillType: wechatpay.BillTypeRefund})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := e.client.DownloadBill(ctx, u); err != nil || len(b.Rows) != 2 || !b.Rows[0].IsRefund() {
		t.Fatalf("refund bill: %+v %v", b, err)
	}
	e.clock.Add(6 * time.Minute)
	if _, err := e.client.DownloadBill(ctx, u); err == nil {
		t.Fatal("a download URL older than 5 minutes still worked")
	}
}

// TestPersistence: trades, refunds in flight and pending notifications
// survive a restart on the same data directory; a second simulator on it
// is refused.
func TestPersistence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := setup(t, options{dataDir: dir, faults: wechatpaysim.Faults{NotifySchedule: "1h"}})
	ctx := context.Background()
	e.recv.failNext(1)
	if _, err := e.sim.Pay(prepay(t, e, "PG20240518J1", 1000), ""); err != nil {
		t.Fatal(err)
	}
	waitAttempts(t, e, 1)
	if _, err := e.client.Refund(ctx, wechatpay.RefundRequest{OutTradeNo: "PG20240518J1", OutRefundNo: "RFJ1",
		Amount: wechatpay.RefundAmount{Refund: 100, Total: 1000}}); err != nil {
		t.Fatal(err)
	}
	if _, err := codePay(e, "PG20240518J2", "111234567890123459", 50); err != nil {
		t.Fatal(err)
	}
	before := e.sim.Trades()
	if _, err := wechatpaysim.New(e.cfg); err == nil {
		t.Fatal("a second simulator opened the same data directory")
	}
	if err := e.sim.Close(); err != nil {
		t.Fatal(err)
	}

	cfg := e.cfg
	sim, err := wechatpaysim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	after := sim.Trades()
	if len(after) != len(before) || after[0].TransactionID != before[0].TransactionID || after[0].Refunds[0].RefundID != before[0].Refunds[0].RefundID {
		t.Fatalf("before %+v\nafter %+v", before, after)
	}
	// The scheduled changes go on after the restart: the refund succeeds,
	// the 11… code is paid, the refused notification is sent again.
	e.clock.Add(time.Hour)
	for _, v := range sim.Trades() {
		if v.TradeState != wechatpay.TradeSuccess && v.TradeState != wechatpay.TradeRefund {
			t.Fatalf("after the restart: %+v", v)
		}
	}
	notes := e.recv.waitNotes(t, 2)
	if notes[0].EventType != wechatpay.EventTransactionSuccess && notes[1].EventType != wechatpay.EventTransactionSuccess {
		t.Fatalf("the payment notification was not sent again: %+v", notes)
	}
}
