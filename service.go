package paygate

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// OrderService is the gateway's use cases as the HTTP layer sees them. The
// merchant is the authenticated caller: every lookup is scoped to it, so
// another merchant's order is simply not found.
type OrderService interface {
	// CreateOrder records the order pending, then asks the channel. created is
	// false when the same out_trade_no with the same parameters already
	// existed (the existing order is returned); other parameters under the
	// same out_trade_no fail with EOutTradeNoReused.
	CreateOrder(ctx context.Context, m *Merchant, req CreateOrder) (o *Order, created bool, err error)
	// GetOrder returns the order; refresh asks the channel first.
	GetOrder(ctx context.Context, m *Merchant, outTradeNo string, refresh bool) (*Order, error)
	// ListOrders pages the merchant's orders, newest first.
	ListOrders(ctx context.Context, f OrderFilter) ([]*Order, error)
	// CloseOrder closes a pending order once the channel confirms it can no
	// longer be paid. Closing a closed order returns it unchanged.
	CloseOrder(ctx context.Context, m *Merchant, outTradeNo string) (*Order, error)
	// Refund refunds part or all of a paid order. The same out_request_no
	// again returns the same refund (created false); with another amount it
	// fails with EConflict.
	Refund(ctx context.Context, m *Merchant, outTradeNo string, req CreateRefund) (r *Refund, created bool, err error)
	// ListRefunds returns an order's refunds, oldest first.
	ListRefunds(ctx context.Context, m *Merchant, outTradeNo string) ([]*Refund, error)
	// HandleNotification verifies and applies one asynchronous notification
	// from the channel; nil means it is durably applied (or was already).
	HandleNotification(ctx context.Context, form url.Values) error
	// HandleWechatNotification verifies (signature headers, AES-GCM
	// resource) and applies one WeChat Pay notification; nil means it is
	// durably applied (or was already).
	HandleWechatNotification(ctx context.Context, header http.Header, body []byte) error
}

// CreateOrder is a validated request for a new order.
type CreateOrder struct {
	OutTradeNo  string
	Subject     string
	TotalAmount Money
	Mode        Mode
	// Channel is the channel to take the order on: alipay, wechat, or auto
	// for both (a QR order gets both codes; a barcode is routed by its
	// prefix). The HTTP layer sends alipay when the merchant named none.
	Channel   Channel
	AuthCode  string        // barcode only; sent to the channel, never stored
	NotifyURL string        // webhook URL for this order; empty uses the merchant's
	Timeout   time.Duration // how long the buyer has to pay; 0 is the default
	ReturnURL string        // QR only: where the cashier page sends the buyer once paid
}

// CreateRefund is a validated refund request.
type CreateRefund struct {
	OutRequestNo string
	Amount       Money
	Reason       string
}

// NonceCache remembers request nonces for the authentication window so a
// captured request cannot be replayed. Implementations: in memory (one node)
// and Redis (shared by replicas).
type NonceCache interface {
	// Seen records nonce for ttl and reports whether it was already recorded.
	Seen(ctx context.Context, merchantID int64, nonce string, ttl time.Duration) (bool, error)
}
