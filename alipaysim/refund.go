package alipaysim

import (
	"github.com/paygate/paygate/alipay"
)

// Sub-messages of refunds.
const (
	subMsgDiscordant   = "不一致的请求"
	subMsgAmtNotEqual  = "撤销或退款金额与订单金额不一致"
	subMsgRefundFeeErr = "退款金额超限"
)

// refund answers alipay.trade.refund (§3.6, §8.3). Each out_request_no
// (the out_trade_no when absent) refunds once; repeating it with the same
// amount answers fund_change N. Refunds reaching the total close the trade.
func (s *Server) refund(c *call) *node {
	p := params{b: c.biz}
	out, tradeNo := p.ref()
	amount := p.amount("refund_amount")
	reqNo := p.id("out_request_no", false, 64)
	reason := p.text("refund_reason", false, 256)
	if p.bad != nil {
		return p.bad
	}
	now := c.now
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookup(c.app.AppID, out, tradeNo, now)
	if t == nil || !t.exists() {
		return business(alipay.SubTradeNotExist, subMsgTradeNotExist).opt("out_trade_no", out).opt("trade_no", tradeNo)
	}
	refFail := func(sub, msg string) *node {
		return business(sub, msg).str("out_trade_no", t.OutTradeNo).str("trade_no", t.TradeNo)
	}
	id := reqNo
	if id == "" {
		id = t.OutTradeNo
	}
	if r := t.findRefund(id); r != nil {
		if r.Amount != amount {
			return refFail(alipay.SubDiscordantRepeat, subMsgDiscordant)
		}
		return refunded(t, r, "N")
	}
	switch t.Status {
	case alipay.TradeFinished:
		return refFail(alipay.SubTradeHasFinished, subMsgHasFinished)
	case alipay.TradeWaitBuyerPay, alipay.TradeClosed:
		return refFail(alipay.SubTradeStatusError, subMsgStatusError)
	}
	if reqNo == "" && amount != t.Total {
		return refFail(alipay.SubRefundAmtNotEqual, subMsgAmtNotEqual).money("refund_fee", 0)
	}
	if amount > t.Total-t.refundFee() {
		return refFail(alipay.SubRefundFeeErr, subMsgRefundFeeErr)
	}
	t.Refunds = append(t.Refunds, refund{OutRequestNo: id, Amount: amount, Reason: reason, At: now})
	r := &t.Refunds[len(t.Refunds)-1]
	if t.refundFee() == t.Total {
		t.Status, t.Closed, t.CloseReason = alipay.TradeClosed, now, closedRefund
	}
	var note *notification
	if !s.cfg.DisableRefundNotify {
		note = s.note(t, now, r)
	}
	if err := s.commit(t, note); err != nil {
		return s.persistFailed(err)
	}
	return refunded(t, r, "Y")
}

// refunded is the 10000 answer of a refund; refund_fee is cumulative.
func refunded(t *trade, r *refund, fundChange string) *node {
	return success().
		str("buyer_logon_id", t.BuyerLogonID).
		str("buyer_user_id", t.BuyerID).
		str("fund_change", fundChange).
		str("gmt_refund_pay", alipay.FormatTime(r.At)).
		str("out_trade_no", t.OutTradeNo).
		money("refund_fee", t.refundFee()).
		str("trade_no", t.TradeNo)
}

// refundQuery answers alipay.trade.fastpay.refund.query (§3.7): a known
// refund is REFUND_SUCCESS; an unknown out_request_no on a known trade is a
// bare 10000 without refund fields.
func (s *Server) refundQuery(c *call) *node {
	p := params{b: c.biz}
	out, tradeNo := p.ref()
	reqNo := p.id("out_request_no", true, 64)
	if p.bad != nil {
		return p.bad
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookup(c.app.AppID, out, tradeNo, c.now)
	if t == nil || !t.exists() {
		return business(alipay.SubTradeNotExist, subMsgTradeNotExist).opt("out_trade_no", out).opt("trade_no", tradeNo)
	}
	r := t.findRefund(reqNo)
	if r == nil {
		return success()
	}
	return success().
		str("gmt_refund_pay", alipay.FormatTime(r.At)).
		str("out_request_no", r.OutRequestNo).
		str("out_trade_no", t.OutTradeNo).
		money("refund_amount", r.Amount).
		opt("refund_reason", r.Reason).
		str("refund_status", alipay.RefundSuccess).
		money("total_amount", t.Total).
		str("trade_no", t.TradeNo)
}
