package postgres

import (
	"context"
	"fmt"
	"strconv"
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

// The statements of a paid notification's path (see
// TestNotificationPlansNeedNoStatistics): the order found by its channel
// number, then locked and written back by its ID. Each is served by a
// unique index whatever the table's statistics say, so that a fresh or
// never-analyzed table (autovacuum off) plans them as an analyzed one does.
const (
	orderByChannelNoSQL = `SELECT ` + orderColumns + ` FROM orders WHERE channel_no = $1`
	orderForUpdateSQL   = `SELECT ` + orderColumns + ` FROM orders WHERE id = $1 FOR UPDATE`
	updateOrderSQL      = `
		UPDATE orders SET channel_no = $1, trade_no = $2, status = $3, refunded_amount = $4, qr_code = $5,
			buyer_id = $6, updated_at = $7, expires_at = $8, paid_at = $9, closed_at = $10, cancel_requested_at = $11,
			channel = $12, wechat_code = $13, version = version + 1
		WHERE id = $14 AND version = $15`
)

func scanOrder(sc scanner) (*paygate.Order, error) {
	var o paygate.Order
	var channelNo, cashierToken *string
	var mode, status, channel string
	var total, refunded int64
	err := sc.Scan(&o.ID, &o.MerchantID, &o.OutTradeNo, &channelNo, &o.TradeNo, &mode, &o.Subject,
		&total, &refunded, &status, &o.QRCode, &o.BuyerID, &o.NotifyURL, &o.ParamsHash,
		timeCol{&o.CreatedAt}, timeCol{&o.UpdatedAt}, timeCol{&o.ExpiresAt}, timeCol{&o.PaidAt},
		timeCol{&o.ClosedAt}, &o.Version, timeCol{&o.CancelRequestedAt}, &cashierToken, &o.ReturnURL,
		&channel, &o.WechatCode)
	if err != nil {
		return nil, err
	}
	if channelNo != nil {
		o.ChannelNo = *channelNo
	}
	if cashierToken != nil {
		o.CashierToken = *cashierToken
	}
	o.Mode, o.Status, o.Channel = paygate.Mode(mode), paygate.OrderStatus(status), paygate.Channel(channel)
	o.TotalAmount, o.RefundedAmount = paygate.Money(total), paygate.Money(refunded)
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
	return createOrder(ctx, s.pool, s.now, o)
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
	err := q.QueryRow(ctx, `
		INSERT INTO orders (merchant_id, out_trade_no, channel_no, trade_no, mode, subject,
			total_amount, refunded_amount, status, qr_code, buyer_id, notify_url, params_hash,
			created_at, updated_at, expires_at, paid_at, closed_at, version, cashier_token, return_url,
			channel, wechat_code)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 1, $19, $20,
			$21, $22) RETURNING id`,
		o.MerchantID, o.OutTradeNo, nullString(o.ChannelNo), o.TradeNo, string(o.Mode), o.Subject,
		int64(o.TotalAmount), int64(o.RefundedAmount), string(o.Status), o.QRCode, o.BuyerID, o.NotifyURL, o.ParamsHash,
		o.CreatedAt, o.UpdatedAt, o.ExpiresAt, nullTime(o.PaidAt), nullTime(o.ClosedAt),
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
	o, err := scanOrder(s.pool.QueryRow(ctx,
		`SELECT `+orderColumns+` FROM orders WHERE merchant_id = $1 AND out_trade_no = $2`, merchantID, outTradeNo))
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("order %s of merchant %d", outTradeNo, merchantID))
	}
	return o, nil
}

// OrderByChannelNo returns the order sent to the channel under channelNo;
// ENotFound if none.
func (s *Store) OrderByChannelNo(ctx context.Context, channelNo string) (*paygate.Order, error) {
	o, err := scanOrder(s.pool.QueryRow(ctx, orderByChannelNoSQL, channelNo))
	if err != nil {
		return nil, dbError(err, "order with channel number "+channelNo)
	}
	return o, nil
}

// ListOrders returns f.MerchantID's orders newest (highest ID) first, below
// f.BeforeID when it is set, with f.Status when it is set, at most f.Limit
// of them: 0 means 20, and it is clamped to [1, 100]. The ID of the last
// order returned is the cursor for the next page.
func (s *Store) ListOrders(ctx context.Context, f paygate.OrderFilter) ([]*paygate.Order, error) {
	where := []string{"merchant_id = $1"}
	args := []any{f.MerchantID}
	if f.Status != "" {
		args = append(args, string(f.Status))
		where = append(where, "status = $"+strconv.Itoa(len(args)))
	}
	if f.BeforeID > 0 {
		args = append(args, f.BeforeID)
		where = append(where, "id < $"+strconv.Itoa(len(args)))
	}
	args = append(args, listLimit(f.Limit))
	rows, err := s.pool.Query(ctx, `SELECT `+orderColumns+` FROM orders WHERE `+
		strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
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

// orderForUpdate reads an order and locks its row until the transaction
// ends: other writers' OrderForUpdate of it wait, and then see what this
// transaction committed.
func orderForUpdate(ctx context.Context, q querier, id int64) (*paygate.Order, error) {
	o, err := scanOrder(q.QueryRow(ctx, orderForUpdateSQL, id))
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
	tag, err := q.Exec(ctx, updateOrderSQL,
		nullString(o.ChannelNo), o.TradeNo, string(o.Status), int64(o.RefundedAmount), o.QRCode,
		o.BuyerID, updated, expires, nullTime(paid), nullTime(closed), nullTime(cancelReq),
		string(o.Channel), o.WechatCode, o.ID, o.Version)
	if err != nil {
		return dbError(err, what)
	}
	if tag.RowsAffected() == 0 {
		var exists bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM orders WHERE id = $1)`, o.ID).Scan(&exists); err != nil {
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
