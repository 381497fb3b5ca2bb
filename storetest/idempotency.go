package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

// idem is a record for key, begun at at, with a 30 s lease and 24 h expiry.
func idem(m *paygate.Merchant, key, hash string, at time.Time) *paygate.IdempotencyRecord {
	return &paygate.IdempotencyRecord{MerchantID: m.ID, Key: key, RequestHash: hash,
		CreatedAt: at, LeaseUntil: at.Add(30 * time.Second), ExpiresAt: at.Add(24 * time.Hour)}
}

func begin(t *testing.T, s paygate.Store, rec *paygate.IdempotencyRecord) *paygate.IdempotencyRecord {
	t.Helper()
	got, err := s.BeginIdempotent(context.Background(), rec)
	if err != nil {
		t.Fatalf("BeginIdempotent: %v", err)
	}
	return got
}

func testIdempotencyFlow(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m, other := newMerchant(t, s), newMerchant(t, s)
	first := idem(m, "k1", "hash-a", t0)
	if got := begin(t, s, first); got != nil {
		t.Fatalf("first BeginIdempotent returned %+v, want nil (owner)", got)
	}
	// The same key of another merchant is another record.
	if got := begin(t, s, idem(other, "k1", "hash-a", t0)); got != nil {
		t.Fatalf("other merchant's BeginIdempotent returned %+v, want nil", got)
	}

	got := begin(t, s, idem(m, "k1", "hash-b", t0.Add(time.Second)))
	want := &paygate.IdempotencyRecord{MerchantID: m.ID, Key: "k1", RequestHash: "hash-a",
		CreatedAt: us(t0), LeaseUntil: us(t0.Add(30 * time.Second)), ExpiresAt: us(t0.Add(24 * time.Hour))}
	mustEqual(t, "in-flight record", got, want)

	first.Status, first.Body = 201, []byte(`{"status":"pending"}`)
	if err := s.FinishIdempotent(ctx, first); err != nil {
		t.Fatalf("FinishIdempotent: %v", err)
	}
	got = begin(t, s, idem(m, "k1", "hash-a", t0.Add(time.Minute)))
	want.Done, want.Status, want.Body = true, 201, []byte(`{"status":"pending"}`)
	mustEqual(t, "done record", got, want)

	// Done is final: a second finish is refused.
	wantCode(t, s.FinishIdempotent(ctx, first), paygate.EConflict)
}

// testIdempotencyLeaseTakeover lets 8 requests race for a record whose
// owner's lease lapsed: exactly one takes it over.
func testIdempotencyLeaseTakeover(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	dead := idem(m, "k", "hash-dead", t0)
	if got := begin(t, s, dead); got != nil {
		t.Fatalf("BeginIdempotent returned %+v, want nil", got)
	}

	later := t0.Add(time.Minute) // the dead owner's lease ended at t0+30s
	var wg sync.WaitGroup
	recs := make([]*paygate.IdempotencyRecord, 8)
	results := make([]*paygate.IdempotencyRecord, 8)
	errs := make([]error, 8)
	for i := range recs {
		recs[i] = idem(m, "k", fmt.Sprintf("hash-%d", i), later)
		wg.Go(func() { results[i], errs[i] = s.BeginIdempotent(ctx, recs[i]) })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err != nil {
			t.Fatalf("racer %d: %v", i, err)
		}
		if results[i] == nil {
			if winner >= 0 {
				t.Fatalf("racers %d and %d both took the record over", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no racer took the lapsed record over")
	}
	for i, r := range results {
		if i != winner && (r.RequestHash != recs[winner].RequestHash || r.Done || !r.LeaseUntil.Equal(us(later.Add(30*time.Second)))) {
			t.Fatalf("racer %d got %+v, want the winner's in-flight record", i, r)
		}
	}

	// The dead owner may not finish what is no longer its own.
	dead.Status, dead.Body = 500, []byte("late")
	wantCode(t, s.FinishIdempotent(ctx, dead), paygate.EConflict)
	w := recs[winner]
	w.Status, w.Body = 200, []byte("ok")
	if err := s.FinishIdempotent(ctx, w); err != nil {
		t.Fatalf("winner's FinishIdempotent: %v", err)
	}
	got := begin(t, s, idem(m, "k", "hash-x", later.Add(time.Minute)))
	if !got.Done || got.Status != 200 || string(got.Body) != "ok" || got.RequestHash != w.RequestHash {
		t.Fatalf("record after takeover = %+v, want the winner's response", got)
	}
}

func testIdempotencyExpiredReplaced(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	old := idem(m, "k", "hash-old", t0)
	begin(t, s, old)
	old.Status, old.Body = 201, []byte("old")
	if err := s.FinishIdempotent(ctx, old); err != nil {
		t.Fatalf("FinishIdempotent: %v", err)
	}
	// Still served just before it expires.
	if got := begin(t, s, idem(m, "k", "hash-new", t0.Add(24*time.Hour-time.Second))); got == nil || !got.Done {
		t.Fatalf("record before expiry = %+v, want the done record", got)
	}

	at := t0.Add(25 * time.Hour)
	if got := begin(t, s, idem(m, "k", "hash-new", at)); got != nil {
		t.Fatalf("BeginIdempotent over an expired record returned %+v, want nil", got)
	}
	got := begin(t, s, idem(m, "k", "hash-other", at.Add(time.Second)))
	want := &paygate.IdempotencyRecord{MerchantID: m.ID, Key: "k", RequestHash: "hash-new",
		CreatedAt: us(at), LeaseUntil: us(at.Add(30 * time.Second)), ExpiresAt: us(at.Add(24 * time.Hour))}
	mustEqual(t, "replacing record", got, want)
}

func testIdempotencyFinishMismatch(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	wantCode(t, s.FinishIdempotent(ctx, idem(m, "missing", "h", t0)), paygate.ENotFound)
	begin(t, s, idem(m, "k", "hash-a", t0))
	wantCode(t, s.FinishIdempotent(ctx, idem(m, "k", "hash-b", t0)), paygate.EConflict)
	if got := begin(t, s, idem(m, "k", "hash-a", t0.Add(time.Second))); got == nil || got.Done {
		t.Fatalf("record after a refused finish = %+v, want still in flight", got)
	}
}

func testIdempotencyDeleteExpired(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	for i, key := range []string{"a", "b", "c"} {
		rec := idem(m, key, "h", t0)
		rec.ExpiresAt = t0.Add(time.Duration(i+1) * time.Hour)
		begin(t, s, rec)
		if key != "c" {
			rec.Status = 200
			if err := s.FinishIdempotent(ctx, rec); err != nil {
				t.Fatalf("FinishIdempotent: %v", err)
			}
		}
	}
	n, err := s.DeleteExpiredIdempotency(ctx, t0.Add(2*time.Hour+time.Second))
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredIdempotency = %d, %v; want 2", n, err)
	}
	n, err = s.DeleteExpiredIdempotency(ctx, t0.Add(2*time.Hour+time.Second))
	if err != nil || n != 0 {
		t.Fatalf("second DeleteExpiredIdempotency = %d, %v; want 0", n, err)
	}
	// Deleted keys are free again; the one left is still in flight.
	if got := begin(t, s, idem(m, "a", "h2", t0.Add(time.Minute))); got != nil {
		t.Fatalf("begin on a deleted key returned %+v, want nil", got)
	}
	if got := begin(t, s, idem(m, "c", "h2", t0.Add(time.Second))); got == nil || got.RequestHash != "h" {
		t.Fatalf("begin on the kept key returned %+v, want its record", got)
	}
}

// testIdempotencyRelease frees an in-flight key for an immediate retry, but
// never a record that was taken over or finished meanwhile.
func testIdempotencyRelease(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	first := idem(m, "k1", "hash-a", t0)
	begin(t, s, first)
	if err := s.ReleaseIdempotent(ctx, first); err != nil {
		t.Fatalf("ReleaseIdempotent: %v", err)
	}
	retry := idem(m, "k1", "hash-a", t0.Add(time.Second))
	if got := begin(t, s, retry); got != nil {
		t.Fatalf("after release BeginIdempotent returned %+v, want nil (owner)", got)
	}
	// A stale owner's release does not free the new owner's record.
	if err := s.ReleaseIdempotent(ctx, first); err != nil {
		t.Fatalf("stale ReleaseIdempotent: %v", err)
	}
	if got := begin(t, s, idem(m, "k1", "hash-a", t0.Add(2*time.Second))); got == nil || got.Done {
		t.Fatalf("a stale release freed another owner's key: %+v", got)
	}
	// A finished record stays.
	retry.Status, retry.Body = 200, []byte(`{}`)
	if err := s.FinishIdempotent(ctx, retry); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseIdempotent(ctx, retry); err != nil {
		t.Fatal(err)
	}
	if got := begin(t, s, idem(m, "k1", "hash-a", t0.Add(3*time.Second))); got == nil || !got.Done {
		t.Fatalf("release removed a finished record: %+v", got)
	}
}
