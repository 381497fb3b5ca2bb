package alipay

import (
	"context"

	"github.com/paygate/paygate"
)

// TradeRef names a trade by the merchant's out_trade_no or Alipay's trade_no;
// when both are given Alipay uses trade_no.
type TradeRef struct {
	OutTradeNo string `json:"out_trade_no,omitempty"`
	TradeNo    string `json:"trade_no,omitempty"`
}

// QueryResponse is a trade's state at Alipay (§3.3).
type QueryResponse struct {
	Result
	TradeNo        string        `json:"trade_no"`
	OutTradeNo     string        `json:"out_trade_no"`
	BuyerLogonID   string        `json:"buyer_logon_id"`
	BuyerUserID    string        `json:"buyer_user_id"`
	TradeStatus    string        `json:"trade_status"`
	TotalAmount    paygate.Money `json:"total_amount"`
	ReceiptAmount  paygate.Money `json:"receipt_amount"`
	BuyerPayAmount paygate.Money `json:"buyer_pay_amount"`
	PointAmount    paygate.Money `json:"point_amount"`
	InvoiceAmount  paygate.Money `json:"invoice_amount"`
	SendPayDate    string        `json:"send_pay_date"`
	Subject        string        `json:"subject"`
	FundBillList   []FundBill    `json:"fund_bill_list"`
}

// Paid reports whether the trade status means the buyer paid (§4).
func (r *QueryResponse) Paid() bool {
	return r.TradeStatus == TradeSuccess || r.TradeStatus == TradeFinished
}

// Query calls alipay.trade.query. An unknown trade (or a precreated code
// nobody scanned) is OutcomeFailed with sub_code ACQ.TRADE_NOT_EXIST.
func (c *Client) Query(ctx context.Context, ref TradeRef) (*QueryResponse, error) {
	var resp QueryResponse
	return &resp, c.call(ctx, MethodQuery, ref, "", &resp)
}

// CancelResponse says what a cancel did (§3.4).
type CancelResponse struct {
	Result
	TradeNo      string `json:"trade_no"`
	OutTradeNo   string `json:"out_trade_no"`
	RetryFlag    string `json:"retry_flag"` // Y: repeat the same cancel
	Action       string `json:"action"`     // close, refund, or empty
	GmtRefundPay string `json:"gmt_refund_pay"`
}

// Cancel actions.
const (
	ActionClose  = "close"  // an unpaid trade was closed
	ActionRefund = "refund" // a paid trade was fully refunded
)

// Retry reports whether Alipay asks for the same cancel again.
func (r *CancelResponse) Retry() bool { return r.RetryFlag == "Y" }

// Cancel calls alipay.trade.cancel: it closes an unpaid trade or fully
// refunds a paid one. Use it only to settle an unknown or timed-out pay or
// precreate. On failure the response still carries retry_flag.
func (c *Client) Cancel(ctx context.Context, ref TradeRef) (*CancelResponse, error) {
	var resp CancelResponse
	return &resp, c.call(ctx, MethodCancel, ref, "", &resp)
}

// CloseRequest closes an unpaid trade (§3.5).
type CloseRequest struct {
	OutTradeNo string `json:"out_trade_no,omitempty"`
	TradeNo    string `json:"trade_no,omitempty"`
	OperatorID string `json:"operator_id,omitempty"`
}

// CloseResponse names the closed trade.
type CloseResponse struct {
	Result
	TradeNo    string `json:"trade_no"`
	OutTradeNo string `json:"out_trade_no"`
}

// Close calls alipay.trade.close. A precreated code nobody scanned answers
// ACQ.TRADE_NOT_EXIST.
func (c *Client) Close(ctx context.Context, req CloseRequest) (*CloseResponse, error) {
	var resp CloseResponse
	return &resp, c.call(ctx, MethodClose, req, "", &resp)
}
