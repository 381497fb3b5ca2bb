package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/paygate/paygate"
)

// Page sizes for ListOrders.
const (
	defaultListLimit = 20
	maxListLimit     = 101 // the API pages by 100 and asks one more to know if there is a next page
)

const orderColumns = `id, merchant_id, out_trade_no, channel_no, trade_no, mode, subject,
	total_amount, refunded_amount, status, qr_code, buyer_id, notify_url, params_hash,
	created_at, updated_at, expires_at, paid_at, closed_at, version, cancel_requested_at,
	cashier_token, return_url, channel, wechat_code`

func scanOrder(sc scanner) (*paygate.Order, error) {
	var o paygate.Order
	var channelNo, cashierToken sql.NullString
	err := sc.Scan(&o.ID, &o.MerchantID, &o.OutTradeNo, &channelNo, &o.TradeNo, &o.Mode, &o.Subject,
		&o.TotalAmount, &o.RefundedAmount, &o.Status, &o.QRCode, &o.BuyerID, &o.NotifyURL, &o.ParamsHash,
		timeCol{&o.CreatedAt}, timeCol{&o.UpdatedAt}, timeCol{&o.ExpiresAt}, timeCol{&o.PaidAt},
		timeCol{&o.ClosedAt}, &o.Version, timeCol{&o.CancelRequestedAt}, &cashierToken, &o.ReturnURL,
		&o.Channel, &o.WechatCode)
	if err != nil {
		return nil, err
	}
	o.ChannelNo, o.CashierToken = channelNo.String, cashierToken.String
	return &o, nil
}

// nullString stores an empty string as NULL, so that orders without a
// channel number yet do not collide on its unique constraint.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateOrder inserts o and sets o.ID and o.Version (1). An empty Status
// becomes pending; a zero CreatedAt is now and a zero UpdatedAt is
// CreatedAt and an empty Channel is alipay (as the order was made before
// channels); all times are normalized to UTC microseconds in o. A repeated
// (merchant, out_trade_no) or channel number is EConflict; an order the
// schema's checks reject (amounts, status, mode) is EInvalid.
func (s *Store) CreateOrder(ctx context.Context, o *paygate.Order) error {
	return createOrder(ctx, s.db, s.now, o)
}

// createOrder inserts o through q (the pool or a transaction).
func createOrder(ctx context.Context, q querier, now func() time.Time, o *paygate.Order) error {
	if o.Status == "" {
		o.Status = paygate.StatusPending
	}
	o.Channel = o.Channel.OrDefault()
	o.CreatedAt = orNow(o.CreatedAt, now)
	if o.UpdatedAt.IsZero() {
		o.UpdatedAt = o.CreatedAt
	}
	o.UpdatedAt, o.ExpiresAt, o.PaidAt, o.ClosedAt = norm(o.UpdatedAt), norm(o.ExpiresAt), norm(o.PaidAt), norm(o.ClosedAt)
	var id int64
	err := q.QueryRowContext(ctx, `
		INSERT INTO orders (merchant_id, out_trade_no, channel_no, trade_no, mode, subject,
			total_amount, refunded_amount, status, qr_code, buyer_id, notify_url, params_hash,
			created_at, updated_at, expires_at, paid_at, closed_at, version, cashier_token, return_url,
			channel, wechat_code)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?) RETURNING id`,
		o.MerchantID, o.OutTradeNo, nullString(o.ChannelNo), o.TradeNo, string(o.Mode), o.Subject,
		int64(o.TotalAmount), int64(o.RefundedAmount), string(o.Status), o.QRCode, o.BuyerID, o.NotifyURL, o.ParamsHash,
		micros(o.CreatedAt), micros(o.UpdatedAt), micros(o.ExpiresAt), nullMicros(o.PaidAt), nullMicros(o.ClosedAt),
		nullString(o.CashierToken), o.ReturnURL, string(o.Channel), o.WechatCode,
	).Scan(&id)
	if err != nil {
		return dbError(err, fmt.Sprintf("order %s of merchant %d", o.OutTradeNo, o.MerchantID))
	}
	o.ID, o.Version = id, 1
	return nil
}

// OrderByOutTradeNo returns the merchant's order; ENotFound if none.
func (s *Store) OrderByOutTradeNo(ctx context.Context, merchantID int64, outTradeNo string) (*paygate.Order, error) {
	o, err := scanOrder(s.db.QueryRowContext(ctx,
		`SELECT `+orderColumns+` FROM orders WHERE merchant_id = ? AND out_trade_no = ?`, merchantID, outTradeNo))
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("order %s of merchant %d", outTradeNo, merchantID))
	}
	return o, nil
}

// OrderByChannelNo returns the order sent to the channel under channelNo;
// ENotFound if none.
func (s *Store) OrderByChannelNo(ctx context.Context, channelNo string) (*paygate.Order, error) {
	o, err := scanOrder(s.db.QueryRowContext(ctx,
		`SELECT `+orderColumns+` FROM orders WHERE channel_no = ?`, channelNo))
	if err != nil {
		return nil, dbError(err, "order with channel number "+channelNo)
	}
	return o, nil
}

// ListOrders returns f.MerchantID's orders newest (highest ID) first, below
// f.BeforeID when it is set, with f.Status when it is set, at most f.Limit
// of them: 0 means 20, and it is clamped to [1, 100].
// The ID of the last order returned is the cursor for the next page.
func (s *Store) ListOrders(ctx context.Context, f paygate.OrderFilter) ([]*paygate.Order, error) {
	where := []string{"merchant_id = ?"}
	args := []any{f.MerchantID}
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, string(f.Status))
	}
	if f.BeforeID > 0 {
		where = append(where, "id < ?")
		args = append(args, f.BeforeID)
	}
	args = append(args, listLimit(f.Limit))
	rows, err := s.db.QueryContext(ctx, `SELECT `+orderColumns+` FROM orders WHERE `+
		strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, dbError(err, "list orders")
	}
	defer rows.Close()
	orders := []*paygate.Order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, dbError(err, "list orders")
		}
		orders = append(orders, o)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "list orders")
	}
	return orders, nil
}

// listLimit is the page size ListOrders uses for a requested limit.
func listLimit(limit int) int {
	switch {
	case limit == 0:
		return defaultListLimit
	case limit < 1:
		return 1
	case limit > maxListLimit:
		return maxListLimit
	}
	return limit
}

// orderForUpdate reads an order inside a transaction. On SQLite the
// transaction already holds the database's write lock (BEGIN IMMEDIATE), so
// a plain read is as good as a row lock.
func orderForUpdate(ctx context.Context, q querier, id int64) (*paygate.Order, error) {
	o, err := scanOrder(q.QueryRowContext(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = ?`, id))
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("order %d", id))
	}
	return o, nil
}

// updateOrder writes o's mutable fields (channel and trade numbers, status,
// amounts refunded, channel, QR codes, buyer, times) if the row is still at
// o.Version, and bumps the version in the row and in o. A stale version is
// EConflict and writes nothing; a missing order is ENotFound.
func updateOrder(ctx context.Context, q querier, now func() time.Time, o *paygate.Order) error {
	updated := orNow(o.UpdatedAt, now)
	expires, paid, closed, cancelReq := norm(o.ExpiresAt), norm(o.PaidAt), norm(o.ClosedAt), norm(o.CancelRequestedAt)
	what := fmt.Sprintf("order %d", o.ID)
	res, err := q.ExecContext(ctx, `
		UPDATE orders SET channel_no = ?, trade_no = ?, status = ?, refunded_amount = ?, qr_code = ?,
			buyer_id = ?, updated_at = ?, expires_at = ?, paid_at = ?, closed_at = ?, cancel_requested_at = ?,
			channel = ?, wechat_code = ?, version = version + 1
		WHERE id = ? AND version = ?`,
		nullString(o.ChannelNo), o.TradeNo, string(o.Status), int64(o.RefundedAmount), o.QRCode,
		o.BuyerID, micros(updated), micros(expires), nullMicros(paid), nullMicros(closed), nullMicros(cancelReq),
		string(o.Channel), o.WechatCode, o.ID, o.Version)
	if err != nil {
		return dbError(err, what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbError(err, what)
	}
	if n == 0 {
		var exists bool
		if err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM orders WHERE id = ?)`, o.ID).Scan(&exists); err != nil {
			return dbError(err, what)
		}
		if !exists {
			return paygate.Errorf(paygate.ENotFound, "%s not found", what)
		}
		return paygate.Errorf(paygate.EConflict, "%s was changed concurrently (version %d is stale)", what, o.Version)
	}
	o.UpdatedAt, o.ExpiresAt, o.PaidAt, o.ClosedAt, o.CancelRequestedAt = updated, expires, paid, closed, cancelReq
	o.Version++
	return nil
}
