package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/jobs"
)

// activityCloseTimeout bounds the final write of the order activities still
// queued when a command that is not serving ends (reconcile).
const activityCloseTimeout = 10 * time.Second

// newActivityLog starts the asynchronous writer of the order activities
// (channel calls, notifications) the gateway reports; obs may be nil.
func newActivityLog(st paygate.ActivityStore, logger *slog.Logger, obs gateway.ActivityObserver) *gateway.ActivityLog {
	return gateway.NewActivityLog(gateway.ActivityLogConfig{Store: st, Logger: logger, Observer: obs})
}

// closeActivity writes what is queued, waiting at most
// activityCloseTimeout: a closer for commands that end.
func closeActivity(l *gateway.ActivityLog) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), activityCloseTimeout)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			return fmt.Errorf("order activities still queued were not all written: %w", err)
		}
		return nil
	}
}

// checkActivity refuses a negative retention (0 keeps activities forever).
func checkActivity(cfg config) error {
	if cfg.Activity.Retention < 0 {
		return fmt.Errorf("config: activity.retention must be a duration like 2160h (90 days), or 0 to keep order activity forever; not %s", cfg.Activity.Retention)
	}
	return nil
}

// schedulePrune deletes, daily (and once at start), what is past its
// retention: see pruneTasks.
func schedulePrune(cfg config, q *jobs.Queue, st paygate.Store) {
	jobs.SchedulePrune(q, 24*time.Hour, pruneTasks(cfg, st, time.Now)...)
}

// pruneTasks are the daily prune's tasks: the order activities older than
// activity.retention (none when it is 0), the idempotency records past
// their 24 hours (a repeat after that is a new request anyway), and the
// console's session revocations whose sessions have expired.
func pruneTasks(cfg config, st paygate.Store, now func() time.Time) []jobs.PruneTask {
	var tasks []jobs.PruneTask
	if keep := cfg.Activity.Retention; keep > 0 {
		tasks = append(tasks, jobs.PruneTask{Name: "order activities", Run: func(ctx context.Context) (int64, error) {
			return st.DeleteActivitiesBefore(ctx, now().Add(-keep))
		}})
	}
	return append(tasks,
		jobs.PruneTask{Name: "expired idempotency records", Run: func(ctx context.Context) (int64, error) {
			return st.DeleteExpiredIdempotency(ctx, now())
		}},
		jobs.PruneTask{Name: "expired session revocations", Run: func(ctx context.Context) (int64, error) {
			return st.PurgeRevokedSessions(ctx, now())
		}})
}

// activityMetrics is the ActivityLog's side of the node's registry.
type activityMetrics struct {
	written prometheus.Counter
	dropped *prometheus.CounterVec
}

// watchActivity registers the order activity counters, every drop reason
// at zero, and returns them as the ActivityLog's observer.
func (m *metrics) watchActivity() *activityMetrics {
	a := &activityMetrics{
		written: prometheus.NewCounter(prometheus.CounterOpts{Name: "paygate_order_activities_written_total",
			Help: "Order activities (channel calls, notifications) written for the operator's timeline."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "paygate_order_activities_dropped_total",
			Help: "Order activities lost, by reason (queue_full: the writer fell behind; write_failed: the database refused a batch twice; closed: reported during shutdown)."},
			[]string{"reason"}),
	}
	m.reg.MustRegister(a.written, a.dropped)
	zeroAll(a.dropped, gateway.ActivityDropReasons)
	return a
}

func (a *activityMetrics) ActivitiesWritten(n int) { a.written.Add(float64(n)) }

func (a *activityMetrics) ActivitiesDropped(reason string, n int) {
	a.dropped.WithLabelValues(reason).Add(float64(n))
}
