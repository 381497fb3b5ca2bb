package paygate

import (
	"context"
	"time"
)

// JobKind names a kind of background work.
type JobKind string

// The kinds of background work. Each is enqueued in the same transaction as
// the state change that causes it, so a committed change always has its
// follow-up, and a rolled-back one never does.
const (
	// JobDeliverEvent sends an event to the merchant's webhook, with retries.
	JobDeliverEvent JobKind = "deliver_event"
	// JobCompensateOrder asks the channel about a pending order that has had
	// no notification, and closes it at the channel when it expires.
	JobCompensateOrder JobKind = "compensate_order"
	// JobResolveRefund settles a refund whose outcome is unknown.
	JobResolveRefund JobKind = "resolve_refund"
)

// Job is one piece of background work.
type Job struct {
	Kind         JobKind
	EventID      string // JobDeliverEvent
	OrderID      int64  // JobCompensateOrder, JobResolveRefund
	OutRequestNo string // JobResolveRefund
	RunAt        time.Time
}

// JobQueue enqueues background work inside a store transaction.
type JobQueue interface {
	Enqueue(ctx context.Context, tx StoreTx, job Job) error
}
