package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/jobs"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/sqlite"
)

// TestQueueDepth: jobs enqueued on a queue that is not started are counted
// by kind and state (due now: available; later: scheduled), and every kind
// is listed, in Kinds' order, zero counts included.
func TestQueueDepth(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(t *testing.T) backend) {
		ctx := context.Background()
		b := open(t)
		var depth jobs.DepthFunc
		switch s := b.store.(type) {
		case *sqlite.Store:
			depth = jobs.SQLiteDepth(s.DB())
		case *postgres.Store:
			depth = jobs.PostgresDepth(s.DB())
		default:
			t.Fatalf("no depth for %T", b.store)
		}
		empty, err := depth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(empty) != len(jobs.Kinds) {
			t.Fatalf("depth of an empty queue lists %d kinds, want %d", len(empty), len(jobs.Kinds))
		}
		for i, k := range empty {
			if k != (jobs.KindDepth{Kind: jobs.Kinds[i]}) {
				t.Fatalf("empty queue: %+v", k)
			}
		}

		q, err := b.newQueue(jobs.Config{PollInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		jobs.RegisterWebhooks(q, jobs.WebhookConfig{Store: b.store})
		jobs.RegisterCompensation(q, nil)
		for _, job := range []paygate.Job{
			{Kind: paygate.JobDeliverEvent, EventID: "evt_a"},
			{Kind: paygate.JobDeliverEvent, EventID: "evt_b"},
			{Kind: paygate.JobCompensateOrder, OrderID: 1, RunAt: time.Now().Add(time.Hour)},
		} {
			if err := q.EnqueueNow(ctx, job); err != nil {
				t.Fatal(err)
			}
		}
		got, err := depth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]jobs.KindDepth{
			"deliver_event":    {Kind: "deliver_event", Available: 2},
			"compensate_order": {Kind: "compensate_order", Scheduled: 1},
		}
		for i, k := range got {
			if k.Kind != jobs.Kinds[i] {
				t.Fatalf("kind %d is %s, want %s", i, k.Kind, jobs.Kinds[i])
			}
			w, ok := want[k.Kind]
			if !ok {
				w = jobs.KindDepth{Kind: k.Kind}
			}
			if k != w {
				t.Errorf("depth of %s = %+v, want %+v", k.Kind, k, w)
			}
		}
	})
}
