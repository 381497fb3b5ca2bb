package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/paygate/paygate"
)

// writeAll changes o, adds a refund and an event in tx: the writes a
// refund makes together.
func writeAll(ctx context.Context, tx paygate.StoreTx, o *paygate.Order, eventID string) error {
	cur, err := tx.OrderForUpdate(ctx, o.ID)
	if err != nil {
		return err
	}
	cur.RefundedAmount += 100
	if err := tx.UpdateOrder(ctx, cur); err != nil {
		return err
	}
	if err := tx.CreateRefund(ctx, newRefund(cur, "r1", 100)); err != nil {
		return err
	}
	return tx.CreateEvent(ctx, &paygate.Event{ID: eventID, MerchantID: o.MerchantID, OrderID: o.ID,
		Type: paygate.EventRefundSucceeded, Payload: []byte(`{}`), CreatedAt: t0})
}

// wantUntouched checks that none of writeAll's writes happened.
func wantUntouched(t *testing.T, s paygate.Store, m *paygate.Merchant, o *paygate.Order, eventID string) {
	t.Helper()
	ctx := context.Background()
	mustEqual(t, "order after rollback", *orderByID(t, s, m, o), *o)
	refunds, err := s.RefundsByOrder(ctx, o.ID)
	if err != nil || len(refunds) != 0 {
		t.Fatalf("refunds after rollback: %v, %v; want none", refunds, err)
	}
	_, err = eventReader(t, s).EventByID(ctx, eventID)
	wantCode(t, err, paygate.ENotFound)
}

func testTxCommit(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	o := pay(t, s, newOrder(t, s, m, nil))
	eventID := randomID("evt_")
	if err := s.Tx(ctx, func(tx paygate.StoreTx) error { return writeAll(ctx, tx, o, eventID) }); err != nil {
		t.Fatalf("Tx: %v", err)
	}
	if got := orderByID(t, s, m, o); got.RefundedAmount != 100 || got.Version != o.Version+1 {
		t.Fatalf("after commit: refunded %d, version %d", got.RefundedAmount, got.Version)
	}
	if refunds, err := s.RefundsByOrder(ctx, o.ID); err != nil || len(refunds) != 1 {
		t.Fatalf("refunds after commit: %v, %v", refunds, err)
	}
	if _, err := eventReader(t, s).EventByID(ctx, eventID); err != nil {
		t.Fatalf("event after commit: %v", err)
	}
}

func testTxRollbackOnError(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	o := pay(t, s, newOrder(t, s, m, nil))
	eventID := randomID("evt_")
	err := s.Tx(ctx, func(tx paygate.StoreTx) error {
		if err := writeAll(ctx, tx, o, eventID); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Tx returned %v, want fn's error", err)
	}
	wantUntouched(t, s, m, o, eventID)
}

func testTxRollbackOnPanic(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	o := pay(t, s, newOrder(t, s, m, nil))
	eventID := randomID("evt_")
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		_ = s.Tx(ctx, func(tx paygate.StoreTx) error {
			if err := writeAll(ctx, tx, o, eventID); err != nil {
				t.Errorf("writes before the panic: %v", err)
			}
			panic(errBoom)
		})
	}()
	if recovered != errBoom {
		t.Fatalf("recovered %v, want the panic to go on after the rollback", recovered)
	}
	wantUntouched(t, s, m, o, eventID)
	// The store is still usable: the rollback released the connection and
	// any write lock.
	pay(t, s, newOrder(t, s, m, nil))
}

// testConcurrentRefunds runs 10 transactions at once that each read the
// order for update and refund 100 fen of 500 if that still fits: exactly 5
// may succeed. A store whose ForUpdate does not lock would let several read
// the same balance and either over-refund or fail on versions.
func testConcurrentRefunds(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	o := pay(t, s, newOrder(t, s, m, func(o *paygate.Order) { o.TotalAmount = 500 }))
	errExceeds := errors.New("exceeds")

	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.Tx(ctx, func(tx paygate.StoreTx) error {
				cur, err := tx.OrderForUpdate(ctx, o.ID)
				if err != nil {
					return err
				}
				if cur.RefundedAmount+100 > cur.TotalAmount {
					return errExceeds
				}
				cur.RefundedAmount += 100
				return tx.UpdateOrder(ctx, cur)
			})
		})
	}
	wg.Wait()
	ok, exceeded := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, errExceeds):
			exceeded++
		default:
			t.Errorf("transaction failed: %v", err)
		}
	}
	if ok != 5 || exceeded != 5 {
		t.Fatalf("%d refunds succeeded and %d were refused, want 5 and 5", ok, exceeded)
	}
	got := orderByID(t, s, m, o)
	if got.RefundedAmount != 500 || got.Version != o.Version+5 {
		t.Fatalf("refunded %d at version %d, want 500 at %d", got.RefundedAmount, got.Version, o.Version+5)
	}
}
