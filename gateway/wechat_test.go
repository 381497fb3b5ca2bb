package gateway_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/wechatpaysim"
)

// TestWechatOrders takes WeChat Pay orders through the use cases, against
// WeChat Pay's simulator over HTTP, on both stores: a QR order paid by its
// code_url and refunded in part, then in full; the four payment codes
// (10… paid at once, 11… after the buyer confirms, 12… never paid and
// reversed, 13… refused); a QR order closed unpaid; an auto barcode routed
// to WeChat by its code.
func TestWechatOrders(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open, withWechat)
		ctx := context.Background()

		o, created, err := e.create(t, paygate.CreateOrder{OutTradeNo: "WQ1", TotalAmount: 100, Mode: paygate.ModeQR, Channel: paygate.ChannelWechat})
		if err != nil || !created {
			t.Fatalf("create: %+v, %v", o, err)
		}
		if o.Channel != paygate.ChannelWechat || !strings.HasPrefix(o.WechatCode, "weixin://") || o.QRCode != "" || o.ChannelQRCode() != o.WechatCode {
			t.Fatalf("a WeChat QR order: channel %q, wechat code %q, alipay code %q", o.Channel, o.WechatCode, o.QRCode)
		}
		if v := o.View(); v.QRCode != o.WechatCode || v.QRCodes[paygate.ChannelWechat] != o.WechatCode || len(v.QRCodes) != 1 {
			t.Fatalf("view: %+v", v)
		}
		// A repeat returns the same order and code, asking nothing.
		again, created, err := e.create(t, paygate.CreateOrder{OutTradeNo: "WQ1", TotalAmount: 100, Mode: paygate.ModeQR, Channel: paygate.ChannelWechat})
		if err != nil || created || again.WechatCode != o.WechatCode {
			t.Fatalf("repeat: %+v, %v, %v", again, created, err)
		}
		// The same out_trade_no on another channel is another order.
		if _, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "WQ1", TotalAmount: 100, Mode: paygate.ModeQR}); paygate.ErrorCode(err) != paygate.EOutTradeNoReused {
			t.Fatalf("the same out_trade_no on Alipay: %v", err)
		}
		if _, err := e.wx.sim.Pay(o.WechatCode, ""); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the WeChat order paid by its notification", func() bool { return e.order(t, "WQ1").Status == paygate.StatusPaid })
		paid := e.order(t, "WQ1")
		if paid.TradeNo == "" || paid.BuyerID == "" || paid.Channel != paygate.ChannelWechat {
			t.Fatalf("paid order: %+v", paid)
		}
		if evs := e.events(t, paid.ID); !slices.Equal(evs, []string{paygate.EventOrderPaid}) {
			t.Fatalf("events %v", evs)
		}
		r, _, err := e.svc.Refund(ctx, e.merchant, "WQ1", paygate.CreateRefund{OutRequestNo: "WR1", Amount: 30, Reason: "one cup less"})
		if err != nil {
			t.Fatalf("refund: %+v, %v", r, err)
		}
		settled := func(no string) func() bool {
			return func() bool {
				rs, err := e.svc.ListRefunds(ctx, e.merchant, "WQ1")
				for _, r := range rs {
					if r.OutRequestNo == no {
						return err == nil && r.Status == paygate.RefundSucceeded
					}
				}
				return false
			}
		}
		eventually(t, "the WeChat refund settled", settled("WR1"))
		if _, _, err := e.svc.Refund(ctx, e.merchant, "WQ1", paygate.CreateRefund{OutRequestNo: "WR2", Amount: 70}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the rest refunded", settled("WR2"))
		eventually(t, "the order fully refunded", func() bool { return e.order(t, "WQ1").Status == paygate.StatusRefunded })

		for _, tc := range []struct {
			no, prefix string
			want       paygate.OrderStatus
			code       string // the error code wanted, "" for none
		}{
			{"WB10", "10", paygate.StatusPaid, ""},
			{"WB11", "11", paygate.StatusPaid, ""},
			{"WB12", "12", paygate.StatusClosed, ""},
			{"WB13", "13", paygate.StatusClosed, paygate.EPaymentFailed},
		} {
			o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: tc.no, TotalAmount: 250, Mode: paygate.ModeBarcode,
				AuthCode: wxAuthCode(tc.prefix), Channel: paygate.ChannelWechat})
			if paygate.ErrorCode(err) != tc.code && !(tc.code == "" && err == nil) {
				t.Errorf("%s: %v, want code %q", tc.no, err, tc.code)
			}
			if tc.code == "" && (o == nil || o.Status != tc.want) {
				t.Errorf("%s: %+v", tc.no, o)
			}
			eventually(t, tc.no+" decided", func() bool { return e.order(t, tc.no).Status == tc.want })
		}
		if tr := e.wx.trade(t, e.order(t, "WB12").ChannelNo); tr.TradeState != "REVOKED" && tr.TradeState != "CLOSED" {
			t.Errorf("the never-paid code's trade is %s at WeChat Pay, want reversed", tr.TradeState)
		}

		q, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "WQ2", TotalAmount: 100, Mode: paygate.ModeQR, Channel: paygate.ChannelWechat})
		if err != nil {
			t.Fatal(err)
		}
		closed, err := e.svc.CloseOrder(ctx, e.merchant, "WQ2")
		if err != nil || closed.Status != paygate.StatusClosed {
			t.Fatalf("close: %+v, %v", closed, err)
		}
		if _, err := e.wx.sim.Pay(q.WechatCode, ""); err == nil {
			t.Fatal("the buyer paid a closed WeChat order")
		}

		a, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "WA", TotalAmount: 100, Mode: paygate.ModeBarcode,
			AuthCode: wxAuthCode("10"), Channel: paygate.ChannelAuto})
		if err != nil || a.Channel != paygate.ChannelWechat || a.Status != paygate.StatusPaid {
			t.Fatalf("auto barcode with a WeChat code: %+v, %v", a, err)
		}
	})
}

// TestAutoOrders: one QR order, two codes. The first payment decides it
// and the other side is closed; money that still arrives there is a late
// payment, refunded; closing an unpaid auto order closes both sides; a
// channel that cannot take the order leaves it on the other alone.
func TestAutoOrders(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open, withWechat)
		ctx := context.Background()
		auto := func(no string) *paygate.Order {
			t.Helper()
			o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: no, TotalAmount: 300, Mode: paygate.ModeQR, Channel: paygate.ChannelAuto})
			if err != nil {
				t.Fatalf("create %s: %v", no, err)
			}
			return o
		}

		// Paid with WeChat: the order names WeChat; Alipay's code, which
		// nobody scanned, is closed and can no longer be paid.
		o := auto("A1")
		if o.Channel != paygate.ChannelAuto || o.QRCode == "" || !strings.HasPrefix(o.WechatCode, "weixin://") {
			t.Fatalf("auto order: %+v", o)
		}
		if v := o.View(); v.Channel != paygate.ChannelAuto || len(v.QRCodes) != 2 || v.QRCode != o.QRCode {
			t.Fatalf("view: %+v", v)
		}
		if _, err := e.wx.sim.Pay(o.WechatCode, ""); err != nil {
			t.Fatal(err)
		}
		eventually(t, "A1 paid on WeChat, its notification answered", func() bool {
			o := e.order(t, "A1")
			return o.Status == paygate.StatusPaid && o.Channel == paygate.ChannelWechat &&
				slices.ContainsFunc(e.wx.sim.Notifications(), func(n wechatpaysim.NotifyAttempt) bool {
					return n.OutTradeNo == o.ChannelNo && n.Acked
				})
		})
		// The close happens right after the payment is applied: the buyer's
		// attempt is refused as closed, never taken.
		eventually(t, "Alipay's code closed", func() bool {
			err := e.sim.PayQR(ctx, o.QRCode, "")
			if err == nil {
				t.Fatal("the buyer paid Alipay's code of an order paid with WeChat")
			}
			return errors.Is(err, alipaysim.ErrTradeClosed)
		})

		// Both paid before the gateway heard of either (notifications
		// lost): a query finds Alipay's first; WeChat's payment is a late
		// one, refunded at WeChat Pay, and reported.
		setFaults(t, e.sim, alipaysim.Faults{NotifyDropRate: 1})
		if err := e.wx.sim.SetFaults(wechatpaysim.Faults{NotifyDropRate: 1}); err != nil {
			t.Fatal(err)
		}
		o = auto("A5")
		if err := e.sim.PayQR(ctx, o.QRCode, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.wx.sim.Pay(o.WechatCode, ""); err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.GetOrder(ctx, e.merchant, "A5", true)
		if err != nil || got.Status != paygate.StatusPaid || got.Channel != paygate.ChannelAlipay {
			t.Fatalf("refreshed: %+v, %v", got, err)
		}
		eventually(t, "WeChat's payment refunded", func() bool {
			tr := e.wx.trade(t, o.ChannelNo)
			return tr.TradeState == "REFUND" && tr.Refunded == 300
		})
		if !slices.Contains(e.events(t, o.ID), paygate.EventOrderLatePayment) {
			t.Fatalf("events %v: no late payment", e.events(t, o.ID))
		}
		if got := e.order(t, "A5"); got.Status != paygate.StatusPaid || got.RefundedAmount != 0 {
			t.Fatalf("after the late payment: %+v", got)
		}
		setFaults(t, e.sim, alipaysim.Faults{})
		if err := e.wx.sim.SetFaults(wechatpaysim.Faults{}); err != nil {
			t.Fatal(err)
		}

		// Paid with Alipay: WeChat's code is closed at WeChat Pay first.
		o = auto("A2")
		if err := e.sim.PayQR(ctx, o.QRCode, ""); err != nil {
			t.Fatal(err)
		}
		eventually(t, "A2 paid on Alipay and WeChat's trade closed", func() bool {
			o := e.order(t, "A2")
			return o.Status == paygate.StatusPaid && o.Channel == paygate.ChannelAlipay &&
				e.wx.trade(t, o.ChannelNo).TradeState == "CLOSED"
		})
		if _, err := e.wx.sim.Pay(o.WechatCode, ""); err == nil {
			t.Fatal("the buyer paid WeChat's code of an order paid with Alipay")
		}
		if _, _, err := e.svc.Refund(ctx, e.merchant, "A2", paygate.CreateRefund{OutRequestNo: "R1", Amount: 300}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "A2 refunded at Alipay", func() bool { return e.order(t, "A2").Status == paygate.StatusRefunded })

		// Closed unpaid: both sides closed, then here.
		o = auto("A3")
		closed, err := e.svc.CloseOrder(ctx, e.merchant, "A3")
		if err != nil || closed.Status != paygate.StatusClosed || closed.Channel != paygate.ChannelAuto {
			t.Fatalf("close: %+v, %v", closed, err)
		}
		if st := e.wx.trade(t, o.ChannelNo).TradeState; st != "CLOSED" {
			t.Fatalf("WeChat's trade of a closed auto order is %s", st)
		}
		if _, err := e.wx.sim.Pay(o.WechatCode, ""); err == nil {
			t.Fatal("the buyer paid WeChat's code of a closed order")
		}

		// Alipay cannot take it: the order is WeChat's alone.
		setFaults(t, e.sim, alipaysim.Faults{GatewayErrorRate: 1, Methods: []string{alipay.MethodPrecreate}})
		o = auto("A4")
		if o.Channel != paygate.ChannelWechat || o.QRCode != "" || o.WechatCode == "" {
			t.Fatalf("auto order while Alipay fails: %+v", o)
		}
		if _, err := e.wx.sim.Pay(o.WechatCode, ""); err != nil {
			t.Fatal(err)
		}
		eventually(t, "A4 paid on WeChat", func() bool { return e.order(t, "A4").Status == paygate.StatusPaid })
	})
}

// TestWechatLongRefundNo: a refund whose out_request_no is too long for
// WeChat Pay's out_refund_no goes as a hash; its notification, which
// carries only the hash, still settles it (no job runs here to query it).
func TestWechatLongRefundNo(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open, withWechat)
		ctx := context.Background()
		o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "WL", TotalAmount: 500, Mode: paygate.ModeBarcode,
			AuthCode: wxAuthCode("10"), Channel: paygate.ChannelWechat})
		if err != nil || o.Status != paygate.StatusPaid {
			t.Fatalf("pay: %+v, %v", o, err)
		}
		long := "refund-" + strings.Repeat("x", 50)
		if r, _, err := e.svc.Refund(ctx, e.merchant, "WL", paygate.CreateRefund{OutRequestNo: long, Amount: 200}); err != nil || r.Status != paygate.RefundPending {
			t.Fatalf("refund: %+v, %v (want pending: the simulator settles refunds later)", r, err)
		}
		eventually(t, "the long-numbered refund settled by its notification", func() bool {
			rs, err := e.svc.ListRefunds(ctx, e.merchant, "WL")
			return err == nil && len(rs) == 1 && rs[0].Status == paygate.RefundSucceeded
		})
		if got := e.order(t, "WL"); got.RefundedAmount != 200 {
			t.Fatalf("refunded %s", got.RefundedAmount)
		}
	})
}

// TestAutoOrderCircuitOpen: while Alipay's circuit is open, auto orders are
// taken on WeChat Pay alone without a call to Alipay, and are paid there;
// orders that name Alipay get 503 CHANNEL_UNAVAILABLE.
func TestAutoOrderCircuitOpen(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		calls := &counter{}
		var rc *gateway.ResilientChannel
		e := setup(t, open, withWechat, func(g *gateway.Config, s *alipaysim.Config) {
			s.Faults = alipaysim.Faults{GatewayErrorRate: 1, Methods: []string{alipay.MethodPrecreate}}
			g.Channels = append(g.Channels, wrapChannel{fn: func(ch gateway.Channel) gateway.Channel {
				calls.Channel = ch
				rc = gateway.NewResilientChannel(calls, fast(gateway.ResilientConfig{BreakerFailures: 1, RetryAttempts: 1, BreakerOpen: time.Hour}))
				return rc
			}})
		})
		o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "B1", TotalAmount: 100, Mode: paygate.ModeQR, Channel: paygate.ChannelAuto})
		if err != nil || o.Channel != paygate.ChannelWechat || rc.State() != "open" {
			t.Fatalf("the failure that opens the circuit: %+v, %v, circuit %s", o, err, rc.State())
		}
		sent := calls.count(alipay.MethodPrecreate)
		o, _, err = e.create(t, paygate.CreateOrder{OutTradeNo: "B2", TotalAmount: 100, Mode: paygate.ModeQR, Channel: paygate.ChannelAuto})
		if err != nil || o.Channel != paygate.ChannelWechat || o.QRCode != "" || o.WechatCode == "" {
			t.Fatalf("auto order while Alipay's circuit is open: %+v, %v", o, err)
		}
		if n := calls.count(alipay.MethodPrecreate); n != sent {
			t.Fatalf("%d precreates reached Alipay while its circuit was open", n-sent)
		}
		if _, err := e.wx.sim.Pay(o.WechatCode, ""); err != nil {
			t.Fatal(err)
		}
		eventually(t, "B2 paid on WeChat", func() bool { return e.order(t, "B2").Status == paygate.StatusPaid })
		if _, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "B3", TotalAmount: 100, Mode: paygate.ModeQR}); paygate.ErrorCode(err) != paygate.EChannelUnavailable {
			t.Fatalf("an Alipay order while its circuit is open: %v", err)
		}
	})
}

// TestAutoCompensationClosesOtherSide: compensation finds an auto order
// paid on both sides (notifications lost) and decides it on Alipay while
// WeChat Pay fails the close of its side; the job looks again at once, and
// its next run refunds WeChat Pay's payment as a late one.
func TestAutoCompensationClosesOtherSide(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open, withWechat)
		ctx := context.Background()
		o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "AC", TotalAmount: 300, Mode: paygate.ModeQR, Channel: paygate.ChannelAuto})
		if err != nil {
			t.Fatal(err)
		}
		setFaults(t, e.sim, alipaysim.Faults{NotifyDropRate: 1})
		if err := e.wx.sim.SetFaults(wechatpaysim.Faults{NotifyDropRate: 1}); err != nil {
			t.Fatal(err)
		}
		if err := e.sim.PayQR(ctx, o.QRCode, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.wx.sim.Pay(o.WechatCode, ""); err != nil {
			t.Fatal(err)
		}
		if err := e.wx.sim.SetFaults(wechatpaysim.Faults{NotifyDropRate: 1, GatewayErrorRate: 1}); err != nil {
			t.Fatal(err)
		}
		next, err := e.svc.CompensateOrder(ctx, o.ID)
		if err != nil || next <= 0 {
			t.Fatalf("compensation that decided the order while WeChat Pay failed: next %v, %v (want a look again)", next, err)
		}
		if got := e.order(t, "AC"); got.Status != paygate.StatusPaid || got.Channel != paygate.ChannelAlipay {
			t.Fatalf("decided: %+v", got)
		}
		if err := e.wx.sim.SetFaults(wechatpaysim.Faults{}); err != nil {
			t.Fatal(err)
		}
		if next, err := e.svc.CompensateOrder(ctx, o.ID); err != nil || next != 0 {
			t.Fatalf("the next run: %v, %v", next, err)
		}
		if tr := e.wx.trade(t, o.ChannelNo); tr.Refunded != 300 {
			t.Fatalf("WeChat Pay's payment not refunded: %+v", tr)
		}
		if !slices.Contains(e.events(t, o.ID), paygate.EventOrderLatePayment) {
			t.Fatalf("events %v: no late payment", e.events(t, o.ID))
		}
	})
}
