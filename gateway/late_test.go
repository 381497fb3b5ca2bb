package gateway_test

import (
	"context"
	"slices"
	"testing"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/gateway"
)

// countingObserver counts late payments by action.
type countingObserver struct{ actions []string }

func (c *countingObserver) LatePayment(action string) { c.actions = append(c.actions, action) }

// TestLatePayment: the channel reports money for an order closed here (a
// state this gateway never makes on its own, forced in the store). The
// default policy refunds it at once, tells the merchant once, and counts it.
func TestLatePayment(t *testing.T) {
	t.Parallel()
	for _, policy := range []gateway.LatePaymentPolicy{gateway.LateRefund, gateway.LateReport} {
		t.Run(string(policy), func(t *testing.T) {
			t.Parallel()
			storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
				obs := &countingObserver{}
				e := setup(t, open, withFaults(alipaysim.Faults{NotifyDropRate: 1}), func(g *gateway.Config, _ *alipaysim.Config) {
					g.LatePayment, g.Observer = policy, obs
				})
				ctx := context.Background()
				o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "LP1", TotalAmount: 700, Mode: paygate.ModeQR})
				if err != nil {
					t.Fatal(err)
				}
				if err := e.sim.PayQR(ctx, o.QRCode, ""); err != nil {
					t.Fatal(err)
				}
				err = e.store.Tx(ctx, func(tx paygate.StoreTx) error {
					o, err := tx.OrderForUpdate(ctx, o.ID)
					if err != nil {
						return err
					}
					if err := o.Transition(paygate.StatusClosed, o.CreatedAt); err != nil {
						return err
					}
					return tx.UpdateOrder(ctx, o)
				})
				if err != nil {
					t.Fatal(err)
				}
				// The dropped notification, as Alipay would send it.
				_, ali := keys(t)
				form := map[string][]string{
					"notify_id": {"late1"}, "notify_type": {"trade_status_sync"}, "app_id": {"2021000000000001"},
					"out_trade_no": {o.ChannelNo}, "trade_no": {e.trade(t, o).TradeNo}, "trade_status": {"TRADE_SUCCESS"},
					"total_amount": {"7.00"}, "sign_type": {"RSA2"},
				}
				sig, _ := alipay.Sign(ali, []byte(alipay.SignContent(form, "sign", "sign_type")))
				form["sign"] = []string{sig}
				for range 2 {
					if err := e.svc.HandleNotification(ctx, form); err != nil {
						t.Fatalf("HandleNotification: %v", err)
					}
				}
				wantFee, wantAction := paygate.Money(700), "refunded"
				if policy == gateway.LateReport {
					wantFee, wantAction = 0, "kept"
				}
				if tr := e.trade(t, o); tr.RefundFee != wantFee {
					t.Errorf("channel refund_fee = %s; want %s", tr.RefundFee, wantFee)
				}
				if got := e.order(t, "LP1"); got.Status != paygate.StatusClosed {
					t.Errorf("order status = %s", got.Status)
				}
				if got := e.events(t, o.ID); !slices.Equal(got, []string{paygate.EventOrderLatePayment}) {
					t.Errorf("events = %v; want one late payment event", got)
				}
				if len(obs.actions) == 0 || obs.actions[0] != wantAction {
					t.Errorf("observed %v; want %s", obs.actions, wantAction)
				}
			})
		})
	}
}

// TestLatePaymentRefundAnswerLost: the late-payment policy's refund takes
// effect at Alipay but its answer is lost. Alipay then shows the trade
// closed (refunded in full), as for a trade never paid; the late payment
// must still be reported, once, when the gateway looks again: for a
// closed order by the notification Alipay sends again, for an auto order
// decided on WeChat Pay by the compensation that closes Alipay's side.
func TestLatePaymentRefundAnswerLost(t *testing.T) {
	t.Parallel()
	lostRefund := alipaysim.Faults{NotifyDropRate: 1, UnknownRate: 1, Methods: []string{alipay.MethodRefund}}
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		t.Run("closed order", func(t *testing.T) {
			obs := &countingObserver{}
			e := setup(t, open, withFaults(lostRefund), func(g *gateway.Config, _ *alipaysim.Config) { g.Observer = obs })
			ctx := context.Background()
			o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "LL1", TotalAmount: 700, Mode: paygate.ModeQR})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.sim.PayQR(ctx, o.QRCode, ""); err != nil {
				t.Fatal(err)
			}
			err = e.store.Tx(ctx, func(tx paygate.StoreTx) error {
				o, err := tx.OrderForUpdate(ctx, o.ID)
				if err != nil {
					return err
				}
				if err := o.Transition(paygate.StatusClosed, o.CreatedAt); err != nil {
					return err
				}
				return tx.UpdateOrder(ctx, o)
			})
			if err != nil {
				t.Fatal(err)
			}
			_, ali := keys(t)
			form := map[string][]string{
				"notify_id": {"lost1"}, "notify_type": {"trade_status_sync"}, "app_id": {"2021000000000001"},
				"out_trade_no": {o.ChannelNo}, "trade_no": {e.trade(t, o).TradeNo}, "trade_status": {"TRADE_SUCCESS"},
				"total_amount": {"7.00"}, "sign_type": {"RSA2"},
			}
			sig, _ := alipay.Sign(ali, []byte(alipay.SignContent(form, "sign", "sign_type")))
			form["sign"] = []string{sig}
			if err := e.svc.HandleNotification(ctx, form); err == nil {
				t.Fatal("HandleNotification succeeded although the late refund's answer was lost")
			}
			if tr := e.trade(t, o); tr.RefundFee != 700 || tr.TradeStatus != alipay.TradeClosed {
				t.Fatalf("Alipay's trade after the lost refund answer: %+v", tr)
			}
			// Alipay sends the notification again; the refund is answered now.
			setFaults(t, e.sim, alipaysim.Faults{})
			for range 2 {
				if err := e.svc.HandleNotification(ctx, form); err != nil {
					t.Fatalf("HandleNotification again: %v", err)
				}
			}
			if got := e.events(t, o.ID); !slices.Equal(got, []string{paygate.EventOrderLatePayment}) {
				t.Errorf("events = %v; want one late payment event", got)
			}
			if !slices.Equal(obs.actions, []string{"refunded"}) {
				t.Errorf("observed %v; want one refunded", obs.actions)
			}
		})
		t.Run("auto order", func(t *testing.T) {
			obs := &countingObserver{}
			e := setup(t, open, withWechat, withFaults(lostRefund), func(g *gateway.Config, _ *alipaysim.Config) { g.Observer = obs })
			ctx := context.Background()
			o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "LL2", TotalAmount: 300, Mode: paygate.ModeQR, Channel: paygate.ChannelAuto})
			if err != nil {
				t.Fatal(err)
			}
			// Alipay's payment first, unheard (its notification dropped);
			// WeChat Pay's decides the order, and Alipay's becomes late.
			if err := e.sim.PayQR(ctx, o.QRCode, ""); err != nil {
				t.Fatal(err)
			}
			if _, err := e.wx.sim.Pay(o.WechatCode, ""); err != nil {
				t.Fatal(err)
			}
			eventually(t, "LL2 paid on WeChat Pay, Alipay's payment refunded without an answer", func() bool {
				got := e.order(t, "LL2")
				return got.Status == paygate.StatusPaid && got.Channel == paygate.ChannelWechat && e.trade(t, o).RefundFee == 300
			})
			if got := e.events(t, o.ID); slices.Contains(got, paygate.EventOrderLatePayment) {
				t.Fatalf("events = %v: a late payment reported although its refund was not confirmed", got)
			}
			// The compensation closes Alipay's side again: it is closed
			// now, by the refund.
			setFaults(t, e.sim, alipaysim.Faults{})
			for range 2 {
				if _, err := e.svc.CompensateOrder(ctx, o.ID); err != nil {
					t.Fatal(err)
				}
			}
			if got := e.events(t, o.ID); !slices.Equal(got, []string{paygate.EventOrderPaid, paygate.EventOrderLatePayment}) {
				t.Errorf("events = %v; want the payment and one late payment", got)
			}
			if !slices.Equal(obs.actions, []string{"refunded"}) {
				t.Errorf("observed %v; want one refunded", obs.actions)
			}
		})
	})
}
