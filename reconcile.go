package paygate

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// Reconciliation compares a day's books with one channel's bill (package
// recon). The store's part: the books of a day of one channel streamed in
// channel-number order, and the reports kept per day and channel.

// ReconChannels are the channels whose bills are reconciled, in the order
// lists show them. An auto order is in the books of the channel that was
// paid (it names that channel once paid).
var ReconChannels = []Channel{ChannelAlipay, ChannelWechat}

// BookKind tells a payment from a refund in the books and the bill.
type BookKind string

// Book kinds.
const (
	BookPayment BookKind = "payment"
	BookRefund  BookKind = "refund"
)

// BookEntry is one payment or refund of the books, as the merge compares
// it: a paid order (one that was ever paid, whatever its status now), or a
// succeeded refund, keyed by the order's channel number. Only what the
// comparison needs is read for each of a day's million entries; the rest of
// an entry that differs is looked up by its channel number.
type BookEntry struct {
	Kind         BookKind
	ChannelNo    string // the order's out_trade_no at the channel
	OutRequestNo string // a refund's out_request_no; empty for a payment
	TradeNo      string // the channel's trade number (payments)
	// Amount is the order's total for a payment, the refund's amount for a
	// refund.
	Amount Money
	// At is when the payment (PaidAt) or refund (SucceededAt) happened.
	At time.Time
}

// Reconciliation is the report of one day's reconciliation of one
// channel's bill, replaced by each run of that day and channel. A day has
// one report per channel, side by side.
type Reconciliation struct {
	Day string // yyyy-MM-dd, China time (UTC+8), as the bill's
	// Channel is the channel whose bill was reconciled: alipay or wechat
	// (see ReconChannels).
	Channel     Channel
	Status      string // ReconDone or ReconFailed
	Source      string // where the bill came from: "download" or a file's name
	ChannelRows int    // the bill's rows (payments and refunds)
	LocalRows   int    // the books' entries of the day
	Matched     int    // entries found equal on both sides
	Repairs     int    // differences repaired by this run
	// DifferenceCount and OpenCount (differences not repaired) are kept
	// beside the differences, so that a list needs no join.
	DifferenceCount int
	OpenCount       int
	Error           string // why a failed run failed
	StartedAt       time.Time
	FinishedAt      time.Time
	// Differences, in the order found (by channel number). Loaded by
	// Reconciliation, not by ListReconciliations.
	Differences []*ReconDifference
	// RepairLog is every repair made by any run of the day on this
	// channel, oldest first: kept when a later run replaces the report
	// (and no longer sees what was repaired). Loaded by Reconciliation; SaveReconciliation
	// appends the repaired differences of r to it.
	RepairLog []*ReconDifference
	// CrossDay lists the entries this run matched against another day or
	// carried to the next day (see ReconCrossDay). Loaded by
	// Reconciliation, not by ListReconciliations.
	CrossDay []*ReconCrossDay
}

// Reconciliation statuses.
const (
	ReconDone   = "done"
	ReconFailed = "failed"
)

// ReconDifference is one difference between the books and the bill.
type ReconDifference struct {
	ID  int64
	Day string
	// BillChannel is the channel whose bill the difference was found
	// against (the report's channel; Channel below is the bill's side);
	// set by the store.
	BillChannel  Channel
	Kind         string // missing_local, missing_channel, status_mismatch, amount_mismatch, refund_mismatch
	MerchantID   int64  // 0 when no order of the books has it
	OrderID      int64  // 0 when no order of the books has it
	OutTradeNo   string // the merchant's number; empty when unknown
	ChannelNo    string // the number at the channel
	TradeNo      string // the channel's trade number, when known
	OutRequestNo string // a refund's number
	// Local and Channel are each side's view (amounts, states, times) as
	// JSON objects; "null" when that side has nothing.
	Local   json.RawMessage
	Channel json.RawMessage
	// Repaired: the channel's answer was applied through the state
	// machine. Action says what was done, or what the operator should do.
	Repaired   bool
	Action     string
	Before     string // the order's state before the repair ("" when none)
	After      string // and after
	RepairedAt time.Time
	CreatedAt  time.Time
}

// ReconSideSummary is one side of a difference (ReconDifference.Local or
// Channel) in a few words, as the CLI and the console show it: "paid 9.90",
// "refund r1 succeeded 1.00"; "" when that side has nothing.
func ReconSideSummary(raw json.RawMessage) string {
	var s struct {
		Kind         string `json:"kind"`
		Status       string `json:"status"`
		Amount       string `json:"amount"`
		Refunded     string `json:"refunded"`
		OutRequestNo string `json:"out_request_no"`
	}
	if len(raw) == 0 || string(raw) == "null" || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	parts := []string{s.Status}
	if s.Kind == string(BookRefund) {
		parts = []string{"refund", s.OutRequestNo, s.Status}
	}
	parts = append(parts, s.Amount)
	if s.Refunded != "" && s.Refunded != "0.00" {
		parts = append(parts, "(refunded "+s.Refunded+")")
	}
	return strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
}

// ReconCrossDay is an entry dated on one day in the books and found (or
// still sought) on another day's bill, near midnight. A match is kept so
// that the other day's run does not call the entry missing; a carry (the
// entry is not on its own day's bill, but was close enough to midnight
// that the next day's bill may have it) is settled by the next day's run.
type ReconCrossDay struct {
	Kind         BookKind
	ChannelNo    string
	OutRequestNo string
	BookDay      string // the day the books date it
	BillDay      string // the day whose bill has it; for a carry, the day expected
	Carried      bool   // not found yet: the next day's bill must have it
}

// ReconStore is the store's part of reconciliation. Both stores implement
// it, checked by storetest. A channel argument must be one of
// ReconChannels (EInvalid otherwise).
type ReconStore interface {
	// ScanBookPayments calls fn for every order of channel ch paid at a
	// time in [from, to) (PaidAt set, whatever its status now), in
	// ascending channel number order, streaming: nothing but the current
	// row is held. fn's entry is only valid during the call. An error
	// from fn stops the scan and is returned.
	ScanBookPayments(ctx context.Context, ch Channel, from, to time.Time, fn func(*BookEntry) error) error
	// ScanBookRefunds calls fn for every refund of an order of channel ch
	// that succeeded at a time in [from, to), in ascending (channel
	// number, out_request_no) order, as ScanBookPayments does.
	ScanBookRefunds(ctx context.Context, ch Channel, from, to time.Time, fn func(*BookEntry) error) error
	// SaveReconciliation stores r as the report of its day and channel,
	// replacing that day's earlier report of the channel with its
	// differences and cross-day entries, in one transaction; the other
	// channel's report of the day stays. It sets the differences' IDs,
	// Day and Channel.
	SaveReconciliation(ctx context.Context, r *Reconciliation) error
	// Reconciliation returns the report of day and channel ch with its
	// differences and cross-day entries; ENotFound when that channel's
	// bill of the day was never reconciled.
	Reconciliation(ctx context.Context, day string, ch Channel) (*Reconciliation, error)
	// ListReconciliations lists the reports of the newest limit days that
	// have one (of channel ch; of every channel when ch is empty), newest
	// day first and, within a day, in ReconChannels' order, without their
	// differences and cross-day entries.
	ListReconciliations(ctx context.Context, ch Channel, limit int) ([]*Reconciliation, error)
	// ReconDifferencesOf lists the differences of day that concern the
	// merchant's orders, of every channel's report (in ReconChannels'
	// order), each in the order found.
	ReconDifferencesOf(ctx context.Context, day string, merchantID int64) ([]*ReconDifference, error)
	// ReconCrossDayOf returns channel ch's cross-day entries of any day
	// for one payment (outRequestNo empty) or refund.
	ReconCrossDayOf(ctx context.Context, ch Channel, kind BookKind, channelNo, outRequestNo string) ([]*ReconCrossDay, error)
}

// BulkOrderLoader inserts many orders (and their refunds) at once, as
// given, for benchmarks and tests that need a large book fast: no events,
// no jobs, no checks beyond the schema's. IDs are assigned. A refund's
// OrderID must be set: insert the orders first, then their refunds in a
// second call.
type BulkOrderLoader interface {
	BulkInsertOrders(ctx context.Context, orders []*Order, refunds []*Refund) error
}
