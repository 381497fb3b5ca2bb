package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

// testCashierToken: a QR order's cashier token and return URL are stored
// with it, find it (and only it), stay as they were through updates, and
// are unique where set; orders without a token (barcode orders, orders
// older than tokens) never collide.
func testCashierToken(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	token := mustToken(t)
	o := newOrder(t, s, m, func(o *paygate.Order) {
		o.CashierToken = token
		o.ReturnURL = "https://shop.example/thanks?order=1"
	})

	got, err := s.OrderByCashierToken(ctx, token)
	if err != nil {
		t.Fatalf("OrderByCashierToken: %v", err)
	}
	mustEqual(t, "order by cashier token", *got, *o)
	byNo, err := s.OrderByOutTradeNo(ctx, m.ID, o.OutTradeNo)
	if err != nil {
		t.Fatal(err)
	}
	if byNo.CashierToken != token || byNo.ReturnURL != o.ReturnURL {
		t.Fatalf("by out_trade_no: token %q, return_url %q; want %q, %q", byNo.CashierToken, byNo.ReturnURL, token, o.ReturnURL)
	}

	// An update (the order paid) keeps both.
	pay(t, s, o)
	got, err = s.OrderByCashierToken(ctx, token)
	if err != nil {
		t.Fatalf("OrderByCashierToken after update: %v", err)
	}
	if got.Status != paygate.StatusPaid || got.CashierToken != token || got.ReturnURL != o.ReturnURL {
		t.Fatalf("after update: status %s, token %q, return_url %q", got.Status, got.CashierToken, got.ReturnURL)
	}

	// Unknown, empty and near-miss tokens find nothing.
	for _, bad := range []string{mustToken(t), "", token[:len(token)-1], token + "x"} {
		_, err := s.OrderByCashierToken(ctx, bad)
		wantCode(t, err, paygate.ENotFound)
	}

	// A token is unique across merchants.
	other := newMerchant(t, s)
	dup := &paygate.Order{
		MerchantID: other.ID, OutTradeNo: randomID("otn_"), ChannelNo: randomID("ch_"), Mode: paygate.ModeQR,
		Subject: "tea", TotalAmount: 100, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), CashierToken: token,
	}
	wantCode(t, s.CreateOrder(ctx, dup), paygate.EConflict)

	// Orders without a token do not collide, and none is found by "".
	for range 3 {
		b := newOrder(t, s, m, func(o *paygate.Order) { o.Mode = paygate.ModeBarcode })
		if b.CashierToken != "" || b.ReturnURL != "" {
			t.Fatalf("barcode order: token %q, return_url %q", b.CashierToken, b.ReturnURL)
		}
	}
	_, err = s.OrderByCashierToken(ctx, "")
	wantCode(t, err, paygate.ENotFound)

	// A transaction's CreateOrder stores the token too.
	token2 := mustToken(t)
	var inTx *paygate.Order
	err = s.Tx(ctx, func(tx paygate.StoreTx) error {
		inTx = &paygate.Order{
			MerchantID: m.ID, OutTradeNo: randomID("otn_"), ChannelNo: randomID("ch_"), Mode: paygate.ModeQR,
			Subject: "cake", TotalAmount: 300, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), CashierToken: token2,
		}
		return tx.CreateOrder(ctx, inTx)
	})
	if err != nil {
		t.Fatalf("tx create: %v", err)
	}
	got, err = s.OrderByCashierToken(ctx, token2)
	if err != nil || got.ID != inTx.ID {
		t.Fatalf("order created in a transaction by token: %v, %+v", err, got)
	}
}

func mustToken(t *testing.T) string {
	t.Helper()
	tok, err := paygate.NewCashierToken()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
