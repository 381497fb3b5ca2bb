package jobs

// Liveness: every node writes a heartbeat; the running jobs of a node that
// stopped writing it are handed back at once, instead of after River's
// stuck-job rescue (which must wait longer than the longest job). A node
// that restarts finds its predecessor's jobs (another process, silent since
// the kill) and runs them within NodeTimeout; with replicas, the others do.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// orphanedError is what a rescued job's error list says.
const orphanedError = "orphaned: the node running it stopped (no heartbeat); handed back"

// nodesTable is created next to River's tables by MigrateSQLite and
// MigratePostgres.
const (
	nodesTableSQLite = `CREATE TABLE IF NOT EXISTS paygate_nodes (
	id           TEXT PRIMARY KEY,
	host         TEXT NOT NULL DEFAULT '',
	pid          INTEGER NOT NULL DEFAULT 0,
	started_at   TEXT NOT NULL,
	heartbeat_at TEXT NOT NULL
)`
	nodesTablePostgres = `CREATE TABLE IF NOT EXISTS paygate_nodes (
	id           text PRIMARY KEY,
	host         text NOT NULL DEFAULT '',
	pid          integer NOT NULL DEFAULT 0,
	started_at   timestamptz NOT NULL,
	heartbeat_at timestamptz NOT NULL
)`
)

// newNodeID names this process in River (attempted_by) and in
// paygate_nodes: the host, the pid and a random part, so that a restarted
// process is never taken for its predecessor.
func newNodeID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// livenessDB is the dialect: a heartbeat, the hand-back of orphaned jobs,
// and leaving.
type livenessDB interface {
	beat(ctx context.Context, id string, started time.Time) error
	rescue(ctx context.Context, staleAfter time.Duration) (int64, error)
	// orphansAtStart hands back, before this node runs anything, the jobs
	// that must be orphans whatever the heartbeats say: on SQLite, which
	// one node serves (a file lock sees to it), every running job.
	orphansAtStart(ctx context.Context, id string) (int64, error)
	leave(ctx context.Context, id string) error
}

// liveness runs the heartbeat and the hand-back on one node.
type liveness struct {
	db      livenessDB
	id      string
	every   time.Duration // heartbeat and rescue period
	stale   time.Duration // a node silent this long is dead
	log     *slog.Logger
	started time.Time

	fence         *fence // raised when this node's own heartbeats fail
	mu            sync.Mutex
	lastBeat      time.Time // the last heartbeat written
	healthySince  time.Time // the first heartbeat of the current unbroken run
	cancel        context.CancelFunc
	done          chan struct{}
	rescuedJobsFn func(n int64) // observes hand-backs; may be nil
}

// start writes the first heartbeat (so this node is alive before it runs a
// job) and runs the loop until stop.
func (l *liveness) start(ctx context.Context) error {
	l.started = time.Now()
	if err := l.db.beat(ctx, l.id, l.started); err != nil {
		return fmt.Errorf("jobs: first heartbeat: %w", err)
	}
	n, err := l.db.orphansAtStart(ctx, l.id)
	if err != nil {
		return fmt.Errorf("jobs: hand-back of the jobs a previous run left running: %w", err)
	}
	if n > 0 {
		l.log.Warn("jobs: handed back the jobs a previous run of this node left running", "jobs", n)
		if l.rescuedJobsFn != nil {
			l.rescuedJobsFn(n)
		}
	}
	l.lastBeat = time.Now()
	// Steady from the start: a node starts against a database that answers.
	// (On PostgreSQL, a database itself just restarted is checked apart.)
	l.healthySince = time.Now().Add(-l.stale)
	ctx, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	l.done = make(chan struct{})
	go l.run(ctx)
	return nil
}

func (l *liveness) run(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.every)
	defer t.Stop()
	l.tick(ctx) // a restarted node looks at once
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.tick(ctx)
		}
	}
}

// tick beats, then hands back the jobs of dead nodes, but only once this
// node's own heartbeats have gone through for a whole NodeTimeout since it
// last failed to write one: after a database outage every node's heartbeat
// looks stale until each has had the time to write again, and live nodes'
// jobs must not be taken.
func (l *liveness) tick(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, l.every)
	defer cancel()
	if err := l.db.beat(cctx, l.id, l.started); err != nil {
		l.mu.Lock()
		l.healthySince = time.Time{}
		silent := time.Since(l.lastBeat)
		l.mu.Unlock()
		if ctx.Err() == nil {
			l.log.Warn("jobs: heartbeat failed", "node", l.id, "err", err)
		}
		// Fence itself well before others may take it for dead (after a
		// whole NodeTimeout): its running jobs stop, so no job runs twice.
		if silent >= l.stale/2 && l.fence != nil && l.fence.current().Err() == nil {
			l.log.Error("jobs: no heartbeat for half the node timeout: stopping this node's running jobs until the database answers", "silent", silent.Round(time.Millisecond).String())
			l.fence.raise()
		}
		return
	}
	l.mu.Lock()
	l.lastBeat = time.Now()
	if l.fence != nil {
		l.fence.lower()
	}
	if l.healthySince.IsZero() {
		l.healthySince = time.Now()
	}
	steady := time.Since(l.healthySince) >= l.stale
	l.mu.Unlock()
	if !steady {
		return
	}
	n, err := l.db.rescue(cctx, l.stale)
	if err != nil {
		if ctx.Err() == nil {
			l.log.Warn("jobs: hand-back of orphaned jobs failed", "err", err)
		}
		return
	}
	if n > 0 {
		l.log.Warn("jobs: handed back the running jobs of a node that stopped", "jobs", n, "node", l.id)
		if l.rescuedJobsFn != nil {
			l.rescuedJobsFn(n)
		}
	}
}

// stop ends the loop and removes this node's row: its jobs were handed back
// by River's stop, and a row left behind would only look alive a little
// longer.
func (l *liveness) stop(ctx context.Context) {
	if l.cancel == nil {
		return
	}
	l.cancel()
	<-l.done
	if err := l.db.leave(ctx, l.id); err != nil {
		l.log.Warn("jobs: could not remove this node's heartbeat", "err", err)
	}
}

// sqliteLiveness keeps heartbeats in the SQLite database, with times in
// River's SQLite text form so that they compare with its columns.
type sqliteLiveness struct{ db *sql.DB }

func sqliteTime(t time.Time) string {
	return t.UTC().Round(time.Millisecond).Format("2006-01-02 15:04:05.000")
}

func (s sqliteLiveness) beat(ctx context.Context, id string, started time.Time) error {
	host, _ := os.Hostname()
	now := sqliteTime(time.Now())
	_, err := s.db.ExecContext(ctx, `INSERT INTO paygate_nodes (id, host, pid, started_at, heartbeat_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
		id, host, os.Getpid(), sqliteTime(started), now)
	return err
}

// handBack makes the running jobs that where selects available again at
// once, their error list saying why, one more attempt allowed if they had
// used them all.
func (s sqliteLiveness) handBack(ctx context.Context, where string, args ...any) (int64, error) {
	now := time.Now()
	res, err := s.db.ExecContext(ctx, `
		UPDATE river_job SET
			state = 'available',
			scheduled_at = ?,
			max_attempts = CASE WHEN attempt >= max_attempts THEN attempt + 1 ELSE max_attempts END,
			errors = jsonb(json_insert(json(coalesce(errors, jsonb('[]'))), '$[#]',
				json_object('at', ?, 'attempt', attempt, 'error', ?, 'trace', '')))
		WHERE state = 'running' AND `+where,
		append([]any{sqliteTime(now), now.UTC().Format(time.RFC3339Nano), orphanedError}, args...)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s sqliteLiveness) rescue(ctx context.Context, staleAfter time.Duration) (int64, error) {
	horizon := sqliteTime(time.Now().Add(-staleAfter))
	n, err := s.handBack(ctx, `attempted_at < ?
			AND coalesce(json_extract(json(attempted_by), '$[#-1]'), '') NOT IN
				(SELECT id FROM paygate_nodes WHERE heartbeat_at >= ?)`, horizon, horizon)
	if err != nil {
		return 0, err
	}
	// Rows of nodes long gone are only clutter.
	_, _ = s.db.ExecContext(ctx, `DELETE FROM paygate_nodes WHERE heartbeat_at < ?`, sqliteTime(time.Now().Add(-24*time.Hour)))
	return n, nil
}

func (s sqliteLiveness) orphansAtStart(ctx context.Context, id string) (int64, error) {
	return s.handBack(ctx, `coalesce(json_extract(json(attempted_by), '$[#-1]'), '') <> ?`, id)
}

func (s sqliteLiveness) leave(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM paygate_nodes WHERE id = ?`, id)
	return err
}

// pgLiveness keeps heartbeats in PostgreSQL, timed by the database's clock,
// so that replicas' clocks need not agree.
type pgLiveness struct{ pool *pgxpool.Pool }

func (p pgLiveness) beat(ctx context.Context, id string, started time.Time) error {
	host, _ := os.Hostname()
	_, err := p.pool.Exec(ctx, `INSERT INTO paygate_nodes (id, host, pid, started_at, heartbeat_at)
		VALUES ($1, $2, $3, $4, now()) ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`,
		id, host, os.Getpid(), started)
	return err
}

func (p pgLiveness) rescue(ctx context.Context, staleAfter time.Duration) (int64, error) {
	tag, err := p.pool.Exec(ctx, `
		UPDATE river_job SET
			state = 'available',
			scheduled_at = now(),
			max_attempts = CASE WHEN attempt >= max_attempts THEN attempt + 1 ELSE max_attempts END,
			errors = array_append(errors, jsonb_build_object('at', now(), 'attempt', attempt, 'error', $1::text, 'trace', ''))
		WHERE state = 'running'
			AND attempted_at < now() - $2::interval
			-- A database that itself just restarted has heard no heartbeat
			-- from anyone yet.
			AND pg_postmaster_start_time() < now() - $2::interval
			AND coalesce(attempted_by[array_length(attempted_by, 1)], '') NOT IN
				(SELECT id FROM paygate_nodes WHERE heartbeat_at >= now() - $2::interval)`,
		orphanedError, staleAfter)
	if err != nil {
		return 0, err
	}
	_, _ = p.pool.Exec(ctx, `DELETE FROM paygate_nodes WHERE heartbeat_at < now() - interval '24 hours'`)
	return tag.RowsAffected(), nil
}

// orphansAtStart is nothing on PostgreSQL: other replicas may be running
// jobs now, so only heartbeats tell.
func (p pgLiveness) orphansAtStart(context.Context, string) (int64, error) { return 0, nil }

func (p pgLiveness) leave(ctx context.Context, id string) error {
	_, err := p.pool.Exec(ctx, `DELETE FROM paygate_nodes WHERE id = $1`, id)
	return err
}

// errFenced ends the work of a job on a node whose heartbeats fail: other
// nodes may take it for dead and hand its jobs back, and a job must not run
// twice at once. River retries the job later, here or elsewhere.
var errFenced = errors.New("jobs: this node's heartbeats fail (its database is out of reach); its running jobs are stopped so that no other node runs them at the same time")

// fence is River worker middleware: while raised, the node's running jobs
// are cancelled and new ones end at once.
type fence struct {
	river.MiddlewareDefaults
	mu     sync.Mutex
	ctx    context.Context // done while the fence is up
	cancel context.CancelFunc
}

func newFence() *fence {
	f := &fence{}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	return f
}

func (f *fence) current() context.Context {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ctx
}

// raise stops every running job's work; lower lets jobs run again.
func (f *fence) raise() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancel()
}

func (f *fence) lower() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx.Err() != nil {
		f.ctx, f.cancel = context.WithCancel(context.Background())
	}
}

// Work runs the job with a context that ends when the fence goes up.
func (f *fence) Work(ctx context.Context, _ *rivertype.JobRow, doInner func(context.Context) error) error {
	fctx := f.current()
	if fctx.Err() != nil {
		return errFenced
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(fctx, func() { cancel(errFenced) })
	defer stop()
	if err := doInner(ctx); err != nil {
		if context.Cause(ctx) == errFenced {
			return errFenced
		}
		return err
	}
	return nil
}
