package alipaysim_test

import (
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

// realTime runs the simulator and its client on the wall clock, for tests
// of delivery schedules.
func realTime(c *alipaysim.Config) { c.Now = time.Now }

// TestNotifyPayload: §5.2 fields, signed over all but sign and sign_type.
func TestNotifyPayload(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	e := setup(t)
	p := e.paidTrade("N1", "0.01", rcv.url())
	f := rcv.next(t)
	if err := alipay.Verify(&alipayKey().PublicKey, []byte(alipay.SignContent(f, "sign", "sign_type")), f.Get("sign")); err != nil {
		t.Fatal("notification signature does not verify")
	}
	n, err := alipay.ParseNotification(f, &alipayKey().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"notify_type": "trade_status_sync", "charset": "utf-8", "version": "1.0", "sign_type": "RSA2",
		"app_id": testAppID, "auth_app_id": testAppID, "trade_no": p.TradeNo, "out_trade_no": "N1",
		"buyer_id": p.BuyerUserID, "buyer_logon_id": p.BuyerLogonID, "trade_status": alipay.TradeSuccess,
		"total_amount": "0.01", "receipt_amount": "0.01", "invoice_amount": "0.01", "buyer_pay_amount": "0.01",
		"point_amount": "0.00", "subject": "coffee", "gmt_create": "2024-05-13 10:00:00", "gmt_payment": "2024-05-13 10:00:00",
		"notify_time": "2024-05-13 10:00:00", "fund_bill_list": `[{"amount":"0.01","fundChannel":"ALIPAYACCOUNT"}]`,
	}
	for k, v := range want {
		if f.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, f.Get(k), v)
		}
	}
	for _, k := range []string{"refund_fee", "gmt_refund", "out_biz_no", "gmt_close", "body"} {
		if f.Has(k) {
			t.Errorf("unexpected field %s=%q", k, f.Get(k))
		}
	}
	for k := range f {
		if f.Get(k) == "" {
			t.Errorf("empty field %s", k)
		}
	}
	if !regexp.MustCompile(`^20240513\d{26}$`).MatchString(n.NotifyID) {
		t.Errorf("notify_id %q", n.NotifyID)
	}
	if !regexp.MustCompile(`^2088\d{12}$`).MatchString(n.SellerID) || n.SellerEmail == "" {
		t.Errorf("seller %q %q", n.SellerID, n.SellerEmail)
	}
	eventually(t, "the attempt record", func() bool {
		as := e.sim.Notifications()
		return len(as) == 1 && as[0].Acked && as[0].Attempt == 1 && as[0].HTTPStatus == 200 && as[0].Body == "success"
	})
}

// TestNotifyRetries: only exactly "success" with HTTP 200 acknowledges;
// retries keep the notify_id and follow notify_schedule.
func TestNotifyRetries(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, func(n int) (int, string) {
		switch n {
		case 1:
			return 500, "success"
		case 2:
			return 200, "Success"
		case 3:
			return 200, "success\n"
		}
		return 200, "success"
	})
	e := setup(t, realTime, func(c *alipaysim.Config) { c.Faults = alipaysim.Faults{NotifySchedule: "100ms,100ms,100ms,100ms"} })
	e.paidTrade("N2", "1.00", rcv.url())
	var ids []string
	for range 4 {
		ids = append(ids, rcv.next(t).Get("notify_id"))
	}
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("notify_id changed across retries: %v", ids)
		}
	}
	rcv.none(t, 300*time.Millisecond)
	eventually(t, "four attempts", func() bool { return len(e.sim.Notifications()) == 4 })
	for i, a := range e.sim.Notifications() {
		if a.Attempt != i+1 || a.Acked != (i == 3) || a.NotifyID != ids[0] {
			t.Errorf("attempt %d: %+v", i, a)
		}
	}
}

// TestNotifyGiveUp: after the schedule the notification is given up.
func TestNotifyGiveUp(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, func(int) (int, string) { return 503, "busy" })
	e := setup(t, realTime, func(c *alipaysim.Config) { c.Faults = alipaysim.Faults{NotifySchedule: "50ms,50ms"} })
	e.paidTrade("N3", "1.00", rcv.url())
	for range 3 {
		rcv.next(t)
	}
	rcv.none(t, 300*time.Millisecond)
	eventually(t, "the give-up record", func() bool {
		as := e.sim.Notifications()
		return len(as) == 3 && as[2].GaveUp && as[2].HTTPStatus == 503
	})
}

// TestNotifyAlipaySchedule: the first retry comes 4 minutes (sim clock)
// after a failed delivery.
func TestNotifyAlipaySchedule(t *testing.T) {
	t.Parallel()
	var fail atomic.Bool
	fail.Store(true)
	rcv := newReceiver(t, func(int) (int, string) {
		if fail.Load() {
			return 200, "fail"
		}
		return 200, "success"
	})
	e := setup(t)
	e.paidTrade("N4", "1.00", rcv.url())
	first := rcv.next(t)
	fail.Store(false)
	eventually(t, "the failed attempt", func() bool { return len(e.sim.Notifications()) == 1 })
	e.clock.Advance(4*time.Minute - time.Second)
	rcv.none(t, 100*time.Millisecond)
	e.clock.Advance(time.Second)
	second := rcv.next(t)
	if second.Get("notify_id") != first.Get("notify_id") || second.Get("notify_time") != "2024-05-13 10:04:00" {
		t.Fatalf("retry %v", second)
	}
	e.clock.Advance(time.Hour)
	rcv.none(t, 100*time.Millisecond)
}

// TestNotifyDropAndDuplicate: the notification faults.
func TestNotifyDropAndDuplicate(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	e := setup(t, func(c *alipaysim.Config) { c.Faults = alipaysim.Faults{NotifyDropRate: 1} })
	e.paidTrade("N5", "1.00", rcv.url())
	rcv.none(t, 200*time.Millisecond)
	if as := e.sim.Notifications(); len(as) != 1 || !as[0].Dropped || as[0].Attempt != 0 {
		t.Fatalf("drop record %+v", as)
	}

	if err := e.sim.SetFaults(alipaysim.Faults{NotifyDuplicateRate: 1}); err != nil {
		t.Fatal(err)
	}
	e.paidTrade("N6", "1.00", rcv.url())
	a, b := rcv.next(t), rcv.next(t)
	if a.Get("notify_id") != b.Get("notify_id") || a.Get("out_trade_no") != "N6" {
		t.Fatalf("duplicates %v %v", a, b)
	}
	rcv.none(t, 100*time.Millisecond)
	eventually(t, "duplicate records", func() bool {
		as := e.sim.Notifications()
		return len(as) == 3 && !as[1].Duplicate && as[2].Duplicate && as[2].Attempt == 1
	})
}

// TestNotifyDelay: delayed deliveries all arrive.
func TestNotifyDelay(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	e := setup(t, func(c *alipaysim.Config) { c.Faults = alipaysim.Faults{NotifyDelayMS: 150} })
	for _, out := range []string{"N7", "N8", "N9"} {
		e.paidTrade(out, "1.00", rcv.url())
	}
	seen := map[string]bool{}
	for range 3 {
		seen[rcv.next(t).Get("out_trade_no")] = true
	}
	if len(seen) != 3 {
		t.Fatalf("deliveries %v", seen)
	}
}

// TestNotifyUnreachable: a refused connection is a failed attempt, recorded.
func TestNotifyUnreachable(t *testing.T) {
	t.Parallel()
	dead := newReceiver(t, nil)
	url := dead.url()
	dead.srv.Close()
	e := setup(t)
	e.paidTrade("N10", "1.00", url)
	eventually(t, "a failed attempt", func() bool {
		as := e.sim.Notifications()
		return len(as) == 1 && as[0].Error != "" && !as[0].Acked && as[0].HTTPStatus == 0
	})
	var list []alipaysim.NotifyAttempt
	if code := e.simJSON(http.MethodGet, "/sim/notifications", nil, &list); code != 200 || len(list) != 1 || !strings.Contains(list[0].URL, "/notify") {
		t.Fatalf("GET /sim/notifications: %d %+v", code, list)
	}
}
