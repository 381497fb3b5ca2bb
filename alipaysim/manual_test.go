package alipaysim_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

// TestManualNotify: with ManualNotify nothing is delivered until DeliverDue,
// which delivers one due notification synchronously, in due-then-creation
// order or as pick says, applies the clock first (a 29… payment confirmed
// later), and reports false when nothing is due.
func TestManualNotify(t *testing.T) {
	var mu sync.Mutex
	var got []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		got = append(got, r.PostForm.Get("out_trade_no")+" "+r.PostForm.Get("trade_status"))
		mu.Unlock()
		w.Write([]byte("success"))
	}))
	defer recv.Close()
	received := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
	e := setup(t, func(c *alipaysim.Config) { c.ManualNotify = true; c.PayDelay = 3 * time.Second })
	url := recv.URL + "/notify"
	for _, out := range []string{"m1", "m2", "m3"} {
		if err := e.sim.PayQR(ctx(t), e.precreate(out, "1.00", url), ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.client.Pay(ctx(t), alipay.PayRequest{OutTradeNo: "m4", AuthCode: "290000000000000001", Subject: "coffee", TotalAmount: yuan("2.00"), NotifyURL: url}); err != nil {
		t.Fatal(err)
	}
	if n := len(received()); n != 0 {
		t.Fatalf("%d notifications sent before DeliverDue", n)
	}
	steps := []struct {
		pick func([]alipaysim.NotifyAttempt) int
		want string
	}{
		{nil, "m1 TRADE_SUCCESS"},
		{func(due []alipaysim.NotifyAttempt) int {
			if len(due) != 2 || due[0].OutTradeNo != "m2" || due[1].Form["out_trade_no"] != "m3" || due[1].Attempt != 1 {
				t.Errorf("due %+v; want m2 then m3, first attempts", due)
			}
			return len(due) - 1
		}, "m3 TRADE_SUCCESS"},
		{nil, "m2 TRADE_SUCCESS"},
	}
	for i, s := range steps {
		a, ok := e.sim.DeliverDue(ctx(t), s.pick)
		if !ok || !a.Acked {
			t.Fatalf("step %d: DeliverDue = %+v, %v", i, a, ok)
		}
		if r := received(); len(r) != i+1 || r[i] != s.want {
			t.Fatalf("step %d: received %v, want %q last", i, r, s.want)
		}
	}
	if a, ok := e.sim.DeliverDue(ctx(t), nil); ok {
		t.Fatalf("nothing should be due before the 29… buyer confirms; delivered %+v", a)
	}
	e.clock.Advance(4 * time.Second)
	if a, ok := e.sim.DeliverDue(ctx(t), nil); !ok || a.OutTradeNo != "m4" || a.TradeStatus != alipay.TradeSuccess {
		t.Fatalf("after the pay delay: %+v, %v", a, ok)
	}
	if _, ok := e.sim.DeliverDue(ctx(t), nil); ok {
		t.Fatal("everything was acknowledged; nothing should be due")
	}
}
