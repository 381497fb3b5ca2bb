package jobs

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestFenceStopsRunningWork: while the fence is up, a running job's work is
// cancelled (errFenced) and a new one ends at once; lowered, jobs run.
func TestFenceStopsRunningWork(t *testing.T) {
	t.Parallel()
	f := newFence()
	started, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- f.Work(t.Context(), nil, func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		})
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not start")
	}
	f.raise()
	select {
	case err := <-done:
		if !errors.Is(err, errFenced) {
			t.Fatalf("running job ended with %v, want errFenced", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the fence did not stop the running job")
	}
	ran := false
	if err := f.Work(t.Context(), nil, func(context.Context) error { ran = true; return nil }); !errors.Is(err, errFenced) || ran {
		t.Fatalf("a job under the fence: ran %v, err %v", ran, err)
	}
	f.lower()
	if err := f.Work(t.Context(), nil, func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("a job after the fence: ran %v, err %v", ran, err)
	}
}

// TestLivenessRaisesFenceWhenBeatsFail: a node whose database goes away
// stops its own jobs after half the node timeout, before any other node
// may take it for dead.
func TestLivenessRaisesFenceWhenBeatsFail(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "n.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(nodesTableSQLite); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE river_job (id INTEGER PRIMARY KEY, state TEXT, attempted_by BLOB, attempted_at TEXT,
		scheduled_at TEXT, max_attempts INTEGER, attempt INTEGER, errors BLOB)`); err != nil {
		t.Fatal(err)
	}
	f := newFence()
	l := &liveness{db: sqliteLiveness{db}, id: "n1", every: 50 * time.Millisecond, stale: 400 * time.Millisecond,
		log: slog.New(slog.DiscardHandler), fence: f}
	if err := l.start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer l.stop(context.Background())
	time.Sleep(150 * time.Millisecond)
	if f.current().Err() != nil {
		t.Fatal("fence up while the heartbeats go through")
	}
	db.Close() // the database is out of reach from now on
	deadline := time.Now().Add(10 * time.Second)
	for f.current().Err() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the fence did not go up with the heartbeats failing")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
