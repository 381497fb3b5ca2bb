package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Order is an order as the API returns it. Amounts are yuan strings with two
// decimals ("99.99"); absent values are empty strings or nil times.
type Order struct {
	OutTradeNo string `json:"out_trade_no"`
	TradeNo    string `json:"trade_no"`
	Mode       string `json:"mode"`
	// Channel is "alipay" or "wechat", or "auto" until a payment on one of
	// them decides it.
	Channel     string `json:"channel"`
	Subject     string `json:"subject"`
	TotalAmount string `json:"total_amount"`
	Status      string `json:"status"` // pending, paid, closed or refunded
	// QRCode is the code of the order's channel (Alipay's for an auto
	// order); QRCodes is every code by channel ("alipay", "wechat"): both
	// for an auto order, nil when there is none.
	QRCode         string            `json:"qr_code"`
	QRCodes        map[string]string `json:"qr_codes"`
	RefundedAmount string            `json:"refunded_amount"`
	BuyerID        string            `json:"buyer_id"`
	CreatedAt      *time.Time        `json:"created_at"`
	PaidAt         *time.Time        `json:"paid_at"`
	ExpiresAt      *time.Time        `json:"expires_at"`
	// CashierURL is a QR order's page for the buyer: the QR code, the
	// amount, and the payment's progress, live. Empty for barcode orders.
	CashierURL string `json:"cashier_url"`
}

// CreateOrderRequest is the body of POST /api/v1/orders.
type CreateOrderRequest struct {
	OutTradeNo  string `json:"out_trade_no"`
	Subject     string `json:"subject"`
	TotalAmount string `json:"total_amount"` // yuan, "0.01" to "100000000.00"
	Mode        string `json:"mode"`         // "qr" or "barcode"
	// Channel is "alipay" (the default when empty), "wechat", or "auto":
	// a QR order then gets both codes, a barcode goes to the wallet that
	// made it.
	Channel   string `json:"channel,omitempty"`
	AuthCode  string `json:"auth_code,omitempty"` // barcode only: the buyer's code
	NotifyURL string `json:"notify_url,omitempty"`
	Timeout   string `json:"timeout,omitempty"` // for example "15m", "2h" or "1d"
	// ReturnURL (QR only) is where the cashier page links the buyer once paid.
	ReturnURL string `json:"return_url,omitempty"`
}

// CreateOrder creates an order, or returns the existing one when the same
// out_trade_no was created with the same parameters. A barcode order returns
// once the channel has decided.
func (c *Client) CreateOrder(ctx context.Context, req CreateOrderRequest, opts ...CallOption) (*Order, error) {
	var o Order
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/orders", nil, req, &o, opts...); err != nil {
		return nil, err
	}
	return &o, nil
}

// GetOrder returns an order; refresh asks the channel first.
func (c *Client) GetOrder(ctx context.Context, outTradeNo string, refresh bool) (*Order, error) {
	var q url.Values
	if refresh {
		q = url.Values{"refresh": {"true"}}
	}
	var o Order
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/orders/"+outTradeNo, q, nil, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// ListOrdersParams selects a page of orders. Zero values are omitted.
type ListOrdersParams struct {
	Status string // pending, paid, closed, refunded; empty: all
	Limit  int    // 1 to 100; 0: the server's default
	Cursor string // NextCursor of the previous page; empty: from the newest
}

// OrderList is one page of orders, newest first. NextCursor is empty on the
// last page.
type OrderList struct {
	Orders     []Order `json:"orders"`
	NextCursor string  `json:"next_cursor"`
}

// ListOrders returns one page of the merchant's orders, newest first.
func (c *Client) ListOrders(ctx context.Context, p ListOrdersParams) (*OrderList, error) {
	q := url.Values{}
	if p.Status != "" {
		q.Set("status", p.Status)
	}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	var l OrderList
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/orders", q, nil, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// CloseOrder closes a pending order (at the channel too); closing a closed
// order returns it unchanged.
func (c *Client) CloseOrder(ctx context.Context, outTradeNo string, opts ...CallOption) (*Order, error) {
	var o Order
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/orders/"+outTradeNo+"/close", nil, nil, &o, opts...); err != nil {
		return nil, err
	}
	return &o, nil
}
