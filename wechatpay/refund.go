package wechatpay

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
)

// Refund statuses (§5.1). Only SUCCESS means the money went back; CLOSED is
// a final failure; PROCESSING and ABNORMAL are not final.
const (
	RefundSuccess    = "SUCCESS"
	RefundClosed     = "CLOSED"
	RefundProcessing = "PROCESSING"
	RefundAbnormal   = "ABNORMAL"
)

// outRefundNoRe is the out_refund_no this client sends: 1 to 64 of
// [0-9A-Za-z_-] (the documented charset also has "|*@", which travel
// percent-encoded in a query path; the 64 limit is UNCONFIRMED, §5.1).
var outRefundNoRe = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)

// RefundAmount is a refund request's amount in fen: Refund of the order's
// Total.
type RefundAmount struct {
	Refund   int64  `json:"refund"`
	Total    int64  `json:"total"`
	Currency string `json:"currency"`
}

// RefundRequest refunds part or all of a paid order (§5.1). OutRefundNo
// identifies the refund: the same one again refunds once. NotifyURL
// defaults to the client's.
type RefundRequest struct {
	TransactionID string       `json:"transaction_id,omitempty"`
	OutTradeNo    string       `json:"out_trade_no,omitempty"`
	OutRefundNo   string       `json:"out_refund_no"`
	Reason        string       `json:"reason,omitempty"`
	NotifyURL     string       `json:"notify_url,omitempty"`
	FundsAccount  string       `json:"funds_account,omitempty"`
	Amount        RefundAmount `json:"amount"`
}

// RefundAmountInfo is a refund's amounts in fen.
type RefundAmountInfo struct {
	Total            int64  `json:"total"`
	Refund           int64  `json:"refund"`
	PayerTotal       int64  `json:"payer_total"`
	PayerRefund      int64  `json:"payer_refund"`
	SettlementTotal  int64  `json:"settlement_total,omitempty"`
	SettlementRefund int64  `json:"settlement_refund,omitempty"`
	DiscountRefund   int64  `json:"discount_refund,omitempty"`
	Currency         string `json:"currency,omitempty"`
}

// Refund is a refund at WeChat Pay: the answer of Refund and QueryRefund.
type Refund struct {
	RefundID            string           `json:"refund_id"`
	OutRefundNo         string           `json:"out_refund_no"`
	TransactionID       string           `json:"transaction_id"`
	OutTradeNo          string           `json:"out_trade_no"`
	Channel             string           `json:"channel,omitempty"`
	UserReceivedAccount string           `json:"user_received_account,omitempty"`
	SuccessTime         Time             `json:"success_time,omitzero"`
	CreateTime          Time             `json:"create_time,omitzero"`
	Status              string           `json:"status"`
	FundsAccount        string           `json:"funds_account,omitempty"`
	Amount              RefundAmountInfo `json:"amount"`
}

// RefundNotice is a decrypted refund notification resource (§5.3); its
// status is refund_status, not status.
type RefundNotice struct {
	MchID               string           `json:"mchid"`
	OutTradeNo          string           `json:"out_trade_no"`
	TransactionID       string           `json:"transaction_id"`
	OutRefundNo         string           `json:"out_refund_no"`
	RefundID            string           `json:"refund_id"`
	RefundStatus        string           `json:"refund_status"`
	SuccessTime         Time             `json:"success_time,omitzero"`
	UserReceivedAccount string           `json:"user_received_account,omitempty"`
	Amount              RefundAmountInfo `json:"amount"`
}

// Refund calls POST /v3/refund/domestic/refunds. A nil error means the
// refund was accepted; its Status says whether it is done (SUCCESS) or
// still PROCESSING (query later). On an unknown outcome repeat it with the
// same OutRefundNo and amount, never a new one (§5.1).
func (c *Client) Refund(ctx context.Context, req RefundRequest) (*Refund, error) {
	op := "POST " + PathRefunds
	if req.NotifyURL == "" {
		req.NotifyURL = c.cfg.NotifyURL
	}
	if req.Amount.Currency == "" {
		req.Amount.Currency = CurrencyCNY
	}
	switch {
	case req.OutTradeNo == "" && req.TransactionID == "":
		return nil, &Error{Outcome: OutcomeConfig, Op: op, Err: errors.New("out_trade_no or transaction_id is required")}
	case !outRefundNoRe.MatchString(req.OutRefundNo):
		return nil, &Error{Outcome: OutcomeConfig, Op: op, Err: fmt.Errorf("out_refund_no %q is not 1 to 64 of [0-9A-Za-z_-]", req.OutRefundNo)}
	case req.Amount.Refund <= 0 || req.Amount.Refund > req.Amount.Total:
		return nil, &Error{Outcome: OutcomeConfig, Op: op, Err: fmt.Errorf("refund %d fen is not between 1 and the order's total %d", req.Amount.Refund, req.Amount.Total)}
	}
	var r Refund
	if _, err := c.call(ctx, "POST", PathRefunds, "", req, &r); err != nil {
		return nil, err
	}
	if err := checkRefund(op, &r, req.OutRefundNo); err != nil {
		return nil, err
	}
	return &r, nil
}

// QueryRefund calls GET /v3/refund/domestic/refunds/{out_refund_no}. An
// unknown refund is OutcomeFailed with code RESOURCE_NOT_EXISTS.
func (c *Client) QueryRefund(ctx context.Context, outRefundNo string) (*Refund, error) {
	op := "GET " + PathRefunds + "/{out_refund_no}"
	if !outRefundNoRe.MatchString(outRefundNo) {
		return nil, &Error{Outcome: OutcomeConfig, Op: op, Err: fmt.Errorf("out_refund_no %q is not 1 to 64 of [0-9A-Za-z_-]", outRefundNo)}
	}
	var r Refund
	if _, err := c.call(ctx, "GET", PathRefunds+"/"+url.PathEscape(outRefundNo), "", nil, &r); err != nil {
		return nil, err
	}
	if err := checkRefund(op, &r, outRefundNo); err != nil {
		return nil, err
	}
	return &r, nil
}

// checkRefund makes a verified refund answer about another refund, or one
// without a status, an OutcomeUnknown.
func checkRefund(op string, r *Refund, outRefundNo string) error {
	if r.OutRefundNo != outRefundNo {
		return &Error{Outcome: OutcomeUnknown, Op: op, Verified: true, Err: fmt.Errorf("%w: out_refund_no %s is not %s", ErrMismatch, r.OutRefundNo, outRefundNo)}
	}
	if r.Status == "" {
		return &Error{Outcome: OutcomeUnknown, Op: op, Verified: true, Err: errors.New("refund answer has no status")}
	}
	return nil
}
