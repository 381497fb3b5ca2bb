package alipaysim

import (
	"cmp"
	"slices"
	"time"

	"github.com/paygate/paygate"
)

// TradeView is one out_trade_no as the simulator holds it: the truth to
// check a gateway against. A precreated code nobody scanned has an empty
// TradeStatus and TradeNo. Amounts marshal as yuan strings.
type TradeView struct {
	AppID       string        `json:"app_id"`
	OutTradeNo  string        `json:"out_trade_no"`
	TradeNo     string        `json:"trade_no"`
	Kind        string        `json:"kind"` // "precreate" or "pay"
	TradeStatus string        `json:"trade_status"`
	TotalAmount paygate.Money `json:"total_amount"`
	RefundFee   paygate.Money `json:"refund_fee"`
	Subject     string        `json:"subject"`
	BuyerID     string        `json:"buyer_id"`
	QRCode      string        `json:"qr_code"`
	AuthCode    string        `json:"auth_code,omitempty"`
	// Voided is "close" or "cancel" when that call hit a code nobody scanned.
	Voided       string       `json:"voided,omitempty"`
	CloseReason  string       `json:"close_reason,omitempty"` // timeout, close, cancel or refund
	CancelAction string       `json:"cancel_action,omitempty"`
	CreatedAt    time.Time    `json:"created_at"` // the trade's creation, or the code's for an unscanned code
	CodeExpires  *time.Time   `json:"code_expires_at,omitempty"`
	ExpiresAt    *time.Time   `json:"expires_at,omitempty"`
	PaidAt       *time.Time   `json:"paid_at"`
	ClosedAt     *time.Time   `json:"closed_at"`
	FinishedAt   *time.Time   `json:"finished_at,omitempty"`
	Refunds      []RefundView `json:"refunds"`
}

// RefundView is one refund of a trade.
type RefundView struct {
	OutRequestNo string        `json:"out_request_no"`
	Amount       paygate.Money `json:"amount"`
	At           time.Time     `json:"at"`
	ByCancel     bool          `json:"by_cancel,omitempty"`
}

func viewOf(t *trade) TradeView {
	v := TradeView{
		AppID: t.AppID, OutTradeNo: t.OutTradeNo, TradeNo: t.TradeNo, Kind: t.Kind, TradeStatus: t.Status,
		TotalAmount: t.Total, RefundFee: t.refundFee(), Subject: t.Subject, BuyerID: t.BuyerID,
		QRCode: t.QRCode, AuthCode: t.AuthCode, Voided: t.Voided, CloseReason: t.CloseReason,
		CancelAction: t.CancelAction, CreatedAt: cmp.Or(t.Created, t.CodeAt),
		CodeExpires: timePtr(t.CodeExpires), ExpiresAt: timePtr(t.Expires), PaidAt: timePtr(t.Paid),
		ClosedAt: timePtr(t.Closed), FinishedAt: timePtr(t.Finished), Refunds: []RefundView{},
	}
	for _, r := range t.Refunds {
		v.Refunds = append(v.Refunds, RefundView{OutRequestNo: r.OutRequestNo, Amount: r.Amount, At: r.At, ByCancel: r.ByCancel})
	}
	return v
}

// Trades lists every trade and precreated code, brought up to date with the
// clock first, oldest first. It is what GET /sim/trades serves.
func (s *Server) Trades() []TradeView {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(s.now())
	out := make([]TradeView, 0, len(s.book.trades))
	for _, t := range s.book.trades {
		out = append(out, viewOf(t))
	}
	slices.SortFunc(out, func(a, b TradeView) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.AppID, b.AppID), cmp.Compare(a.OutTradeNo, b.OutTradeNo))
	})
	return out
}
