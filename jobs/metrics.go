package jobs

import (
	"context"
	"database/sql"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// WebhookObserver receives one report per webhook delivery attempt that
// ends in a result; cmd backs it with Prometheus.
type WebhookObserver interface {
	// WebhookDelivery: an attempt ended with result (WebhookResults); d is
	// how long the request took, 0 when nothing was sent.
	WebhookDelivery(result string, d time.Duration)
}

// The results of a webhook delivery attempt.
const (
	WebhookDelivered = "delivered" // acknowledged with a 2xx
	WebhookFailed    = "failed"    // not acknowledged; River retries it
	WebhookDead      = "dead"      // not acknowledged and no attempt left (or no URL, or its circuit open too long): dead-lettered
	WebhookRefused   = "refused"   // not sent: the egress policy refuses the URL or its address; dead-lettered
)

// WebhookResults lists every result, for metrics to start at zero.
var WebhookResults = []string{WebhookDelivered, WebhookFailed, WebhookDead, WebhookRefused}

// observe reports a delivery's result, if anyone listens.
func (w *DeliverEventWorker) observe(result string, d time.Duration) {
	if w.cfg.Observer != nil {
		w.cfg.Observer.WebhookDelivery(result, d)
	}
}

// CompensationObserver receives the result of every compensation look (an
// order or a refund settled in the background).
type CompensationObserver interface {
	Compensation(result string)
}

// The results of one compensation look.
const (
	CompensationSettled = "settled" // the order or refund is decided
	CompensationPending = "pending" // still undecided: looked at again later
	CompensationError   = "error"   // failed (store, channel): River retries the job
)

// CompensationResults lists every result, for metrics to start at zero.
var CompensationResults = []string{CompensationSettled, CompensationPending, CompensationError}

// ObserveCompensation wraps g so that every look is reported to obs.
func ObserveCompensation(g Compensator, obs CompensationObserver) Compensator {
	return observedCompensator{g, obs}
}

type observedCompensator struct {
	inner Compensator
	obs   CompensationObserver
}

func (c observedCompensator) CompensateOrder(ctx context.Context, orderID int64) (time.Duration, error) {
	next, err := c.inner.CompensateOrder(ctx, orderID)
	c.obs.Compensation(compensationResult(next, err))
	return next, err
}

func (c observedCompensator) ResolveRefund(ctx context.Context, orderID int64, outRequestNo string) (time.Duration, error) {
	next, err := c.inner.ResolveRefund(ctx, orderID, outRequestNo)
	c.obs.Compensation(compensationResult(next, err))
	return next, err
}

func compensationResult(next time.Duration, err error) string {
	switch {
	case err != nil:
		return CompensationError
	case next > 0:
		return CompensationPending
	}
	return CompensationSettled
}

// Kinds lists the job kinds paygate enqueues, for metrics to start at zero
// and to bound their labels.
var Kinds = []string{
	DeliverEventArgs{}.Kind(), CompensateOrderArgs{}.Kind(), ResolveRefundArgs{}.Kind(), ReconcileArgs{}.Kind(),
}

// KindBacklog is how many jobs of a kind are due and not running, and how
// long the oldest of them has been due.
type KindBacklog struct {
	Kind   string
	Queued int64
	Oldest time.Duration
}

// BacklogFunc reads the queue's backlog per kind (paygate's kinds only).
type BacklogFunc func(ctx context.Context) ([]KindBacklog, error)

// dueStates are the states of a job waiting to run: available, or retryable
// or scheduled and due (River's scheduler makes them available).
const dueStates = `('available', 'retryable', 'scheduled')`

// SQLiteBacklog reads the backlog from River's table in a SQLite database.
func SQLiteBacklog(db *sql.DB) BacklogFunc {
	return func(ctx context.Context) ([]KindBacklog, error) {
		rows, err := db.QueryContext(ctx, `SELECT kind, count(*),
				coalesce((julianday('now') - julianday(min(scheduled_at))) * 86400.0, 0)
			FROM river_job WHERE state IN `+dueStates+` AND scheduled_at <= ?
			GROUP BY kind`, sqliteTime(time.Now()))
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return scanBacklog(func(k *KindBacklog, secs *float64) error { return rows.Scan(&k.Kind, &k.Queued, secs) }, rows.Next, rows.Err)
	}
}

// PostgresBacklog reads the backlog from River's table in PostgreSQL, on
// the database's clock.
func PostgresBacklog(pool *pgxpool.Pool) BacklogFunc {
	return func(ctx context.Context) ([]KindBacklog, error) {
		rows, err := pool.Query(ctx, `SELECT kind, count(*),
				coalesce(extract(epoch FROM now() - min(scheduled_at))::float8, 0)
			FROM river_job WHERE state IN `+dueStates+` AND scheduled_at <= now()
			GROUP BY kind`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return scanBacklog(func(k *KindBacklog, secs *float64) error { return rows.Scan(&k.Kind, &k.Queued, secs) }, rows.Next, rows.Err)
	}
}

// scanBacklog reads the rows of a backlog query, keeping paygate's kinds.
func scanBacklog(scan func(*KindBacklog, *float64) error, next func() bool, rowsErr func() error) ([]KindBacklog, error) {
	var out []KindBacklog
	for next() {
		var k KindBacklog
		var secs float64
		if err := scan(&k, &secs); err != nil {
			return nil, err
		}
		k.Oldest = time.Duration(max(secs, 0) * float64(time.Second))
		for _, known := range Kinds {
			if k.Kind == known {
				out = append(out, k)
			}
		}
	}
	return out, rowsErr()
}
