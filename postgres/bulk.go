package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/paygate/paygate"
)

var _ paygate.BulkOrderLoader = (*Store)(nil)

// BulkInsertOrders inserts orders, then refunds, as given (no events, no
// jobs, no defaults but a Version of 1 when it is 0 and a Channel of alipay
// when it is empty), in one transaction, with COPY. COPY returns no IDs, so
// they are taken from the tables' identity sequences first and copied in
// with the rows. The IDs are set, the times normalized and the channels
// defaulted in the structs once it commits. Anything the schema rejects
// fails the whole load, which then changes nothing (but the sequences,
// which never go back).
func (s *Store) BulkInsertOrders(ctx context.Context, orders []*paygate.Order, refunds []*paygate.Refund) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrapErr(err, "postgres: begin")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	orderIDs, err := copyRows(ctx, tx, "orders", orderCopyColumns, len(orders), func(i int, row []any) {
		orderCopyRow(orders[i], row)
	})
	if err != nil {
		return err
	}
	refundIDs, err := copyRows(ctx, tx, "refunds", refundCopyColumns, len(refunds), func(i int, row []any) {
		refundCopyRow(refunds[i], row)
	})
	if err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return wrapErr(err, "postgres: commit")
	}
	for i, o := range orders {
		o.ID = orderIDs[i]
		o.CreatedAt, o.UpdatedAt, o.ExpiresAt = norm(o.CreatedAt), norm(o.UpdatedAt), norm(o.ExpiresAt)
		o.PaidAt, o.ClosedAt, o.CancelRequestedAt = norm(o.PaidAt), norm(o.ClosedAt), norm(o.CancelRequestedAt)
		if o.Version == 0 {
			o.Version = 1
		}
		o.Channel = o.Channel.OrDefault()
	}
	for i, r := range refunds {
		r.ID = refundIDs[i]
		r.CreatedAt, r.UpdatedAt, r.SucceededAt = norm(r.CreatedAt), norm(r.UpdatedAt), norm(r.SucceededAt)
	}
	return nil
}

var orderCopyColumns = []string{"id", "merchant_id", "out_trade_no", "channel_no", "trade_no", "mode", "subject",
	"total_amount", "refunded_amount", "status", "qr_code", "buyer_id", "notify_url", "params_hash",
	"created_at", "updated_at", "expires_at", "paid_at", "closed_at", "version", "cancel_requested_at",
	"channel", "wechat_code"}

// orderCopyRow fills row (after the id) with o's columns.
func orderCopyRow(o *paygate.Order, row []any) {
	version := o.Version
	if version == 0 {
		version = 1
	}
	row[1], row[2], row[3], row[4], row[5], row[6] = o.MerchantID, o.OutTradeNo, nullString(o.ChannelNo), o.TradeNo, string(o.Mode), o.Subject
	row[7], row[8], row[9] = int64(o.TotalAmount), int64(o.RefundedAmount), string(o.Status)
	row[10], row[11], row[12], row[13] = o.QRCode, o.BuyerID, o.NotifyURL, o.ParamsHash
	row[14], row[15], row[16] = norm(o.CreatedAt), norm(o.UpdatedAt), norm(o.ExpiresAt)
	row[17], row[18], row[19], row[20] = nullTime(o.PaidAt), nullTime(o.ClosedAt), version, nullTime(o.CancelRequestedAt)
	row[21], row[22] = string(o.Channel.OrDefault()), o.WechatCode
}

var refundCopyColumns = []string{"id", "order_id", "merchant_id", "out_trade_no", "out_request_no", "amount", "reason",
	"status", "fail_reason", "created_at", "updated_at", "succeeded_at"}

// refundCopyRow fills row (after the id) with r's columns.
func refundCopyRow(r *paygate.Refund, row []any) {
	row[1], row[2], row[3], row[4], row[5], row[6] = r.OrderID, r.MerchantID, r.OutTradeNo, r.OutRequestNo, int64(r.Amount), r.Reason
	row[7], row[8], row[9], row[10], row[11] = string(r.Status), r.FailReason, norm(r.CreatedAt), norm(r.UpdatedAt), nullTime(r.SucceededAt)
}

// copyRows takes n IDs from table's identity sequence and copies n rows
// into table with them, row i filled by fill (which leaves row[0], the ID,
// alone), and returns the IDs. The IDs ascend with i.
func copyRows(ctx context.Context, tx pgx.Tx, table string, columns []string, n int, fill func(i int, row []any)) ([]int64, error) {
	what := "bulk insert into " + table
	if n == 0 {
		return nil, nil
	}
	ids, err := nextIDs(ctx, tx, table, n)
	if err != nil {
		return nil, dbError(err, what)
	}
	row := make([]any, len(columns))
	// COPY encodes each row before it asks for the next, so one slice
	// serves them all.
	src := pgx.CopyFromSlice(n, func(i int) ([]any, error) {
		row[0] = ids[i]
		fill(i, row)
		return row, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, src); err != nil {
		return nil, dbError(err, what)
	}
	return ids, nil
}

// nextIDs draws n values from table's id sequence, ascending.
func nextIDs(ctx context.Context, tx pgx.Tx, table string, n int) ([]int64, error) {
	rows, err := tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)`, table, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := make([]int64, 0, n)
	var id int64
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
