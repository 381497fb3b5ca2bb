package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

// TestPruneTasks: the daily prune deletes, on both stores, the order
// activities past activity.retention, the idempotency records past their
// expiry and the session revocations whose sessions have ended, and keeps
// everything younger.
func TestPruneTasks(t *testing.T) {
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind)
		st := e.app.store
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Second)
		o := e2eCreate(t, e.a, e2eQR("PRUNE_1", "1.00"), 201)
		order := e.stored(t, e.idA, o.OutTradeNo)

		for i, at := range []time.Time{now.Add(-48 * time.Hour), now.Add(-time.Hour)} {
			rec := &paygate.IdempotencyRecord{MerchantID: e.idA, Key: "prune-" + string(rune('a'+i)), RequestHash: strings.Repeat("0", 64),
				CreatedAt: at, LeaseUntil: at.Add(time.Minute), ExpiresAt: at.Add(24 * time.Hour)}
			if got, err := st.BeginIdempotent(ctx, rec); err != nil || got != nil {
				t.Fatalf("BeginIdempotent: %v %v", got, err)
			}
			rec.Status, rec.Body = 201, []byte("{}")
			if err := st.FinishIdempotent(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.RevokeSession(ctx, "old-session", now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := st.RevokeSession(ctx, "live-session", now.Add(10*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := st.RecordActivities(ctx, []*paygate.OrderActivity{
			{OrderID: order.ID, At: now.Add(-100 * 24 * time.Hour), Kind: paygate.ActivityChannelCall, Name: "alipay.trade.query", Outcome: paygate.ActivitySuccess},
			{OrderID: order.ID, At: now.Add(-time.Hour), Kind: paygate.ActivityChannelCall, Name: "alipay.trade.query", Outcome: paygate.ActivitySuccess},
		}); err != nil {
			t.Fatal(err)
		}
		before, err := st.ActivitiesByOrder(ctx, order.ID)
		if err != nil {
			t.Fatal(err)
		}

		cfg := defaultConfig()
		deleted := map[string]int64{}
		for _, task := range pruneTasks(cfg, st, func() time.Time { return now }) {
			n, err := task.Run(ctx)
			if err != nil {
				t.Fatalf("%s: %v", task.Name, err)
			}
			deleted[task.Name] = n
		}
		// The node's own prune (run once at start) may have run meanwhile:
		// check what is left, and that nothing was deleted twice.
		for name, n := range deleted {
			if n > 1 {
				t.Errorf("%s: deleted %d, want at most 1", name, n)
			}
		}
		after, err := st.ActivitiesByOrder(ctx, order.ID)
		if err != nil || len(after) != len(before)-1 || !after[0].At.After(now.Add(-2*time.Hour)) {
			t.Fatalf("activities: %d before, %d after (%v)", len(before), len(after), err)
		}
		if revoked, err := st.SessionRevoked(ctx, "old-session"); err != nil || revoked {
			t.Fatalf("the ended revocation is still there: %v %v", revoked, err)
		}
		if got, err := st.BeginIdempotent(ctx, &paygate.IdempotencyRecord{MerchantID: e.idA, Key: "prune-a", RequestHash: strings.Repeat("1", 64),
			CreatedAt: now, LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(24 * time.Hour)}); err != nil || got != nil {
			t.Fatalf("the expired idempotency record is still there: %+v %v", got, err)
		}
		if revoked, err := st.SessionRevoked(ctx, "live-session"); err != nil || !revoked {
			t.Fatalf("the live revocation was pruned: %v %v", revoked, err)
		}
		if got, err := st.BeginIdempotent(ctx, &paygate.IdempotencyRecord{MerchantID: e.idA, Key: "prune-b", RequestHash: strings.Repeat("0", 64),
			CreatedAt: now, LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(24 * time.Hour)}); err != nil || got == nil || !got.Done {
			t.Fatalf("the young idempotency record was pruned: %+v %v", got, err)
		}

		// activity.retention 0 keeps order activity forever.
		cfg.Activity.Retention = 0
		for _, task := range pruneTasks(cfg, st, func() time.Time { return now }) {
			if task.Name == "order activities" {
				t.Fatal("retention 0 still prunes order activities")
			}
		}
	})
}
