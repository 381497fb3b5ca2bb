package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

// newEvent stores an event of o's at time at.
func newEvent(t *testing.T, s paygate.Store, o *paygate.Order, typ string, at time.Time) *paygate.Event {
	t.Helper()
	ctx := context.Background()
	e := &paygate.Event{ID: randomID("evt_"), MerchantID: o.MerchantID, OrderID: o.ID, Type: typ,
		Payload: []byte(`{"type":"` + typ + `"}`), CreatedAt: at}
	if err := s.Tx(ctx, func(tx paygate.StoreTx) error { return tx.CreateEvent(ctx, e) }); err != nil {
		t.Fatalf("CreateEvent: %v", err)
	}
	e.CreatedAt = us(at)
	return e
}

func mustEvent(t *testing.T, s paygate.Store, id string) *paygate.Event {
	t.Helper()
	e, err := s.EventByID(context.Background(), id)
	if err != nil {
		t.Fatalf("EventByID: %v", err)
	}
	return e
}

// testWebhookDelivery walks an event through failed attempts, dead-letter,
// delivery and revival, checking its state and its attempts at each step.
func testWebhookDelivery(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	o := newOrder(t, s, m, nil)
	e := newEvent(t, s, o, paygate.EventOrderPaid, t0)
	other := newEvent(t, s, o, paygate.EventOrderClosed, t0)

	got := mustEvent(t, s, e.ID)
	if !got.DeliveredAt.IsZero() || !got.DeadAt.IsZero() || got.Attempts != 0 {
		t.Fatalf("new event has delivery state %v, %v, %d; want none", got.DeliveredAt, got.DeadAt, got.Attempts)
	}

	failed := &paygate.WebhookAttempt{EventID: e.ID, At: t0.Add(time.Second), URL: "https://shop.example/hook",
		StatusCode: 500, Latency: 1234567891 * time.Nanosecond, Excerpt: "oops 出错了"}
	if err := s.RecordWebhookAttempt(ctx, failed); err != nil {
		t.Fatalf("RecordWebhookAttempt: %v", err)
	}
	if failed.ID == 0 {
		t.Fatal("RecordWebhookAttempt left the ID zero")
	}
	got = mustEvent(t, s, e.ID)
	if got.Attempts != 1 || !got.DeliveredAt.IsZero() || !got.DeadAt.IsZero() {
		t.Fatalf("after a failed attempt: attempts %d, delivered %v, dead %v", got.Attempts, got.DeliveredAt, got.DeadAt)
	}

	if err := s.MarkEventDead(ctx, e.ID, t0.Add(2*time.Second)); err != nil {
		t.Fatalf("MarkEventDead: %v", err)
	}
	mustEqual(t, "dead at", mustEvent(t, s, e.ID).DeadAt, us(t0.Add(2*time.Second)))

	ok := &paygate.WebhookAttempt{EventID: e.ID, At: t0.Add(3 * time.Second), URL: "https://shop.example/hook",
		StatusCode: 204, Latency: 5 * time.Millisecond, Success: true}
	if err := s.RecordWebhookAttempt(ctx, ok); err != nil {
		t.Fatalf("RecordWebhookAttempt: %v", err)
	}
	got = mustEvent(t, s, e.ID)
	if got.Attempts != 2 || !got.DeliveredAt.Equal(us(t0.Add(3*time.Second))) || !got.DeadAt.IsZero() {
		t.Fatalf("after success: attempts %d, delivered %v, dead %v", got.Attempts, got.DeliveredAt, got.DeadAt)
	}
	// A later success (a re-send of a delivered event) keeps the first time.
	again := &paygate.WebhookAttempt{EventID: e.ID, At: t0.Add(4 * time.Second), StatusCode: 200, Success: true}
	if err := s.RecordWebhookAttempt(ctx, again); err != nil {
		t.Fatalf("RecordWebhookAttempt: %v", err)
	}
	if got := mustEvent(t, s, e.ID); got.Attempts != 3 || !got.DeliveredAt.Equal(us(t0.Add(3*time.Second))) {
		t.Fatalf("after a second success: attempts %d, delivered %v", got.Attempts, got.DeliveredAt)
	}
	// A delivered event is not dead-lettered.
	if err := s.MarkEventDead(ctx, e.ID, t0.Add(5*time.Second)); err != nil {
		t.Fatalf("MarkEventDead of a delivered event: %v", err)
	}
	if got := mustEvent(t, s, e.ID); !got.DeadAt.IsZero() {
		t.Fatalf("delivered event dead-lettered at %v", got.DeadAt)
	}

	attempts, err := s.WebhookAttempts(ctx, e.ID)
	if err != nil {
		t.Fatalf("WebhookAttempts: %v", err)
	}
	failed.At, failed.Latency = us(failed.At), 1234567*time.Microsecond
	ok.At, again.At = us(ok.At), us(again.At)
	mustEqual(t, "attempts", attempts, []*paygate.WebhookAttempt{failed, ok, again})
	if list, err := s.WebhookAttempts(ctx, other.ID); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("attempts of an event never tried = %v, %v; want an empty list", list, err)
	}

	if err := s.ReviveEvent(ctx, e.ID); err != nil {
		t.Fatalf("ReviveEvent: %v", err)
	}
	got = mustEvent(t, s, e.ID)
	if !got.DeliveredAt.IsZero() || !got.DeadAt.IsZero() || got.Attempts != 3 {
		t.Fatalf("revived: delivered %v, dead %v, attempts %d; want pending with 3 attempts", got.DeliveredAt, got.DeadAt, got.Attempts)
	}
	if mustEvent(t, s, other.ID).Attempts != 0 {
		t.Fatal("another event's attempts changed")
	}

	// A zero attempt time is the store's now.
	zero := &paygate.WebhookAttempt{EventID: other.ID, Excerpt: "no webhook URL configured"}
	if err := s.RecordWebhookAttempt(ctx, zero); err != nil {
		t.Fatalf("RecordWebhookAttempt: %v", err)
	}
	if zero.At.IsZero() {
		t.Fatal("RecordWebhookAttempt left a zero time zero")
	}

	const missing = "evt_missing"
	wantCode(t, s.RecordWebhookAttempt(ctx, &paygate.WebhookAttempt{EventID: missing, At: t0}), paygate.ENotFound)
	wantCode(t, s.MarkEventDead(ctx, missing, t0), paygate.ENotFound)
	wantCode(t, s.ReviveEvent(ctx, missing), paygate.ENotFound)
	if list, err := s.WebhookAttempts(ctx, missing); err != nil || len(list) != 0 {
		t.Fatalf("attempts of a missing event = %v, %v; want none", list, err)
	}
}

// testReviveEventTx revives an event inside a transaction: undone by a
// rollback, kept by a commit.
func testReviveEventTx(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	o := newOrder(t, s, newMerchant(t, s), nil)
	e := newEvent(t, s, o, paygate.EventOrderPaid, t0)
	if err := s.MarkEventDead(ctx, e.ID, t0); err != nil {
		t.Fatal(err)
	}
	revive := func(tx paygate.StoreTx, id string) error {
		wt, ok := tx.(paygate.WebhookTx)
		if !ok {
			t.Fatalf("%T does not implement paygate.WebhookTx", tx)
		}
		return wt.ReviveEvent(ctx, id)
	}
	err := s.Tx(ctx, func(tx paygate.StoreTx) error {
		if err := revive(tx, e.ID); err != nil {
			return err
		}
		return errBoom
	})
	if err != errBoom {
		t.Fatalf("Tx = %v, want %v", err, errBoom)
	}
	if mustEvent(t, s, e.ID).DeadAt.IsZero() {
		t.Fatal("a rolled-back revival revived the event")
	}
	if err := s.Tx(ctx, func(tx paygate.StoreTx) error { return revive(tx, e.ID) }); err != nil {
		t.Fatalf("Tx: %v", err)
	}
	if !mustEvent(t, s, e.ID).DeadAt.IsZero() {
		t.Fatal("a committed revival left the event dead")
	}
	err = s.Tx(ctx, func(tx paygate.StoreTx) error { return revive(tx, "evt_missing") })
	wantCode(t, err, paygate.ENotFound)
}

// testListEvents pages a merchant's events newest first, ties in creation
// time broken by ID, and filters them by type and by delivery.
func testListEvents(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m, other := newMerchant(t, s), newMerchant(t, s)
	o, oo := newOrder(t, s, m, nil), newOrder(t, s, other, nil)
	var all []*paygate.Event // oldest first
	for i := range 25 {
		typ := paygate.EventOrderPaid
		if i%5 == 0 {
			typ = paygate.EventRefundSucceeded
		}
		// Three events share each creation time, to exercise the tie-break.
		all = append(all, newEvent(t, s, o, typ, t0.Add(time.Duration(i/3)*time.Second)))
	}
	newEvent(t, s, oo, paygate.EventOrderPaid, t0)
	for _, e := range all[:10] {
		if err := s.RecordWebhookAttempt(ctx, &paygate.WebhookAttempt{EventID: e.ID, At: t0, StatusCode: 200, Success: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.MarkEventDead(ctx, all[10].ID, t0); err != nil {
		t.Fatal(err)
	}

	// list pages through f, 7 at a time, and returns the IDs seen.
	list := func(f paygate.EventFilter) []string {
		t.Helper()
		f.Limit = 7
		var ids []string
		for page := 0; ; page++ {
			if page > 10 {
				t.Fatal("paging does not end")
			}
			got, err := s.ListEvents(ctx, f)
			if err != nil {
				t.Fatalf("ListEvents: %v", err)
			}
			if len(got) == 0 {
				return ids
			}
			for _, e := range got {
				ids = append(ids, e.ID)
			}
			last := got[len(got)-1]
			f.BeforeCreatedAt, f.BeforeID = last.CreatedAt, last.ID
		}
	}
	// want lists the IDs of all's events that keep says to, newest first.
	want := func(keep func(i int, e *paygate.Event) bool) []string {
		sorted := make([]*paygate.Event, len(all))
		copy(sorted, all)
		for i := 1; i < len(sorted); i++ { // insertion sort: newest first, then by ID descending
			for j := i; j > 0; j-- {
				a, b := sorted[j-1], sorted[j]
				if a.CreatedAt.After(b.CreatedAt) || a.CreatedAt.Equal(b.CreatedAt) && a.ID > b.ID {
					break
				}
				sorted[j-1], sorted[j] = b, a
			}
		}
		var ids []string
		for _, e := range sorted {
			i := 0
			for i < len(all) && all[i] != e {
				i++
			}
			if keep(i, e) {
				ids = append(ids, e.ID)
			}
		}
		return ids
	}

	mustEqual(t, "all events", list(paygate.EventFilter{MerchantID: m.ID}),
		want(func(int, *paygate.Event) bool { return true }))
	mustEqual(t, "refund events", list(paygate.EventFilter{MerchantID: m.ID, Type: paygate.EventRefundSucceeded}),
		want(func(_ int, e *paygate.Event) bool { return e.Type == paygate.EventRefundSucceeded }))
	mustEqual(t, "undelivered events", list(paygate.EventFilter{MerchantID: m.ID, Undelivered: true}),
		want(func(i int, _ *paygate.Event) bool { return i >= 10 }))
	mustEqual(t, "undelivered paid events", list(paygate.EventFilter{MerchantID: m.ID, Undelivered: true, Type: paygate.EventOrderPaid}),
		want(func(i int, e *paygate.Event) bool { return i >= 10 && e.Type == paygate.EventOrderPaid }))
	mustEqual(t, "dead-lettered events", list(paygate.EventFilter{MerchantID: m.ID, Delivery: paygate.DeliveryDead}),
		want(func(i int, _ *paygate.Event) bool { return i == 10 }))
	mustEqual(t, "events being retried", list(paygate.EventFilter{MerchantID: m.ID, Delivery: paygate.DeliveryRetrying}),
		want(func(i int, _ *paygate.Event) bool { return i > 10 }))
	mustEqual(t, "dead-lettered paid events of any merchant", list(paygate.EventFilter{Delivery: paygate.DeliveryDead, Type: paygate.EventRefundSucceeded}),
		want(func(i int, e *paygate.Event) bool { return i == 10 && e.Type == paygate.EventRefundSucceeded }))
	mustEqual(t, "dead-lettered paid events", list(paygate.EventFilter{Delivery: paygate.DeliveryDead, Type: paygate.EventOrderPaid}), nil)
	if got := list(paygate.EventFilter{MerchantID: other.ID}); len(got) != 1 {
		t.Fatalf("other merchant lists %d events, want 1", len(got))
	}
	if got := list(paygate.EventFilter{}); len(got) != 26 {
		t.Fatalf("every merchant's events: %d listed, want 26", len(got))
	}
	if got, err := s.ListEvents(ctx, paygate.EventFilter{MerchantID: 424242}); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("unknown merchant lists %v, %v; want an empty list", got, err)
	}

	got, err := s.ListEvents(ctx, paygate.EventFilter{MerchantID: m.ID, Limit: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("limit 1: %d events, %v", len(got), err)
	}
	if got[0].ID != want(func(int, *paygate.Event) bool { return true })[0] {
		t.Fatal("the first event listed is not the newest")
	}
	dead := all[10]
	got, err = s.ListEvents(ctx, paygate.EventFilter{MerchantID: m.ID, Undelivered: true, BeforeCreatedAt: dead.CreatedAt, BeforeID: dead.ID + "~"})
	if err != nil || len(got) == 0 || got[0].ID != dead.ID || got[0].DeadAt.IsZero() {
		t.Fatalf("listing from the dead event: %v, %v; want it first, with its dead time", got, err)
	}
	for _, c := range []struct{ limit, want int }{{0, 20}, {-3, 1}, {1000, 25}} {
		got, err := s.ListEvents(ctx, paygate.EventFilter{MerchantID: m.ID, Limit: c.limit})
		if err != nil {
			t.Fatalf("ListEvents: %v", err)
		}
		if len(got) != c.want {
			t.Errorf("limit %d lists %d events, want %d", c.limit, len(got), c.want)
		}
	}
}
