package gateway_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/paygate/paygate"
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
