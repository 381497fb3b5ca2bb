package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

// testBulkInsertOrders: orders and refunds loaded in bulk read back as
// given, with IDs that later inserts do not reuse; a load the schema
// rejects changes nothing.
func testBulkInsertOrders(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	l := loader(t, s)
	m := newMerchant(t, s)
	if err := l.BulkInsertOrders(ctx, nil, nil); err != nil {
		t.Fatalf("empty load: %v", err)
	}
	first := newOrder(t, s, m, nil)
	orders := []*paygate.Order{
		paidOrder(m, randomID("PG"), t0),
		paidOrder(m, "", t0), // no channel number yet: NULL, as CreateOrder stores it
		paidOrder(m, randomID("PG"), t0.Add(time.Hour)),
	}
	orders[1].Status, orders[1].PaidAt, orders[1].BuyerID = paygate.StatusPending, time.Time{}, "buyer"
	orders[2].Status, orders[2].RefundedAmount, orders[2].ClosedAt = paygate.StatusRefunded, 500, t0.Add(2*time.Hour)
	orders[2].CancelRequestedAt, orders[2].QRCode, orders[2].NotifyURL = t0.Add(time.Minute), "https://qr.example/x", "https://shop.example/h"
	if err := l.BulkInsertOrders(ctx, orders, nil); err != nil {
		t.Fatalf("BulkInsertOrders: %v", err)
	}
	prev := first.ID
	for i, o := range orders {
		if o.ID <= prev || o.Version != 1 {
			t.Fatalf("order %d: ID %d (previous %d), version %d; want ascending IDs, version 1", i, o.ID, prev, o.Version)
		}
		prev = o.ID
		mustEqual(t, "order read back", *orderByID(t, s, m, o), *o)
	}
	refunds := []*paygate.Refund{newRefund(orders[2], "r1", 200), newRefund(orders[2], "r2", 300)}
	refunds[1].Status, refunds[1].SucceededAt = paygate.RefundSucceeded, t0.Add(90*time.Minute)
	if err := l.BulkInsertOrders(ctx, nil, refunds); err != nil {
		t.Fatalf("BulkInsertOrders of refunds: %v", err)
	}
	got, err := s.RefundsByOrder(ctx, orders[2].ID)
	if err != nil {
		t.Fatalf("RefundsByOrder: %v", err)
	}
	mustEqual(t, "refunds read back", got, refunds)

	// Later inserts get IDs above the loaded ones.
	after := newOrder(t, s, m, nil)
	if after.ID <= orders[2].ID {
		t.Fatalf("order created after the load got ID %d, not above the loaded %d", after.ID, orders[2].ID)
	}
	r := newRefund(pay(t, s, after), "r3", 100)
	if err := createRefund(ctx, s, r); err != nil {
		t.Fatalf("CreateRefund after the load: %v", err)
	}
	if r.ID <= refunds[1].ID {
		t.Fatalf("refund created after the load got ID %d, not above the loaded %d", r.ID, refunds[1].ID)
	}

	// A repeated channel number fails the whole load.
	bad := []*paygate.Order{paidOrder(m, randomID("PG"), t0), paidOrder(m, orders[0].ChannelNo, t0)}
	wantCode(t, l.BulkInsertOrders(ctx, bad, nil), paygate.EConflict)
	if bad[0].ID != 0 {
		t.Fatalf("a failed load set ID %d", bad[0].ID)
	}
	_, err = s.OrderByOutTradeNo(ctx, m.ID, bad[0].OutTradeNo)
	wantCode(t, err, paygate.ENotFound)
	// A refund of no order is refused by the schema.
	orphan := newRefund(&paygate.Order{ID: 1 << 40, MerchantID: m.ID, OutTradeNo: "none"}, "r1", 100)
	wantCode(t, l.BulkInsertOrders(ctx, nil, []*paygate.Refund{orphan}), paygate.EInvalid)
}
