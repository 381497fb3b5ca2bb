package paygate

import (
	"context"
	"time"
)

// Store keeps merchants, orders, refunds, events and idempotency records.
// Two implementations (sqlite, postgres) pass one conformance suite
// (storetest). Errors carry domain codes: ENotFound for a missing row,
// EConflict for a unique-constraint violation.
type Store interface {
	CreateMerchant(ctx context.Context, m *Merchant) error
	MerchantByAccessKey(ctx context.Context, accessKey string) (*Merchant, error)
	MerchantByID(ctx context.Context, id int64) (*Merchant, error)

	// CreateOrder inserts o (status pending) and sets its ID; an empty
	// Channel is stored, and set in o, as ChannelAlipay. A second order with
	// the same merchant and out_trade_no fails with EConflict.
	CreateOrder(ctx context.Context, o *Order) error
	OrderByOutTradeNo(ctx context.Context, merchantID int64, outTradeNo string) (*Order, error)
	// OrderByChannelNo finds an order by the out_trade_no sent to the channel.
	OrderByChannelNo(ctx context.Context, channelNo string) (*Order, error)
	ListOrders(ctx context.Context, f OrderFilter) ([]*Order, error)
	RefundsByOrder(ctx context.Context, orderID int64) ([]*Refund, error)
	// EventsByOrder lists an order's events, oldest first.
	EventsByOrder(ctx context.Context, orderID int64) ([]*Event, error)
	EventByID(ctx context.Context, id string) (*Event, error)

	// Tx runs fn in one transaction: everything fn writes commits together or
	// not at all. Rows read through tx's ...ForUpdate methods stay locked
	// against other writers until the end.
	Tx(ctx context.Context, fn func(tx StoreTx) error) error

	// Idempotency records (see IdempotencyRecord).
	BeginIdempotent(ctx context.Context, rec *IdempotencyRecord) (*IdempotencyRecord, error)
	FinishIdempotent(ctx context.Context, rec *IdempotencyRecord) error
	// ReleaseIdempotent deletes rec's record if it is still in flight under
	// rec's own lease (same hash and LeaseUntil), so that a retry runs at
	// once; a record taken over or finished meanwhile is left alone.
	ReleaseIdempotent(ctx context.Context, rec *IdempotencyRecord) error
	DeleteExpiredIdempotency(ctx context.Context, before time.Time) (int64, error)

	Ping(ctx context.Context) error
	Close() error

	// Webhook delivery: events' delivery state and attempts (webhook.go).
	WebhookStore
	// Reconciliation: the books of a day and the reports (reconcile.go).
	ReconStore
	// Merchant administration: list, rotate, disable, set the URL
	// (merchant.go).
	MerchantAdmin
	// The console: operators, their audit trail, revoked sessions and the
	// cross-merchant order search (operator.go).
	OperatorStore
	// Order activity: channel calls and notifications, for the operator's
	// timeline (activity.go).
	ActivityStore
	// The buyer's cashier page: orders by cashier token (cashier.go).
	CashierStore
}

// StoreTx is a transaction's view of the store.
type StoreTx interface {
	// CreateOrder inserts o as Store.CreateOrder does, within the transaction.
	CreateOrder(ctx context.Context, o *Order) error
	OrderForUpdate(ctx context.Context, orderID int64) (*Order, error)
	// UpdateOrder writes o's mutable fields (ChannelNo, TradeNo, Channel,
	// Status, RefundedAmount, QRCode, WechatCode, BuyerID, UpdatedAt,
	// ExpiresAt, PaidAt, ClosedAt, CancelRequestedAt) and bumps its
	// Version; it fails with EConflict if the row's version is not
	// o.Version, and EInvalid if a constraint (such as refunded ≤ total, or
	// a Channel that is not one of the three) would break.
	UpdateOrder(ctx context.Context, o *Order) error
	// CreateRefund inserts r and sets its ID; EConflict on a repeated
	// (order, out_request_no).
	CreateRefund(ctx context.Context, r *Refund) error
	RefundByRequestNo(ctx context.Context, orderID int64, outRequestNo string) (*Refund, error)
	RefundsByOrder(ctx context.Context, orderID int64) ([]*Refund, error)
	UpdateRefund(ctx context.Context, r *Refund) error
	CreateEvent(ctx context.Context, e *Event) error
}

// OrderFilter selects a merchant's orders, newest first.
type OrderFilter struct {
	MerchantID int64
	Status     OrderStatus // empty: all
	Limit      int
	BeforeID   int64 // cursor: only orders with a smaller ID; 0: from the newest
}

// IdempotencyRecord remembers a request made with an Idempotency-Key so that
// a repeat gets the first response.
//
// BeginIdempotent inserts rec in flight and returns (nil, nil): the caller
// owns the key and must FinishIdempotent it (or let its lease lapse). If a
// record for (MerchantID, Key) exists and is done, or in flight with a lease
// that has not lapsed at rec.CreatedAt, it is returned unchanged. An in-flight
// record whose lease lapsed (its owner died) is taken over by rec: it gets
// rec's hash and lease, and (nil, nil) is returned. A done record past
// ExpiresAt counts as absent.
type IdempotencyRecord struct {
	MerchantID  int64
	Key         string
	RequestHash string // hex SHA-256 of method, path and body
	Done        bool   // false while the first request is in flight
	Status      int    // the first response's HTTP status, once done
	Body        []byte // and its body
	CreatedAt   time.Time
	LeaseUntil  time.Time // an in-flight owner's deadline
	ExpiresAt   time.Time // 24 h after creation
}
