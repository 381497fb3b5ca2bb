package alipaysim

import (
	"time"

	"github.com/paygate/paygate/alipay"
)

// gmtRefundLayout is gmt_refund's "yyyy-MM-dd HH:mm:ss.S" form (§5.2).
const gmtRefundLayout = "2006-01-02 15:04:05.000"

// note builds the trade_status_sync notification (§5.2) for t's current
// state, dated at. r is the refund that caused it, if any. It returns nil
// when the trade has no notify_url, or for a refund when refund
// notifications are disabled.
func (s *Server) note(t *trade, at time.Time, r *refund) *notification {
	if t.NotifyURL == "" || (r != nil && s.cfg.DisableRefundNotify) {
		return nil
	}
	id := newNotifyID(at)
	f := map[string]string{
		"notify_id":      id,
		"notify_type":    "trade_status_sync",
		"charset":        "utf-8",
		"version":        "1.0",
		"sign_type":      "RSA2",
		"app_id":         t.AppID,
		"auth_app_id":    t.AppID,
		"trade_no":       t.TradeNo,
		"out_trade_no":   t.OutTradeNo,
		"buyer_id":       t.BuyerID,
		"buyer_logon_id": t.BuyerLogonID,
		"seller_id":      t.SellerID,
		"seller_email":   sellerEmail(t.SellerID),
		"trade_status":   t.Status,
		"total_amount":   t.Total.Yuan(),
		"subject":        t.Subject,
		"body":           t.Body,
		"gmt_create":     alipay.FormatTime(t.Created),
	}
	if t.wasPaid() {
		f["receipt_amount"] = t.Total.Yuan()
		f["invoice_amount"] = t.Total.Yuan()
		f["buyer_pay_amount"] = t.Total.Yuan()
		f["point_amount"] = "0.00"
		f["gmt_payment"] = alipay.FormatTime(t.Paid)
		f["fund_bill_list"] = `[{"amount":"` + t.Total.Yuan() + `","fundChannel":"ALIPAYACCOUNT"}]`
	}
	if fee := t.refundFee(); fee > 0 {
		f["refund_fee"] = fee.Yuan() // cumulative, on every notification after a refund
	}
	if r != nil {
		f["gmt_refund"] = r.At.In(alipay.ChinaTime).Format(gmtRefundLayout)
		f["out_biz_no"] = r.OutRequestNo
	}
	switch t.Status {
	case alipay.TradeClosed:
		f["gmt_close"] = alipay.FormatTime(t.Closed)
	case alipay.TradeFinished:
		f["gmt_close"] = alipay.FormatTime(t.Finished)
	}
	for k, v := range f {
		if v == "" {
			delete(f, k) // §5.2: empty fields are omitted
		}
	}
	return &notification{
		ID:          id,
		URL:         t.NotifyURL,
		AppID:       t.AppID,
		TradeNo:     t.TradeNo,
		OutTradeNo:  t.OutTradeNo,
		TradeStatus: t.Status,
		Fields:      f,
		NextAt:      at,
	}
}

// sellerEmail is the seller's login shown in notifications.
func sellerEmail(sellerID string) string {
	if len(sellerID) < 6 {
		return "seller@alipay-sim.example"
	}
	return "seller" + sellerID[len(sellerID)-6:] + "@alipay-sim.example"
}
