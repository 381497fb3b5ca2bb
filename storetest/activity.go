package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

// testActivities: a batch is written whole with IDs and normalized times,
// read back per order oldest first (by time, then ID), a long detail is cut
// at a character boundary, an empty batch is no write, and the retention
// delete removes exactly what is older than its bound.
func testActivities(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	o1 := newOrder(t, s, m, nil)
	o2 := newOrder(t, s, m, nil)
	if err := s.RecordActivities(ctx, nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	if got, err := s.ActivitiesByOrder(ctx, o1.ID); err != nil || len(got) != 0 {
		t.Fatalf("activities of an order without any = %v, %v; want none", got, err)
	}
	long := strings.Repeat("é", paygate.MaxActivityDetail) // 2 bytes each: cut to 100 whole characters
	batch := []*paygate.OrderActivity{
		{OrderID: o1.ID, At: t0.Add(2 * time.Second), Kind: paygate.ActivityChannelCall, Name: "alipay.trade.query",
			Outcome: paygate.ActivitySuccess, Code: "10000", Detail: "WAIT_BUYER_PAY", Latency: 1500*time.Microsecond + 999},
		{OrderID: o2.ID, At: t0, Kind: paygate.ActivityNotification, Name: "TRADE_SUCCESS",
			Outcome: paygate.ActivityApplied, Detail: long},
		{OrderID: o1.ID, At: t0, Kind: paygate.ActivityChannelCall, Name: "alipay.trade.precreate",
			Outcome: paygate.ActivityUnknown, Code: "40004/ACQ.SYSTEM_ERROR", Detail: "系统繁忙", Latency: 2 * time.Second},
		{OrderID: o1.ID, At: t0, Kind: paygate.ActivityChannelCall, Name: "alipay.trade.precreate",
			Outcome: paygate.ActivitySuccess, Code: "10000", Latency: time.Second},
	}
	if err := s.RecordActivities(ctx, batch); err != nil {
		t.Fatalf("record: %v", err)
	}
	seen := map[int64]bool{}
	for _, a := range batch {
		if a.ID == 0 || seen[a.ID] {
			t.Fatalf("activity IDs after record: %+v", batch)
		}
		seen[a.ID] = true
	}
	got, err := s.ActivitiesByOrder(ctx, o1.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Same time: by ID, the order of insertion.
	want := []*paygate.OrderActivity{
		{ID: batch[2].ID, OrderID: o1.ID, At: us(t0), Kind: paygate.ActivityChannelCall, Name: "alipay.trade.precreate",
			Outcome: paygate.ActivityUnknown, Code: "40004/ACQ.SYSTEM_ERROR", Detail: "系统繁忙", Latency: 2 * time.Second},
		{ID: batch[3].ID, OrderID: o1.ID, At: us(t0), Kind: paygate.ActivityChannelCall, Name: "alipay.trade.precreate",
			Outcome: paygate.ActivitySuccess, Code: "10000", Latency: time.Second},
		{ID: batch[0].ID, OrderID: o1.ID, At: us(t0.Add(2 * time.Second)), Kind: paygate.ActivityChannelCall, Name: "alipay.trade.query",
			Outcome: paygate.ActivitySuccess, Code: "10000", Detail: "WAIT_BUYER_PAY", Latency: 1500 * time.Microsecond},
	}
	mustEqual(t, "activities of order 1", got, want)
	got, err = s.ActivitiesByOrder(ctx, o2.ID)
	if err != nil || len(got) != 1 {
		t.Fatalf("activities of order 2 = %v, %v", got, err)
	}
	if d := got[0].Detail; d != strings.Repeat("é", paygate.MaxActivityDetail/2) {
		t.Fatalf("long detail stored as %d bytes %q; want cut to %d bytes of whole characters", len(d), d, paygate.MaxActivityDetail)
	}

	// A zero time is stamped now.
	now := &paygate.OrderActivity{OrderID: o2.ID, Kind: paygate.ActivityChannelCall, Name: "alipay.trade.close", Outcome: paygate.ActivitySuccess}
	if err := s.RecordActivities(ctx, []*paygate.OrderActivity{now}); err != nil {
		t.Fatal(err)
	}
	if now.At.IsZero() || time.Since(now.At) > time.Minute {
		t.Fatalf("At of an activity recorded without one = %v; want now", now.At)
	}

	// A row the schema refuses fails the whole batch.
	bad := []*paygate.OrderActivity{
		{OrderID: o2.ID, At: t0, Kind: paygate.ActivityNotification, Name: "TRADE_CLOSED", Outcome: paygate.ActivityDuplicate},
		{OrderID: o2.ID, At: t0, Kind: "gossip"},
	}
	if err := s.RecordActivities(ctx, bad); err == nil {
		t.Fatal("a batch with an unknown kind was recorded")
	}
	if got, _ := s.ActivitiesByOrder(ctx, o2.ID); len(got) != 2 {
		t.Fatalf("after a refused batch, order 2 has %d activities; want 2 (nothing of the batch)", len(got))
	}

	// Retention: strictly older than the bound.
	n, err := s.DeleteActivitiesBefore(ctx, t0.Add(time.Second))
	if err != nil || n != 3 {
		t.Fatalf("DeleteActivitiesBefore = %d, %v; want 3 (the three at t0)", n, err)
	}
	got, _ = s.ActivitiesByOrder(ctx, o1.ID)
	mustEqual(t, "order 1 after the prune", got, want[2:])
	if n, err := s.DeleteActivitiesBefore(ctx, t0.Add(time.Second)); err != nil || n != 0 {
		t.Fatalf("second DeleteActivitiesBefore = %d, %v; want 0", n, err)
	}
}
