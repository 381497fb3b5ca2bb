package wechatpaysim

import (
	"net/http"

	"github.com/paygate/paygate/wechatpay"
)

// Payment-code kinds by prefix (issue 12; §8.5 SIM).
const (
	codeInvalid  = iota
	codePays     // 10…: paid at once
	codeConfirms // 11…: USERPAYING, paid after Config.PayDelay
	codeNever    // 12…: USERPAYING, PAYERROR after Config.PasswordTimeout
	codeNoFunds  // 13…: the buyer lacks balance
)

// codeKind classifies an 18-digit payment code by its prefix.
func codeKind(code string) int {
	if len(code) != 18 {
		return codeInvalid
	}
	for _, ch := range code {
		if ch < '0' || ch > '9' {
			return codeInvalid
		}
	}
	switch code[:2] {
	case "10":
		return codePays
	case "11":
		return codeConfirms
	case "12":
		return codeNever
	case "13":
		return codeNoFunds
	}
	return codeInvalid
}

// codePayRequest is the codepay body (§8.2).
type codePayRequest struct {
	AppID       string `json:"appid"`
	MchID       string `json:"mchid"`
	Description string `json:"description"`
	OutTradeNo  string `json:"out_trade_no"`
	Attach      string `json:"attach"`
	Payer       struct {
		AuthCode string `json:"auth_code"`
	} `json:"payer"`
	Amount    *amountRequest       `json:"amount"`
	SceneInfo *wechatpay.SceneInfo `json:"scene_info"`
}

// codePay is POST /v3/pay/transactions/codepay (§8.2, §8.5). No
// notification is ever sent for it (§8.3).
func (s *Server) codePay(c *call) answer {
	var req codePayRequest
	if a := decode(c.body, &req); a != nil {
		return *a
	}
	if a := c.checkOrder(req.AppID, req.MchID, req.Description, req.OutTradeNo, req.Amount); a != nil {
		return *a
	}
	kind := codeKind(req.Payer.AuthCode)
	if kind == codeInvalid {
		a := paramError("/payer/auth_code", "body", "101 授权码检验错误，请扫描微信支付被扫条码/二维码")
		return a
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	key := tradeKey(c.merchant.MchID, req.OutTradeNo)
	if t := s.current(key); t != nil {
		if t.TradeType != wechatpay.TradeTypeMicropay || t.AuthCode != req.Payer.AuthCode || t.Total != *req.Amount.Total {
			if a := repeatRefusal(t); a != nil {
				return *a
			}
			return apiError(http.StatusBadRequest, "INVALID_REQUEST", "商户订单号重复")
		}
		return codePayAnswer(t) // the same payment again: its state
	}
	if s.book.authCodes[req.Payer.AuthCode] {
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "101 每个二维码仅限使用一次，请刷新再试")
	}
	t := &trade{
		MchID: c.merchant.MchID, AppID: req.AppID, OutTradeNo: req.OutTradeNo, TradeType: wechatpay.TradeTypeMicropay,
		Description: req.Description, Attach: req.Attach, Total: *req.Amount.Total, AuthCode: req.Payer.AuthCode,
		Created: now, PayBy: now, OpenID: NewOpenID(),
	}
	if req.SceneInfo != nil {
		t.DeviceID = req.SceneInfo.DeviceID
	}
	switch kind {
	case codePays:
		s.markPaid(t, now)
	case codeConfirms:
		t.State, t.DueAt = wechatpay.TradeUserPaying, now.Add(s.cfg.PayDelay)
	case codeNever:
		t.State, t.DueAt = wechatpay.TradeUserPaying, now.Add(s.cfg.PasswordTimeout)
	case codeNoFunds:
		t.State = wechatpay.TradePayError
	}
	if s.commit(t) != nil {
		return systemError()
	}
	if kind == codeNoFunds {
		return apiError(http.StatusForbidden, "NOT_ENOUGH", "余额不足")
	}
	return codePayAnswer(t)
}

// codePayAnswer is the codepay answer for t: the transaction when paid,
// only trade_state while the buyer is paying (§8.2).
func codePayAnswer(t *trade) answer {
	switch {
	case t.State == wechatpay.TradeUserPaying:
		return jsonAnswer(http.StatusOK, map[string]string{"trade_state": wechatpay.TradeUserPaying})
	case t.State == wechatpay.TradeClosed || t.State == wechatpay.TradeRevoked:
		return apiError(http.StatusBadRequest, "ORDER_CLOSED", "该订单已关闭")
	case t.State == wechatpay.TradePayError && codeKind(t.AuthCode) == codeNoFunds:
		return apiError(http.StatusForbidden, "NOT_ENOUGH", "余额不足")
	}
	return jsonAnswer(http.StatusOK, transactionOf(t))
}

// reverse is POST …/out-trade-no/{no}/reverse (撤销, §8.6): an unpaid
// order is revoked for good, a paid one refunded in full and revoked.
func (s *Server) reverse(c *call) answer {
	var req struct {
		AppID string `json:"appid"`
		MchID string `json:"mchid"`
	}
	if a := decode(c.body, &req); a != nil {
		return *a
	}
	if a := c.checkMchID(req.MchID, "/mchid", "body"); a != nil {
		return *a
	}
	if req.AppID != c.merchant.AppID {
		return apiError(http.StatusBadRequest, "PARAM_ERROR", "appid和mch_id不匹配")
	}
	no := pathVar(c.r, wechatpay.PathOutTradeNo, "/reverse")
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.current(tradeKey(c.merchant.MchID, no))
	ok := jsonAnswer(http.StatusOK, wechatpay.ReverseResponse{AppID: c.merchant.AppID, MchID: c.merchant.MchID, OutTradeNo: no})
	switch {
	case t == nil:
		return apiError(http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
	case t.State == wechatpay.TradeRevoked || t.State == wechatpay.TradeClosed:
		return ok
	case now.Sub(t.Created) > reverseWindow:
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "订单已超过撤销期限，请调用申请退款接口")
	}
	n := t.clone()
	if t.paid() {
		if rest := n.Total - n.refunded(); rest > 0 {
			n.Refunds = append(n.Refunds, &refund{OutRefundNo: n.OutTradeNo, RefundID: newRefundID(now), Amount: rest,
				Reason: "撤销", Status: wechatpay.RefundSuccess, Created: now, Success: now, ByReverse: true})
		}
	}
	n.State, n.Closed = wechatpay.TradeRevoked, now
	if s.commit(n) != nil {
		return systemError()
	}
	return ok
}
