package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/paygate/paygate"
)

var _ paygate.BulkOrderLoader = (*Store)(nil)

// bulkBatch is how many rows one INSERT of BulkInsertOrders carries: few
// statements to step, well under SQLite's limit of bound parameters.
const bulkBatch = 256

// BulkInsertOrders inserts orders, then refunds, as given (no events, no
// jobs, no defaults but a Version of 1 when it is 0 and a Channel of alipay
// when it is empty), in one transaction, by multi-row INSERTs with IDs
// chosen here: the transaction holds the write lock, so the IDs after the
// highest ever used are free. The IDs are set, the times normalized and the
// channels defaulted in the structs once it commits. Anything the schema
// rejects fails the whole load, which then changes nothing.
func (s *Store) BulkInsertOrders(ctx context.Context, orders []*paygate.Order, refunds []*paygate.Refund) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return wrapErr(err, "sqlite: connect")
	}
	defer conn.Close()
	restore, err := bigCache(ctx, conn)
	if err != nil {
		return wrapErr(err, "sqlite: bulk insert")
	}
	defer restore()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return wrapErr(err, "sqlite: begin")
	}
	defer tx.Rollback()
	orderIDs, err := bulkInsert(ctx, tx, "orders", orderBulkColumns, len(orders), func(i int, args []any) []any {
		return orderBulkArgs(orders[i], args)
	})
	if err != nil {
		return err
	}
	refundIDs, err := bulkInsert(ctx, tx, "refunds", refundBulkColumns, len(refunds), func(i int, args []any) []any {
		return refundBulkArgs(refunds[i], args)
	})
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return wrapErr(err, "sqlite: commit")
	}
	for i, o := range orders {
		o.ID = orderIDs + int64(i)
		o.CreatedAt, o.UpdatedAt, o.ExpiresAt = norm(o.CreatedAt), norm(o.UpdatedAt), norm(o.ExpiresAt)
		o.PaidAt, o.ClosedAt, o.CancelRequestedAt = norm(o.PaidAt), norm(o.ClosedAt), norm(o.CancelRequestedAt)
		if o.Version == 0 {
			o.Version = 1
		}
		o.Channel = o.Channel.OrDefault()
	}
	for i, r := range refunds {
		r.ID = refundIDs + int64(i)
		r.CreatedAt, r.UpdatedAt, r.SucceededAt = norm(r.CreatedAt), norm(r.UpdatedAt), norm(r.SucceededAt)
	}
	return nil
}

// bulkCacheKiB is the page cache of a connection loading in bulk: inserts
// in random channel-number order touch the whole unique index, and a cache
// that holds it spares the rewrites of evicted pages.
const bulkCacheKiB = 128 << 10

// bigCache gives conn a page cache of bulkCacheKiB and in-memory temporary
// files (the statement journals of multi-row inserts), and returns what
// restores its settings before it goes back to the pool.
func bigCache(ctx context.Context, conn *sql.Conn) (restore func(), err error) {
	var cache, temp int64
	if err := conn.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache); err != nil {
		return nil, err
	}
	if err := conn.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&temp); err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = -%d; PRAGMA temp_store = MEMORY`, bulkCacheKiB)); err != nil {
		return nil, err
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA cache_size = %d; PRAGMA temp_store = %d`, cache, temp))
	}, nil
}

const orderBulkColumns = `id, merchant_id, out_trade_no, channel_no, trade_no, mode, subject,
	total_amount, refunded_amount, status, qr_code, buyer_id, notify_url, params_hash,
	created_at, updated_at, expires_at, paid_at, closed_at, version, cancel_requested_at,
	channel, wechat_code`

func orderBulkArgs(o *paygate.Order, args []any) []any {
	version := o.Version
	if version == 0 {
		version = 1
	}
	return append(args, o.MerchantID, o.OutTradeNo, nullString(o.ChannelNo), o.TradeNo, string(o.Mode), o.Subject,
		int64(o.TotalAmount), int64(o.RefundedAmount), string(o.Status), o.QRCode, o.BuyerID, o.NotifyURL, o.ParamsHash,
		micros(o.CreatedAt), micros(o.UpdatedAt), micros(o.ExpiresAt), nullMicros(o.PaidAt), nullMicros(o.ClosedAt),
		version, nullMicros(o.CancelRequestedAt), string(o.Channel.OrDefault()), o.WechatCode)
}

const refundBulkColumns = `id, order_id, merchant_id, out_trade_no, out_request_no, amount, reason,
	status, fail_reason, created_at, updated_at, succeeded_at`

func refundBulkArgs(r *paygate.Refund, args []any) []any {
	return append(args, r.OrderID, r.MerchantID, r.OutTradeNo, r.OutRequestNo, int64(r.Amount), r.Reason,
		string(r.Status), r.FailReason, micros(r.CreatedAt), micros(r.UpdatedAt), nullMicros(r.SucceededAt))
}

// bulkInsert inserts n rows into table, row i's values (all the columns but
// the first, the id) appended by rowArgs, with the IDs first, first+1, ...,
// and returns first.
func bulkInsert(ctx context.Context, tx *sql.Tx, table, columns string, n int, rowArgs func(i int, args []any) []any) (int64, error) {
	what := "bulk insert into " + table
	var last int64
	err := tx.QueryRowContext(ctx, `SELECT max(
		coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?), 0),
		coalesce((SELECT max(id) FROM `+table+`), 0))`, table).Scan(&last)
	if err != nil {
		return 0, dbError(err, what)
	}
	first := last + 1
	if n == 0 {
		return first, nil
	}
	width := strings.Count(columns, ",") + 1
	var stmt *sql.Stmt
	stmtRows := 0
	defer func() {
		if stmt != nil {
			stmt.Close()
		}
	}()
	args := make([]any, 0, bulkBatch*width)
	for start := 0; start < n; start += bulkBatch {
		rows := min(bulkBatch, n-start)
		if rows != stmtRows {
			if stmt != nil {
				stmt.Close()
			}
			if stmt, err = tx.PrepareContext(ctx, bulkInsertSQL(table, columns, width, rows)); err != nil {
				return 0, dbError(err, what)
			}
			stmtRows = rows
		}
		args = args[:0]
		for i := start; i < start+rows; i++ {
			args = append(args, first+int64(i))
			args = rowArgs(i, args)
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return 0, dbError(err, what)
		}
	}
	return first, nil
}

// bulkInsertSQL is an INSERT of rows rows of width values each.
func bulkInsertSQL(table, columns string, width, rows int) string {
	row := "(?" + strings.Repeat(", ?", width-1) + ")"
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + columns + ") VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}
