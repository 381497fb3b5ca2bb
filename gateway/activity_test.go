package gateway_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/gateway"
)

// withActivity records the gateway's activities through a real ActivityLog
// on the test's store (set up by setup once the store exists).
func withActivity(log **gateway.ActivityLog) option {
	return func(c *gateway.Config, _ *alipaysim.Config) {
		*log = gateway.NewActivityLog(gateway.ActivityLogConfig{Store: c.Store, Every: 20 * time.Millisecond})
		c.Activity = *log
	}
}

// activities flushes log and returns the order's activities as stored.
func activities(t *testing.T, e *env, log *gateway.ActivityLog, orderID int64) []*paygate.OrderActivity {
	t.Helper()
	if err := log.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := e.store.ActivitiesByOrder(context.Background(), orderID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// summary is an activity as the tests compare it: kind, name, outcome, code.
func summary(as []*paygate.OrderActivity) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, strings.Join([]string{a.Kind, a.Name, a.Outcome, a.Code}, " "))
	}
	return out
}

func wantSummary(t *testing.T, got []*paygate.OrderActivity, want ...string) {
	t.Helper()
	g := summary(got)
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Fatalf("activities:\n  %s\nwant\n  %s", strings.Join(g, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestActivityQROrder: a QR order's channel calls and notifications are
// recorded with their outcomes, codes, details and latencies: the
// precreate, the payment's notification applied, its duplicate, a refund
// with its number and amount, and a notification that names the order but
// does not match it.
func TestActivityQROrder(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		var log *gateway.ActivityLog
		e := setup(t, open, withActivity(&log))
		ctx := context.Background()
		o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "A1", TotalAmount: 990, Mode: paygate.ModeQR})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.sim.PayQR(ctx, o.QRCode, ""); err != nil {
			t.Fatal(err)
		}
		eventually(t, "paid", func() bool { return e.order(t, "A1").Status == paygate.StatusPaid })
		tr := e.trade(t, o)
		// The same notification again: verified, changes nothing.
		if err := e.svc.HandleNotification(ctx, notifyForm(t, tr, alipay.TradeSuccess, "")); err != nil {
			t.Fatal(err)
		}
		// Signed, for this order, but for another amount: rejected.
		wrong := tr
		wrong.TotalAmount = 1
		if err := e.svc.HandleNotification(ctx, notifyForm(t, wrong, alipay.TradeSuccess, "")); err == nil {
			t.Fatal("a notification with the wrong amount was applied")
		}
		if _, _, err := e.svc.Refund(ctx, e.merchant, "A1", paygate.CreateRefund{OutRequestNo: "R1", Amount: 100}); err != nil {
			t.Fatal(err)
		}
		got := activities(t, e, log, o.ID)
		// The refund's own notification may come before the log is closed.
		for len(got) > 5 && got[len(got)-1].Kind == paygate.ActivityNotification && strings.Contains(got[len(got)-1].Detail, "refund R1") {
			got = got[:len(got)-1]
		}
		wantSummary(t, got,
			"channel_call alipay.trade.precreate success ",
			"notification TRADE_SUCCESS applied ",
			"notification TRADE_SUCCESS duplicate ",
			"notification TRADE_SUCCESS rejected ",
			"channel_call alipay.trade.refund success ",
		)
		for _, a := range got {
			if a.OrderID != o.ID || a.At.IsZero() || a.ID == 0 {
				t.Errorf("activity %+v: want the order's id, a time and an id", a)
			}
			if a.Kind == paygate.ActivityChannelCall && a.Latency <= 0 {
				t.Errorf("%s: latency %v; want the call's", a.Name, a.Latency)
			}
		}
		if d := got[3].Detail; !strings.Contains(d, "total_amount 0.01 is not the order's 9.90") {
			t.Errorf("rejected notification's detail = %q; want the mismatch", d)
		}
		if d := got[4].Detail; d != "out_request_no R1, 1.00, fund_change Y" {
			t.Errorf("refund's detail = %q", d)
		}
		if d := got[1].Detail; !strings.HasPrefix(d, "notify_id ") {
			t.Errorf("notification's detail = %q; want its notify_id", d)
		}
	})
}

// TestActivityBarcode: a barcode payment the buyer confirms is a pay that
// is paying (10003), queries that find it waiting, and one that finds it
// paid; a refused one is a failed pay with Alipay's sub_code and message.
func TestActivityBarcode(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		var log *gateway.ActivityLog
		e := setup(t, open, withActivity(&log))
		o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "B1", TotalAmount: 500, Mode: paygate.ModeBarcode,
			AuthCode: "290000000000000001"})
		if err != nil || o.Status != paygate.StatusPaid {
			t.Fatalf("confirmed barcode payment: %+v, %v", o, err)
		}
		_, _, err = e.create(t, paygate.CreateOrder{OutTradeNo: "B2", TotalAmount: 500, Mode: paygate.ModeBarcode,
			AuthCode: "260000000000000001"})
		if paygate.ErrorCode(err) != paygate.EPaymentFailed {
			t.Fatalf("barcode without balance: %v", err)
		}
		refused := e.order(t, "B2")
		all := activities(t, e, log, o.ID)
		// The simulator's notification arrives while the loop decides: it
		// is deferred (ignored), and applied or a duplicate later.
		var got []*paygate.OrderActivity
		for _, a := range all {
			if a.Kind == paygate.ActivityChannelCall {
				got = append(got, a)
			} else if a.Name != alipay.TradeSuccess || (a.Outcome != paygate.ActivityIgnored && a.Outcome != paygate.ActivityDuplicate) {
				t.Errorf("notification during a barcode payment: %+v", a)
			}
		}
		if len(got) < 3 {
			t.Fatalf("channel calls of a confirmed barcode payment: %v", summary(got))
		}
		wantSummary(t, got[:1], "channel_call alipay.trade.pay paying ")
		last := got[len(got)-1]
		wantSummary(t, []*paygate.OrderActivity{last}, "channel_call alipay.trade.query success ")
		if last.Detail != alipay.TradeSuccess {
			t.Errorf("last query's detail = %q; want the trade status it found", last.Detail)
		}
		for _, a := range got[1 : len(got)-1] {
			if a.Name != alipay.MethodQuery || a.Outcome != paygate.ActivityPaying || a.Detail != alipay.TradeWaitBuyerPay {
				t.Errorf("poll while the buyer confirms: %+v", a)
			}
		}
		got = activities(t, e, log, refused.ID)
		wantSummary(t, got, "channel_call alipay.trade.pay failed 40004/ACQ.BUYER_BALANCE_NOT_ENOUGH")
		if got[0].Detail == "" {
			t.Error("a refused pay has no detail; want Alipay's sub_msg")
		}
	})
}

// TestActivityUnknown: an answer that is not clear (20000) is unknown, with
// its code; the query that settles it follows.
func TestActivityUnknown(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		var log *gateway.ActivityLog
		e := setup(t, open, withActivity(&log),
			withFaults(alipaysim.Faults{UnknownRate: 1, Methods: []string{alipay.MethodPrecreate}}))
		_, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "U1", TotalAmount: 100, Mode: paygate.ModeQR})
		if paygate.ErrorCode(err) != paygate.EChannel {
			t.Fatalf("unclear precreate: %v", err)
		}
		o := e.order(t, "U1")
		if _, err := e.svc.GetOrder(context.Background(), e.merchant, "U1", true); err != nil {
			t.Fatal(err)
		}
		got := activities(t, e, log, o.ID)
		if len(got) < 2 {
			t.Fatalf("activities: %v", summary(got))
		}
		// The resilient channel is not in this setup: one precreate, unknown.
		wantSummary(t, got[:1], "channel_call alipay.trade.precreate unknown 20000/isp.unknow-error")
		if got[1].Name != alipay.MethodQuery {
			t.Errorf("after the unclear precreate: %+v; want the refresh's query", got[1])
		}
	})
}

// TestActivityNotRecordedWithoutRecorder: a gateway without a recorder
// writes no activities.
func TestActivityNotRecordedWithoutRecorder(t *testing.T) {
	t.Parallel()
	e := setup(t, openSQLite)
	o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "N1", TotalAmount: 100, Mode: paygate.ModeQR})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.store.ActivitiesByOrder(context.Background(), o.ID)
	if err != nil || len(got) != 0 {
		t.Fatalf("activities without a recorder: %v, %v", summary(got), err)
	}
}
