package storetest

import (
	"context"
	"testing"

	"github.com/paygate/paygate"
)

func testEvents(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	events := eventReader(t, s)
	m := newMerchant(t, s)
	o := newOrder(t, s, m, nil)

	e1 := &paygate.Event{ID: randomID("evt_"), MerchantID: m.ID, OrderID: o.ID, Type: paygate.EventOrderPaid,
		Payload: []byte(`{"id":"x","type":"order.paid"}`), CreatedAt: t0}
	e2 := &paygate.Event{MerchantID: m.ID, OrderID: o.ID, Type: paygate.EventRefundSucceeded,
		Payload: []byte(`{}`), CreatedAt: t0.Add(1)}
	err := s.Tx(ctx, func(tx paygate.StoreTx) error {
		if err := tx.CreateEvent(ctx, e1); err != nil {
			return err
		}
		return tx.CreateEvent(ctx, e2)
	})
	if err != nil {
		t.Fatalf("CreateEvent: %v", err)
	}
	if e2.ID == "" {
		t.Fatal("CreateEvent left an empty ID empty")
	}
	e1.CreatedAt, e2.CreatedAt = us(t0), us(t0)

	got, err := events.EventByID(ctx, e1.ID)
	if err != nil {
		t.Fatalf("EventByID: %v", err)
	}
	mustEqual(t, "event", got, e1)
	list, err := events.EventsByOrder(ctx, o.ID)
	if err != nil {
		t.Fatalf("EventsByOrder: %v", err)
	}
	if len(list) != 2 {
		t.Fatalf("EventsByOrder lists %d events, want 2", len(list))
	}
	_, err = events.EventByID(ctx, "evt_missing")
	wantCode(t, err, paygate.ENotFound)

	dup := *e1
	err = s.Tx(ctx, func(tx paygate.StoreTx) error { return tx.CreateEvent(ctx, &dup) })
	wantCode(t, err, paygate.EConflict)
}
