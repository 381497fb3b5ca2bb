package paygate

import "time"

// Event types, one per state change a merchant hears about.
const (
	EventOrderPaid       = "order.paid"
	EventOrderClosed     = "order.closed"
	EventRefundSucceeded = "refund.succeeded"
	// EventOrderLatePayment: money arrived for a closed order; its data says
	// what was done with it (refunded, or kept for an operator to decide).
	EventOrderLatePayment = "order.late_payment"
)

// Event records a state change for delivery to the merchant's webhook. It is
// written in the same transaction as the change, so a change without its
// event, or an event without its change, cannot exist.
type Event struct {
	ID         string // "evt_" + random; stable across delivery attempts
	MerchantID int64
	OrderID    int64
	Type       string
	Payload    []byte // the webhook body, JSON, fixed at creation
	CreatedAt  time.Time

	// Delivery state, kept by the store (see WebhookStore); CreateEvent
	// ignores these fields.
	DeliveredAt time.Time // zero until a webhook attempt was acknowledged
	DeadAt      time.Time // zero unless delivery gave up (dead-lettered)
	Attempts    int       // webhook attempts so far, re-sends included
}
