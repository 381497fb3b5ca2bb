package gateway_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/faultstore"
	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/sqlite"
)

// counts is an ActivityObserver that remembers what it heard.
type counts struct {
	mu      sync.Mutex
	written int
	batches int
	dropped map[string]int
}

func (c *counts) ActivitiesWritten(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.written += n
	c.batches++
}

func (c *counts) ActivitiesDropped(reason string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropped == nil {
		c.dropped = map[string]int{}
	}
	c.dropped[reason] += n
}

func (c *counts) get() (written, batches int, dropped map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := map[string]int{}
	for k, v := range c.dropped {
		d[k] = v
	}
	return c.written, c.batches, d
}

// activityOrder makes a merchant and an order to hang activities on.
func activityOrder(t *testing.T, st paygate.Store) *paygate.Order {
	t.Helper()
	ctx := context.Background()
	m := &paygate.Merchant{Name: "shop", AccessKey: "ak_log_" + t.Name(), SecretKey: "sk", WebhookSecret: "wh", CreatedAt: time.Now()}
	if err := st.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	o := &paygate.Order{MerchantID: m.ID, OutTradeNo: "L1", ChannelNo: "ch_log_" + t.Name(), Mode: paygate.ModeQR, Subject: "tea",
		TotalAmount: 100, Status: paygate.StatusPending, ParamsHash: "h", CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := st.CreateOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	return o
}

func call(orderID int64, i int) paygate.OrderActivity {
	return paygate.OrderActivity{OrderID: orderID, At: time.Unix(1_800_000_000+int64(i), 0), Kind: paygate.ActivityChannelCall,
		Name: "alipay.trade.query", Outcome: paygate.ActivitySuccess, Code: "10000"}
}

// TestActivityLogBatches: activities are written in batches of at most
// Batch, and Close writes the rest before it returns; nothing is lost.
func TestActivityLogBatches(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		st := open(t)
		o := activityOrder(t, st)
		var c counts
		log := gateway.NewActivityLog(gateway.ActivityLogConfig{Store: st, Batch: 100, Every: time.Hour, Queue: 2000, Observer: &c})
		for i := range 1050 {
			log.Record(call(o.ID, i))
		}
		if err := log.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		got, err := st.ActivitiesByOrder(context.Background(), o.ID)
		if err != nil || len(got) != 1050 {
			t.Fatalf("stored %d activities, %v; want 1050", len(got), err)
		}
		written, batches, dropped := c.get()
		if written != 1050 || batches < 11 || len(dropped) != 0 {
			t.Fatalf("written %d in %d batches, dropped %v; want 1050 in at least 11 batches of 100, none dropped", written, batches, dropped)
		}
		// After Close: dropped and counted, never blocking, never panicking.
		log.Record(call(o.ID, 0))
		if _, _, dropped := c.get(); dropped[gateway.DropClosed] != 1 {
			t.Fatalf("dropped after close = %v; want 1 closed", dropped)
		}
		if err := log.Close(context.Background()); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

// TestActivityLogEvery: a batch that does not fill is written after Every,
// without Close.
func TestActivityLogEvery(t *testing.T) {
	t.Parallel()
	st := openSQLite(t)
	o := activityOrder(t, st)
	log := gateway.NewActivityLog(gateway.ActivityLogConfig{Store: st, Every: 50 * time.Millisecond})
	t.Cleanup(func() { log.Close(context.Background()) })
	log.Record(call(o.ID, 1))
	eventually(t, "the lone activity written", func() bool {
		got, err := st.ActivitiesByOrder(context.Background(), o.ID)
		return err == nil && len(got) == 1
	})
}

// gatedStore holds every RecordActivities until its gate opens: a
// database that is slow to write.
type gatedStore struct {
	paygate.Store
	entered chan struct{}
	gate    chan struct{}
}

func (g *gatedStore) RecordActivities(ctx context.Context, batch []*paygate.OrderActivity) error {
	g.entered <- struct{}{}
	<-g.gate
	return g.Store.RecordActivities(ctx, batch)
}

// TestActivityLogQueueFull: while the writer is stuck, Record never waits:
// what does not fit in the queue is dropped and counted, and what fits is
// written once the database is back.
func TestActivityLogQueueFull(t *testing.T) {
	t.Parallel()
	st := openSQLite(t)
	o := activityOrder(t, st)
	g := &gatedStore{Store: st, entered: make(chan struct{}, 10), gate: make(chan struct{})}
	var c counts
	log := gateway.NewActivityLog(gateway.ActivityLogConfig{Store: g, Batch: 1, Queue: 2, Observer: &c})
	log.Record(call(o.ID, 1))
	<-g.entered // the writer holds the first and waits on the database
	start := time.Now()
	for i := 2; i <= 6; i++ {
		log.Record(call(o.ID, i))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Record waited %v on a stuck writer", d)
	}
	if _, _, dropped := c.get(); dropped[gateway.DropQueueFull] != 3 {
		t.Fatalf("dropped = %v; want 3 queue_full (the queue holds 2)", dropped)
	}
	close(g.gate)
	if err := log.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := st.ActivitiesByOrder(context.Background(), o.ID)
	if len(got) != 3 {
		t.Fatalf("stored %d; want 3 (the one being written and the two queued)", len(got))
	}
}

// TestActivityLogWriteFails: a batch the database refuses is tried once
// more, then dropped and counted; the log goes on with the next.
func TestActivityLogWriteFails(t *testing.T) {
	t.Parallel()
	st := openSQLite(t)
	o := activityOrder(t, st)
	fs := faultstore.New(st)
	fs.SetPlan(func(faultstore.Call) faultstore.When { return faultstore.Before })
	var c counts
	log := gateway.NewActivityLog(gateway.ActivityLogConfig{Store: fs, Every: 10 * time.Millisecond, RetryAfter: 10 * time.Millisecond, Observer: &c})
	log.Record(call(o.ID, 1))
	log.Record(call(o.ID, 2))
	eventually(t, "the batch dropped", func() bool { _, _, d := c.get(); return d[gateway.DropWriteFailed] == 2 })
	if n := fs.Calls(); n != 2 {
		t.Fatalf("RecordActivities called %d times; want 2 (a retry)", n)
	}
	fs.SetPlan(nil)
	log.Record(call(o.ID, 3))
	if err := log.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := st.ActivitiesByOrder(context.Background(), o.ID)
	if len(got) != 1 || got[0].At.Unix() != 1_800_000_003 {
		t.Fatalf("stored %d activities; want the one recorded after the database came back", len(got))
	}
}

// BenchmarkActivityRecord is what recording costs a payment: one Record
// call, with the writer writing to SQLite behind it. The queue holds every
// activity of the run, so each one is queued, none dropped (dropped/op
// says so): a flood of Records runs far ahead of any database.
func BenchmarkActivityRecord(b *testing.B) {
	st := openSQLiteB(b)
	o := &paygate.Order{ID: 1}
	var c counts
	log := gateway.NewActivityLog(gateway.ActivityLogConfig{Store: st, Queue: b.N + 1, Observer: &c})
	a := call(o.ID, 1)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			log.Record(a)
		}
	})
	b.StopTimer()
	log.Close(context.Background())
	_, _, dropped := c.get()
	b.ReportMetric(float64(dropped[gateway.DropQueueFull])/float64(b.N), "dropped/op")
}

func openSQLiteB(b *testing.B) paygate.Store {
	b.Helper()
	k := make([]byte, 32)
	s, err := paygate.NewSealer(k)
	if err != nil {
		b.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "paygate.db"), s, sqlite.WithMigrate())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}
