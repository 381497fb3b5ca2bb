package jobs_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/paygate/paygate/jobs"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/sqlite"
)

// probeArgs is a job that only says it ran.
type probeArgs struct {
	Name string `json:"name"`
}

func (probeArgs) Kind() string { return "liveness_probe" }

type probeWorker struct {
	river.WorkerDefaults[probeArgs]
	mu  sync.Mutex
	ran map[string]bool
}

func (w *probeWorker) Work(_ context.Context, j *river.Job[probeArgs]) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ran[j.Args.Name] = true
	return nil
}

func (w *probeWorker) did(name string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ran[name]
}

// sqlExec runs a statement on the backend's database, written for SQLite
// or PostgreSQL as the store is.
func sqlExec(t *testing.T, b backend, sqliteSQL, pgSQL string, args ...any) error {
	t.Helper()
	ctx := context.Background()
	var err error
	switch st := b.store.(type) {
	case *sqlite.Store:
		_, err = st.DB().ExecContext(ctx, sqliteSQL, args...)
	case *postgres.Store:
		_, err = st.DB().Exec(ctx, pgSQL, args...)
	default:
		return fmt.Errorf("store %T", b.store)
	}
	return err
}

// TestOrphanedJobsHandedBack: a job left running by a node that died (no
// heartbeat) runs again within the node timeout of a node starting, not
// after River's stuck-job rescue; on PostgreSQL a job running on a node that
// is alive is left to it (on SQLite, one node, everything running at start
// is an orphan).
func TestOrphanedJobsHandedBack(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(t *testing.T) backend) {
		b := open(t)
		w := &probeWorker{ran: map[string]bool{}}
		q, err := b.newQueue(jobs.Config{PollInterval: 100 * time.Millisecond, NodeTimeout: time.Second, JobTimeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		jobs.Register(q, w)
		ctx := context.Background()
		for _, name := range []string{"dead", "alive"} {
			if err := q.EnqueueNowArgs(ctx, probeArgs{Name: name}); err != nil {
				t.Fatal(err)
			}
		}
		// Both were taken by nodes a minute ago; "alive-node" still beats.
		err = sqlExec(t, b,
			`UPDATE river_job SET state = 'running', attempt = 1, attempted_at = ?, attempted_by = jsonb(json_array(json_extract(args, '$.name') || '-node')) WHERE kind = 'liveness_probe'`,
			`UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $1, attempted_by = ARRAY[(args->>'name') || '-node'] WHERE kind = 'liveness_probe'`,
			sqliteOrPg(b, time.Now().Add(-time.Minute)))
		if err != nil {
			t.Fatal(err)
		}
		beat := func() error {
			return sqlExec(t, b,
				`INSERT INTO paygate_nodes (id, started_at, heartbeat_at) VALUES ('alive-node', ?, ?) ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
				`INSERT INTO paygate_nodes (id, started_at, heartbeat_at) VALUES ('alive-node', $1, $2) ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
				sqliteOrPg(b, time.Now()), sqliteOrPg(b, time.Now()))
		}
		if err := beat(); err != nil { // alive before the queue looks
			t.Fatal(err)
		}
		stop := make(chan struct{})
		beating := make(chan struct{})
		go func() {
			defer close(beating)
			for {
				err := sqlExec(t, b,
					`INSERT INTO paygate_nodes (id, started_at, heartbeat_at) VALUES ('alive-node', ?, ?) ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
					`INSERT INTO paygate_nodes (id, started_at, heartbeat_at) VALUES ('alive-node', $1, $2) ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
					sqliteOrPg(b, time.Now()), sqliteOrPg(b, time.Now()))
				if err != nil {
					t.Errorf("heartbeat of alive-node: %v", err)
				}
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
		defer func() { close(stop); <-beating }()
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer q.Stop(ctx)
		deadline := time.Now().Add(20 * time.Second)
		for !w.did("dead") {
			if time.Now().After(deadline) {
				t.Fatal("the dead node's job was not handed back within 20 s (node timeout 1 s)")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, ok := b.store.(*sqlite.Store); ok {
			// One node serves a SQLite file: whatever ran before this
			// node started is an orphan, heartbeat or not.
			for !w.did("alive") {
				if time.Now().After(deadline) {
					t.Fatal("on SQLite every job running at start is handed back; one was not")
				}
				time.Sleep(50 * time.Millisecond)
			}
			return
		}
		time.Sleep(1500 * time.Millisecond) // more rescue passes
		if w.did("alive") {
			t.Error("the job of a node that still beats was run again")
		}
	})
}

// sqliteOrPg passes a time as the store's River tables keep it: text in
// River's SQLite form, or a time for PostgreSQL.
func sqliteOrPg(b backend, at time.Time) any {
	if _, ok := b.store.(*sqlite.Store); ok {
		return at.UTC().Round(time.Millisecond).Format("2006-01-02 15:04:05.000")
	}
	return at
}
