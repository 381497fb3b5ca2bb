package wechatpaysim

import (
	"fmt"
	"net/http"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/paygate/paygate/wechatpay"
)

// codeURLPrefix starts every code_url (§4.1).
const codeURLPrefix = "weixin://wxpay/bizpayurl?pr="

// outTradeNoRe is the documented charset: 6 to 32 of digits, letters, _-*
// (§4.1; "|" is UNCONFIRMED and refused).
var outTradeNoRe = regexp.MustCompile(`^[0-9A-Za-z_\-*]{6,32}$`)

// maxTotal is the largest amount accepted, 1,000,000 yuan in fen (a
// simulator bound, not a documented one).
const maxTotal = 100_000_000

// nativeRequest is the prepay body (§4.1).
type nativeRequest struct {
	AppID       string               `json:"appid"`
	MchID       string               `json:"mchid"`
	Description string               `json:"description"`
	OutTradeNo  string               `json:"out_trade_no"`
	TimeExpire  string               `json:"time_expire"`
	Attach      string               `json:"attach"`
	NotifyURL   string               `json:"notify_url"`
	GoodsTag    string               `json:"goods_tag"`
	Amount      *amountRequest       `json:"amount"`
	SceneInfo   *wechatpay.SceneInfo `json:"scene_info"`
}

type amountRequest struct {
	Total    *int64 `json:"total"`
	Currency string `json:"currency"`
}

// checkOrder checks what prepay and codepay share.
func (c *call) checkOrder(appID, mchID, description, outTradeNo string, amt *amountRequest) *answer {
	if a := c.checkMchID(mchID, "/mchid", "body"); a != nil {
		return a
	}
	fail := func(field, issue string) *answer { a := paramError(field, "body", issue); return &a }
	switch {
	case appID == "":
		return fail("/appid", "appid is required")
	case appID != c.merchant.AppID:
		a := apiError(http.StatusBadRequest, "PARAM_ERROR", "appid和mch_id不匹配")
		return &a
	case description == "" || utf8.RuneCountInString(description) > 127:
		return fail("/description", "description must be 1 to 127 characters")
	case !outTradeNoRe.MatchString(outTradeNo):
		return fail("/out_trade_no", "out_trade_no must be 6 to 32 of digits, letters, _-*")
	case amt == nil || amt.Total == nil:
		return fail("/amount/total", "amount.total is required")
	case *amt.Total <= 0 || *amt.Total > maxTotal:
		return fail("/amount/total", fmt.Sprintf("amount.total must be 1 to %d fen", maxTotal))
	case amt.Currency != "" && amt.Currency != wechatpay.CurrencyCNY:
		return fail("/amount/currency", "Currency code is invalid")
	}
	return nil
}

// native is POST /v3/pay/transactions/native (§4.1): the order exists at
// once as NOTPAY; a repeat with the same parameters answers the current
// code_url.
func (s *Server) native(c *call) answer {
	var req nativeRequest
	if a := decode(c.body, &req); a != nil {
		return *a
	}
	if a := c.checkOrder(req.AppID, req.MchID, req.Description, req.OutTradeNo, req.Amount); a != nil {
		return *a
	}
	if len(req.Attach) > 128 {
		return paramError("/attach", "body", "attach must be at most 128 bytes")
	}
	if err := wechatpay.CheckNotifyURL(req.NotifyURL); err != nil {
		return paramError("/notify_url", "body", "notify_url must be an absolute URL without a query string")
	}
	now := s.now()
	payBy := now.Add(defaultExpire)
	if req.TimeExpire != "" {
		t, err := wechatpay.ParseTime(req.TimeExpire)
		if err != nil {
			return paramError("/time_expire", "body", "字符串必须是符合 RFC3339 日期时间格式")
		}
		payBy = t
		if lo := now.Add(minExpire); payBy.Before(lo) {
			payBy = lo
		}
		if hi := now.Add(maxExpire); payBy.After(hi) {
			payBy = hi
		}
	}
	params := fmt.Sprintf("%q", []any{req.AppID, req.Description, req.TimeExpire, req.Attach, req.NotifyURL, req.GoodsTag, *req.Amount.Total})
	s.mu.Lock()
	defer s.mu.Unlock()
	key := tradeKey(c.merchant.MchID, req.OutTradeNo)
	if t := s.book.trades[key]; t != nil {
		s.sweepOne(t, now)
		t = s.book.trades[key]
		if a := repeatRefusal(t); a != nil {
			return *a
		}
		if t.TradeType != wechatpay.TradeTypeNative || t.Params != params {
			return apiError(http.StatusBadRequest, "INVALID_REQUEST", "订单重入时，要求参数值与原请求一致")
		}
		if now.Sub(t.CodeAt) >= codeURLLife {
			n := t.clone()
			n.CodeURL, n.CodeAt = newCodeURL(), now
			if s.commit(n) != nil {
				return systemError()
			}
			delete(s.book.byCode, t.CodeURL) // the old code stops working
			t = n
		}
		return jsonAnswer(http.StatusOK, wechatpay.NativeResponse{CodeURL: t.CodeURL})
	}
	t := &trade{
		MchID: c.merchant.MchID, AppID: req.AppID, OutTradeNo: req.OutTradeNo, TradeType: wechatpay.TradeTypeNative,
		State: wechatpay.TradeNotPay, Description: req.Description, Attach: req.Attach, NotifyURL: req.NotifyURL,
		Total: *req.Amount.Total, Params: params, CodeURL: newCodeURL(), CodeAt: now, Created: now, PayBy: payBy,
	}
	if s.commit(t) != nil {
		return systemError()
	}
	return jsonAnswer(http.StatusOK, wechatpay.NativeResponse{CodeURL: t.CodeURL})
}

// repeatRefusal is the answer to a new order on a paid or closed
// out_trade_no (§4.1 SIM), nil otherwise.
func repeatRefusal(t *trade) *answer {
	var a answer
	switch {
	case t.State == wechatpay.TradeClosed || t.State == wechatpay.TradeRevoked:
		a = apiError(http.StatusBadRequest, "ORDER_CLOSED", "该订单已关闭")
	case t.paid():
		a = apiError(http.StatusBadRequest, "ORDERPAID", "该订单已支付")
	default:
		return nil
	}
	return &a
}

// sweepOne brings one trade up to date with the clock (s.mu held).
func (s *Server) sweepOne(t *trade, now time.Time) {
	if c, notes := s.advance(t, now); c != nil {
		_ = s.commit(c, notes...)
	}
}

// queryByOutTradeNo is GET …/out-trade-no/{no}?mchid= (§4.2).
func (s *Server) queryByOutTradeNo(c *call) answer {
	return s.query(c, func() *trade {
		return s.book.trades[tradeKey(c.merchant.MchID, pathVar(c.r, wechatpay.PathOutTradeNo, ""))]
	})
}

// queryByID is GET …/id/{transaction_id}?mchid= (§4.2).
func (s *Server) queryByID(c *call) answer {
	return s.query(c, func() *trade {
		if t := s.book.byTxn[pathVar(c.r, wechatpay.PathTransaction, "")]; t != nil && t.MchID == c.merchant.MchID {
			return t
		}
		return nil
	})
}

// query answers the order find picks (s.mu held while it looks), brought
// up to date, or 404 ORDER_NOT_EXIST; ?mchid= must be the signer.
func (s *Server) query(c *call, find func() *trade) answer {
	if a := c.checkMchID(c.r.URL.Query().Get("mchid"), "mchid", "query"); a != nil {
		return *a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := find()
	if t == nil {
		return apiError(http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
	}
	return jsonAnswer(http.StatusOK, transactionOf(s.current(t.key())))
}

// current is the trade under key brought up to date, or nil.
func (s *Server) current(key string) *trade {
	t := s.book.trades[key]
	if t == nil {
		return nil
	}
	s.sweepOne(t, s.now())
	return s.book.trades[key]
}

// close is POST …/out-trade-no/{no}/close (§4.3): 204 for an unpaid,
// closed or unknown order; 400 ORDERPAID for a paid one.
func (s *Server) close(c *call) answer {
	var req struct {
		MchID string `json:"mchid"`
	}
	if a := decode(c.body, &req); a != nil {
		return *a
	}
	if a := c.checkMchID(req.MchID, "/mchid", "body"); a != nil {
		return *a
	}
	no := pathVar(c.r, wechatpay.PathOutTradeNo, "/close")
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.current(tradeKey(c.merchant.MchID, no))
	switch {
	case t == nil || t.State == wechatpay.TradeClosed || t.State == wechatpay.TradeRevoked:
		return answer{status: http.StatusNoContent}
	case t.paid():
		return apiError(http.StatusBadRequest, "ORDERPAID", "订单已支付")
	}
	n := t.clone()
	n.State, n.Closed = wechatpay.TradeClosed, s.now()
	if s.commit(n) != nil {
		return systemError()
	}
	return answer{status: http.StatusNoContent}
}

// tradeStateDesc is trade_state_desc per state (§4.4).
var tradeStateDesc = map[string]string{
	wechatpay.TradeSuccess: "支付成功", wechatpay.TradeRefund: "转入退款", wechatpay.TradeNotPay: "订单未支付",
	wechatpay.TradeClosed: "已关闭", wechatpay.TradeRevoked: "已撤销", wechatpay.TradeUserPaying: "用户支付中（需要输入密码）",
	wechatpay.TradePayError: "支付失败，请撤销订单",
}

// transactionOf is t as the query answer and the payment notification
// show it (§4.2): an unpaid order has no transaction_id, payer,
// success_time or payer_total.
func transactionOf(t *trade) wechatpay.Transaction {
	tx := wechatpay.Transaction{
		AppID: t.AppID, MchID: t.MchID, OutTradeNo: t.OutTradeNo, TradeType: t.TradeType, TradeState: t.State,
		TradeStateDesc: tradeStateDesc[t.State], Attach: t.Attach,
		Amount: &wechatpay.Amount{Total: t.Total, Currency: wechatpay.CurrencyCNY, PayerCurrency: wechatpay.CurrencyCNY},
	}
	if t.DeviceID != "" {
		tx.SceneInfo = &wechatpay.SceneInfo{DeviceID: t.DeviceID}
	}
	if !t.Paid.IsZero() {
		tx.TransactionID, tx.BankType, tx.SuccessTime = t.TransactionID, t.BankType, wechatpay.Time{Time: t.Paid}
		tx.Payer = &wechatpay.Payer{OpenID: t.OpenID}
		tx.Amount.PayerTotal = t.Total
	}
	return tx
}
