package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

// Codes as the channels make them.
const (
	alipayCode = "https://qr.alipay.com/bax03431ljhokirwl38f00a7"
	wechatCode = "weixin://wxpay/bizpayurl?pr=p4lpSuKzz"
)

// testOrderChannel: an order's Channel and WechatCode are stored as given
// (an empty Channel as alipay, in the row and in the struct), come back
// through every read path, and change with UpdateOrder; a channel that is
// none of the three is refused, by CreateOrder and by UpdateOrder.
func testOrderChannel(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)

	// An auto QR order with both codes, as the gateway stores it once both
	// channels answered.
	auto := newOrder(t, s, m, func(o *paygate.Order) {
		o.Channel, o.QRCode, o.WechatCode, o.CashierToken = paygate.ChannelAuto, alipayCode, wechatCode, mustToken(t)
	})
	if auto.Channel != paygate.ChannelAuto || auto.WechatCode != wechatCode {
		t.Fatalf("after create: channel %q, wechat code %q", auto.Channel, auto.WechatCode)
	}
	readEverywhere(t, s, m, auto)

	// A wechat order, inserted before the channel made its code, as orders
	// are; the update that records the code keeps the channel.
	wx := newOrder(t, s, m, func(o *paygate.Order) { o.Channel, o.CashierToken = paygate.ChannelWechat, mustToken(t) })
	readEverywhere(t, s, m, wx)
	wx = updateOrder(t, s, wx, func(o *paygate.Order) { o.WechatCode = wechatCode })
	if wx.Channel != paygate.ChannelWechat || wx.WechatCode != wechatCode || wx.QRCode != "" {
		t.Fatalf("after the code update: channel %q, wechat code %q, qr code %q", wx.Channel, wx.WechatCode, wx.QRCode)
	}
	readEverywhere(t, s, m, wx)

	// The auto order is paid on WeChat: the payment decides its channel.
	auto = updateOrder(t, s, auto, func(o *paygate.Order) {
		if err := o.Transition(paygate.StatusPaid, t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		o.Channel, o.TradeNo, o.BuyerID = paygate.ChannelWechat, "4200000925202101284997714292", "ofyak5qR_1wYsC99CsWA6R9MJazA"
	})
	if auto.Channel != paygate.ChannelWechat || auto.QRCode != alipayCode || auto.WechatCode != wechatCode {
		t.Fatalf("after payment: channel %q, codes %q %q", auto.Channel, auto.QRCode, auto.WechatCode)
	}
	readEverywhere(t, s, m, auto)
	// And a code can be cleared (a channel's code withdrawn).
	auto = updateOrder(t, s, auto, func(o *paygate.Order) { o.QRCode = "" })
	readEverywhere(t, s, m, auto)

	// No channel is alipay, as every order before channels was; in a
	// transaction too.
	plain := newOrder(t, s, m, func(o *paygate.Order) { o.Channel = "" })
	if plain.Channel != paygate.ChannelAlipay {
		t.Fatalf("an order created without a channel has %q in the struct, want alipay", plain.Channel)
	}
	readEverywhere(t, s, m, plain)
	var inTx *paygate.Order
	err := s.Tx(ctx, func(tx paygate.StoreTx) error {
		inTx = &paygate.Order{MerchantID: m.ID, OutTradeNo: randomID("otn_"), ChannelNo: randomID("ch_"),
			Mode: paygate.ModeBarcode, Subject: "tea", TotalAmount: 100, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		return tx.CreateOrder(ctx, inTx)
	})
	if err != nil {
		t.Fatalf("tx create: %v", err)
	}
	if inTx.Channel != paygate.ChannelAlipay {
		t.Fatalf("an order created in a transaction without a channel has %q, want alipay", inTx.Channel)
	}
	readEverywhere(t, s, m, inTx)

	// Anything else is refused, and an update changes nothing.
	for _, bad := range []paygate.Channel{"paypal", "Alipay", "both"} {
		o := &paygate.Order{MerchantID: m.ID, OutTradeNo: randomID("otn_"), ChannelNo: randomID("ch_"), Channel: bad,
			Mode: paygate.ModeQR, Subject: "tea", TotalAmount: 100, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		wantCode(t, s.CreateOrder(ctx, o), paygate.EInvalid)
	}
	for _, bad := range []paygate.Channel{"", "paypal"} {
		err := s.Tx(ctx, func(tx paygate.StoreTx) error {
			cur, err := tx.OrderForUpdate(ctx, wx.ID)
			if err != nil {
				return err
			}
			cur.Channel, cur.WechatCode = bad, "weixin://wxpay/bizpayurl?pr=other"
			return tx.UpdateOrder(ctx, cur)
		})
		wantCode(t, err, paygate.EInvalid)
	}
	readEverywhere(t, s, m, wx)

	// Bulk loads keep both too, with the same default.
	l := loader(t, s)
	bulk := []*paygate.Order{paidOrder(m, randomID("PG"), t0), paidOrder(m, randomID("PG"), t0), paidOrder(m, randomID("PG"), t0)}
	bulk[0].Channel, bulk[0].WechatCode = paygate.ChannelWechat, wechatCode
	bulk[1].Channel, bulk[1].QRCode, bulk[1].WechatCode = paygate.ChannelAuto, alipayCode, wechatCode
	if err := l.BulkInsertOrders(ctx, bulk, nil); err != nil {
		t.Fatalf("BulkInsertOrders: %v", err)
	}
	if bulk[2].Channel != paygate.ChannelAlipay {
		t.Fatalf("a bulk-loaded order without a channel has %q in the struct, want alipay", bulk[2].Channel)
	}
	for _, o := range bulk {
		mustEqual(t, "bulk-loaded order", *orderByID(t, s, m, o), *o)
	}
}

// updateOrder applies edit to the stored order in a transaction and
// returns it as written.
func updateOrder(t *testing.T, s paygate.Store, o *paygate.Order, edit func(o *paygate.Order)) *paygate.Order {
	t.Helper()
	ctx := context.Background()
	var out *paygate.Order
	err := s.Tx(ctx, func(tx paygate.StoreTx) error {
		cur, err := tx.OrderForUpdate(ctx, o.ID)
		if err != nil {
			return err
		}
		edit(cur)
		if err := tx.UpdateOrder(ctx, cur); err != nil {
			return err
		}
		out = cur
		return nil
	})
	if err != nil {
		t.Fatalf("update order: %v", err)
	}
	return out
}

// readEverywhere reads want (an order of m) back through every path that
// returns orders and checks that each gives it exactly.
func readEverywhere(t *testing.T, s paygate.Store, m *paygate.Merchant, want *paygate.Order) {
	t.Helper()
	ctx := context.Background()
	check := func(path string, got *paygate.Order, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		mustEqual(t, path, *got, *want)
	}
	got, err := s.OrderByOutTradeNo(ctx, m.ID, want.OutTradeNo)
	check("OrderByOutTradeNo", got, err)
	got, err = s.OrderByChannelNo(ctx, want.ChannelNo)
	check("OrderByChannelNo", got, err)
	got, err = s.OrderByID(ctx, want.ID)
	check("OrderByID", got, err)
	if want.CashierToken != "" {
		got, err = s.OrderByCashierToken(ctx, want.CashierToken)
		check("OrderByCashierToken", got, err)
	}
	err = s.Tx(ctx, func(tx paygate.StoreTx) error {
		got, err = tx.OrderForUpdate(ctx, want.ID)
		return err
	})
	check("OrderForUpdate", got, err)
	one := func(path string, list []*paygate.Order, err error) {
		t.Helper()
		if err == nil && len(list) != 1 {
			t.Fatalf("%s returned %d orders, want 1", path, len(list))
		}
		var got *paygate.Order
		if err == nil {
			got = list[0]
		}
		check(path, got, err)
	}
	list, err := s.ListOrders(ctx, paygate.OrderFilter{MerchantID: m.ID, BeforeID: want.ID + 1, Limit: 1})
	one("ListOrders", list, err)
	list, err = s.SearchOrders(ctx, paygate.OrderSearch{MerchantID: m.ID, OutTradeNo: want.OutTradeNo})
	one("SearchOrders", list, err)
}
