package paygate

import (
	"encoding/json"
	"time"
)

// OrderView is an order as the merchant API and webhooks show it (the JSON
// of contract.md). Times are RFC 3339 in UTC, null until they happen.
type OrderView struct {
	OutTradeNo string `json:"out_trade_no"`
	TradeNo    string `json:"trade_no"`
	Mode       Mode   `json:"mode"`
	// Channel is the order's channel (Order.Channel); alipay for an order
	// stored before orders had one.
	Channel     Channel     `json:"channel"`
	Subject     string      `json:"subject"`
	TotalAmount Money       `json:"total_amount"`
	Status      OrderStatus `json:"status"`
	// QRCode is the code of the order's channel (Order.ChannelQRCode), QR
	// mode only.
	QRCode string `json:"qr_code,omitempty"`
	// QRCodes is every code of a QR order by channel (both for an auto
	// order); left out when there is none.
	QRCodes        map[Channel]string `json:"qr_codes,omitempty"`
	RefundedAmount Money              `json:"refunded_amount"`
	BuyerID        string             `json:"buyer_id"`
	CreatedAt      *time.Time         `json:"created_at"`
	PaidAt         *time.Time         `json:"paid_at"`
	ExpiresAt      *time.Time         `json:"expires_at"`
	// CashierURL is the buyer's page of a QR order (see Order.CashierURL);
	// View leaves it empty, the gateway fills it where it knows its public URL.
	CashierURL string `json:"cashier_url,omitempty"`
}

// View returns o's public form.
func (o *Order) View() OrderView {
	v := OrderView{
		OutTradeNo: o.OutTradeNo, TradeNo: o.TradeNo, Mode: o.Mode, Channel: o.Channel.OrDefault(), Subject: o.Subject,
		TotalAmount: o.TotalAmount, Status: o.Status, RefundedAmount: o.RefundedAmount,
		BuyerID: o.BuyerID, CreatedAt: timePtr(o.CreatedAt), PaidAt: timePtr(o.PaidAt),
		ExpiresAt: timePtr(o.ExpiresAt),
	}
	if o.Mode == ModeQR {
		v.QRCode, v.QRCodes = o.ChannelQRCode(), o.QRCodes()
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

// ReconciliationView is a day's reconciliation report as `paygate reconcile
// --json` prints it and the API shows it (a merchant sees only its own
// differences).
type ReconciliationView struct {
	Date string `json:"date"`
	// Channel is the channel whose bill was reconciled: alipay or wechat.
	Channel         string                `json:"channel"`
	Status          string                `json:"status"`
	Source          string                `json:"source,omitempty"`
	ChannelRows     int                   `json:"channel_rows"`
	LocalRows       int                   `json:"local_rows"`
	Matched         int                   `json:"matched"`
	DifferenceCount int                   `json:"difference_count"`
	Open            int                   `json:"open"`
	Differences     []ReconDifferenceView `json:"differences"`
	Repairs         int                   `json:"repairs"`
	// RepairLog is every repair of every run of the day (a stored
	// report's; a run's own repairs are its repaired differences).
	RepairLog  []ReconDifferenceView `json:"repair_log,omitempty"`
	Error      string                `json:"error,omitempty"`
	StartedAt  *time.Time            `json:"started_at"`
	FinishedAt *time.Time            `json:"finished_at"`
}

// ReconDifferenceView is one difference.
type ReconDifferenceView struct {
	// BillChannel is the channel whose bill the difference was found
	// against: alipay or wechat ("channel" is the bill's side).
	BillChannel       string          `json:"bill_channel"`
	Kind              string          `json:"kind"`
	OutTradeNo        string          `json:"out_trade_no"`
	ChannelOutTradeNo string          `json:"channel_out_trade_no"`
	TradeNo           string          `json:"trade_no"`
	OutRequestNo      string          `json:"out_request_no,omitempty"`
	Local             json.RawMessage `json:"local"`
	Channel           json.RawMessage `json:"channel"`
	Repaired          bool            `json:"repaired"`
	Action            string          `json:"action"`
	Before            string          `json:"before,omitempty"`
	After             string          `json:"after,omitempty"`
	RepairedAt        *time.Time      `json:"repaired_at,omitempty"`
}

// View returns r's public form with its differences and repair log.
func (r *Reconciliation) View() ReconciliationView {
	return r.ViewWith(r.Differences, r.RepairLog)
}

// ViewWith returns r's public form with only diffs as its differences and
// repairs as its repair log.
func (r *Reconciliation) ViewWith(diffs, repairs []*ReconDifference) ReconciliationView {
	v := ReconciliationView{
		Date: r.Day, Channel: string(r.Channel), Status: r.Status, Source: r.Source, ChannelRows: r.ChannelRows, LocalRows: r.LocalRows,
		Matched: r.Matched, DifferenceCount: r.DifferenceCount, Open: r.OpenCount, Repairs: r.Repairs, Error: r.Error,
		StartedAt: timePtr(r.StartedAt), FinishedAt: timePtr(r.FinishedAt),
		Differences: make([]ReconDifferenceView, 0, len(diffs)),
	}
	for _, d := range diffs {
		v.Differences = append(v.Differences, d.View())
	}
	for _, d := range repairs {
		v.RepairLog = append(v.RepairLog, d.View())
	}
	return v
}

// View returns d's public form.
func (d *ReconDifference) View() ReconDifferenceView {
	v := ReconDifferenceView{
		BillChannel: string(d.BillChannel), Kind: d.Kind, OutTradeNo: d.OutTradeNo, ChannelOutTradeNo: d.ChannelNo, TradeNo: d.TradeNo,
		OutRequestNo: d.OutRequestNo, Local: d.Local, Channel: d.Channel, Repaired: d.Repaired, Action: d.Action,
		Before: d.Before, After: d.After, RepairedAt: timePtr(d.RepairedAt),
	}
	if len(v.Local) == 0 {
		v.Local = json.RawMessage("null")
	}
	if len(v.Channel) == 0 {
		v.Channel = json.RawMessage("null")
	}
	return v
}
