package gateway_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/gateway"
)

// TestUnclearCloseLeavesOrderPending: while Alipay may still take the
// money, an order is never closed here. An unclear answer to trade.close
// (a 20000, no answer in time, an HTML 502, a signature that does not
// verify), and to the cancel that follows it for a code nobody scanned,
// leaves it pending, whether the merchant closes it or the
// compensation closes it on expiry, for a code scanned or not; once the
// channel answers, it closes.
func TestUnclearCloseLeavesOrderPending(t *testing.T) {
	t.Parallel()
	unclear := []struct {
		name   string
		faults alipaysim.Faults
	}{
		{"unknown", alipaysim.Faults{UnknownRate: 1}},
		{"timeout", alipaysim.Faults{TimeoutRate: 1}},
		{"gateway error", alipaysim.Faults{GatewayErrorRate: 1}},
		{"bad signature", alipaysim.Faults{BadSignatureRate: 1}},
	}
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		for _, u := range unclear {
			for _, scanned := range []bool{false, true} {
				name := u.name + ", not scanned"
				if scanned {
					name = u.name + ", scanned"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					clk := &testClock{}
					e := setup(t, open, withClock(clk), func(g *gateway.Config, _ *alipaysim.Config) {
						g.CallTimeout = 500 * time.Millisecond // the timeout fault holds the answer until then
					})
					ctx := context.Background()
					orders := map[string]*paygate.Order{}
					for _, no := range []string{"BY_MERCHANT", "ON_EXPIRY"} {
						o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: no, TotalAmount: 100, Mode: paygate.ModeQR, Timeout: 15 * time.Minute})
						if err != nil {
							t.Fatal(err)
						}
						if scanned {
							if err := e.sim.ScanQR(ctx, o.QRCode, ""); err != nil {
								t.Fatal(err)
							}
						}
						orders[no] = o
					}
					// Cancel too: a close of a code nobody scanned is
					// followed by a cancel. Notifications are dropped: a
					// close that took effect would tell paygate by one,
					// which is a clear answer.
					f := u.faults
					f.Methods, f.NotifyDropRate = []string{alipay.MethodClose, alipay.MethodCancel}, 1
					if err := e.sim.SetFaults(f); err != nil {
						t.Fatal(err)
					}

					if o, err := e.svc.CloseOrder(ctx, e.merchant, "BY_MERCHANT"); paygate.ErrorCode(err) != paygate.EChannel {
						t.Errorf("CloseOrder = %+v, %v; want %s", o, err, paygate.EChannel)
					}
					clk.Advance(16 * time.Minute)
					if next, err := e.svc.CompensateOrder(ctx, orders["ON_EXPIRY"].ID); err != nil || next <= 0 {
						t.Errorf("compensation of the expired order: next %v, err %v; want to look again", next, err)
					}
					for no, o := range orders {
						if got := e.order(t, no); got.Status != paygate.StatusPending {
							t.Errorf("%s: %s after an unclear close; want pending", no, got.Status)
						}
						if evs := e.events(t, o.ID); slices.Contains(evs, paygate.EventOrderClosed) {
							t.Errorf("%s: events %v after an unclear close", no, evs)
						}
					}

					// The channel answers again: both close.
					if err := e.sim.SetFaults(alipaysim.Faults{NotifyDropRate: 1}); err != nil {
						t.Fatal(err)
					}
					if o, err := e.svc.CloseOrder(ctx, e.merchant, "BY_MERCHANT"); err != nil || o.Status != paygate.StatusClosed {
						t.Errorf("CloseOrder once the channel answers: %+v, %v", o, err)
					}
					if next, err := e.svc.CompensateOrder(ctx, orders["ON_EXPIRY"].ID); err != nil || next != 0 {
						t.Errorf("compensation once the channel answers: next %v, err %v", next, err)
					}
					if got := e.order(t, "ON_EXPIRY"); got.Status != paygate.StatusClosed {
						t.Errorf("ON_EXPIRY: %s once the channel answers; want closed", got.Status)
					}
				})
			}
		}
	})
}
