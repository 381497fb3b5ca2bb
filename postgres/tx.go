package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paygate/paygate"
)

// rollbackTimeout bounds a rollback that runs after the caller's context
// is done; if it lapses pgx closes the connection, which rolls back too.
const rollbackTimeout = 5 * time.Second

// Tx is a transaction's view of the store (paygate.StoreTx), at READ
// COMMITTED. Rows read with OrderForUpdate stay locked until it ends. A Tx is
// valid only inside the function given to Store.Tx and must not be shared
// between goroutines.
type Tx struct {
	tx    pgx.Tx
	store *Store
}

var _ paygate.StoreTx = (*Tx)(nil)

// PgxTx is the underlying transaction, for work that must commit together
// with the store's writes (enqueuing a River job).
func (t *Tx) PgxTx() pgx.Tx { return t.tx }

// Tx runs fn in one transaction and commits it if fn returns nil. It rolls
// back if fn returns an error (returned unchanged) or panics (the panic goes
// on after the rollback). fn is never retried. After a failed statement
// PostgreSQL refuses every further one in the transaction, so fn should
// return the first store error it gets.
func (s *Store) Tx(ctx context.Context, fn func(tx paygate.StoreTx) error) error {
	pgTx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return wrapErr(err, "postgres: begin")
	}
	rollback := func() error {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		return pgTx.Rollback(rctx)
	}
	finished := false
	defer func() {
		// fn panicked (or called runtime.Goexit, as t.Fatal does): roll back
		// and let the panic go on.
		if !finished {
			_ = rollback()
		}
	}()
	err = fn(&Tx{tx: pgTx, store: s})
	finished = true
	if err != nil {
		if rbErr := rollback(); rbErr != nil && !errors.Is(rbErr, pgx.ErrTxClosed) {
			return errors.Join(err, fmt.Errorf("postgres: rollback: %w", rbErr))
		}
		return err
	}
	if err := pgTx.Commit(ctx); err != nil {
		return wrapErr(err, "postgres: commit")
	}
	return nil
}

// CreateOrder inserts o within the transaction, as Store.CreateOrder does.
func (t *Tx) CreateOrder(ctx context.Context, o *paygate.Order) error {
	return createOrder(ctx, t.tx, t.store.now, o)
}

// OrderForUpdate reads an order and locks its row until the transaction
// ends; ENotFound if none.
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
