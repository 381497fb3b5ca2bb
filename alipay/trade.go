package alipay

import (
	"context"

	"github.com/paygate/paygate"
)

// API method names (§3).
const (
	MethodPrecreate   = "alipay.trade.precreate"
	MethodPay         = "alipay.trade.pay"
	MethodQuery       = "alipay.trade.query"
	MethodCancel      = "alipay.trade.cancel"
	MethodClose       = "alipay.trade.close"
	MethodRefund      = "alipay.trade.refund"
	MethodRefundQuery = "alipay.trade.fastpay.refund.query"
	MethodBillURL     = "alipay.data.dataservice.bill.downloadurl.query"
)

// Trade statuses (§4). Only TradeSuccess and TradeFinished mean paid.
const (
	TradeWaitBuyerPay = "WAIT_BUYER_PAY"
	TradeClosed       = "TRADE_CLOSED"
	TradeSuccess      = "TRADE_SUCCESS"
	TradeFinished     = "TRADE_FINISHED"
)

// ProductFaceToFace is the product code of 当面付.
const ProductFaceToFace = "FACE_TO_FACE_PAYMENT"

// Business sub_codes this system acts on (§3).
const (
	SubTradeNotExist         = "ACQ.TRADE_NOT_EXIST"
	SubTradeHasSuccess       = "ACQ.TRADE_HAS_SUCCESS"
	SubTradeHasClose         = "ACQ.TRADE_HAS_CLOSE"
	SubTradeStatusError      = "ACQ.TRADE_STATUS_ERROR"
	SubContextInconsistent   = "ACQ.CONTEXT_INCONSISTENT"
	SubInvalidParameter      = "ACQ.INVALID_PARAMETER"
	SubAuthCodeInvalid       = "ACQ.PAYMENT_AUTH_CODE_INVALID"
	SubBalanceNotEnough      = "ACQ.BUYER_BALANCE_NOT_ENOUGH"
	SubRefundFeeErr          = "ACQ.REASON_TRADE_REFUND_FEE_ERR"
	SubDiscordantRepeat      = "ACQ.DISCORDANT_REPEAT_REQUEST"
	SubRefundAmtNotEqual     = "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
	SubTradeHasFinished      = "ACQ.TRADE_HAS_FINISHED"
	SubCancelTimeOut         = "ACQ.TRADE_CANCEL_TIME_OUT"
	SubTradeBeenFrozen       = "ACQ.REASON_TRADE_BEEN_FREEZEN"
	SubBillNotExist          = "isp.bill_not_exist"
	SubInvalidSignature      = "isv.invalid-signature"
	SubInvalidAppID          = "isv.invalid-app-id"
	SubNowTimeAfterExpire    = "ACQ.NOW_TIME_AFTER_EXPIRE_TIME_ERROR"
	SubTotalFeeExceed        = "ACQ.TOTAL_FEE_EXCEED"
	SubBuyerSellerEqual      = "ACQ.BUYER_SELLER_EQUAL"
	SubTradeNotAllowRefund   = "ACQ.TRADE_NOT_ALLOW_REFUND"
	SubSellerBalanceNotEnoug = "ACQ.SELLER_BALANCE_NOT_ENOUGH"
)

// FundBill is one funding channel of a payment (snake_case in responses).
type FundBill struct {
	FundChannel string        `json:"fund_channel"`
	Amount      paygate.Money `json:"amount"`
	RealAmount  paygate.Money `json:"real_amount,omitempty"`
}

// PrecreateRequest asks for a QR code the buyer scans (§3.1).
type PrecreateRequest struct {
	OutTradeNo           string        `json:"out_trade_no"`
	TotalAmount          paygate.Money `json:"total_amount"`
	Subject              string        `json:"subject"`
	ProductCode          string        `json:"product_code,omitempty"`
	Body                 string        `json:"body,omitempty"`
	SellerID             string        `json:"seller_id,omitempty"`
	StoreID              string        `json:"store_id,omitempty"`
	OperatorID           string        `json:"operator_id,omitempty"`
	TerminalID           string        `json:"terminal_id,omitempty"`
	TimeoutExpress       string        `json:"timeout_express,omitempty"`
	QRCodeTimeoutExpress string        `json:"qr_code_timeout_express,omitempty"`
	// NotifyURL is the notify_url system parameter; empty uses Config.NotifyURL.
	NotifyURL string `json:"-"`
}

// PrecreateResponse carries the code to show. Precreate creates no trade:
// until a buyer scans, query answers ACQ.TRADE_NOT_EXIST.
type PrecreateResponse struct {
	Result
	OutTradeNo string `json:"out_trade_no"`
	QRCode     string `json:"qr_code"`
}

// Precreate calls alipay.trade.precreate. Repeating it with the same
// out_trade_no and parameters is safe.
func (c *Client) Precreate(ctx context.Context, req PrecreateRequest) (*PrecreateResponse, error) {
	if req.ProductCode == "" {
		req.ProductCode = ProductFaceToFace
	}
	var resp PrecreateResponse
	return &resp, c.call(ctx, MethodPrecreate, req, c.notifyURL(req.NotifyURL), &resp)
}

// PayRequest charges the buyer's barcode (§3.2).
type PayRequest struct {
	OutTradeNo     string        `json:"out_trade_no"`
	Scene          string        `json:"scene"` // default bar_code
	AuthCode       string        `json:"auth_code"`
	Subject        string        `json:"subject"`
	TotalAmount    paygate.Money `json:"total_amount"`
	ProductCode    string        `json:"product_code,omitempty"`
	Body           string        `json:"body,omitempty"`
	SellerID       string        `json:"seller_id,omitempty"`
	StoreID        string        `json:"store_id,omitempty"`
	OperatorID     string        `json:"operator_id,omitempty"`
	TerminalID     string        `json:"terminal_id,omitempty"`
	TimeoutExpress string        `json:"timeout_express,omitempty"`
	NotifyURL      string        `json:"-"`
}

// PayResponse is a pay's result. With OutcomePaying (10003) the trade exists
// as WAIT_BUYER_PAY and the caller polls Query (§6).
type PayResponse struct {
	Result
	TradeNo        string        `json:"trade_no"`
	OutTradeNo     string        `json:"out_trade_no"`
	BuyerLogonID   string        `json:"buyer_logon_id"`
	BuyerUserID    string        `json:"buyer_user_id"`
	TotalAmount    paygate.Money `json:"total_amount"`
	ReceiptAmount  paygate.Money `json:"receipt_amount"`
	BuyerPayAmount paygate.Money `json:"buyer_pay_amount"`
	PointAmount    paygate.Money `json:"point_amount"`
	InvoiceAmount  paygate.Money `json:"invoice_amount"`
	GmtPayment     string        `json:"gmt_payment"`
	FundBillList   []FundBill    `json:"fund_bill_list"`
}

// Pay calls alipay.trade.pay. It returns a nil error for OutcomeSuccess and
// OutcomePaying; check resp.Outcome(). Never retry a pay whose outcome is
// unknown: query it, then cancel (§6).
func (c *Client) Pay(ctx context.Context, req PayRequest) (*PayResponse, error) {
	if req.Scene == "" {
		req.Scene = "bar_code"
	}
	if req.ProductCode == "" {
		req.ProductCode = ProductFaceToFace
	}
	var resp PayResponse
	return &resp, c.call(ctx, MethodPay, req, c.notifyURL(req.NotifyURL), &resp)
}

func (c *Client) notifyURL(override string) string {
	if override != "" {
		return override
	}
	return c.cfg.NotifyURL
}
