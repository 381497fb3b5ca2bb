// Package jobs runs paygate's background work on River: webhook delivery,
// compensation of orders that had no notification, and refunds whose outcome
// is unknown. Jobs are inserted in the same transaction as the state change
// that causes them (on SQLite through River's SQLite driver, on PostgreSQL
// through its pgx driver), so they survive a crash and run once their node,
// or another replica, is back.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/trace"

	"github.com/paygate/paygate"
)

// Queue names: webhook delivery waits on merchants' endpoints, channel work
// on Alipay; each gets its own workers so one cannot starve the other.
// Maintenance (the periodic prune) touches only the database, one job at a
// time.
const (
	QueueWebhooks    = "webhooks"
	QueueChannel     = "channel"
	QueueMaintenance = "maintenance"
)

// Config tunes a Queue.
type Config struct {
	Logger *slog.Logger
	// Workers per queue on this node; default 10.
	Workers int
	// PollInterval is how often idle workers look for due jobs (SQLite has no
	// LISTEN/NOTIFY); default 1 s, at least 100 ms.
	PollInterval time.Duration
	// WebhookSchedule is the delay before each webhook retry; its length
	// plus one is the number of attempts. Default DefaultWebhookSchedule.
	WebhookSchedule []time.Duration
	// ID names this node in River (defaults to River's own).
	ID string
	// JobTimeout bounds one run of a job; default 2 min.
	JobTimeout time.Duration
	// NodeTimeout is how long a node may go without a heartbeat before its
	// running jobs are taken for lost (it died) and handed back to run
	// again, here or on another replica; default 15 s. Nodes beat every
	// fifth of it. See liveness.go.
	NodeTimeout time.Duration
	// RescueAfter is River's own backstop: a job running this long is run
	// again whatever its node's heartbeat says; at least JobTimeout,
	// default JobTimeout + 1 min.
	RescueAfter time.Duration
	// OnRescue, when set, is told how many orphaned jobs were handed back.
	OnRescue func(n int64)
	// TracerProvider traces job runs (see trace.go); nil: no spans.
	TracerProvider trace.TracerProvider
}

// Queue enqueues and runs jobs. It implements paygate.JobQueue.
type Queue struct {
	cfg      Config
	log      *slog.Logger
	workers  *river.Workers
	live     *liveness
	insertTx func(ctx context.Context, tx paygate.StoreTx, args river.JobArgs, opts *river.InsertOpts) error
	insert   func(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error
	start    func(ctx context.Context) error
	stop     func(ctx context.Context) error
	periodic *river.PeriodicJobBundle
}

var _ paygate.JobQueue = (*Queue)(nil)

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Workers <= 0 {
		c.Workers = 10
	}
	if c.PollInterval < 100*time.Millisecond {
		c.PollInterval = time.Second
	}
	if len(c.WebhookSchedule) == 0 {
		c.WebhookSchedule = DefaultWebhookSchedule
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 2 * time.Minute
	}
	if c.RescueAfter < c.JobTimeout {
		c.RescueAfter = c.JobTimeout + time.Minute
	}
	if c.NodeTimeout <= 0 {
		c.NodeTimeout = 15 * time.Second
	}
	if c.ID == "" {
		c.ID = newNodeID()
	}
}

func (q *Queue) newLiveness(db livenessDB, f *fence) *liveness {
	return &liveness{db: db, id: q.cfg.ID, every: max(q.cfg.NodeTimeout/5, 100*time.Millisecond),
		stale: q.cfg.NodeTimeout, log: q.log, rescuedJobsFn: q.cfg.OnRescue, fence: f}
}

func (c *Config) river(workers *river.Workers, f *fence) *river.Config {
	return &river.Config{
		Middleware:        c.middleware(f),
		ID:                c.ID,
		Logger:            c.Logger.With("component", "river"),
		Workers:           workers,
		FetchPollInterval: c.PollInterval,
		// A fetch takes at most a queue's free workers' worth of jobs, and
		// the next may start only FetchCooldown later: River's 100 ms
		// capped a queue of 10 workers at 100 jobs/s however fast each
		// ran (webhook deliveries to a quick receiver: 100/s while
		// notifications came in at 2,500/s). Idle queues fetch no more
		// often for it.
		FetchCooldown: min(c.PollInterval, 10*time.Millisecond),
		Queues: map[string]river.QueueConfig{
			QueueWebhooks:    {MaxWorkers: c.Workers},
			QueueChannel:     {MaxWorkers: c.Workers},
			QueueMaintenance: {MaxWorkers: 1},
		},
		JobTimeout:           c.JobTimeout,
		RescueStuckJobsAfter: c.RescueAfter,
	}
}

// NewSQLite makes a Queue on the SQLite store's database. Workers are added
// with Register before Start.
func NewSQLite(db *sql.DB, cfg Config) (*Queue, error) {
	cfg.defaults()
	q := &Queue{cfg: cfg, log: cfg.Logger, workers: river.NewWorkers()}
	f := newFence()
	q.live = q.newLiveness(sqliteLiveness{db}, f)
	client, err := river.NewClient(riversqlite.New(db), cfg.river(q.workers, f))
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	q.insertTx = func(ctx context.Context, tx paygate.StoreTx, args river.JobArgs, opts *river.InsertOpts) error {
		t, ok := tx.(interface{ SQLTx() *sql.Tx })
		if !ok {
			return fmt.Errorf("jobs: %T is not a SQLite transaction", tx)
		}
		_, err := client.InsertTx(ctx, t.SQLTx(), args, opts)
		return err
	}
	q.periodic = client.PeriodicJobs()
	q.wire(client.Insert, client.Start, client.Stop, client.StopAndCancel)
	return q, nil
}

// NewPostgres makes a Queue on the PostgreSQL store's pool.
func NewPostgres(pool *pgxpool.Pool, cfg Config) (*Queue, error) {
	cfg.defaults()
	q := &Queue{cfg: cfg, log: cfg.Logger, workers: river.NewWorkers()}
	f := newFence()
	q.live = q.newLiveness(pgLiveness{pool}, f)
	client, err := river.NewClient(riverpgxv5.New(pool), cfg.river(q.workers, f))
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	q.insertTx = func(ctx context.Context, tx paygate.StoreTx, args river.JobArgs, opts *river.InsertOpts) error {
		t, ok := tx.(interface{ PgxTx() pgx.Tx })
		if !ok {
			return fmt.Errorf("jobs: %T is not a PostgreSQL transaction", tx)
		}
		_, err := client.InsertTx(ctx, t.PgxTx(), args, opts)
		return err
	}
	q.periodic = client.PeriodicJobs()
	q.wire(client.Insert, client.Start, client.Stop, client.StopAndCancel)
	return q, nil
}

func (q *Queue) wire(
	insert func(context.Context, river.JobArgs, *river.InsertOpts) (*rivertype.JobInsertResult, error),
	start, stop, stopAndCancel func(context.Context) error,
) {
	q.insert = func(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
		_, err := insert(ctx, args, opts)
		return err
	}
	q.start = func(ctx context.Context) error {
		// Alive before the first job is taken: a job is never attempted by a
		// node without a heartbeat, which others would take for dead.
		if err := q.live.start(ctx); err != nil {
			return err
		}
		return start(ctx)
	}
	q.stop = func(ctx context.Context) error {
		defer q.live.stop(context.WithoutCancel(ctx))
		// Finish running jobs while ctx allows, then cancel the rest: a
		// cancelled job is retried by River (here or on another replica).
		if err := stop(ctx); err != nil && errors.Is(err, context.DeadlineExceeded) {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return stopAndCancel(cctx)
		}
		return nil
	}
}

// Register adds a worker; call it before Start.
func Register[T river.JobArgs](q *Queue, w river.Worker[T]) {
	river.AddWorker(q.workers, w)
}

// Start runs the workers until Stop.
func (q *Queue) Start(ctx context.Context) error { return q.start(ctx) }

// Stop lets running jobs finish until ctx ends, then cancels them; River
// hands cancelled jobs back to be run again.
func (q *Queue) Stop(ctx context.Context) error { return q.stop(ctx) }

// Enqueue inserts job in tx: it runs only if tx commits.
func (q *Queue) Enqueue(ctx context.Context, tx paygate.StoreTx, job paygate.Job) error {
	args, opts, err := q.argsOf(job)
	if err != nil {
		return err
	}
	if err := q.insertTx(ctx, tx, args, opts); err != nil {
		return fmt.Errorf("enqueue %s: %w", job.Kind, err)
	}
	return nil
}

// EnqueueNow inserts job outside any state change (an operator's re-send).
func (q *Queue) EnqueueNow(ctx context.Context, job paygate.Job) error {
	args, opts, err := q.argsOf(job)
	if err != nil {
		return err
	}
	if err := q.insert(ctx, args, opts); err != nil {
		return fmt.Errorf("enqueue %s: %w", job.Kind, err)
	}
	return nil
}

func (q *Queue) argsOf(job paygate.Job) (river.JobArgs, *river.InsertOpts, error) {
	opts := &river.InsertOpts{ScheduledAt: job.RunAt}
	switch job.Kind {
	case paygate.JobDeliverEvent:
		opts.Queue, opts.MaxAttempts = QueueWebhooks, len(q.cfg.WebhookSchedule)+1
		return DeliverEventArgs{EventID: job.EventID}, opts, nil
	case paygate.JobCompensateOrder:
		opts.Queue, opts.MaxAttempts = QueueChannel, compensateAttempts
		return CompensateOrderArgs{OrderID: job.OrderID}, opts, nil
	case paygate.JobResolveRefund:
		opts.Queue, opts.MaxAttempts = QueueChannel, compensateAttempts
		return ResolveRefundArgs{OrderID: job.OrderID, OutRequestNo: job.OutRequestNo}, opts, nil
	}
	return nil, nil, fmt.Errorf("jobs: unknown job kind %q", job.Kind)
}

// MigrateSQLite applies River's own migrations to a SQLite database.
func MigrateSQLite(ctx context.Context, db *sql.DB) error {
	m, err := rivermigrate.New(riversqlite.New(db), nil)
	if err != nil {
		return err
	}
	if _, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, nodesTableSQLite)
	return err
}

// MigratePostgres applies River's own migrations to a PostgreSQL database.
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return err
	}
	if _, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return err
	}
	// Replicas may start together: the lock keeps two CREATE TABLE IF NOT
	// EXISTS from racing on the catalog.
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('paygate_nodes'))`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, nodesTablePostgres)
		return err
	})
}
