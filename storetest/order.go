package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

func testOrderCreate(t *testing.T, s paygate.Store) {
	m := newMerchant(t, s)
	o := newOrder(t, s, m, func(o *paygate.Order) { o.Status = "" })
	if o.ID == 0 || o.Version != 1 || o.Status != paygate.StatusPending {
		t.Fatalf("after create: ID %d, version %d, status %q; want an ID, 1, pending", o.ID, o.Version, o.Status)
	}
	o2 := newOrder(t, s, m, nil)
	if o2.ID <= o.ID {
		t.Fatalf("second order's ID %d is not above the first's %d", o2.ID, o.ID)
	}
	// Orders without a channel number yet do not collide.
	newOrder(t, s, m, func(o *paygate.Order) { o.ChannelNo = "" })
	newOrder(t, s, m, func(o *paygate.Order) { o.ChannelNo = "" })
}

func testOrderDuplicateOutTradeNo(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m, other := newMerchant(t, s), newMerchant(t, s)
	o := newOrder(t, s, m, nil)

	dup := *o
	dup.ID, dup.ChannelNo = 0, randomID("ch_")
	wantCode(t, s.CreateOrder(ctx, &dup), paygate.EConflict)

	// The same out_trade_no belongs to each merchant separately.
	newOrder(t, s, other, func(x *paygate.Order) { x.OutTradeNo = o.OutTradeNo })
	got, err := s.OrderByOutTradeNo(ctx, m.ID, o.OutTradeNo)
	if err != nil {
		t.Fatalf("read order: %v", err)
	}
	mustEqual(t, "first merchant's order", *got, *o)
}

func testOrderDuplicateChannelNo(t *testing.T, s paygate.Store) {
	m, other := newMerchant(t, s), newMerchant(t, s)
	o := newOrder(t, s, m, nil)
	dup := &paygate.Order{
		MerchantID: other.ID, OutTradeNo: "another", ChannelNo: o.ChannelNo, Mode: paygate.ModeQR,
		Subject: "tea", TotalAmount: 100, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour),
	}
	wantCode(t, s.CreateOrder(context.Background(), dup), paygate.EConflict)
}

func testOrderLookups(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m, other := newMerchant(t, s), newMerchant(t, s)
	o := newOrder(t, s, m, func(o *paygate.Order) {
		o.Mode = paygate.ModeBarcode
		o.QRCode = "https://qr.example/abc"
		o.BuyerID = "buyer"
		o.TradeNo = "2026trade"
	})

	got, err := s.OrderByOutTradeNo(ctx, m.ID, o.OutTradeNo)
	if err != nil {
		t.Fatalf("OrderByOutTradeNo: %v", err)
	}
	mustEqual(t, "OrderByOutTradeNo", *got, *o)

	got, err = s.OrderByChannelNo(ctx, o.ChannelNo)
	if err != nil {
		t.Fatalf("OrderByChannelNo: %v", err)
	}
	mustEqual(t, "OrderByChannelNo", *got, *o)

	_, err = s.OrderByOutTradeNo(ctx, other.ID, o.OutTradeNo)
	wantCode(t, err, paygate.ENotFound)
	_, err = s.OrderByOutTradeNo(ctx, m.ID, "missing")
	wantCode(t, err, paygate.ENotFound)
	_, err = s.OrderByChannelNo(ctx, "missing")
	wantCode(t, err, paygate.ENotFound)
	_, err = s.OrderByChannelNo(ctx, "")
	wantCode(t, err, paygate.ENotFound)
	err = s.Tx(ctx, func(tx paygate.StoreTx) error {
		_, err := tx.OrderForUpdate(ctx, 424242)
		return err
	})
	wantCode(t, err, paygate.ENotFound)
}

// testOrderTimes checks that times come back in UTC to the microsecond and
// that zero times stay zero.
func testOrderTimes(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	o := newOrder(t, s, m, nil)
	got := orderByID(t, s, m, o)
	for name, tm := range map[string]time.Time{"CreatedAt": got.CreatedAt, "UpdatedAt": got.UpdatedAt, "ExpiresAt": got.ExpiresAt} {
		if tm.Location() != time.UTC {
			t.Errorf("%s is in %v, want UTC", name, tm.Location())
		}
	}
	if !got.CreatedAt.Equal(us(t0)) || got.CreatedAt.Nanosecond() != 891234000 {
		t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, us(t0))
	}
	if !got.ExpiresAt.Equal(us(t0.Add(15 * time.Minute))) {
		t.Errorf("ExpiresAt = %v", got.ExpiresAt)
	}
	if !got.PaidAt.IsZero() || !got.ClosedAt.IsZero() || !got.CancelRequestedAt.IsZero() {
		t.Errorf("PaidAt %v, ClosedAt %v, CancelRequestedAt %v; want zero", got.PaidAt, got.ClosedAt, got.CancelRequestedAt)
	}

	// A zero time in a NOT NULL column comes back zero too.
	noExpiry := newOrder(t, s, m, func(o *paygate.Order) { o.ExpiresAt = time.Time{} })
	if got := orderByID(t, s, m, noExpiry); !got.ExpiresAt.IsZero() {
		t.Errorf("zero ExpiresAt came back as %v", got.ExpiresAt)
	}

	closeAt := time.Date(2026, 3, 4, 6, 0, 0, 999, time.FixedZone("X", -5*60*60))
	cancelAt := closeAt.Add(-1500 * time.Millisecond)
	err := s.Tx(ctx, func(tx paygate.StoreTx) error {
		cur, err := tx.OrderForUpdate(ctx, o.ID)
		if err != nil {
			return err
		}
		if err := cur.Transition(paygate.StatusClosed, closeAt); err != nil {
			return err
		}
		cur.CancelRequestedAt = cancelAt
		return tx.UpdateOrder(ctx, cur)
	})
	if err != nil {
		t.Fatalf("close order: %v", err)
	}
	got = orderByID(t, s, m, o)
	if got.ClosedAt != us(closeAt) || got.UpdatedAt != us(closeAt) || !got.PaidAt.IsZero() {
		t.Errorf("after close: ClosedAt %v, UpdatedAt %v, PaidAt %v; want %v, %v, zero",
			got.ClosedAt, got.UpdatedAt, got.PaidAt, us(closeAt), us(closeAt))
	}
	// The cancel intent is durable (gateway.requestCancel relies on it).
	if got.CancelRequestedAt != us(cancelAt) {
		t.Errorf("CancelRequestedAt = %v, want %v", got.CancelRequestedAt, us(cancelAt))
	}
}

func testOrderUpdateVersion(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	o := newOrder(t, s, m, nil)
	stale := *o

	paid := pay(t, s, o)
	if paid.Version != 2 {
		t.Fatalf("version after update = %d, want 2", paid.Version)
	}
	got := orderByID(t, s, m, o)
	mustEqual(t, "order after update", *got, *paid)

	// A writer holding the old version loses and writes nothing.
	err := s.Tx(ctx, func(tx paygate.StoreTx) error {
		stale.TradeNo = "overwritten"
		if err := stale.Transition(paygate.StatusClosed, t0.Add(time.Hour)); err != nil {
			return err
		}
		return tx.UpdateOrder(ctx, &stale)
	})
	wantCode(t, err, paygate.EConflict)
	if stale.Version != 1 {
		t.Errorf("failed update changed the in-memory version to %d", stale.Version)
	}
	got = orderByID(t, s, m, o)
	mustEqual(t, "order after stale update", *got, *paid)

	err = s.Tx(ctx, func(tx paygate.StoreTx) error {
		missing := *paid
		missing.ID = 424242
		return tx.UpdateOrder(ctx, &missing)
	})
	wantCode(t, err, paygate.ENotFound)
}

func testOrderConstraints(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	o := pay(t, s, newOrder(t, s, m, nil))

	err := s.Tx(ctx, func(tx paygate.StoreTx) error {
		cur, err := tx.OrderForUpdate(ctx, o.ID)
		if err != nil {
			return err
		}
		cur.RefundedAmount = cur.TotalAmount + 1
		return tx.UpdateOrder(ctx, cur)
	})
	wantCode(t, err, paygate.EInvalid)
	err = s.Tx(ctx, func(tx paygate.StoreTx) error {
		cur, err := tx.OrderForUpdate(ctx, o.ID)
		if err != nil {
			return err
		}
		cur.RefundedAmount = -1
		return tx.UpdateOrder(ctx, cur)
	})
	wantCode(t, err, paygate.EInvalid)
	mustEqual(t, "order after rejected updates", *orderByID(t, s, m, o), *o)

	bad := map[string]func(o *paygate.Order){
		"zero total":       func(o *paygate.Order) { o.TotalAmount = 0 },
		"negative total":   func(o *paygate.Order) { o.TotalAmount = -5 },
		"refunded > total": func(o *paygate.Order) { o.RefundedAmount = o.TotalAmount + 1 },
		"unknown status":   func(o *paygate.Order) { o.Status = "lost" },
		"unknown mode":     func(o *paygate.Order) { o.Mode = "cash" },
		"unknown merchant": func(o *paygate.Order) { o.MerchantID = 424242 },
	}
	for name, edit := range bad {
		x := &paygate.Order{
			MerchantID: m.ID, OutTradeNo: randomID("otn_"), ChannelNo: randomID("ch_"), Mode: paygate.ModeQR,
			Subject: "bad", TotalAmount: 100, Status: paygate.StatusPending, CreatedAt: t0, ExpiresAt: t0,
		}
		edit(x)
		if err := s.CreateOrder(ctx, x); paygate.ErrorCode(err) != paygate.EInvalid {
			t.Errorf("%s: CreateOrder error %v, want %s", name, err, paygate.EInvalid)
		}
	}
}
