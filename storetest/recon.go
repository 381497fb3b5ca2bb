package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

// Reconciliation (paygate.ReconStore) and the bulk loader
// (paygate.BulkOrderLoader).

// cst is China time, in which the channel's bills cut days.
var cst = time.FixedZone("CST", 8*60*60)

// reconDay is the day the reconciliation tests scan: [dayFrom, dayTo).
var (
	dayFrom = time.Date(2026, 3, 4, 0, 0, 0, 0, cst)
	dayTo   = dayFrom.AddDate(0, 0, 1)
)

// oddChannelNos differ where a locale's collation and byte order disagree:
// case, punctuation, digits against letters, non-ASCII. The books must come
// in Go's string order, the bill's.
var oddChannelNos = []string{"PGa", "PGB", "PG_1", "PG-1", "PG1", "pg0", "PGé", "PGz", "PG 2", "PGA"}

func loader(t *testing.T, s paygate.Store) paygate.BulkOrderLoader {
	t.Helper()
	l, ok := s.(paygate.BulkOrderLoader)
	if !ok {
		t.Fatalf("%T does not implement paygate.BulkOrderLoader", s)
	}
	return l
}

// paidOrder is an order of m paid at paidAt, not yet stored.
func paidOrder(m *paygate.Merchant, channelNo string, paidAt time.Time) *paygate.Order {
	return &paygate.Order{
		MerchantID: m.ID, OutTradeNo: randomID("otn_"), ChannelNo: channelNo, TradeNo: randomID("2026"),
		Mode: paygate.ModeQR, Subject: "coffee", TotalAmount: 500, Status: paygate.StatusPaid,
		CreatedAt: paidAt.Add(-time.Minute), UpdatedAt: paidAt, ExpiresAt: paidAt.Add(time.Hour), PaidAt: paidAt,
	}
}

// scanFunc is ScanBookPayments or ScanBookRefunds.
type scanFunc func(context.Context, paygate.Channel, time.Time, time.Time, func(*paygate.BookEntry) error) error

// scanAll collects what a scan of Alipay's books streams, copying each
// entry (the store may reuse it).
func scanAll(t *testing.T, scan scanFunc, from, to time.Time) []paygate.BookEntry {
	t.Helper()
	return scanOf(t, scan, paygate.ChannelAlipay, from, to)
}

// scanOf collects what a scan of ch's books streams.
func scanOf(t *testing.T, scan scanFunc, ch paygate.Channel, from, to time.Time) []paygate.BookEntry {
	t.Helper()
	var got []paygate.BookEntry
	err := scan(context.Background(), ch, from, to, func(e *paygate.BookEntry) error {
		got = append(got, *e)
		return nil
	})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return got
}

func channelNos(entries []paygate.BookEntry) []string {
	var nos []string
	for _, e := range entries {
		nos = append(nos, e.ChannelNo)
	}
	return nos
}

func testReconScanPayments(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m, other := newMerchant(t, s), newMerchant(t, s)
	var want []string
	var orders []*paygate.Order
	// In the window, in an order unlike the channel numbers'.
	for i, no := range oddChannelNos {
		owner := m
		if i%2 == 1 {
			owner = other
		}
		orders = append(orders, paidOrder(owner, no, dayFrom.Add(time.Duration(i)*time.Hour)))
		want = append(want, no)
	}
	edge := map[string]func(o *paygate.Order){
		"first-µs": func(o *paygate.Order) { o.PaidAt = dayFrom },
		"last-µs":  func(o *paygate.Order) { o.PaidAt = dayTo.Add(-time.Microsecond) },
		"refunded": func(o *paygate.Order) { o.Status, o.RefundedAmount = paygate.StatusRefunded, o.TotalAmount },
		"partly": func(o *paygate.Order) {
			o.RefundedAmount, o.CancelRequestedAt = 120, dayFrom.Add(2*time.Hour)
		},
		"x-before": func(o *paygate.Order) { o.PaidAt = dayFrom.Add(-time.Microsecond) },
		"x-at-end": func(o *paygate.Order) { o.PaidAt = dayTo },
		"x-pending": func(o *paygate.Order) {
			o.Status, o.PaidAt = paygate.StatusPending, time.Time{}
		},
		"x-closed": func(o *paygate.Order) {
			o.Status, o.PaidAt, o.ClosedAt = paygate.StatusClosed, time.Time{}, dayFrom.Add(time.Hour)
		},
	}
	for no, edit := range edge {
		o := paidOrder(m, "E"+no, dayFrom.Add(3*time.Hour))
		edit(o)
		orders = append(orders, o)
		if no[0] != 'x' {
			want = append(want, o.ChannelNo)
		}
	}
	// Paid in the window, but never sent to the channel under a number.
	orders = append(orders, paidOrder(m, "", dayFrom.Add(time.Hour)))
	if err := loader(t, s).BulkInsertOrders(ctx, orders, nil); err != nil {
		t.Fatalf("BulkInsertOrders: %v", err)
	}
	slices.Sort(want)

	got := scanAll(t, s.ScanBookPayments, dayFrom, dayTo)
	mustEqual(t, "channel numbers scanned", channelNos(got), want)
	for _, o := range orders {
		i := slices.Index(want, o.ChannelNo)
		if i < 0 {
			continue
		}
		mustEqual(t, "entry "+o.ChannelNo, got[i], paygate.BookEntry{
			Kind: paygate.BookPayment, ChannelNo: o.ChannelNo, TradeNo: o.TradeNo, Amount: o.TotalAmount, At: us(o.PaidAt),
		})
	}

	// A window in other zones is the same instants.
	mustEqual(t, "scan of the window in UTC", channelNos(scanAll(t, s.ScanBookPayments, dayFrom.UTC(), dayTo.UTC())), want)
	// A window across days (read another way by the stores) holds the
	// edges too.
	wide := append(slices.Clone(want), "Ex-before", "Ex-at-end")
	slices.Sort(wide)
	mustEqual(t, "scan of a window across days", channelNos(scanAll(t, s.ScanBookPayments, dayFrom.Add(-time.Hour), dayTo.Add(time.Hour))), wide)
	if got := scanAll(t, s.ScanBookPayments, dayFrom, dayFrom); len(got) != 0 {
		t.Fatalf("empty window scanned %d entries", len(got))
	}
	wantCode(t, s.ScanBookPayments(ctx, paygate.ChannelAlipay, dayTo, dayFrom, func(*paygate.BookEntry) error { return nil }), paygate.EInvalid)

	// An error from fn stops the scan and comes back as is.
	calls := 0
	err := s.ScanBookPayments(ctx, paygate.ChannelAlipay, dayFrom, dayTo, func(*paygate.BookEntry) error {
		calls++
		return errBoom
	})
	if !errors.Is(err, errBoom) || calls != 1 {
		t.Fatalf("scan stopped by fn: err %v after %d calls; want errBoom after 1", err, calls)
	}
}

func testReconScanRefunds(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	var orders []*paygate.Order
	for _, no := range oddChannelNos {
		o := paidOrder(m, no, dayFrom.Add(-48*time.Hour)) // paid days before
		o.TotalAmount = 10000
		orders = append(orders, o)
	}
	l := loader(t, s)
	if err := l.BulkInsertOrders(ctx, orders, nil); err != nil {
		t.Fatalf("BulkInsertOrders: %v", err)
	}
	refund := func(o *paygate.Order, requestNo string, status paygate.RefundStatus, at time.Time) *paygate.Refund {
		r := newRefund(o, requestNo, 100)
		r.Status, r.UpdatedAt, r.SucceededAt = status, at, at
		if status != paygate.RefundSucceeded {
			r.SucceededAt = time.Time{}
		}
		return r
	}
	var refunds []*paygate.Refund
	var want []*paygate.Refund
	for i, o := range orders {
		at := dayFrom.Add(time.Duration(i) * time.Hour)
		// Two refunds of one order, whose numbers sort by bytes.
		for _, no := range []string{"r_1", "r-1", "R2"} {
			r := refund(o, no, paygate.RefundSucceeded, at)
			refunds, want = append(refunds, r), append(want, r)
		}
		refunds = append(refunds,
			refund(o, "pending", paygate.RefundPending, at),
			refund(o, "failed", paygate.RefundFailed, at),
			refund(o, "before", paygate.RefundSucceeded, dayFrom.Add(-time.Microsecond)),
			refund(o, "at-end", paygate.RefundSucceeded, dayTo))
	}
	edge := refund(orders[0], "last-µs", paygate.RefundSucceeded, dayTo.Add(-time.Microsecond))
	refunds, want = append(refunds, edge), append(want, edge)
	if err := l.BulkInsertOrders(ctx, nil, refunds); err != nil {
		t.Fatalf("BulkInsertOrders of refunds: %v", err)
	}
	byID := map[int64]*paygate.Order{}
	for _, o := range orders {
		byID[o.ID] = o
	}
	var wantEntries []paygate.BookEntry
	for _, r := range want {
		o := byID[r.OrderID]
		wantEntries = append(wantEntries, paygate.BookEntry{
			Kind: paygate.BookRefund, ChannelNo: o.ChannelNo, OutRequestNo: r.OutRequestNo, Amount: r.Amount,
			At: us(r.SucceededAt),
		})
	}
	slices.SortFunc(wantEntries, func(a, b paygate.BookEntry) int {
		if a.ChannelNo != b.ChannelNo {
			return strings.Compare(a.ChannelNo, b.ChannelNo)
		}
		return strings.Compare(a.OutRequestNo, b.OutRequestNo)
	})
	mustEqual(t, "refunds scanned", scanAll(t, s.ScanBookRefunds, dayFrom, dayTo), wantEntries)
	// The orders, paid days before, are not in the day's payments.
	if got := scanAll(t, s.ScanBookPayments, dayFrom, dayTo); len(got) != 0 {
		t.Fatalf("payments of the day: %v, want none", channelNos(got))
	}
	wantCode(t, s.ScanBookRefunds(ctx, paygate.ChannelAlipay, dayTo, dayFrom, func(*paygate.BookEntry) error { return nil }), paygate.EInvalid)
	calls := 0
	err := s.ScanBookRefunds(ctx, paygate.ChannelAlipay, dayFrom, dayTo, func(*paygate.BookEntry) error {
		calls++
		return errBoom
	})
	if !errors.Is(err, errBoom) || calls != 1 {
		t.Fatalf("scan stopped by fn: err %v after %d calls; want errBoom after 1", err, calls)
	}
}

// testReconScanChannels: each channel's scans read that channel's books
// only: orders of both channels (an auto order by the channel that was
// paid) paid and refunded on the same day, their channel numbers
// interleaved, in the day's window (the day index), a margin's (the paid_at
// index) and one across days. A channel without a bill is refused.
func testReconScanChannels(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	want := map[paygate.Channel][]string{}
	var orders []*paygate.Order
	for i, no := range oddChannelNos {
		ch := paygate.ReconChannels[i%2]
		o := paidOrder(m, no, dayFrom.Add(time.Duration(i)*time.Hour))
		o.Channel = ch
		if i%4 == 1 { // an auto order, decided by a WeChat payment
			o.QRCode, o.WechatCode = "https://qr.alipay.com/"+no, "weixin://wxpay/bizpayurl?pr="+no
		}
		orders = append(orders, o)
		want[ch] = append(want[ch], no)
	}
	// An auto order never paid names no channel of the two: in no scan.
	pending := paidOrder(m, "PGauto", dayFrom.Add(time.Hour))
	pending.Channel, pending.Status, pending.PaidAt, pending.TradeNo = paygate.ChannelAuto, paygate.StatusPending, time.Time{}, ""
	// Just before midnight, for the margins' scans.
	late := paidOrder(m, "PGlate-wx", dayTo.Add(-time.Minute))
	late.Channel = paygate.ChannelWechat
	orders = append(orders, pending, late)
	l := loader(t, s)
	if err := l.BulkInsertOrders(ctx, orders, nil); err != nil {
		t.Fatalf("BulkInsertOrders: %v", err)
	}
	want[paygate.ChannelWechat] = append(want[paygate.ChannelWechat], late.ChannelNo)
	var refunds []*paygate.Refund
	wantRefunds := map[paygate.Channel][]string{}
	for _, o := range orders[:len(oddChannelNos)] {
		r := newRefund(o, "r1", 100)
		r.Status, r.UpdatedAt, r.SucceededAt = paygate.RefundSucceeded, o.PaidAt.Add(time.Minute), o.PaidAt.Add(time.Minute)
		refunds = append(refunds, r)
		wantRefunds[o.Channel] = append(wantRefunds[o.Channel], o.ChannelNo+"/r1")
	}
	if err := l.BulkInsertOrders(ctx, nil, refunds); err != nil {
		t.Fatalf("BulkInsertOrders of refunds: %v", err)
	}
	refundKeys := func(entries []paygate.BookEntry) []string {
		var keys []string
		for _, e := range entries {
			keys = append(keys, e.ChannelNo+"/"+e.OutRequestNo)
		}
		return keys
	}
	for _, ch := range paygate.ReconChannels {
		slices.Sort(want[ch])
		slices.Sort(wantRefunds[ch])
		mustEqual(t, string(ch)+"'s payments of the day", channelNos(scanOf(t, s.ScanBookPayments, ch, dayFrom, dayTo)), want[ch])
		mustEqual(t, string(ch)+"'s payments across days",
			channelNos(scanOf(t, s.ScanBookPayments, ch, dayFrom.Add(-time.Hour), dayTo.Add(time.Hour))), want[ch])
		mustEqual(t, string(ch)+"'s refunds of the day", refundKeys(scanOf(t, s.ScanBookRefunds, ch, dayFrom, dayTo)), wantRefunds[ch])
	}
	margin := func(ch paygate.Channel) []string {
		return channelNos(scanOf(t, s.ScanBookPayments, ch, dayTo.Add(-15*time.Minute), dayTo))
	}
	mustEqual(t, "WeChat Pay's margin before midnight", margin(paygate.ChannelWechat), []string{late.ChannelNo})
	if got := margin(paygate.ChannelAlipay); len(got) != 0 {
		t.Fatalf("Alipay's margin before midnight: %v, want none", got)
	}
	for _, bad := range []paygate.Channel{"", paygate.ChannelAuto, "unionpay"} {
		wantCode(t, s.ScanBookPayments(ctx, bad, dayFrom, dayTo, func(*paygate.BookEntry) error { return nil }), paygate.EInvalid)
		wantCode(t, s.ScanBookRefunds(ctx, bad, dayFrom, dayTo, func(*paygate.BookEntry) error { return nil }), paygate.EInvalid)
	}
}
