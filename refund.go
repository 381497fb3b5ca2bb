package paygate

import "time"

// RefundStatus is a refund's state. A pending refund reserves its amount: it
// counts against the refundable balance until it fails.
type RefundStatus string

// Refund states.
const (
	RefundPending   RefundStatus = "pending"   // sent, or about to be; outcome not known
	RefundSucceeded RefundStatus = "succeeded" // the channel confirmed the money moved
	RefundFailed    RefundStatus = "failed"    // the channel refused it; nothing moved
)

// Refund is a partial or full refund of a paid order, identified by the
// merchant's out_request_no, which is also sent to Alipay so that retries of
// the same refund can never refund twice.
type Refund struct {
	ID           int64
	OrderID      int64
	MerchantID   int64
	OutTradeNo   string
	OutRequestNo string
	Amount       Money
	Reason       string
	Status       RefundStatus
	FailReason   string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	SucceededAt  time.Time
}
