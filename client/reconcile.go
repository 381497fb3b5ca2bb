package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Reconciliation is a day's reconciliation as the merchant sees it: its own
// differences between paygate's books and each channel's bill (Alipay's,
// WeChat Pay's).
type Reconciliation struct {
	Date string `json:"date"` // YYYY-MM-DD, China time
	// Status is done when every channel's report of the day is, failed
	// when one is.
	Status     string     `json:"status"`
	FinishedAt *time.Time `json:"finished_at"` // the latest run's end
	// Channels are the day's reports, one per channel reconciled.
	Channels        []ReconciliationChannel    `json:"channels"`
	DifferenceCount int                        `json:"difference_count"`
	Open            int                        `json:"open"`    // not repaired
	Repairs         int                        `json:"repairs"` // repaired by the channel's word
	Differences     []ReconciliationDifference `json:"differences"`
	// RepairLog is every repair of the merchant's orders by any run of the
	// day (a later run no longer shows what was repaired), oldest first.
	RepairLog []ReconciliationDifference `json:"repair_log"`
}

// ReconciliationChannel is one channel's report of the day.
type ReconciliationChannel struct {
	Channel    string     `json:"channel"` // alipay or wechat
	Status     string     `json:"status"`  // done or failed
	FinishedAt *time.Time `json:"finished_at"`
}

// ReconciliationDifference is one difference. Kind is status_mismatch,
// amount_mismatch, refund_mismatch or missing_channel (a merchant never
// sees missing_local: no order of its has those).
type ReconciliationDifference struct {
	// BillChannel is the channel whose bill the difference was found
	// against: alipay or wechat.
	BillChannel       string          `json:"bill_channel"`
	Kind              string          `json:"kind"`
	OutTradeNo        string          `json:"out_trade_no"`
	ChannelOutTradeNo string          `json:"channel_out_trade_no"`
	TradeNo           string          `json:"trade_no"`
	OutRequestNo      string          `json:"out_request_no,omitempty"`
	Local             json.RawMessage `json:"local"`   // paygate's side
	Channel           json.RawMessage `json:"channel"` // the channel's side
	Repaired          bool            `json:"repaired"`
	Action            string          `json:"action"`
	Before            string          `json:"before,omitempty"`
	After             string          `json:"after,omitempty"`
	RepairedAt        *time.Time      `json:"repaired_at,omitempty"`
}

// Reconciliation returns the merchant's differences of date (YYYY-MM-DD,
// China time); a 404 APIError before the day was reconciled.
func (c *Client) Reconciliation(ctx context.Context, date string) (*Reconciliation, error) {
	var r Reconciliation
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/reconciliations/"+url.PathEscape(date), nil, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
