package dst

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/faultstore"
)

// Jobs is a paygate.JobQueue for a World: a job enqueued in a transaction
// exists once that transaction commits (as with River's transactional
// enqueue) and runs when RunJob picks it, in the caller's goroutine. Webhook
// deliveries are not simulated (events are checked in the store); they are
// dropped.
type Jobs struct {
	mu      sync.Mutex
	seq     int
	pending []*queued
}

type queued struct {
	job paygate.Job
	at  time.Time
	seq int
	try int
}

// Enqueue queues job once tx, which must be a faultstore transaction,
// commits.
func (q *Jobs) Enqueue(ctx context.Context, tx paygate.StoreTx, job paygate.Job) error {
	ft, ok := tx.(*faultstore.Tx)
	if !ok {
		return errors.New("dst: jobs must be enqueued in a faultstore transaction")
	}
	if job.Kind == paygate.JobDeliverEvent {
		return nil
	}
	ft.AfterCommit(func() { q.add(&queued{job: job, at: job.RunAt}) })
	return nil
}

func (q *Jobs) add(j *queued) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	j.seq = q.seq
	q.pending = append(q.pending, j)
}

// due lists the jobs due at now, by time then enqueueing.
func (q *Jobs) due(now time.Time) []*queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*queued
	for _, j := range q.pending {
		if !j.at.After(now) {
			out = append(out, j)
		}
	}
	slices.SortFunc(out, func(a, b *queued) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.seq, b.seq)) })
	return out
}

// Len is how many jobs wait, due or not.
func (q *Jobs) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// maxTries is River's default MaxAttempts: a job that keeps failing is
// discarded after it.
const maxTries = 25

// RunJob runs one due job (pick chooses among n due ones; nil the first) as
// the River workers do: a wait snoozes it, an error retries it later with
// backoff until maxTries, done removes it. It returns the job and false
// when none is due.
func (w *World) RunJob(ctx context.Context, pick func(n int) int) (paygate.Job, error, bool) {
	due := w.Jobs.due(w.Clock.Now())
	if len(due) == 0 {
		return paygate.Job{}, nil, false
	}
	i := 0
	if pick != nil {
		i = pick(len(due))
	}
	j := due[i]
	var next time.Duration
	var err error
	switch j.job.Kind {
	case paygate.JobCompensateOrder:
		next, err = w.Svc.CompensateOrder(ctx, j.job.OrderID)
	case paygate.JobResolveRefund:
		next, err = w.Svc.ResolveRefund(ctx, j.job.OrderID, j.job.OutRequestNo)
	}
	w.Jobs.mu.Lock()
	defer w.Jobs.mu.Unlock()
	now := w.Clock.Now()
	switch {
	case err != nil && j.try+1 < maxTries:
		j.try++
		j.at = now.Add(time.Duration(j.try*j.try*j.try*j.try) * time.Second) // River's attempt^4
	case err == nil && next > 0:
		j.at = now.Add(next)
	default:
		w.Jobs.pending = slices.DeleteFunc(w.Jobs.pending, func(x *queued) bool { return x == j })
	}
	return j.job, err, true
}
