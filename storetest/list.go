package storetest

import (
	"context"
	"testing"

	"github.com/paygate/paygate"
)

// testListOrdersPaging pages through 45 orders 20 at a time: newest first,
// no duplicates, no gaps, and another merchant's orders never appear.
func testListOrdersPaging(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m, other := newMerchant(t, s), newMerchant(t, s)
	want := map[int64]bool{}
	for i := range 45 {
		want[newOrder(t, s, m, nil).ID] = true
		if i%10 == 0 {
			newOrder(t, s, other, nil)
		}
	}

	seen := map[int64]bool{}
	var sizes []int
	var before int64
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("paging does not end")
		}
		got, err := s.ListOrders(ctx, paygate.OrderFilter{MerchantID: m.ID, Limit: 20, BeforeID: before})
		if err != nil {
			t.Fatalf("ListOrders: %v", err)
		}
		if len(got) == 0 {
			break
		}
		sizes = append(sizes, len(got))
		for i, o := range got {
			if o.MerchantID != m.ID {
				t.Fatalf("order %d of merchant %d listed for merchant %d", o.ID, o.MerchantID, m.ID)
			}
			if seen[o.ID] {
				t.Fatalf("order %d listed twice", o.ID)
			}
			if i > 0 && o.ID >= got[i-1].ID {
				t.Fatalf("page not newest first: %d after %d", o.ID, got[i-1].ID)
			}
			if before != 0 && o.ID >= before {
				t.Fatalf("order %d is not below the cursor %d", o.ID, before)
			}
			seen[o.ID] = true
		}
		before = got[len(got)-1].ID
	}
	mustEqual(t, "page sizes", sizes, []int{20, 20, 5})
	mustEqual(t, "orders listed", seen, want)

	otherList, err := s.ListOrders(ctx, paygate.OrderFilter{MerchantID: other.ID, Limit: 100})
	if err != nil {
		t.Fatalf("ListOrders: %v", err)
	}
	if len(otherList) != 5 {
		t.Fatalf("other merchant lists %d orders, want 5", len(otherList))
	}

	for _, c := range []struct{ limit, want int }{{0, 20}, {-3, 1}, {1, 1}, {1000, 45}} {
		got, err := s.ListOrders(ctx, paygate.OrderFilter{MerchantID: m.ID, Limit: c.limit})
		if err != nil {
			t.Fatalf("ListOrders: %v", err)
		}
		if len(got) != c.want {
			t.Errorf("limit %d lists %d orders, want %d", c.limit, len(got), c.want)
		}
	}
	for range 60 {
		newOrder(t, s, m, nil)
	}
	got, err := s.ListOrders(ctx, paygate.OrderFilter{MerchantID: m.ID, Limit: 1000})
	if err != nil {
		t.Fatalf("ListOrders: %v", err)
	}
	if len(got) != 101 {
		t.Errorf("limit 1000 lists %d of 105 orders, want the maximum 101", len(got))
	}
}

func testListOrdersFilter(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m, other := newMerchant(t, s), newMerchant(t, s)
	var paid []int64
	for i := range 9 {
		o := newOrder(t, s, m, nil)
		if i%3 == 0 {
			paid = append([]int64{pay(t, s, o).ID}, paid...) // newest first
		}
	}
	pay(t, s, newOrder(t, s, other, nil))

	got, err := s.ListOrders(ctx, paygate.OrderFilter{MerchantID: m.ID, Status: paygate.StatusPaid})
	if err != nil {
		t.Fatalf("ListOrders: %v", err)
	}
	var ids []int64
	for _, o := range got {
		if o.Status != paygate.StatusPaid {
			t.Fatalf("order %d has status %s in a list of paid orders", o.ID, o.Status)
		}
		ids = append(ids, o.ID)
	}
	mustEqual(t, "paid orders", ids, paid)

	got, err = s.ListOrders(ctx, paygate.OrderFilter{MerchantID: m.ID, Status: paygate.StatusPaid, Limit: 2, BeforeID: paid[0]})
	if err != nil {
		t.Fatalf("ListOrders: %v", err)
	}
	if len(got) != 2 || got[0].ID != paid[1] || got[1].ID != paid[2] {
		t.Fatalf("second page of paid orders = %v, want %v", got, paid[1:])
	}

	got, err = s.ListOrders(ctx, paygate.OrderFilter{MerchantID: m.ID, Status: paygate.StatusClosed})
	if err != nil {
		t.Fatalf("ListOrders: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("%d closed orders listed, want none", len(got))
	}
	got, err = s.ListOrders(ctx, paygate.OrderFilter{MerchantID: 424242})
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("unknown merchant lists %v, %v; want an empty list", got, err)
	}
}
