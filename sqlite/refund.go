package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/paygate/paygate"
)

const refundColumns = `id, order_id, merchant_id, out_trade_no, out_request_no, amount, reason,
	status, fail_reason, created_at, updated_at, succeeded_at`

func scanRefund(sc scanner) (*paygate.Refund, error) {
	var r paygate.Refund
	err := sc.Scan(&r.ID, &r.OrderID, &r.MerchantID, &r.OutTradeNo, &r.OutRequestNo, &r.Amount, &r.Reason,
		&r.Status, &r.FailReason, timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt}, timeCol{&r.SucceededAt})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// RefundsByOrder returns the order's refunds, oldest first.
func (s *Store) RefundsByOrder(ctx context.Context, orderID int64) ([]*paygate.Refund, error) {
	return refundsByOrder(ctx, s.db, orderID)
}

func refundsByOrder(ctx context.Context, q querier, orderID int64) ([]*paygate.Refund, error) {
	what := fmt.Sprintf("refunds of order %d", orderID)
	rows, err := q.QueryContext(ctx, `SELECT `+refundColumns+` FROM refunds WHERE order_id = ? ORDER BY id`, orderID)
	if err != nil {
		return nil, dbError(err, what)
	}
	defer rows.Close()
	refunds := []*paygate.Refund{}
	for rows.Next() {
		r, err := scanRefund(rows)
		if err != nil {
			return nil, dbError(err, what)
		}
		refunds = append(refunds, r)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, what)
	}
	return refunds, nil
}

// createRefund inserts r and sets r.ID; an empty Status becomes pending, a
// zero CreatedAt now and a zero UpdatedAt CreatedAt.
func createRefund(ctx context.Context, q querier, now func() time.Time, r *paygate.Refund) error {
	if r.Status == "" {
		r.Status = paygate.RefundPending
	}
	r.CreatedAt = orNow(r.CreatedAt, now)
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	r.UpdatedAt, r.SucceededAt = norm(r.UpdatedAt), norm(r.SucceededAt)
	var id int64
	err := q.QueryRowContext(ctx, `
		INSERT INTO refunds (order_id, merchant_id, out_trade_no, out_request_no, amount, reason,
			status, fail_reason, created_at, updated_at, succeeded_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		r.OrderID, r.MerchantID, r.OutTradeNo, r.OutRequestNo, int64(r.Amount), r.Reason,
		string(r.Status), r.FailReason, micros(r.CreatedAt), micros(r.UpdatedAt), nullMicros(r.SucceededAt),
	).Scan(&id)
	if err != nil {
		return dbError(err, fmt.Sprintf("refund %s of order %d", r.OutRequestNo, r.OrderID))
	}
	r.ID = id
	return nil
}

func refundByRequestNo(ctx context.Context, q querier, orderID int64, outRequestNo string) (*paygate.Refund, error) {
	r, err := scanRefund(q.QueryRowContext(ctx,
		`SELECT `+refundColumns+` FROM refunds WHERE order_id = ? AND out_request_no = ?`, orderID, outRequestNo))
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("refund %s of order %d", outRequestNo, orderID))
	}
	return r, nil
}

// updateRefund writes r's outcome: status, failure reason, update and
// success times (a zero UpdatedAt is now). ENotFound if r is not stored.
func updateRefund(ctx context.Context, q querier, now func() time.Time, r *paygate.Refund) error {
	updated, succeeded := orNow(r.UpdatedAt, now), norm(r.SucceededAt)
	what := fmt.Sprintf("refund %d", r.ID)
	res, err := q.ExecContext(ctx,
		`UPDATE refunds SET status = ?, fail_reason = ?, updated_at = ?, succeeded_at = ? WHERE id = ?`,
		string(r.Status), r.FailReason, micros(updated), nullMicros(succeeded), r.ID)
	if err != nil {
		return dbError(err, what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbError(err, what)
	}
	if n == 0 {
		return paygate.Errorf(paygate.ENotFound, "%s not found", what)
	}
	r.UpdatedAt, r.SucceededAt = updated, succeeded
	return nil
}
