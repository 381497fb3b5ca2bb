package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// PruneArgs runs the periodic prune: every PruneTask registered with
// SchedulePrune deletes what is past its retention.
type PruneArgs struct{}

// Kind is River's name for the job.
func (PruneArgs) Kind() string { return "prune" }

// InsertOpts puts the prune on the maintenance queue, one at a time: a
// prune inserted while another waits or runs (a restart's RunOnStart, a new
// leader) is skipped. A finished one does not count, so the next period's
// runs.
func (PruneArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
}

// PruneTask deletes one kind of record past its retention and says how
// many it deleted.
type PruneTask struct {
	Name string // for the log
	Run  func(ctx context.Context) (int64, error)
}

// PruneWorker runs PruneArgs jobs: each task in turn, every one even when
// an earlier one fails (the job then fails, and River retries it).
type PruneWorker struct {
	river.WorkerDefaults[PruneArgs]
	cfg   Config
	tasks []PruneTask
}

// Work runs every task.
func (w *PruneWorker) Work(ctx context.Context, _ *river.Job[PruneArgs]) error {
	var errs []error
	for _, t := range w.tasks {
		n, err := t.Run(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("prune %s: %w", t.Name, err))
			continue
		}
		w.cfg.Logger.InfoContext(ctx, "pruned", "what", t.Name, "deleted", n)
	}
	return errors.Join(errs...)
}

// Timeout lets a prune that has a long backlog (the first after an upgrade)
// take longer than ordinary jobs.
func (w *PruneWorker) Timeout(*river.Job[PruneArgs]) time.Duration { return 30 * time.Minute }

// SchedulePrune registers the prune worker and runs it every interval
// (default daily) and once at start. Only the elected leader among the
// replicas inserts periodic jobs, so replicas do not prune side by side.
func SchedulePrune(q *Queue, every time.Duration, tasks ...PruneTask) {
	if every <= 0 {
		every = 24 * time.Hour
	}
	Register(q, &PruneWorker{cfg: q.cfg, tasks: tasks})
	q.periodic.Add(river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return PruneArgs{}, nil
	}, &river.PeriodicJobOpts{ID: "prune", RunOnStart: true}))
}
