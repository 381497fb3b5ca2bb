package client

import (
	"context"
	"net/http"
	"time"
)

// Refund is a refund as the API returns it.
type Refund struct {
	OutRequestNo string     `json:"out_request_no"`
	OutTradeNo   string     `json:"out_trade_no"`
	Amount       string     `json:"amount"`
	Reason       string     `json:"reason"`
	Status       string     `json:"status"` // pending, succeeded or failed
	CreatedAt    *time.Time `json:"created_at"`
	SucceededAt  *time.Time `json:"succeeded_at"`
}

// RefundRequest is the body of POST /api/v1/orders/{out_trade_no}/refunds.
type RefundRequest struct {
	OutRequestNo string `json:"out_request_no"`
	Amount       string `json:"amount"` // yuan, at most what is still refundable
	Reason       string `json:"reason,omitempty"`
}

// Refund refunds part or all of a paid order. The same out_request_no again
// returns the same refund.
func (c *Client) Refund(ctx context.Context, outTradeNo string, req RefundRequest, opts ...CallOption) (*Refund, error) {
	var r Refund
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/orders/"+outTradeNo+"/refunds", nil, req, &r, opts...); err != nil {
		return nil, err
	}
	return &r, nil
}

// ListRefunds returns an order's refunds, oldest first.
func (c *Client) ListRefunds(ctx context.Context, outTradeNo string) ([]Refund, error) {
	var out struct {
		Refunds []Refund `json:"refunds"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/orders/"+outTradeNo+"/refunds", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Refunds, nil
}
