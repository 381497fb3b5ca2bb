package jobs_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/jobs"
)

// TestPruneActivities: the periodic prune deletes the activities past their
// retention and keeps the rest; a task that fails does not keep the others
// from running, and the job is run again.
func TestPruneActivities(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(t *testing.T) backend) {
		b := open(t)
		ctx := context.Background()
		now := time.Now()
		old := &paygate.OrderActivity{OrderID: 7, At: now.Add(-91 * 24 * time.Hour), Kind: paygate.ActivityChannelCall,
			Name: "alipay.trade.query", Outcome: paygate.ActivitySuccess}
		recent := &paygate.OrderActivity{OrderID: 7, At: now.Add(-89 * 24 * time.Hour), Kind: paygate.ActivityNotification,
			Name: "TRADE_SUCCESS", Outcome: paygate.ActivityApplied}
		if err := b.store.RecordActivities(ctx, []*paygate.OrderActivity{old, recent}); err != nil {
			t.Fatal(err)
		}
		q, err := b.newQueue(jobs.Config{PollInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		var failing atomic.Int32
		jobs.SchedulePrune(q, 300*time.Millisecond,
			jobs.PruneTask{Name: "broken", Run: func(context.Context) (int64, error) {
				failing.Add(1)
				return 0, errors.New("boom")
			}},
			jobs.PruneTask{Name: "activities", Run: func(ctx context.Context) (int64, error) {
				return b.store.DeleteActivitiesBefore(ctx, time.Now().Add(-90*24*time.Hour))
			}},
		)
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			q.Stop(sctx)
		})
		deadline := time.Now().Add(30 * time.Second)
		for {
			got, err := b.store.ActivitiesByOrder(ctx, 7)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 1 && failing.Load() >= 2 {
				if got[0].ID != recent.ID {
					t.Fatalf("the prune kept %+v; want the recent one", got[0])
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 30 s: %d activities left, the failing task ran %d times; want 1 left and a second run", len(got), failing.Load())
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
