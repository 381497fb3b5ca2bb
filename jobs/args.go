package jobs

import "time"

// DefaultWebhookSchedule is the delay before each webhook retry: growing,
// 12 retries over about 28 hours, so a merchant's endpoint may be down for a
// day and still get every event.
var DefaultWebhookSchedule = []time.Duration{
	10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 12 * time.Hour,
}

// compensateAttempts bounds how often a compensation job may fail outright
// (an error, not a snooze: snoozing to look again later does not count).
const compensateAttempts = 25

// DeliverEventArgs delivers one event to its merchant's webhook.
type DeliverEventArgs struct {
	EventID string `json:"event_id"`
}

// Kind is River's name for the job.
func (DeliverEventArgs) Kind() string { return "deliver_event" }

// CompensateOrderArgs looks after a pending order: query, then close at the
// channel when it expires.
type CompensateOrderArgs struct {
	OrderID int64 `json:"order_id"`
}

// Kind is River's name for the job.
func (CompensateOrderArgs) Kind() string { return "compensate_order" }

// ResolveRefundArgs settles a refund whose outcome is unknown.
type ResolveRefundArgs struct {
	OrderID      int64  `json:"order_id"`
	OutRequestNo string `json:"out_request_no"`
}

// Kind is River's name for the job.
func (ResolveRefundArgs) Kind() string { return "resolve_refund" }
