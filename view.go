package paygate

import "time"

// OrderView is an order as the merchant API and webhooks show it (the JSON
// of contract.md). Times are RFC 3339 in UTC, null until they happen.
type OrderView struct {
	OutTradeNo     string      `json:"out_trade_no"`
	TradeNo        string      `json:"trade_no"`
	Mode           Mode        `json:"mode"`
	Subject        string      `json:"subject"`
	TotalAmount    Money       `json:"total_amount"`
	Status         OrderStatus `json:"status"`
	QRCode         string      `json:"qr_code,omitempty"`
	RefundedAmount Money       `json:"refunded_amount"`
	BuyerID        string      `json:"buyer_id"`
	CreatedAt      *time.Time  `json:"created_at"`
	PaidAt         *time.Time  `json:"paid_at"`
	ExpiresAt      *time.Time  `json:"expires_at"`
}

// View returns o's public form.
func (o *Order) View() OrderView {
	v := OrderView{
		OutTradeNo: o.OutTradeNo, TradeNo: o.TradeNo, Mode: o.Mode, Subject: o.Subject,
		TotalAmount: o.TotalAmount, Status: o.Status, RefundedAmount: o.RefundedAmount,
		BuyerID: o.BuyerID, CreatedAt: timePtr(o.CreatedAt), PaidAt: timePtr(o.PaidAt),
		ExpiresAt: timePtr(o.ExpiresAt),
	}
	if o.Mode == ModeQR {
		v.QRCode = o.QRCode
	}
	return v
}

// RefundView is a refund as the merchant API and webhooks show it.
type RefundView struct {
	OutRequestNo string       `json:"out_request_no"`
	OutTradeNo   string       `json:"out_trade_no"`
	Amount       Money        `json:"amount"`
	Reason       string       `json:"reason"`
	Status       RefundStatus `json:"status"`
	CreatedAt    *time.Time   `json:"created_at"`
	SucceededAt  *time.Time   `json:"succeeded_at"`
}

// View returns r's public form.
func (r *Refund) View() RefundView {
	return RefundView{
		OutRequestNo: r.OutRequestNo, OutTradeNo: r.OutTradeNo, Amount: r.Amount,
		Reason: r.Reason, Status: r.Status, CreatedAt: timePtr(r.CreatedAt),
		SucceededAt: timePtr(r.SucceededAt),
	}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
