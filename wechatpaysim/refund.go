package wechatpaysim

import (
	"net/http"
	"regexp"
	"time"

	"github.com/paygate/paygate/wechatpay"
)

// outRefundNoRe is the documented out_refund_no charset (§5.1), at most 64.
var outRefundNoRe = regexp.MustCompile(`^[0-9A-Za-z_\-|*@]{1,64}$`)

// refundRequest is the refund body (§5.1).
type refundRequest struct {
	TransactionID string `json:"transaction_id"`
	OutTradeNo    string `json:"out_trade_no"`
	OutRefundNo   string `json:"out_refund_no"`
	Reason        string `json:"reason"`
	NotifyURL     string `json:"notify_url"`
	Amount        struct {
		Refund   *int64 `json:"refund"`
		Total    *int64 `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
}

// refund is POST /v3/refund/domestic/refunds (§5.1): accepted as
// PROCESSING, done after Config.RefundDelay.
func (s *Server) refund(c *call) answer {
	var req refundRequest
	if a := decode(c.body, &req); a != nil {
		return *a
	}
	amt := req.Amount
	switch {
	case req.TransactionID == "" && req.OutTradeNo == "":
		return paramError("/out_trade_no", "body", "transaction_id or out_trade_no is required")
	case !outRefundNoRe.MatchString(req.OutRefundNo):
		return paramError("/out_refund_no", "body", "out_refund_no must be 1 to 64 of digits, letters, _-|*@")
	case amt.Refund == nil || amt.Total == nil || *amt.Refund <= 0 || *amt.Total <= 0:
		return paramError("/amount/refund", "body", "amount.refund and amount.total must be positive fen")
	case amt.Currency != wechatpay.CurrencyCNY:
		return paramError("/amount/currency", "body", "Currency code is invalid")
	case req.NotifyURL != "" && wechatpay.CheckNotifyURL(req.NotifyURL) != nil:
		return paramError("/notify_url", "body", "notify_url must be an absolute URL without a query string")
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var t *trade
	if req.TransactionID != "" {
		if bt := s.book.byTxn[req.TransactionID]; bt != nil && bt.MchID == c.merchant.MchID {
			t = s.current(bt.key())
		}
	} else {
		t = s.current(tradeKey(c.merchant.MchID, req.OutTradeNo))
	}
	if t == nil || !t.paid() {
		return apiError(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "订单不存在")
	}
	if req.OutTradeNo != "" && req.OutTradeNo != t.OutTradeNo {
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "transaction_id与out_trade_no不匹配")
	}
	if other := s.book.byRefund[tradeKey(c.merchant.MchID, req.OutRefundNo)]; other != nil {
		r := findRefund(other, req.OutRefundNo)
		if other.key() != t.key() || r.Amount != *amt.Refund {
			return apiError(http.StatusBadRequest, "INVALID_REQUEST", "退款单号已存在，请求参数与原退款请求不一致")
		}
		return jsonAnswer(http.StatusOK, refundOf(other, r)) // refunds once (§5.1)
	}
	switch {
	case *amt.Total != t.Total:
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "订单金额与原订单金额不一致")
	case t.State == wechatpay.TradeRevoked:
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "订单已撤销")
	case now.Sub(t.Paid) > refundPeriod:
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "订单已超过退款期限")
	case len(t.Refunds) >= maxRefunds:
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "订单退款次数已达上限")
	case t.refunded()+*amt.Refund > t.Total:
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
	}
	n := t.clone()
	r := &refund{OutRefundNo: req.OutRefundNo, RefundID: newRefundID(now), Amount: *amt.Refund, Reason: req.Reason,
		NotifyURL: req.NotifyURL, Status: wechatpay.RefundProcessing, Created: now, DueAt: now.Add(s.cfg.RefundDelay)}
	n.Refunds = append(n.Refunds, r)
	n.State = wechatpay.TradeRefund
	if s.commit(n) != nil {
		return systemError()
	}
	return jsonAnswer(http.StatusOK, refundOf(n, r))
}

// queryRefund is GET /v3/refund/domestic/refunds/{out_refund_no} (§5.2).
func (s *Server) queryRefund(c *call) answer {
	no := pathVar(c.r, wechatpay.PathRefunds+"/", "")
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.book.byRefund[tradeKey(c.merchant.MchID, no)]
	if t == nil {
		return apiError(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "退款单不存在")
	}
	t = s.current(t.key())
	return jsonAnswer(http.StatusOK, refundOf(t, findRefund(t, no)))
}

func findRefund(t *trade, outRefundNo string) *refund {
	for _, r := range t.Refunds {
		if r.OutRefundNo == outRefundNo {
			return r
		}
	}
	return &refund{OutRefundNo: outRefundNo} // indexes and trades agree; never reached
}

// refundAmount is a refund's amounts; no coupons, so payer = settlement = total.
func refundAmount(t *trade, r *refund) wechatpay.RefundAmountInfo {
	return wechatpay.RefundAmountInfo{Total: t.Total, Refund: r.Amount, PayerTotal: t.Total, PayerRefund: r.Amount,
		SettlementTotal: t.Total, SettlementRefund: r.Amount, Currency: wechatpay.CurrencyCNY}
}

// refundOf is the refund answer (§5.1).
func refundOf(t *trade, r *refund) wechatpay.Refund {
	out := wechatpay.Refund{RefundID: r.RefundID, OutRefundNo: r.OutRefundNo, TransactionID: t.TransactionID,
		OutTradeNo: t.OutTradeNo, Channel: "ORIGINAL", UserReceivedAccount: "支付用户零钱",
		CreateTime: wechatpay.Time{Time: r.Created}, Status: r.Status, FundsAccount: "AVAILABLE", Amount: refundAmount(t, r)}
	if r.Status == wechatpay.RefundSuccess {
		out.SuccessTime = wechatpay.Time{Time: r.Success}
	}
	return out
}

// refundNotification is REFUND.SUCCESS for r, to its notify_url or the
// order's; nil when there is none (a codepay refunded without one).
func (s *Server) refundNotification(t *trade, r *refund, now time.Time) *notification {
	url := r.NotifyURL
	if url == "" {
		url = t.NotifyURL
	}
	if url == "" {
		return nil
	}
	notice := wechatpay.RefundNotice{MchID: t.MchID, OutTradeNo: t.OutTradeNo, TransactionID: t.TransactionID,
		OutRefundNo: r.OutRefundNo, RefundID: r.RefundID, RefundStatus: r.Status, SuccessTime: wechatpay.Time{Time: r.Success},
		UserReceivedAccount: "支付用户零钱", Amount: refundAmount(t, r)}
	return s.newNotification(t, url, wechatpay.EventRefundSuccess, "退款成功", wechatpay.OriginalRefund, r.OutRefundNo, notice, now)
}
