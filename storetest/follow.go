package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

// testFollowEvents: following new events lists them oldest first, above a
// position (time, ID): ties in creation time broken by ID, an empty ID
// taking every event of that time, the merchant's and type filters kept,
// the Before cursor ignored; paging by the last event's position visits
// each event once.
func testFollowEvents(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m, other := newMerchant(t, s), newMerchant(t, s)
	o, oo := newOrder(t, s, m, nil), newOrder(t, s, other, nil)
	var all []*paygate.Event
	for i := range 11 {
		typ := paygate.EventOrderPaid
		if i%4 == 0 {
			typ = paygate.EventOrderClosed
		}
		all = append(all, newEvent(t, s, o, typ, t0.Add(time.Duration(i/3)*time.Second))) // three per second
	}
	newEvent(t, s, oo, paygate.EventOrderPaid, t0.Add(time.Second))
	slices.SortFunc(all, func(a, b *paygate.Event) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	ids := func(es []*paygate.Event) []string {
		out := []string{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	// follow pages from (at, id), 4 at a time.
	follow := func(f paygate.EventFilter) []string {
		t.Helper()
		f.Limit = 4
		out := []string{}
		for page := 0; ; page++ {
			if page > 10 {
				t.Fatal("following does not end")
			}
			got, err := s.ListEvents(ctx, f)
			if err != nil {
				t.Fatalf("ListEvents: %v", err)
			}
			if len(got) == 0 {
				return out
			}
			out = append(out, ids(got)...)
			last := got[len(got)-1]
			f.AfterCreatedAt, f.AfterID = last.CreatedAt, last.ID
		}
	}
	mustEqual(t, "every event from before the first", follow(paygate.EventFilter{MerchantID: m.ID, AfterCreatedAt: t0.Add(-time.Hour)}), ids(all))
	// From a time, inclusive: an empty ID takes every event of that time.
	mustEqual(t, "from the second second", follow(paygate.EventFilter{MerchantID: m.ID, AfterCreatedAt: t0.Add(time.Second)}), ids(all[3:]))
	// From an event: strictly after it.
	mustEqual(t, "after the fifth", follow(paygate.EventFilter{MerchantID: m.ID, AfterCreatedAt: all[4].CreatedAt, AfterID: all[4].ID}), ids(all[5:]))
	var closed []*paygate.Event
	for _, e := range all {
		if e.Type == paygate.EventOrderClosed {
			closed = append(closed, e)
		}
	}
	mustEqual(t, "closed events", follow(paygate.EventFilter{MerchantID: m.ID, Type: paygate.EventOrderClosed, AfterCreatedAt: t0.Add(-time.Second)}), ids(closed))
	mustEqual(t, "with a Before cursor too (ignored)", follow(paygate.EventFilter{MerchantID: m.ID, AfterCreatedAt: all[8].CreatedAt, AfterID: all[8].ID,
		BeforeCreatedAt: t0, BeforeID: all[0].ID}), ids(all[9:]))
	if got := follow(paygate.EventFilter{MerchantID: m.ID, AfterCreatedAt: t0.Add(time.Hour)}); len(got) != 0 {
		t.Fatalf("following from the future lists %v", got)
	}
	if got := follow(paygate.EventFilter{MerchantID: other.ID, AfterCreatedAt: t0.Add(-time.Hour)}); len(got) != 1 {
		t.Fatalf("the other merchant follows %d events; want its 1", len(got))
	}
}
