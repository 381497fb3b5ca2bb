package wechatpaysim_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/wechatpay"
	"github.com/paygate/paygate/wechatpaysim"
)

// TestNotifyRetry: a refused notification is sent again on the schedule
// (notify_schedule shortens it) until the merchant answers 204; a
// schedule run out gives up.
func TestNotifyRetry(t *testing.T) {
	t.Parallel()
	e := setup(t, options{faults: wechatpaysim.Faults{NotifySchedule: "1s,1s,1s"}})
	e.recv.failNext(2)
	code := prepay(t, e, "PG20240518N1", 100)
	if _, err := e.sim.Pay(code, ""); err != nil {
		t.Fatal(err)
	}
	waitAttempts(t, e, 1)
	for i := 2; i <= 3; i++ {
		e.clock.Add(time.Second) // the schedule runs on the simulator's clock
		waitAttempts(t, e, i)
	}
	notes := e.recv.waitNotes(t, 1)
	at := e.sim.Notifications()
	if len(at) != 3 || at[0].Acked || at[0].HTTPStatus != 500 || !at[2].Acked || at[2].Attempt != 3 || notes[0].ID != at[2].NotifyID {
		t.Fatalf("attempts: %+v", at)
	}

	e.recv.failNext(100)
	code = prepay(t, e, "PG20240518N2", 100)
	if _, err := e.sim.Pay(code, ""); err != nil {
		t.Fatal(err)
	}
	for i := 4; i <= 7; i++ {
		waitAttempts(t, e, i)
		e.clock.Add(time.Second)
	}
	at = e.sim.Notifications()
	if last := at[len(at)-1]; !last.GaveUp || last.Attempt != 4 {
		t.Fatalf("last attempt: %+v", last)
	}
}

func waitAttempts(t *testing.T, e *env, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(e.sim.Notifications()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts, want %d", len(e.sim.Notifications()), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestCallFaults: each call fault in WeChat Pay's form.
func TestCallFaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("gateway_error_rate", func(t *testing.T) {
		t.Parallel()
		e := setup(t, options{faults: wechatpaysim.Faults{GatewayErrorRate: 1}})
		_, err := e.client.NativePrepay(ctx, wechatpay.NativeRequest{Description: "d", OutTradeNo: "PG20240518F1", Amount: wechatpay.Amount{Total: 1}})
		if we := wantCode(t, err, 500, "SYSTEM_ERROR"); we.Outcome != wechatpay.OutcomeUnknown || !we.Verified {
			t.Fatalf("%+v", we)
		}
		if n := len(e.sim.Trades()); n != 0 {
			t.Fatalf("a gateway error made %d trades", n)
		}
	})
	t.Run("unknown_rate", func(t *testing.T) {
		t.Parallel()
		e := setup(t, options{faults: wechatpaysim.Faults{UnknownRate: 1}})
		_, err := e.client.NativePrepay(ctx, wechatpay.NativeRequest{Description: "d", OutTradeNo: "PG20240518F2", Amount: wechatpay.Amount{Total: 1}})
		wantCode(t, err, 500, "SYSTEM_ERROR")
		if v := e.view(t, "PG20240518F2"); v.TradeState != wechatpay.TradeNotPay {
			t.Fatalf("the call did not take effect: %+v", v)
		}
	})
	t.Run("timeout_rate", func(t *testing.T) {
		t.Parallel()
		e := setup(t, options{faults: wechatpaysim.Faults{TimeoutRate: 1}, timeout: 300 * time.Millisecond})
		_, err := codePay(e, "PG20240518F3", "101234567890123456", 1)
		if wechatpay.OutcomeOf(err) != wechatpay.OutcomeUnknown {
			t.Fatalf("timeout: %v", err)
		}
		if v := e.view(t, "PG20240518F3"); v.TradeState != wechatpay.TradeSuccess {
			t.Fatalf("the call did not take effect: %+v", v)
		}
	})
	t.Run("latency_ms", func(t *testing.T) {
		t.Parallel()
		e := setup(t, options{faults: wechatpaysim.Faults{LatencyMS: 200}, timeout: 100 * time.Millisecond})
		_, err := e.client.QueryByOutTradeNo(ctx, "PG20240518F4")
		if wechatpay.OutcomeOf(err) != wechatpay.OutcomeUnknown {
			t.Fatalf("a call slower than the client's timeout: %v", err)
		}
		if err := e.sim.SetFaults(wechatpaysim.Faults{LatencyMS: 20}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.QueryByOutTradeNo(ctx, "PG20240518F4")
		wantCode(t, err, http.StatusNotFound, "ORDER_NOT_EXIST")
	})
}

// TestNotifyFaults: drop, duplicate and delay.
func TestNotifyFaults(t *testing.T) {
	t.Parallel()
	t.Run("drop", func(t *testing.T) {
		t.Parallel()
		e := setup(t, options{faults: wechatpaysim.Faults{NotifyDropRate: 1}})
		if _, err := e.sim.Pay(prepay(t, e, "PG20240518D1", 1), ""); err != nil {
			t.Fatal(err)
		}
		waitAttempts(t, e, 1)
		time.Sleep(50 * time.Millisecond)
		if at := e.sim.Notifications(); len(at) != 1 || !at[0].Dropped || len(e.recv.notes()) != 0 {
			t.Fatalf("dropped: %+v, received %d", at, len(e.recv.notes()))
		}
	})
	t.Run("duplicate and delay", func(t *testing.T) {
		t.Parallel()
		e := setup(t, options{faults: wechatpaysim.Faults{NotifyDuplicateRate: 1, NotifyDelayMS: 20}})
		if _, err := e.sim.Pay(prepay(t, e, "PG20240518D2", 1), ""); err != nil {
			t.Fatal(err)
		}
		notes := e.recv.waitNotes(t, 2)
		if notes[0].ID != notes[1].ID {
			t.Fatalf("duplicates differ: %s %s", notes[0].ID, notes[1].ID)
		}
		if at := e.sim.Notifications(); len(at) != 2 || !at[1].Duplicate {
			t.Fatalf("attempts: %+v", at)
		}
	})
}

// TestParseFaults: the keys are alipaysim's; anything else is refused.
func TestParseFaults(t *testing.T) {
	t.Parallel()
	f, err := wechatpaysim.ParseFaults([]byte(`{"latency_ms":5,"gateway_error_rate":0.1,"unknown_rate":0.2,"timeout_rate":0.3,
		"notify_drop_rate":0.4,"notify_duplicate_rate":0.5,"notify_delay_ms":6,"notify_schedule":"1s,2s"}`))
	if err != nil || f.NotifyDuplicateRate != 0.5 || f.NotifySchedule != "1s,2s" {
		t.Fatalf("%+v %v", f, err)
	}
	for _, bad := range []string{`{"unknown_rate":2}`, `{"cancel_retry_rate":0.1}`, `{"notify_schedule":"soon"}`, `{"latency_ms":-1}`, `{} {}`} {
		if _, err := wechatpaysim.ParseFaults([]byte(bad)); err == nil || !strings.Contains(err.Error(), "faults") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
