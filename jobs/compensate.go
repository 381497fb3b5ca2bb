package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// Compensator is the gateway's background use cases; *gateway.Service
// implements it. Each returns how long to wait before the next look, 0 when
// done.
type Compensator interface {
	CompensateOrder(ctx context.Context, orderID int64) (time.Duration, error)
	ResolveRefund(ctx context.Context, orderID int64, outRequestNo string) (time.Duration, error)
}

// CompensateOrderWorker runs CompensateOrderArgs jobs.
type CompensateOrderWorker struct {
	river.WorkerDefaults[CompensateOrderArgs]
	Gateway Compensator
}

// Work looks at the order once; a later look is a snooze, which River does
// not count as a failed attempt.
func (w *CompensateOrderWorker) Work(ctx context.Context, job *river.Job[CompensateOrderArgs]) error {
	next, err := w.Gateway.CompensateOrder(ctx, job.Args.OrderID)
	if err != nil {
		return err
	}
	if next > 0 {
		return river.JobSnooze(next)
	}
	return nil
}

// ResolveRefundWorker runs ResolveRefundArgs jobs.
type ResolveRefundWorker struct {
	river.WorkerDefaults[ResolveRefundArgs]
	Gateway Compensator
}

// Work settles the refund, or snoozes until the next try.
func (w *ResolveRefundWorker) Work(ctx context.Context, job *river.Job[ResolveRefundArgs]) error {
	next, err := w.Gateway.ResolveRefund(ctx, job.Args.OrderID, job.Args.OutRequestNo)
	if err != nil {
		return err
	}
	if next > 0 {
		return river.JobSnooze(next)
	}
	return nil
}

// RegisterCompensation adds the compensation workers to q.
func RegisterCompensation(q *Queue, g Compensator) {
	Register(q, &CompensateOrderWorker{Gateway: g})
	Register(q, &ResolveRefundWorker{Gateway: g})
}
