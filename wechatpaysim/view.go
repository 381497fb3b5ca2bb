package wechatpaysim

import (
	"cmp"
	"slices"
	"time"
)

// TradeView is one out_trade_no as the simulator holds it: the truth to
// check a gateway against. Amounts are fen.
type TradeView struct {
	MchID         string       `json:"mchid"`
	AppID         string       `json:"appid"`
	OutTradeNo    string       `json:"out_trade_no"`
	TransactionID string       `json:"transaction_id"`
	TradeType     string       `json:"trade_type"`
	TradeState    string       `json:"trade_state"`
	Total         int64        `json:"total"`
	Refunded      int64        `json:"refunded"` // refunds succeeded or processing
	Description   string       `json:"description"`
	OpenID        string       `json:"openid"`
	CodeURL       string       `json:"code_url,omitempty"`
	AuthCode      string       `json:"auth_code,omitempty"`
	CreatedAt     time.Time    `json:"created_at"`
	PayBy         time.Time    `json:"pay_by"`
	PaidAt        *time.Time   `json:"paid_at"`
	ClosedAt      *time.Time   `json:"closed_at"`
	Refunds       []RefundView `json:"refunds"`
}

// RefundView is one refund of a trade.
type RefundView struct {
	OutRefundNo string     `json:"out_refund_no"`
	RefundID    string     `json:"refund_id"`
	Amount      int64      `json:"amount"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	SuccessAt   *time.Time `json:"success_at"`
	ByReverse   bool       `json:"by_reverse,omitempty"`
}

func viewOf(t *trade) TradeView {
	v := TradeView{
		MchID: t.MchID, AppID: t.AppID, OutTradeNo: t.OutTradeNo, TransactionID: t.TransactionID, TradeType: t.TradeType,
		TradeState: t.State, Total: t.Total, Refunded: t.refunded(), Description: t.Description, OpenID: t.OpenID,
		CodeURL: t.CodeURL, AuthCode: t.AuthCode, CreatedAt: t.Created, PayBy: t.PayBy,
		PaidAt: timePtr(t.Paid), ClosedAt: timePtr(t.Closed), Refunds: []RefundView{},
	}
	if t.Paid.IsZero() {
		v.OpenID = ""
	}
	for _, r := range t.Refunds {
		v.Refunds = append(v.Refunds, RefundView{OutRefundNo: r.OutRefundNo, RefundID: r.RefundID, Amount: r.Amount,
			Status: r.Status, CreatedAt: r.Created, SuccessAt: timePtr(r.Success), ByReverse: r.ByReverse})
	}
	return v
}

// Trades lists every order, brought up to date with the clock, oldest
// first. It is what GET /sim/wechat/trades serves.
func (s *Server) Trades() []TradeView {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(s.now())
	out := make([]TradeView, 0, len(s.book.trades))
	for _, t := range s.book.trades {
		out = append(out, viewOf(t))
	}
	slices.SortFunc(out, func(a, b TradeView) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.MchID, b.MchID), cmp.Compare(a.OutTradeNo, b.OutTradeNo))
	})
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
