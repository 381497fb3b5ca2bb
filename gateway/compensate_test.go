package gateway_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/gateway"
)

// testClock is a clock the test moves.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

func withClock(c *testClock) option {
	return func(g *gateway.Config, _ *alipaysim.Config) { g.Now = c.Now }
}

func TestCompensateFindsLostPayment(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open, withFaults(alipaysim.Faults{NotifyDropRate: 1}))
		ctx := context.Background()
		o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "CP1", TotalAmount: 100, Mode: paygate.ModeQR})
		if err != nil {
			t.Fatal(err)
		}
		// Nothing happened yet: look again later.
		next, err := e.svc.CompensateOrder(ctx, o.ID)
		if err != nil || next <= 0 {
			t.Fatalf("unpaid: next %v, err %v", next, err)
		}
		if err := e.sim.PayQR(ctx, o.QRCode, ""); err != nil {
			t.Fatal(err)
		}
		next, err = e.svc.CompensateOrder(ctx, o.ID)
		if err != nil || next != 0 {
			t.Fatalf("paid: next %v, err %v", next, err)
		}
		if got := e.order(t, "CP1"); got.Status != paygate.StatusPaid || got.TradeNo == "" {
			t.Fatalf("order %+v", got)
		}
		if got := e.events(t, o.ID); !slices.Equal(got, []string{paygate.EventOrderPaid}) {
			t.Errorf("events = %v", got)
		}
		// A settled order needs nothing more.
		if next, err := e.svc.CompensateOrder(ctx, o.ID); err != nil || next != 0 {
			t.Fatalf("again: next %v, err %v", next, err)
		}
	})
}

func TestCompensateClosesExpiredOrderAtTheChannelFirst(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		clk := &testClock{}
		e := setup(t, open, withClock(clk))
		ctx := context.Background()
		o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "CE1", TotalAmount: 100, Mode: paygate.ModeQR, Timeout: 15 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		scanned, _, _ := e.create(t, paygate.CreateOrder{OutTradeNo: "CE2", TotalAmount: 100, Mode: paygate.ModeQR, Timeout: 15 * time.Minute})
		if err := e.sim.ScanQR(ctx, scanned.QRCode, ""); err != nil {
			t.Fatal(err)
		}
		// The channel cannot be reached: nothing is closed locally.
		clk.Advance(16 * time.Minute)
		e.sim.SetFaults(alipaysim.Faults{GatewayErrorRate: 1})
		if next, err := e.svc.CompensateOrder(ctx, o.ID); err != nil || next <= 0 {
			t.Fatalf("channel down: next %v, err %v", next, err)
		}
		if got := e.order(t, "CE1"); got.Status != paygate.StatusPending {
			t.Fatalf("closed without the channel: %s", got.Status)
		}
		e.sim.SetFaults(alipaysim.Faults{})
		for _, no := range []string{"CE1", "CE2"} {
			id := e.order(t, no).ID
			if next, err := e.svc.CompensateOrder(ctx, id); err != nil || next != 0 {
				t.Fatalf("%s: next %v, err %v", no, next, err)
			}
			if got := e.order(t, no); got.Status != paygate.StatusClosed {
				t.Fatalf("%s: status %s", no, got.Status)
			}
		}
		if err := e.sim.PayQR(ctx, o.QRCode, ""); err == nil {
			t.Error("the expired order's code can still be paid at the channel")
		}
		if tr := e.trade(t, scanned); tr.TradeStatus != alipay.TradeClosed {
			t.Errorf("scanned trade at the channel: %s", tr.TradeStatus)
		}
	})
}

func TestCompensateCancelsBarcodeLeftUndecided(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		clk := &testClock{}
		e := setup(t, open, withClock(clk), withFaults(alipaysim.Faults{CancelRetryRate: 1}), func(g *gateway.Config, _ *alipaysim.Config) {
			g.CancelAttempts = 2
		})
		ctx := context.Background()
		_, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "CB1", TotalAmount: 100, Mode: paygate.ModeBarcode, AuthCode: "271234567890123456"})
		if paygate.ErrorCode(err) != paygate.EChannel {
			t.Fatalf("err = %v; want the payment left undecided", err)
		}
		o := e.order(t, "CB1")
		// Within the loop's window the background leaves it alone.
		if next, err := e.svc.CompensateOrder(ctx, o.ID); err != nil || next <= 0 {
			t.Fatalf("in window: next %v, err %v", next, err)
		}
		e.sim.SetFaults(alipaysim.Faults{})
		clk.Advance(time.Hour)
		if next, err := e.svc.CompensateOrder(ctx, o.ID); err != nil || next != 0 {
			t.Fatalf("after window: next %v, err %v", next, err)
		}
		if got := e.order(t, "CB1"); got.Status != paygate.StatusClosed {
			t.Fatalf("status %s", got.Status)
		}
		if tr := e.trade(t, o); tr.TradeStatus != alipay.TradeClosed {
			t.Errorf("channel: %s", tr.TradeStatus)
		}
	})
}

func TestResolveRefundInBackground(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open)
		ctx := context.Background()
		o := e.paidOrder(t, "RB1", 500)
		e.sim.SetFaults(alipaysim.Faults{GatewayErrorRate: 1, Methods: []string{alipay.MethodRefund, alipay.MethodRefundQuery}})
		r, _, err := e.svc.Refund(ctx, e.merchant, "RB1", paygate.CreateRefund{OutRequestNo: "b1", Amount: 200})
		if err != nil || r.Status != paygate.RefundPending {
			t.Fatalf("refund: %+v, %v", r, err)
		}
		if next, err := e.svc.ResolveRefund(ctx, o.ID, "b1"); err != nil || next <= 0 {
			t.Fatalf("channel down: next %v, err %v", next, err)
		}
		e.sim.SetFaults(alipaysim.Faults{})
		if next, err := e.svc.ResolveRefund(ctx, o.ID, "b1"); err != nil || next != 0 {
			t.Fatalf("resolved: next %v, err %v", next, err)
		}
		if got := e.order(t, "RB1"); got.RefundedAmount != 200 {
			t.Fatalf("refunded %s", got.RefundedAmount)
		}
		if tr := e.trade(t, o); tr.RefundFee != 200 {
			t.Errorf("channel refunded %s", tr.RefundFee)
		}
		if next, err := e.svc.ResolveRefund(ctx, o.ID, "b1"); err != nil || next != 0 {
			t.Fatalf("again: next %v, err %v", next, err)
		}
	})
}
