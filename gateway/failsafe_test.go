package gateway_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/gateway"
)

// storeOutage is a real store that can be taken down: while down, every call
// fails as a dead connection does, before it reaches the database.
type storeOutage struct {
	paygate.Store
	down atomic.Bool
}

var errReset = &net.OpError{Op: "read", Net: "tcp", Err: io.ErrUnexpectedEOF}

func (s *storeOutage) err() error {
	if s.down.Load() {
		return errReset
	}
	return nil
}

func (s *storeOutage) Tx(ctx context.Context, fn func(tx paygate.StoreTx) error) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Tx(ctx, fn)
}

func (s *storeOutage) OrderByChannelNo(ctx context.Context, no string) (*paygate.Order, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.OrderByChannelNo(ctx, no)
}

func (s *storeOutage) OrderByOutTradeNo(ctx context.Context, merchantID int64, no string) (*paygate.Order, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.OrderByOutTradeNo(ctx, merchantID, no)
}

// cancelHook is the real channel, with a function run right after every
// cancel returns: the moment the database went away.
type cancelHook struct {
	gateway.Channel
	after func(err error)
}

func (c cancelHook) Cancel(ctx context.Context, channelNo string) (*gateway.Cancellation, error) {
	resp, err := c.Channel.Cancel(ctx, channelNo)
	c.after(err)
	return resp, err
}

// clockOffset lets a test move the gateway's clock past the barcode window
// without waiting for it.
type clockOffset struct{ d atomic.Int64 }

func (c *clockOffset) now() time.Time           { return time.Now().Add(time.Duration(c.d.Load())) }
func (c *clockOffset) skip(d time.Duration)     { c.d.Add(int64(d)) }
func (c *clockOffset) option(g *gateway.Config) { g.Now = c.now }

// TestCancelRefundUnrecorded replays the money misreport: a 29…
// buyer confirms while the loop cannot see it, the loop cancels (Alipay
// refunds the buyer, action=refund), the database goes away before the
// cancel is recorded, then comes back; the payment's and the refund's
// notifications arrive, and compensation runs. The order must end closed,
// as the channel says, with no order.paid event ever recorded.
func TestCancelRefundUnrecorded(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		st := &storeOutage{Store: open(t)}
		var clock clockOffset
		e := setup(t, func(*testing.T) paygate.Store { return st },
			withFaults(alipaysim.Faults{GatewayErrorRate: 1, Methods: []string{alipay.MethodQuery},
				NotifyDropRate: 1}),
			func(g *gateway.Config, s *alipaysim.Config) {
				s.PayDelay = 200 * time.Millisecond
				g.PollTimeout = 800 * time.Millisecond
				g.CallTimeout = 500 * time.Millisecond
				clock.option(g)
				var fired atomic.Bool
				g.Channels = []gateway.Channel{wrapChannel{fn: func(ch gateway.Channel) gateway.Channel {
					return cancelHook{Channel: ch, after: func(err error) {
						if err == nil && fired.CompareAndSwap(false, true) {
							st.down.Store(true) // the first cancel's answer cannot be recorded
						}
					}}
				}}}
			})
		o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "BR", TotalAmount: 53464, Mode: paygate.ModeBarcode, AuthCode: "291234567890123456"})
		if err == nil {
			t.Fatalf("create answered %+v while the cancel could not be recorded", o)
		}
		st.down.Store(false)
		stored := e.order(t, "BR")
		if stored.Status != paygate.StatusPending || stored.CancelRequestedAt.IsZero() {
			t.Fatalf("after the outage: status %s, cancel requested %v; want pending with the intent recorded", stored.Status, stored.CancelRequestedAt)
		}
		tr := e.trade(t, stored)
		if tr.TradeStatus != alipay.TradeClosed || tr.CancelAction != alipay.ActionRefund {
			t.Fatalf("channel: %s, cancel action %q; want closed by a refunding cancel", tr.TradeStatus, tr.CancelAction)
		}

		// Past the decision window, the stale TRADE_SUCCESS must not report
		// the refunded payment (the intent defers it)...
		clock.skip(time.Hour)
		paid := notifyForm(t, tr, alipay.TradeSuccess, "")
		if err := e.svc.HandleNotification(context.Background(), paid); err == nil {
			t.Errorf("stale TRADE_SUCCESS for an order being cancelled was acknowledged")
		}
		if got := e.order(t, "BR").Status; got != paygate.StatusPending {
			t.Fatalf("after the stale TRADE_SUCCESS: %s", got)
		}
		// ...and compensation sees the cancel through: closed, as the channel says.
		if _, err := e.svc.CompensateOrder(context.Background(), stored.ID); err != nil {
			t.Fatal(err)
		}
		final := e.order(t, "BR")
		if final.Status != paygate.StatusClosed {
			t.Fatalf("after compensation: %s; the channel says closed (refunded by the cancel)", final.Status)
		}
		// The channel answers queries again. The refund's notification
		// (TRADE_CLOSED with out_biz_no) changes nothing now, and the
		// payment's is acknowledged as stale.
		if err := e.sim.SetFaults(alipaysim.Faults{NotifyDropRate: 1}); err != nil {
			t.Fatal(err)
		}
		refund := notifyForm(t, tr, alipay.TradeClosed, cancelRefundNo(t, tr))
		for _, f := range []url.Values{refund, paid} {
			if err := e.svc.HandleNotification(context.Background(), f); err != nil {
				t.Errorf("notification %s after close: %v", f.Get("trade_status"), err)
			}
		}
		if got := e.order(t, "BR"); got.Status != paygate.StatusClosed {
			t.Fatalf("after the notifications: %s", got.Status)
		}
		if got := e.events(t, stored.ID); !slices.Equal(got, []string{paygate.EventOrderClosed}) {
			t.Errorf("events = %v; want only order.closed", got)
		}
	})
}

// TestRefundNotificationForPendingOrderClosesIt: the last step on
// its own. An order still pending here (its cancel never recorded, no
// intent either) receives the refund notification of a cancel that
// refunded it: TRADE_CLOSED with out_biz_no. It ends closed, never paid.
func TestRefundNotificationForPendingOrderClosesIt(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		var clock clockOffset
		e := setup(t, open, withFaults(alipaysim.Faults{NotifyDropRate: 1}), func(g *gateway.Config, _ *alipaysim.Config) { clock.option(g) })
		o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "Q1", TotalAmount: 990, Mode: paygate.ModeQR})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.sim.PayQR(context.Background(), o.QRCode, ""); err != nil {
			t.Fatal(err)
		}
		// Someone else cancels the trade at the channel (the refund goes back).
		if _, err := e.channel.Cancel(context.Background(), alipay.TradeRef{OutTradeNo: o.ChannelNo}); err != nil {
			t.Fatal(err)
		}
		clock.skip(time.Hour)
		tr := e.trade(t, o)
		if err := e.svc.HandleNotification(context.Background(), notifyForm(t, tr, tr.TradeStatus, cancelRefundNo(t, tr))); err != nil {
			t.Fatal(err)
		}
		got := e.order(t, "Q1")
		if got.Status != paygate.StatusClosed {
			t.Fatalf("status %s; the channel says %s (refund_fee %s)", got.Status, tr.TradeStatus, tr.RefundFee)
		}
		if evs := e.events(t, o.ID); !slices.Equal(evs, []string{paygate.EventOrderClosed}) {
			t.Errorf("events = %v; want only order.closed", evs)
		}
	})
}

// TestRefundMadeAtTheChannel: refunds made outside paygate (Alipay's
// console) are recorded from the channel's word when their notification
// arrives, partial then full, each with its refund.succeeded event.
func TestRefundMadeAtTheChannel(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open, withFaults(alipaysim.Faults{NotifyDropRate: 1}))
		o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "Q2", TotalAmount: 1000, Mode: paygate.ModeQR})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.sim.PayQR(context.Background(), o.QRCode, ""); err != nil {
			t.Fatal(err)
		}
		tr := e.trade(t, o)
		if err := e.svc.HandleNotification(context.Background(), notifyForm(t, tr, tr.TradeStatus, "")); err != nil {
			t.Fatal(err)
		}
		for i, step := range []struct {
			no     string
			amount paygate.Money
			want   paygate.OrderStatus
		}{{"console-1", 300, paygate.StatusPaid}, {"console-2", 700, paygate.StatusRefunded}} {
			if _, err := e.channel.Refund(context.Background(), alipay.RefundRequest{OutTradeNo: o.ChannelNo, RefundAmount: step.amount, OutRequestNo: step.no}); err != nil {
				t.Fatal(err)
			}
			tr := e.trade(t, o)
			f := notifyForm(t, tr, tr.TradeStatus, step.no)
			for range 2 { // a duplicate changes nothing
				if err := e.svc.HandleNotification(context.Background(), f); err != nil {
					t.Fatalf("refund %d: %v", i, err)
				}
			}
			got := e.order(t, "Q2")
			if got.Status != step.want {
				t.Fatalf("after %s: %s, refunded %s", step.no, got.Status, got.RefundedAmount)
			}
		}
		refunds, err := e.store.RefundsByOrder(context.Background(), o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(refunds) != 2 || refunds[0].Amount != 300 || refunds[1].Amount != 700 || refunds[1].Status != paygate.RefundSucceeded {
			t.Errorf("refunds = %+v", refunds)
		}
		want := []string{paygate.EventOrderPaid, paygate.EventRefundSucceeded, paygate.EventRefundSucceeded}
		if evs := e.events(t, o.ID); !slices.Equal(evs, want) {
			t.Errorf("events = %v; want %v", evs, want)
		}
	})
}

// notifyForm is the notification Alipay would send for tr (as the
// simulator shows it) with status, signed with the simulator's key; outBizNo
// makes it a refund's.
func notifyForm(t *testing.T, tr alipaysim.TradeView, status, outBizNo string) url.Values {
	t.Helper()
	_, ali := keys(t)
	f := url.Values{
		"notify_id": {"n" + strconv.FormatInt(time.Now().UnixNano(), 36)}, "notify_type": {"trade_status_sync"},
		"app_id": {tr.AppID}, "out_trade_no": {tr.OutTradeNo}, "trade_no": {tr.TradeNo},
		"trade_status": {status}, "total_amount": {tr.TotalAmount.Yuan()}, "sign_type": {"RSA2"},
	}
	if tr.RefundFee > 0 {
		f.Set("refund_fee", tr.RefundFee.Yuan())
	}
	if outBizNo != "" {
		f.Set("out_biz_no", outBizNo)
	}
	sig, err := alipay.Sign(ali, []byte(alipay.SignContent(f, "sign", "sign_type")))
	if err != nil {
		t.Fatal(err)
	}
	f.Set("sign", sig)
	return f
}

// cancelRefundNo is the out_biz_no of the refund a cancel made of tr.
func cancelRefundNo(t *testing.T, tr alipaysim.TradeView) string {
	t.Helper()
	for _, r := range tr.Refunds {
		if r.ByCancel {
			return r.OutRequestNo
		}
	}
	t.Fatalf("trade %s has no refund by cancel", tr.OutTradeNo)
	return ""
}

// TestPaidWhileItsCancelWasLost: an order whose cancel intent is recorded
// but whose cancel never reached Alipay (the node died, or the answer was
// lost before anything was sent), and whose buyer then pays. The payment's
// notification is deferred; a merchant's close, or compensation, sees the
// cancel through: the payment goes back and the order ends closed, never
// paid, never left pending.
func TestPaidWhileItsCancelWasLost(t *testing.T) {
	t.Parallel()
	for _, second := range []string{"close", "compensation"} {
		t.Run(second, func(t *testing.T) {
			t.Parallel()
			storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
				var clock clockOffset
				e := setup(t, open, withFaults(alipaysim.Faults{NotifyDropRate: 1}), func(g *gateway.Config, _ *alipaysim.Config) {
					clock.option(g)
				})
				ctx := context.Background()
				o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "CL1", TotalAmount: 1234, Mode: paygate.ModeQR})
				if err != nil {
					t.Fatal(err)
				}
				// The intent as a close records it before its cancel.
				err = e.store.Tx(ctx, func(tx paygate.StoreTx) error {
					cur, err := tx.OrderForUpdate(ctx, o.ID)
					if err != nil {
						return err
					}
					cur.CancelRequestedAt = time.Now()
					return tx.UpdateOrder(ctx, cur)
				})
				if err != nil {
					t.Fatal(err)
				}
				if err := e.sim.PayQR(ctx, o.QRCode, ""); err != nil {
					t.Fatal(err)
				}
				if err := e.sim.SetFaults(alipaysim.Faults{NotifyDropRate: 1}); err != nil {
					t.Fatal(err)
				}
				// The payment's notification is deferred: a cancel is on its way.
				tr := e.trade(t, o)
				if err := e.svc.HandleNotification(ctx, notifyForm(t, tr, alipay.TradeSuccess, "")); err == nil {
					t.Fatal("the payment of an order being cancelled was acknowledged")
				}
				switch second {
				case "close":
					got, err := e.svc.CloseOrder(ctx, e.merchant, "CL1")
					if err != nil || got.Status != paygate.StatusClosed {
						t.Fatalf("second close: %+v, %v; want closed", got, err)
					}
				case "compensation":
					clock.skip(3 * time.Hour) // expired too
					next, err := e.svc.CompensateOrder(ctx, o.ID)
					if err != nil || next != 0 {
						t.Fatalf("compensation: next %s, %v", next, err)
					}
				}
				got := e.order(t, "CL1")
				tr = e.trade(t, o)
				if got.Status != paygate.StatusClosed || tr.TradeStatus != alipay.TradeClosed || tr.RefundFee != 1234 {
					t.Fatalf("order %s; channel %s refund_fee %s; want closed, the payment refunded in full", got.Status, tr.TradeStatus, tr.RefundFee)
				}
				if evs := e.events(t, o.ID); !slices.Equal(evs, []string{paygate.EventOrderClosed}) {
					t.Errorf("events = %v; want only order.closed", evs)
				}
			})
		})
	}
}
