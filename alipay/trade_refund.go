package alipay

import (
	"context"

	"github.com/paygate/paygate"
)

// RefundRequest refunds part or all of a paid trade (§3.6). OutRequestNo
// identifies the refund: repeating it with the same amount is idempotent.
type RefundRequest struct {
	OutTradeNo   string        `json:"out_trade_no,omitempty"`
	TradeNo      string        `json:"trade_no,omitempty"`
	RefundAmount paygate.Money `json:"refund_amount"`
	OutRequestNo string        `json:"out_request_no,omitempty"`
	RefundReason string        `json:"refund_reason,omitempty"`
	OperatorID   string        `json:"operator_id,omitempty"`
}

// RefundResponse is a refund's result. RefundFee is the trade's cumulative
// refunded amount. FundChange "Y" means this call moved money; "N" with
// OutcomeSuccess is a repeat, or must be confirmed with RefundQuery.
type RefundResponse struct {
	Result
	TradeNo      string        `json:"trade_no"`
	OutTradeNo   string        `json:"out_trade_no"`
	BuyerLogonID string        `json:"buyer_logon_id"`
	BuyerUserID  string        `json:"buyer_user_id"`
	FundChange   string        `json:"fund_change"`
	RefundFee    paygate.Money `json:"refund_fee"`
	GmtRefundPay string        `json:"gmt_refund_pay"`
}

// Refund calls alipay.trade.refund. Safe to repeat with the same
// OutRequestNo and amount.
func (c *Client) Refund(ctx context.Context, req RefundRequest) (*RefundResponse, error) {
	var resp RefundResponse
	return &resp, c.call(ctx, MethodRefund, req, "", &resp)
}

// RefundQueryRequest asks about one refund (§3.7).
type RefundQueryRequest struct {
	OutTradeNo   string   `json:"out_trade_no,omitempty"`
	TradeNo      string   `json:"trade_no,omitempty"`
	OutRequestNo string   `json:"out_request_no"`
	QueryOptions []string `json:"query_options,omitempty"`
}

// RefundQueryResponse describes a refund. Only RefundStatus REFUND_SUCCESS
// means refunded; an absent status means not (yet) refunded.
type RefundQueryResponse struct {
	Result
	TradeNo      string        `json:"trade_no"`
	OutTradeNo   string        `json:"out_trade_no"`
	OutRequestNo string        `json:"out_request_no"`
	RefundReason string        `json:"refund_reason"`
	TotalAmount  paygate.Money `json:"total_amount"`
	RefundAmount paygate.Money `json:"refund_amount"`
	RefundStatus string        `json:"refund_status"`
	GmtRefundPay string        `json:"gmt_refund_pay"`
}

// RefundSuccess is the only refund_status that means the money went back.
const RefundSuccess = "REFUND_SUCCESS"

// Refunded reports whether the refund is confirmed.
func (r *RefundQueryResponse) Refunded() bool { return r.RefundStatus == RefundSuccess }

// RefundQuery calls alipay.trade.fastpay.refund.query. For a refund sent
// without out_request_no, pass the out_trade_no as OutRequestNo.
func (c *Client) RefundQuery(ctx context.Context, req RefundQueryRequest) (*RefundQueryResponse, error) {
	if len(req.QueryOptions) == 0 {
		req.QueryOptions = []string{"gmt_refund_pay"}
	}
	var resp RefundQueryResponse
	return &resp, c.call(ctx, MethodRefundQuery, req, "", &resp)
}
