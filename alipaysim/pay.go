package alipaysim

import (
	"github.com/paygate/paygate/alipay"
)

// Sub-messages of barcode failures.
const (
	subMsgAuthCodeInvalid = "支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款，如再次收款失败，请联系管理员处理。[SOUNDWAVE_PARSER_FAIL]"
	subMsgBalance         = "买家余额不足"
)

// pay answers alipay.trade.pay (§3.2). The outcome follows the auth_code
// (contract.md): 28… pays at once, 29… is paid PayDelay later, 27… waits
// for a buyer who never confirms, 26… lacks balance, anything else is an
// invalid code. 26… and invalid codes create no trade.
func (s *Server) pay(c *call) *node {
	p := params{b: c.biz}
	out := p.outTradeNo(true)
	scene := p.text("scene", true, 32)
	authCode := p.text("auth_code", true, 32)
	subject := p.text("subject", true, 256)
	total := p.amount("total_amount")
	body := p.text("body", false, 128)
	te := p.express("timeout_express")
	notifyURL := checkNotifyURL(&p, c)
	if scene != "" && scene != "bar_code" && scene != "security_code" {
		p.fail("参数scene取值错误，应为bar_code或security_code")
	}
	if p.bad != nil {
		return p.bad
	}
	fp := fingerprint(kindPay, total, subject, body, te, authCode)
	now := c.now

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.book.cancelled[tradeKey(c.app.AppID, out)]; ok {
		return payFailure(alipay.SubTradeHasClose, subMsgHasClose, out)
	}
	if t := s.lookup(c.app.AppID, out, "", now); t != nil {
		switch {
		case t.Voided != "", t.Status == alipay.TradeClosed:
			return payFailure(alipay.SubTradeHasClose, subMsgHasClose, out)
		case t.Status == alipay.TradeSuccess, t.Status == alipay.TradeFinished:
			return payFailure(alipay.SubTradeHasSuccess, subMsgHasSuccess, out)
		case t.Status == alipay.TradeWaitBuyerPay && t.Kind == kindPay && t.Fingerprint == fp:
			return paying(t)
		default:
			return payFailure(alipay.SubContextInconsistent, subMsgInconsistent, out)
		}
	}
	if len(authCode) != 18 || !allDigits(authCode) {
		return payFailure(alipay.SubAuthCodeInvalid, subMsgAuthCodeInvalid, out)
	}
	prefix := authCode[:2]
	switch prefix {
	case "26":
		return payFailure(alipay.SubBalanceNotEnough, subMsgBalance, out)
	case "27", "28", "29":
	default:
		return payFailure(alipay.SubAuthCodeInvalid, subMsgAuthCodeInvalid, out)
	}
	buyer := "2088" + digitsFrom("buyer:"+authCode, 12)
	t := &trade{
		AppID: c.app.AppID, SellerID: c.app.SellerID, OutTradeNo: out, Kind: kindPay, Fingerprint: fp,
		TradeNo: s.book.newTradeNo(now), Status: alipay.TradeWaitBuyerPay, Total: total, Subject: subject,
		Body: body, NotifyURL: notifyURL, AuthCode: authCode, TimeoutExpress: te, Created: now,
		Expires: deadline(now, te, defaultTradeTimeout), BuyerID: buyer, BuyerLogonID: logonIDFor(buyer),
	}
	var note *notification
	switch prefix {
	case "28":
		note = s.markPaid(t, now)
	case "29":
		t.PayAt = now.Add(s.cfg.PayDelay)
	}
	if err := s.commit(t, note); err != nil {
		return s.persistFailed(err)
	}
	if t.Status == alipay.TradeSuccess {
		return paid(t)
	}
	return paying(t)
}

// paid is the 10000 answer of a pay.
func paid(t *trade) *node {
	return success().
		str("buyer_logon_id", t.BuyerLogonID).
		money("buyer_pay_amount", t.Total).
		str("buyer_user_id", t.BuyerID).
		raw("fund_bill_list", fundBills(t.Total)).
		str("gmt_payment", alipay.FormatTime(t.Paid)).
		money("invoice_amount", t.Total).
		str("out_trade_no", t.OutTradeNo).
		money("point_amount", 0).
		money("receipt_amount", t.Total).
		money("total_amount", t.Total).
		str("trade_no", t.TradeNo)
}

// paying is the 10003 answer of a pay, in the observed shape (§3.2).
func paying(t *trade) *node {
	return newNode().str("code", alipay.CodePaying).str("msg", msgPaying).
		str("buyer_logon_id", t.BuyerLogonID).
		money("buyer_pay_amount", 0).
		money("invoice_amount", 0).
		str("out_trade_no", t.OutTradeNo).
		money("point_amount", 0).
		money("receipt_amount", 0).
		money("total_amount", t.Total).
		str("trade_no", t.TradeNo)
}

// payFailure is a 40004 answer of a pay with the zeroed amounts Alipay
// sends on failures.
func payFailure(subCode, subMsg, outTradeNo string) *node {
	return business(subCode, subMsg).
		money("buyer_pay_amount", 0).
		money("invoice_amount", 0).
		opt("out_trade_no", outTradeNo).
		money("point_amount", 0).
		money("receipt_amount", 0)
}
