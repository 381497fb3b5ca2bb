package alipaysim

import (
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/simjournal"
)

// Sub-messages of lookups and cancels.
const (
	subMsgCancelTimeOut = "交易已超过撤销时间"
	subMsgHasFinished   = "交易已完结"
)

// query answers alipay.trade.query (§3.3). A code nobody scanned is
// ACQ.TRADE_NOT_EXIST, in the observed body with zeroed amounts.
func (s *Server) query(c *call) *node {
	p := params{b: c.biz}
	out, tradeNo := p.ref()
	if p.bad != nil {
		return p.bad
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookup(c.app.AppID, out, tradeNo, c.now)
	if t == nil || !t.exists() {
		return business(alipay.SubTradeNotExist, subMsgTradeNotExist).
			money("buyer_pay_amount", 0).
			money("invoice_amount", 0).
			opt("out_trade_no", out).
			money("point_amount", 0).
			money("receipt_amount", 0).
			opt("trade_no", tradeNo)
	}
	var amount paygate.Money // what the buyer paid; zero until paid
	if t.wasPaid() {
		amount = t.Total
	}
	n := success().
		str("buyer_logon_id", t.BuyerLogonID).
		money("buyer_pay_amount", amount).
		str("buyer_user_id", t.BuyerID)
	if t.wasPaid() {
		n.raw("fund_bill_list", fundBills(t.Total))
	}
	n.money("invoice_amount", amount).
		str("out_trade_no", t.OutTradeNo).
		money("point_amount", 0).
		money("receipt_amount", amount)
	if t.wasPaid() {
		n.str("send_pay_date", alipay.FormatTime(t.Paid))
	}
	return n.str("subject", t.Subject).
		money("total_amount", t.Total).
		str("trade_no", t.TradeNo).
		str("trade_status", t.Status)
}

// closeTrade answers alipay.trade.close (§3.5): only WAIT_BUYER_PAY closes.
// A code nobody scanned answers ACQ.TRADE_NOT_EXIST but can no longer be
// paid (a V2EX report; UNCONFIRMED), and its out_trade_no is spent.
func (s *Server) closeTrade(c *call) *node {
	p := params{b: c.biz}
	out, tradeNo := p.ref()
	p.text("operator_id", false, 28)
	if p.bad != nil {
		return p.bad
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookup(c.app.AppID, out, tradeNo, c.now)
	notExist := func() *node {
		return business(alipay.SubTradeNotExist, subMsgTradeNotExist).opt("out_trade_no", out).opt("trade_no", tradeNo)
	}
	switch {
	case t == nil:
		return notExist()
	case !t.exists():
		if t.Voided == "" {
			t.Voided = closedByClose
			if err := s.commit(t); err != nil {
				return s.persistFailed(err)
			}
		}
		return notExist()
	case t.Status != alipay.TradeWaitBuyerPay:
		return business(alipay.SubTradeStatusError, subMsgStatusError).str("out_trade_no", t.OutTradeNo).str("trade_no", t.TradeNo)
	}
	note := s.markClosed(t, c.now, closedByClose)
	if err := s.commit(t, note); err != nil {
		return s.persistFailed(err)
	}
	return success().str("out_trade_no", t.OutTradeNo).str("trade_no", t.TradeNo)
}

// cancel answers alipay.trade.cancel (§3.4, §8.3): an unpaid trade closes,
// a paid one is refunded in full within CancelWindow, an unknown one answers
// 10000 without action and its out_trade_no can never be used again.
func (s *Server) cancel(c *call) *node {
	p := params{b: c.biz}
	out, tradeNo := p.ref()
	if p.bad != nil {
		return p.bad.str("retry_flag", "N")
	}
	if f := s.Faults(); f.appliesTo(c.method) && s.dice.Roll(f.CancelRetryRate) {
		return business(subSystemError, subMsgSystemError).opt("out_trade_no", out).opt("trade_no", tradeNo).str("retry_flag", "Y")
	}
	now := c.now
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookup(c.app.AppID, out, tradeNo, now)
	if t == nil || !t.exists() {
		if err := s.voidUnknown(c.app.AppID, out, tradeNo, t, now); err != nil {
			return s.persistFailed(err)
		}
		return success().opt("out_trade_no", out).str("retry_flag", "N").opt("trade_no", tradeNo)
	}
	switch t.Status {
	case alipay.TradeFinished:
		return business(alipay.SubTradeHasFinished, subMsgHasFinished).str("out_trade_no", t.OutTradeNo).str("retry_flag", "N").str("trade_no", t.TradeNo)
	case alipay.TradeClosed:
		return cancelled(t)
	case alipay.TradeWaitBuyerPay:
		note := s.markClosed(t, now, closedCancel)
		t.CancelAction = alipay.ActionClose
		if err := s.commit(t, note); err != nil {
			return s.persistFailed(err)
		}
		return cancelled(t)
	}
	if now.After(t.Paid.Add(s.cfg.CancelWindow)) {
		return business(alipay.SubCancelTimeOut, subMsgCancelTimeOut).str("out_trade_no", t.OutTradeNo).str("retry_flag", "N").str("trade_no", t.TradeNo)
	}
	reqNo := t.OutTradeNo
	if t.findRefund(reqNo) != nil {
		reqNo += "_cancel"
	}
	t.Refunds = append(t.Refunds, refund{OutRequestNo: reqNo, Amount: t.Total - t.refundFee(), At: now, ByCancel: true})
	t.Status, t.Closed, t.CloseReason, t.CancelAction = alipay.TradeClosed, now, closedCancel, alipay.ActionRefund
	note := s.note(t, now, &t.Refunds[len(t.Refunds)-1])
	if err := s.commit(t, note); err != nil {
		return s.persistFailed(err)
	}
	return cancelled(t)
}

// voidUnknown spends an out_trade_no that a cancel hit before any trade
// existed: a code nobody scanned is voided; an unknown out_trade_no is
// remembered. A trade_no that names nothing is only answered.
func (s *Server) voidUnknown(appID, out, tradeNo string, t *trade, now time.Time) error {
	switch {
	case t != nil:
		if t.Voided != "" {
			return nil
		}
		t.Voided = closedCancel
		return s.commit(t)
	case tradeNo != "" || out == "":
		return nil
	}
	key := tradeKey(appID, out)
	if _, ok := s.book.cancelled[key]; ok {
		return nil
	}
	s.book.cancelled[key] = now
	return s.store.Append(simjournal.Put(kindCancel, key, now))
}

// cancelled is the 10000 answer for a closed trade: action close when it
// was never paid, refund when its money went back.
func cancelled(t *trade) *node {
	action := t.CancelAction
	if action == "" {
		action = alipay.ActionClose
		if t.wasPaid() {
			action = alipay.ActionRefund
		}
	}
	n := success().str("action", action)
	if action == alipay.ActionRefund && len(t.Refunds) > 0 {
		n.str("gmt_refund_pay", alipay.FormatTime(t.Refunds[len(t.Refunds)-1].At))
	}
	return n.str("out_trade_no", t.OutTradeNo).str("retry_flag", "N").str("trade_no", t.TradeNo)
}
