package wechatpay

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
)

// authCodeRe is a WeChat payment code: 18 digits starting 10 to 15 (§8.4).
var authCodeRe = regexp.MustCompile(`^1[0-5][0-9]{16}$`)

// IsAuthCode reports whether s has the shape of a WeChat payment code (the
// buyer's barcode), which tells it from an Alipay one.
func IsAuthCode(s string) bool { return authCodeRe.MatchString(s) }

// CodePayRequest charges the buyer's payment code (§8.2). AppID and MchID
// default to the client's. There is no notify_url: a codepay is never
// notified, its result is the answer and the queries (§8.3).
type CodePayRequest struct {
	AppID       string       `json:"appid"`
	MchID       string       `json:"mchid"`
	Description string       `json:"description"`
	OutTradeNo  string       `json:"out_trade_no"`
	Attach      string       `json:"attach,omitempty"`
	GoodsTag    string       `json:"goods_tag,omitempty"`
	Payer       CodePayPayer `json:"payer"`
	Amount      Amount       `json:"amount"`
	SceneInfo   SceneInfo    `json:"scene_info"`
}

// CodePayPayer carries the scanned code.
type CodePayPayer struct {
	AuthCode string `json:"auth_code"`
}

// CodePay calls POST /v3/pay/transactions/codepay. A nil error means the
// verified answer's trade_state is SUCCESS (OutcomeSuccess: paid) or
// USERPAYING (OutcomePaying: the buyer is entering a password); tell them
// apart with CodePayOutcome. Anything else, including another trade_state,
// is an error: unknown (query every 5 s up to 45 s, then Reverse, §8.5) or
// failed. Never repeat a codepay whose outcome is unknown with a new
// out_trade_no before the first is settled.
func (c *Client) CodePay(ctx context.Context, req CodePayRequest) (*Transaction, error) {
	c.fill(&req.AppID, &req.MchID)
	if req.Amount.Currency == "" {
		req.Amount.Currency = CurrencyCNY
	}
	op := "POST " + PathCodePay
	if err := checkOrder(op, req.OutTradeNo, req.Amount.Total, req.Description); err != nil {
		return nil, err
	}
	if !IsAuthCode(req.Payer.AuthCode) {
		return nil, &Error{Outcome: OutcomeConfig, Op: op, Err: errors.New("payer.auth_code is not 18 digits starting 10 to 15")}
	}
	var t Transaction
	if _, err := c.call(ctx, "POST", PathCodePay, "", req, &t); err != nil {
		return nil, err
	}
	switch t.TradeState {
	case TradeUserPaying:
		// Only trade_state comes with USERPAYING (§8.2); nothing to check.
		return &t, nil
	case TradeSuccess:
		if err := t.Check(c.cfg.MchID, c.cfg.AppID, req.OutTradeNo, req.Amount.Total); err != nil {
			return nil, &Error{Outcome: OutcomeUnknown, Op: op, Verified: true, Err: err}
		}
		return &t, nil
	}
	// NOTPAY, PAYERROR or a state this client does not know: the fact
	// sheet's CLIENT advice is to treat any answer but SUCCESS as unknown,
	// query, and reverse if not settled (§8.2, §8.5).
	return nil, &Error{Outcome: OutcomeUnknown, Op: op, Verified: true,
		Err: fmt.Errorf("codepay answered trade_state %q", t.TradeState)}
}

// CodePayOutcome is OutcomePaying for a USERPAYING codepay answer and
// OutcomeSuccess for a paid one.
func CodePayOutcome(t *Transaction) Outcome {
	if t.TradeState == TradeUserPaying {
		return OutcomePaying
	}
	return OutcomeSuccess
}

// ReverseResponse names the reversed order.
type ReverseResponse struct {
	AppID      string `json:"appid"`
	MchID      string `json:"mchid"`
	OutTradeNo string `json:"out_trade_no"`
}

// Reverse calls POST /v3/pay/transactions/out-trade-no/{no}/reverse (撤销,
// §8.6): an unpaid codepay order is closed for good, a paid one is refunded
// in full; either way it becomes REVOKED. Use it only to settle a codepay
// the query loop left unclear, at least 15 s after the codepay. On an
// unknown outcome call it again; whether WeChat Pay answers a repeat on a
// reversed order with success again is UNCONFIRMED (§8.6; the simulator
// will), so query afterwards to record the final state.
func (c *Client) Reverse(ctx context.Context, outTradeNo string) (*ReverseResponse, error) {
	op := "POST " + PathOutTradeNo + "{out_trade_no}/reverse"
	if err := CheckOutTradeNo(outTradeNo); err != nil {
		return nil, &Error{Outcome: OutcomeConfig, Op: op, Err: err}
	}
	body := struct {
		AppID string `json:"appid"`
		MchID string `json:"mchid"`
	}{c.cfg.AppID, c.cfg.MchID}
	var r ReverseResponse
	if _, err := c.call(ctx, "POST", PathOutTradeNo+url.PathEscape(outTradeNo)+"/reverse", "", body, &r); err != nil {
		return nil, err
	}
	if r.OutTradeNo != outTradeNo || r.MchID != c.cfg.MchID {
		return nil, &Error{Outcome: OutcomeUnknown, Op: op, Verified: true,
			Err: fmt.Errorf("%w: reverse of %s answered for %s at %s", ErrMismatch, outTradeNo, r.OutTradeNo, r.MchID)}
	}
	return &r, nil
}
