package wechatpay

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
)

// API paths (§4, §5, §7, §8).
const (
	PathNative      = "/v3/pay/transactions/native"
	PathCodePay     = "/v3/pay/transactions/codepay"
	PathOutTradeNo  = "/v3/pay/transactions/out-trade-no/" // + {out_trade_no}[/close|/reverse]
	PathTransaction = "/v3/pay/transactions/id/"           // + {transaction_id}
	PathRefunds     = "/v3/refund/domestic/refunds"        // [/ + {out_refund_no}]
	PathTradeBill   = "/v3/bill/tradebill"
)

// Trade states (§4.4). Only SUCCESS and REFUND mean the buyer paid.
const (
	TradeSuccess    = "SUCCESS"
	TradeRefund     = "REFUND"
	TradeNotPay     = "NOTPAY"
	TradeClosed     = "CLOSED"
	TradeRevoked    = "REVOKED"
	TradeUserPaying = "USERPAYING"
	TradePayError   = "PAYERROR"
)

// Trade types of a Transaction.
const (
	TradeTypeNative   = "NATIVE"
	TradeTypeMicropay = "MICROPAY"
)

// CurrencyCNY is the only currency of a domestic merchant.
const CurrencyCNY = "CNY"

// outTradeNoRe is the out_trade_no this client sends: 6 to 32 of
// [0-9A-Za-z_-] (§4.2 CLIENT: "*" and "|" are allowed by some pages but
// travel percent-encoded, a classic signing trap, so they are refused).
var outTradeNoRe = regexp.MustCompile(`^[0-9A-Za-z_-]{6,32}$`)

// CheckOutTradeNo refuses an out_trade_no outside 6 to 32 of [0-9A-Za-z_-].
func CheckOutTradeNo(s string) error {
	if !outTradeNoRe.MatchString(s) {
		return fmt.Errorf("wechatpay: out_trade_no %q is not 6 to 32 of [0-9A-Za-z_-]", s)
	}
	return nil
}

// Amount is an order's amount in fen. Total is what the merchant ordered;
// PayerTotal what the buyer paid after coupons (compare Total, §4.2).
type Amount struct {
	Total         int64  `json:"total"`
	Currency      string `json:"currency,omitempty"`
	PayerTotal    int64  `json:"payer_total,omitempty"`
	PayerCurrency string `json:"payer_currency,omitempty"`
}

// Payer is the buyer, as an openid under the AppID.
type Payer struct {
	OpenID string `json:"openid,omitempty"`
}

// SceneInfo is where an order was taken; codepay requires it (§8.2).
type SceneInfo struct {
	DeviceID      string     `json:"device_id,omitempty"`
	DeviceIP      string     `json:"device_ip,omitempty"`
	PayerClientIP string     `json:"payer_client_ip,omitempty"`
	StoreInfo     *StoreInfo `json:"store_info,omitempty"`
}

// StoreInfo names the shop of a codepay.
type StoreInfo struct {
	ID    string `json:"id,omitempty"`
	OutID string `json:"out_id,omitempty"`
}

// Transaction is an order's state at WeChat Pay: the query answer, the
// decrypted payment notification and the codepay answer share it (§4.2,
// §6.2, §8.2). An unpaid order has no TransactionID, Payer or SuccessTime.
type Transaction struct {
	AppID          string     `json:"appid,omitempty"`
	MchID          string     `json:"mchid,omitempty"`
	OutTradeNo     string     `json:"out_trade_no,omitempty"`
	TransactionID  string     `json:"transaction_id,omitempty"`
	TradeType      string     `json:"trade_type,omitempty"`
	TradeState     string     `json:"trade_state"`
	TradeStateDesc string     `json:"trade_state_desc,omitempty"`
	BankType       string     `json:"bank_type,omitempty"`
	Attach         string     `json:"attach,omitempty"`
	SuccessTime    Time       `json:"success_time,omitzero"`
	Payer          *Payer     `json:"payer,omitempty"`
	Amount         *Amount    `json:"amount,omitempty"`
	SceneInfo      *SceneInfo `json:"scene_info,omitempty"`
}

// Paid reports whether the trade state means the buyer paid: SUCCESS, or
// REFUND (a refund was applied to a paid order, §4.4).
func (t *Transaction) Paid() bool { return t.TradeState == TradeSuccess || t.TradeState == TradeRefund }

// Unpayable reports whether the order can never be paid: CLOSED or REVOKED.
func (t *Transaction) Unpayable() bool {
	return t.TradeState == TradeClosed || t.TradeState == TradeRevoked
}

// Total is the ordered amount in fen; 0 when the answer had no amount.
func (t *Transaction) Total() int64 {
	if t.Amount == nil {
		return 0
	}
	return t.Amount.Total
}

// ErrMismatch means a verified answer or notification is about another
// merchant, AppID or order than the one asked about.
var ErrMismatch = errors.New("wechatpay: answer does not match the request")

// Check compares t with the order it should describe (§6.4 CLIENT): the
// merchant, the AppID, out_trade_no and, when total > 0, amount.total.
func (t *Transaction) Check(mchID, appID, outTradeNo string, total int64) error {
	switch {
	case t.MchID != mchID:
		return fmt.Errorf("%w: mchid %s is not %s", ErrMismatch, t.MchID, mchID)
	case t.AppID != appID:
		return fmt.Errorf("%w: appid %s is not %s", ErrMismatch, t.AppID, appID)
	case t.OutTradeNo != outTradeNo:
		return fmt.Errorf("%w: out_trade_no %s is not %s", ErrMismatch, t.OutTradeNo, outTradeNo)
	case total > 0 && t.Total() != total:
		return fmt.Errorf("%w: amount.total %d is not the order's %d", ErrMismatch, t.Total(), total)
	}
	return nil
}

// NativeRequest asks for a code_url the buyer scans (§4.1). AppID, MchID
// and NotifyURL default to the client's.
type NativeRequest struct {
	AppID       string `json:"appid"`
	MchID       string `json:"mchid"`
	Description string `json:"description"`
	OutTradeNo  string `json:"out_trade_no"`
	TimeExpire  Time   `json:"time_expire,omitzero"` // the last moment the buyer may pay
	Attach      string `json:"attach,omitempty"`
	NotifyURL   string `json:"notify_url"`
	GoodsTag    string `json:"goods_tag,omitempty"`
	Amount      Amount `json:"amount"`
}

// NativeResponse carries the code to show.
type NativeResponse struct {
	CodeURL string `json:"code_url"`
}

// NativePrepay calls POST /v3/pay/transactions/native. The order exists at
// WeChat Pay as NOTPAY at once. Repeating it with the same out_trade_no and
// parameters is safe (it returns the current code_url); an unknown outcome
// is settled by QueryByOutTradeNo.
func (c *Client) NativePrepay(ctx context.Context, req NativeRequest) (*NativeResponse, error) {
	c.fill(&req.AppID, &req.MchID)
	if req.NotifyURL == "" {
		req.NotifyURL = c.cfg.NotifyURL
	}
	if req.Amount.Currency == "" {
		req.Amount.Currency = CurrencyCNY
	}
	op := "POST " + PathNative
	if err := checkOrder(op, req.OutTradeNo, req.Amount.Total, req.Description); err != nil {
		return nil, err
	}
	if err := CheckNotifyURL(req.NotifyURL); err != nil {
		return nil, &Error{Outcome: OutcomeConfig, Op: op, Err: err}
	}
	var resp NativeResponse
	if _, err := c.call(ctx, "POST", PathNative, "", req, &resp); err != nil {
		return nil, err
	}
	if resp.CodeURL == "" {
		return nil, &Error{Outcome: OutcomeUnknown, Op: op, Verified: true, Err: errors.New("answer has no code_url")}
	}
	return &resp, nil
}

// QueryByOutTradeNo calls GET /v3/pay/transactions/out-trade-no/{no}?mchid=…
// An order WeChat Pay does not know is OutcomeFailed with code
// ORDER_NOT_EXIST (IsCode): a lost prepay never happened. The answer is
// checked to be about this merchant and order.
func (c *Client) QueryByOutTradeNo(ctx context.Context, outTradeNo string) (*Transaction, error) {
	op := "GET " + PathOutTradeNo + "{out_trade_no}"
	if err := CheckOutTradeNo(outTradeNo); err != nil {
		return nil, &Error{Outcome: OutcomeConfig, Op: op, Err: err}
	}
	var t Transaction
	if _, err := c.call(ctx, "GET", PathOutTradeNo+url.PathEscape(outTradeNo), "mchid="+url.QueryEscape(c.cfg.MchID), nil, &t); err != nil {
		return nil, err
	}
	if err := c.checkTransaction(op, &t, outTradeNo); err != nil {
		return nil, err
	}
	return &t, nil
}

// QueryByTransactionID calls GET /v3/pay/transactions/id/{id}?mchid=…, for
// a paid order known by WeChat Pay's transaction_id.
func (c *Client) QueryByTransactionID(ctx context.Context, transactionID string) (*Transaction, error) {
	op := "GET " + PathTransaction + "{transaction_id}"
	if transactionID == "" {
		return nil, &Error{Outcome: OutcomeConfig, Op: op, Err: errors.New("transaction_id is required")}
	}
	var t Transaction
	if _, err := c.call(ctx, "GET", PathTransaction+url.PathEscape(transactionID), "mchid="+url.QueryEscape(c.cfg.MchID), nil, &t); err != nil {
		return nil, err
	}
	if t.TransactionID != transactionID {
		return nil, &Error{Outcome: OutcomeUnknown, Op: op, Verified: true, Err: fmt.Errorf("%w: transaction_id %s", ErrMismatch, t.TransactionID)}
	}
	if err := c.checkTransaction(op, &t, t.OutTradeNo); err != nil {
		return nil, err
	}
	return &t, nil
}

// Close calls POST /v3/pay/transactions/out-trade-no/{no}/close; WeChat Pay
// answers 204 for an unpaid, already closed or even unknown order (§4.3), so
// a nil error says only that the close was accepted: query to learn the
// state (a paid order stays paid).
func (c *Client) Close(ctx context.Context, outTradeNo string) error {
	op := "POST " + PathOutTradeNo + "{out_trade_no}/close"
	if err := CheckOutTradeNo(outTradeNo); err != nil {
		return &Error{Outcome: OutcomeConfig, Op: op, Err: err}
	}
	body := struct {
		MchID string `json:"mchid"`
	}{c.cfg.MchID}
	_, err := c.call(ctx, "POST", PathOutTradeNo+url.PathEscape(outTradeNo)+"/close", "", body, nil)
	return err
}

// fill defaults a request's appid and mchid to the client's.
func (c *Client) fill(appID, mchID *string) {
	if *appID == "" {
		*appID = c.cfg.AppID
	}
	if *mchID == "" {
		*mchID = c.cfg.MchID
	}
}

// checkOrder refuses, before any call, what WeChat Pay would refuse.
func checkOrder(op, outTradeNo string, total int64, description string) error {
	if err := CheckOutTradeNo(outTradeNo); err != nil {
		return &Error{Outcome: OutcomeConfig, Op: op, Err: err}
	}
	if total <= 0 {
		return &Error{Outcome: OutcomeConfig, Op: op, Err: fmt.Errorf("amount.total %d fen is not positive", total)}
	}
	if description == "" || len([]rune(description)) > 127 {
		return &Error{Outcome: OutcomeConfig, Op: op, Err: errors.New("description must be 1 to 127 characters")}
	}
	return nil
}

// checkTransaction makes a verified answer that is about another merchant,
// AppID or order an OutcomeUnknown: it is not an answer to this question.
func (c *Client) checkTransaction(op string, t *Transaction, outTradeNo string) error {
	if t.TradeState == "" {
		return &Error{Outcome: OutcomeUnknown, Op: op, Verified: true, Err: errors.New("answer has no trade_state")}
	}
	if err := t.Check(c.cfg.MchID, c.cfg.AppID, outTradeNo, 0); err != nil {
		return &Error{Outcome: OutcomeUnknown, Op: op, Verified: true, Err: err}
	}
	return nil
}
