package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/paygate/paygate"
)

// Tx is a transaction's view of the store (paygate.StoreTx). It began with
// BEGIN IMMEDIATE, so it holds SQLite's write lock from its start to its end:
// no other writer runs meanwhile, which is how OrderForUpdate keeps what it
// read from changing underneath. A Tx is valid only inside the function
// given to Store.Tx and must not be shared between goroutines.
type Tx struct {
	tx    *sql.Tx
	store *Store
}

var _ paygate.StoreTx = (*Tx)(nil)

// SQLTx is the underlying transaction, for work that must commit together
// with the store's writes (enqueuing a River job).
func (t *Tx) SQLTx() *sql.Tx { return t.tx }

// Tx runs fn in one transaction and commits it if fn returns nil. It rolls
// back if fn returns an error (returned unchanged) or panics (the panic is
// re-raised after the rollback). fn is never retried: a busy database is
// waited for at BEGIN through the busy timeout. fn must do all its reads and
// writes through tx, not through s, or it would wait on its own write lock.
func (s *Store) Tx(ctx context.Context, fn func(tx paygate.StoreTx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return wrapErr(err, "sqlite: begin")
	}
	finished := false
	defer func() {
		// fn panicked (or called runtime.Goexit, as t.Fatal does): roll back
		// and let the panic go on.
		if !finished {
			_ = sqlTx.Rollback()
		}
	}()
	err = fn(&Tx{tx: sqlTx, store: s})
	finished = true
	if err != nil {
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("sqlite: rollback: %w", rbErr))
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return wrapErr(err, "sqlite: commit")
	}
	return nil
}

// CreateOrder inserts o within the transaction, as Store.CreateOrder does.
func (t *Tx) CreateOrder(ctx context.Context, o *paygate.Order) error {
	return createOrder(ctx, t.tx, t.store.now, o)
}

// OrderForUpdate reads an order; ENotFound if none.
func (t *Tx) OrderForUpdate(ctx context.Context, orderID int64) (*paygate.Order, error) {
	return orderForUpdate(ctx, t.tx, orderID)
}

// UpdateOrder writes o's mutable fields if the row is still at o.Version
// and bumps the version (in o too); a stale version is EConflict and writes
// nothing. The fields written are ChannelNo, TradeNo, Channel, Status,
// RefundedAmount, QRCode, WechatCode, BuyerID, UpdatedAt (now when zero),
// ExpiresAt, PaidAt, ClosedAt and CancelRequestedAt. An empty Channel is
// EInvalid: an update never guesses an order's channel.
func (t *Tx) UpdateOrder(ctx context.Context, o *paygate.Order) error {
	return updateOrder(ctx, t.tx, t.store.now, o)
}

// CreateRefund inserts r and sets r.ID; a repeated (order, out_request_no)
// is EConflict.
func (t *Tx) CreateRefund(ctx context.Context, r *paygate.Refund) error {
	return createRefund(ctx, t.tx, t.store.now, r)
}

// RefundByRequestNo returns the order's refund; ENotFound if none.
func (t *Tx) RefundByRequestNo(ctx context.Context, orderID int64, outRequestNo string) (*paygate.Refund, error) {
	return refundByRequestNo(ctx, t.tx, orderID, outRequestNo)
}

// RefundsByOrder returns the order's refunds, oldest first.
func (t *Tx) RefundsByOrder(ctx context.Context, orderID int64) ([]*paygate.Refund, error) {
	return refundsByOrder(ctx, t.tx, orderID)
}

// UpdateRefund writes r's status, failure reason, and update and success
// times; ENotFound if r is not stored.
func (t *Tx) UpdateRefund(ctx context.Context, r *paygate.Refund) error {
	return updateRefund(ctx, t.tx, t.store.now, r)
}

// CreateEvent inserts e (an empty ID is generated); a repeated ID is
// EConflict.
func (t *Tx) CreateEvent(ctx context.Context, e *paygate.Event) error {
	return createEvent(ctx, t.tx, t.store.now, e)
}
