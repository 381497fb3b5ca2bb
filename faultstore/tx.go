package faultstore

import (
	"context"

	"github.com/paygate/paygate"
)

// Tx is a transaction's view through the wrapper: every method is one
// counted call ("Tx.…").
type Tx struct {
	inner    paygate.StoreTx
	s        *Store
	onCommit []func()
}

// AfterCommit runs fn once the transaction has committed, also when a fault
// After the commit hides that from the caller, and never after a rollback:
// what a job enqueued in the transaction needs.
func (t *Tx) AfterCommit(fn func()) { t.onCommit = append(t.onCommit, fn) }

var (
	_ paygate.StoreTx   = (*Tx)(nil)
	_ paygate.WebhookTx = (*Tx)(nil)
)

// CreateOrder is counted and passed on.
func (t *Tx) CreateOrder(ctx context.Context, o *paygate.Order) error {
	return do0(t.s, "Tx.CreateOrder", true, func() error { return t.inner.CreateOrder(ctx, o) })
}

// OrderForUpdate is counted and passed on.
func (t *Tx) OrderForUpdate(ctx context.Context, orderID int64) (*paygate.Order, error) {
	return do(t.s, "Tx.OrderForUpdate", true, func() (*paygate.Order, error) { return t.inner.OrderForUpdate(ctx, orderID) })
}

// UpdateOrder is counted and passed on.
func (t *Tx) UpdateOrder(ctx context.Context, o *paygate.Order) error {
	return do0(t.s, "Tx.UpdateOrder", true, func() error { return t.inner.UpdateOrder(ctx, o) })
}

// CreateRefund is counted and passed on.
func (t *Tx) CreateRefund(ctx context.Context, r *paygate.Refund) error {
	return do0(t.s, "Tx.CreateRefund", true, func() error { return t.inner.CreateRefund(ctx, r) })
}

// RefundByRequestNo is counted and passed on.
func (t *Tx) RefundByRequestNo(ctx context.Context, orderID int64, outRequestNo string) (*paygate.Refund, error) {
	return do(t.s, "Tx.RefundByRequestNo", true, func() (*paygate.Refund, error) { return t.inner.RefundByRequestNo(ctx, orderID, outRequestNo) })
}

// RefundsByOrder is counted and passed on.
func (t *Tx) RefundsByOrder(ctx context.Context, orderID int64) ([]*paygate.Refund, error) {
	return do(t.s, "Tx.RefundsByOrder", true, func() ([]*paygate.Refund, error) { return t.inner.RefundsByOrder(ctx, orderID) })
}

// UpdateRefund is counted and passed on.
func (t *Tx) UpdateRefund(ctx context.Context, r *paygate.Refund) error {
	return do0(t.s, "Tx.UpdateRefund", true, func() error { return t.inner.UpdateRefund(ctx, r) })
}

// CreateEvent is counted and passed on.
func (t *Tx) CreateEvent(ctx context.Context, e *paygate.Event) error {
	return do0(t.s, "Tx.CreateEvent", true, func() error { return t.inner.CreateEvent(ctx, e) })
}

// ReviveEvent is counted and passed on when the wrapped transaction offers
// it (both stores' do).
func (t *Tx) ReviveEvent(ctx context.Context, eventID string) error {
	return do0(t.s, "Tx.ReviveEvent", true, func() error {
		wt, ok := t.inner.(paygate.WebhookTx)
		if !ok {
			return paygate.Errorf(paygate.EInternal, "faultstore: the wrapped transaction cannot revive events")
		}
		return wt.ReviveEvent(ctx, eventID)
	})
}
