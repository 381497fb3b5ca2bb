package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

// report is a day's report of Alipay's bill with the given differences
// and cross-day entries.
func report(day string, diffs []*paygate.ReconDifference, cross []*paygate.ReconCrossDay) *paygate.Reconciliation {
	return &paygate.Reconciliation{
		Day: day, Channel: paygate.ChannelAlipay, Status: paygate.ReconDone, Source: "download", ChannelRows: 10, LocalRows: 9, Matched: 8,
		Repairs: 1, DifferenceCount: len(diffs), OpenCount: len(diffs) - 1,
		StartedAt: t0, FinishedAt: t0.Add(1500 * time.Millisecond), Differences: diffs, CrossDay: cross,
	}
}

func saveReport(t *testing.T, s paygate.Store, r *paygate.Reconciliation) {
	t.Helper()
	if err := s.SaveReconciliation(context.Background(), r); err != nil {
		t.Fatalf("SaveReconciliation %s: %v", r.Day, err)
	}
}

// loadReport loads day's report of Alipay's bill.
func loadReport(t *testing.T, s paygate.Store, day string) *paygate.Reconciliation {
	t.Helper()
	return loadReportOf(t, s, day, paygate.ChannelAlipay)
}

func loadReportOf(t *testing.T, s paygate.Store, day string, ch paygate.Channel) *paygate.Reconciliation {
	t.Helper()
	r, err := s.Reconciliation(context.Background(), day, ch)
	if err != nil {
		t.Fatalf("Reconciliation %s %s: %v", day, ch, err)
	}
	return r
}

func testReconSaveLoad(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m, other := newMerchant(t, s), newMerchant(t, s)
	o := newOrder(t, s, m, nil)
	diffs := []*paygate.ReconDifference{{
		Kind: "status_mismatch", MerchantID: m.ID, OrderID: o.ID, OutTradeNo: o.OutTradeNo, ChannelNo: o.ChannelNo,
		TradeNo: "2026030422001", Local: json.RawMessage(`{"status":"pending",  "amount": 500}`),
		Channel:  json.RawMessage(`{"amount":500,"status":"TRADE_SUCCESS","note":"é\u00e9 "}`),
		Repaired: true, Action: "marked paid", Before: "pending", After: "paid", RepairedAt: t0.Add(2 * time.Second),
		CreatedAt: t0,
	}, {
		Kind: "missing_local", ChannelNo: "PGunknown", Local: json.RawMessage(`null`),
		Channel: json.RawMessage("{\"amount\":1}\n"), Action: "query the channel",
	}, {
		Kind: "refund_mismatch", MerchantID: other.ID, ChannelNo: "PGother", OutRequestNo: "r1",
		Channel: json.RawMessage(`[]`), CreatedAt: t0,
	}}
	cross := []*paygate.ReconCrossDay{
		{Kind: paygate.BookPayment, ChannelNo: o.ChannelNo, BookDay: "2026-03-03", BillDay: "2026-03-04"},
		{Kind: paygate.BookRefund, ChannelNo: "PGother", OutRequestNo: "r1", BookDay: "2026-03-04", BillDay: "2026-03-05", Carried: true},
	}
	r := report("2026-03-04", diffs, cross)
	saveReport(t, s, r)
	for i, d := range diffs {
		if d.ID == 0 || d.Day != r.Day || d.BillChannel != paygate.ChannelAlipay || (i > 0 && d.ID <= diffs[i-1].ID) || d.CreatedAt.IsZero() {
			t.Fatalf("difference %d after save: ID %d, day %q, channel %q, created %v; want ascending IDs, the day, alipay, a time",
				i, d.ID, d.Day, d.BillChannel, d.CreatedAt)
		}
	}
	r.StartedAt, r.FinishedAt = us(t0), us(t0.Add(1500*time.Millisecond))
	diffs[0].CreatedAt, diffs[0].RepairedAt, diffs[2].CreatedAt = us(t0), us(t0.Add(2*time.Second)), us(t0)
	got := loadReport(t, s, r.Day)
	// The repaired difference is also in the day's repair log (its own ID).
	if len(got.RepairLog) != 1 || got.RepairLog[0].ChannelNo != o.ChannelNo || !got.RepairLog[0].Repaired {
		t.Fatalf("repair log %+v; want the one repaired difference", got.RepairLog)
	}
	logged := *got.RepairLog[0]
	logged.ID = diffs[0].ID
	mustEqual(t, "repair log entry", &logged, diffs[0])
	got.RepairLog = nil
	mustEqual(t, "report", got, r)

	mustEqual(t, "differences of the merchant", differencesOf(t, s, r.Day, m.ID), []*paygate.ReconDifference{diffs[0]})
	mustEqual(t, "differences of the other", differencesOf(t, s, r.Day, other.ID), []*paygate.ReconDifference{diffs[2]})
	mustEqual(t, "differences of another day", differencesOf(t, s, "2026-03-05", m.ID), []*paygate.ReconDifference{})

	_, err := s.Reconciliation(ctx, "2026-03-05", paygate.ChannelAlipay)
	wantCode(t, err, paygate.ENotFound)
	for _, bad := range []string{"", "2026/03/04", "2026-3-4", "2026-02-30", "yesterday"} {
		_, err := s.Reconciliation(ctx, bad, paygate.ChannelAlipay)
		wantCode(t, err, paygate.EInvalid)
		_, err = s.ReconDifferencesOf(ctx, bad, m.ID)
		wantCode(t, err, paygate.EInvalid)
	}
}

func differencesOf(t *testing.T, s paygate.Store, day string, merchantID int64) []*paygate.ReconDifference {
	t.Helper()
	d, err := s.ReconDifferencesOf(context.Background(), day, merchantID)
	if err != nil {
		t.Fatalf("ReconDifferencesOf: %v", err)
	}
	return d
}

// testReconReplace: a second run of a day replaces the first's report,
// differences and cross-day entries; another day's stay.
func testReconReplace(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	diff := func(no string) *paygate.ReconDifference {
		return &paygate.ReconDifference{Kind: "amount_mismatch", MerchantID: m.ID, ChannelNo: no,
			Local: json.RawMessage(`{"a":1}`), Channel: json.RawMessage(`{"a":2}`), CreatedAt: t0}
	}
	carry := func(day, next string) *paygate.ReconCrossDay {
		return &paygate.ReconCrossDay{Kind: paygate.BookPayment, ChannelNo: "PGnight", BookDay: day, BillDay: next, Carried: true}
	}
	saveReport(t, s, report("2026-03-04", []*paygate.ReconDifference{diff("PG1"), diff("PG2")}, []*paygate.ReconCrossDay{carry("2026-03-04", "2026-03-05")}))
	saveReport(t, s, report("2026-03-05", []*paygate.ReconDifference{diff("PG3")}, []*paygate.ReconCrossDay{
		{Kind: paygate.BookPayment, ChannelNo: "PGnight", BookDay: "2026-03-04", BillDay: "2026-03-05"}}))

	second := report("2026-03-04", []*paygate.ReconDifference{diff("PG9")}, nil)
	second.Status, second.Error = paygate.ReconFailed, "bill download failed"
	saveReport(t, s, second)
	got := loadReport(t, s, "2026-03-04")
	if got.Status != paygate.ReconFailed || got.Error != second.Error || len(got.Differences) != 1 ||
		got.Differences[0].ChannelNo != "PG9" || len(got.CrossDay) != 0 {
		t.Fatalf("replaced report: %+v with %d differences, %d cross-day; want the second run's", got, len(got.Differences), len(got.CrossDay))
	}
	mustEqual(t, "differences after the replace", differencesOf(t, s, "2026-03-04", m.ID), second.Differences)
	if got := loadReport(t, s, "2026-03-05"); len(got.Differences) != 1 || len(got.CrossDay) != 1 {
		t.Fatalf("the other day's report lost rows: %d differences, %d cross-day", len(got.Differences), len(got.CrossDay))
	}
	cd, err := s.ReconCrossDayOf(ctx, paygate.ChannelAlipay, paygate.BookPayment, "PGnight", "")
	if err != nil {
		t.Fatalf("ReconCrossDayOf: %v", err)
	}
	mustEqual(t, "cross-day entries after the replace", cd, []*paygate.ReconCrossDay{
		{Kind: paygate.BookPayment, ChannelNo: "PGnight", BookDay: "2026-03-04", BillDay: "2026-03-05"}})
}

func testReconCrossDayOf(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	pay := func(day, billDay string, carried bool) *paygate.ReconCrossDay {
		return &paygate.ReconCrossDay{Kind: paygate.BookPayment, ChannelNo: "PGmid", BookDay: day, BillDay: billDay, Carried: carried}
	}
	ref := &paygate.ReconCrossDay{Kind: paygate.BookRefund, ChannelNo: "PGmid", OutRequestNo: "r1", BookDay: "2026-03-05", BillDay: "2026-03-06", Carried: true}
	// Saved out of day order; read back by day.
	saveReport(t, s, report("2026-03-05", nil, []*paygate.ReconCrossDay{pay("2026-03-04", "2026-03-05", false), ref}))
	saveReport(t, s, report("2026-03-04", nil, []*paygate.ReconCrossDay{pay("2026-03-04", "2026-03-05", true)}))
	for _, tc := range []struct {
		kind      paygate.BookKind
		no, reqNo string
		want      []*paygate.ReconCrossDay
	}{
		{paygate.BookPayment, "PGmid", "", []*paygate.ReconCrossDay{pay("2026-03-04", "2026-03-05", true), pay("2026-03-04", "2026-03-05", false)}},
		{paygate.BookRefund, "PGmid", "r1", []*paygate.ReconCrossDay{ref}},
		{paygate.BookRefund, "PGmid", "", []*paygate.ReconCrossDay{}},
		{paygate.BookPayment, "PGMID", "", []*paygate.ReconCrossDay{}},
	} {
		got, err := s.ReconCrossDayOf(ctx, paygate.ChannelAlipay, tc.kind, tc.no, tc.reqNo)
		if err != nil {
			t.Fatalf("ReconCrossDayOf(%s, %s, %q): %v", tc.kind, tc.no, tc.reqNo, err)
		}
		mustEqual(t, "cross-day entries of "+string(tc.kind)+" "+tc.no+" "+tc.reqNo, got, tc.want)
	}
}

func testListReconciliations(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	days := []string{"2026-03-04", "2026-02-28", "2026-03-10", "2025-12-31"}
	for _, day := range days {
		saveReport(t, s, report(day, []*paygate.ReconDifference{{Kind: "missing_channel", ChannelNo: "PG" + day, CreatedAt: t0}}, nil))
	}
	for _, tc := range []struct {
		limit int
		want  []string
	}{
		{0, []string{"2026-03-10", "2026-03-04", "2026-02-28", "2025-12-31"}},
		{2, []string{"2026-03-10", "2026-03-04"}},
		{-1, []string{"2026-03-10"}},
	} {
		list, err := s.ListReconciliations(ctx, paygate.ChannelAlipay, tc.limit)
		if err != nil {
			t.Fatalf("ListReconciliations(%d): %v", tc.limit, err)
		}
		var got []string
		for _, r := range list {
			got = append(got, r.Day)
			if r.Differences != nil || r.CrossDay != nil || r.DifferenceCount != 1 || r.Source != "download" {
				t.Fatalf("listed report %+v: want its counts, without rows", r)
			}
		}
		mustEqual(t, "days listed", got, tc.want)
	}
}

// testReconSaveInvalid: a bad report is EInvalid and changes nothing: the
// day's earlier report stays, and the report given keeps no IDs.
func testReconSaveInvalid(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	const day = "2026-03-04"
	good := report(day, []*paygate.ReconDifference{{Kind: "missing_channel", MerchantID: m.ID, ChannelNo: "PG1", CreatedAt: t0}}, nil)
	saveReport(t, s, good)
	before := loadReport(t, s, day)

	diff := func(edit func(d *paygate.ReconDifference)) *paygate.Reconciliation {
		d := &paygate.ReconDifference{Kind: "missing_local", ChannelNo: "PG2", Local: json.RawMessage(`null`), CreatedAt: t0}
		edit(d)
		r := report(day, []*paygate.ReconDifference{{Kind: "missing_channel", ChannelNo: "PG0", CreatedAt: t0}, d}, nil)
		r.Status = paygate.ReconFailed
		return r
	}
	for name, r := range map[string]*paygate.Reconciliation{
		"nil":              nil,
		"day":              report("04/03/2026", nil, nil),
		"status":           func() *paygate.Reconciliation { r := report(day, nil, nil); r.Status = "ok"; return r }(),
		"kind":             diff(func(d *paygate.ReconDifference) { d.Kind = "missing" }),
		"local JSON":       diff(func(d *paygate.ReconDifference) { d.Local = json.RawMessage(`{"a":`) }),
		"channel UTF-8":    diff(func(d *paygate.ReconDifference) { d.Channel = json.RawMessage("\"\xff\"") }),
		"missing order":    diff(func(d *paygate.ReconDifference) { d.OrderID = 1 << 40 }),
		"missing merchant": diff(func(d *paygate.ReconDifference) { d.MerchantID = 1 << 40 }),
		"cross-day kind": report(day, nil, []*paygate.ReconCrossDay{
			{Kind: "payout", ChannelNo: "PG1", BookDay: day, BillDay: day}}),
		"cross-day day": report(day, nil, []*paygate.ReconCrossDay{
			{Kind: paygate.BookPayment, ChannelNo: "PG1", BookDay: day, BillDay: "tomorrow"}}),
		"no channel":   func() *paygate.Reconciliation { r := report(day, nil, nil); r.Channel = ""; return r }(),
		"auto channel": func() *paygate.Reconciliation { r := report(day, nil, nil); r.Channel = paygate.ChannelAuto; return r }(),
	} {
		t.Run(name, func(t *testing.T) {
			wantCode(t, s.SaveReconciliation(ctx, r), paygate.EInvalid)
			if r != nil && len(r.Differences) > 0 && (r.Differences[0].ID != 0 || r.Differences[0].Day != "") {
				t.Fatalf("a failed save set the first difference's ID %d and day %q", r.Differences[0].ID, r.Differences[0].Day)
			}
			mustEqual(t, "report after a failed save", loadReport(t, s, day), before)
		})
	}
}

// testReconRepairLog: the repairs of every run of a day stay on record when
// later runs replace the report (they no longer see what was repaired).
func testReconRepairLog(t *testing.T, s paygate.Store) {
	m := newMerchant(t, s)
	repaired := func(no string) *paygate.ReconDifference {
		return &paygate.ReconDifference{Kind: "status_mismatch", MerchantID: m.ID, ChannelNo: no,
			Local: json.RawMessage(`{"status":"pending"}`), Channel: json.RawMessage(`{"status":"success"}`),
			Repaired: true, Action: "repaired", Before: "pending", After: "paid", RepairedAt: us(t0.Add(time.Second)), CreatedAt: t0}
	}
	open := &paygate.ReconDifference{Kind: "missing_local", ChannelNo: "PGX", Local: json.RawMessage(`null`),
		Channel: json.RawMessage(`{}`), CreatedAt: t0}
	saveReport(t, s, report("2026-04-01", []*paygate.ReconDifference{repaired("PG1"), open}, nil))
	saveReport(t, s, report("2026-04-01", []*paygate.ReconDifference{open}, nil))
	saveReport(t, s, report("2026-04-01", []*paygate.ReconDifference{repaired("PG2"), open}, nil))
	saveReport(t, s, report("2026-04-02", []*paygate.ReconDifference{repaired("PG3")}, nil))
	got := loadReport(t, s, "2026-04-01")
	var log []string
	for _, d := range got.RepairLog {
		if !d.Repaired || d.Before != "pending" || d.After != "paid" || !d.RepairedAt.Equal(us(t0.Add(time.Second))) || d.MerchantID != m.ID {
			t.Errorf("repair log entry %+v", d)
		}
		log = append(log, d.ChannelNo)
	}
	mustEqual(t, "the day's repair log", log, []string{"PG1", "PG2"})
	if len(got.Differences) != 2 {
		t.Errorf("the last run's differences: %d, want 2", len(got.Differences))
	}
}

// testReconChannels: a day has one report per channel, side by side: a
// run of one channel replaces that channel's report, differences,
// cross-day entries and nothing of the other's; each keeps its own repair
// log; lists take a channel or both; a merchant's differences of the day
// are of both, each naming its bill's channel; a channel without a bill is
// refused everywhere.
func testReconChannels(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	const day = "2026-05-01"
	of := func(ch paygate.Channel, diffs []*paygate.ReconDifference, cross []*paygate.ReconCrossDay) *paygate.Reconciliation {
		r := report(day, diffs, cross)
		r.Channel = ch
		return r
	}
	diff := func(no string, repaired bool) *paygate.ReconDifference {
		d := &paygate.ReconDifference{Kind: "status_mismatch", MerchantID: m.ID, ChannelNo: no,
			Local: json.RawMessage(`{"status":"pending"}`), Channel: json.RawMessage(`{"status":"success"}`), CreatedAt: t0}
		if repaired {
			d.Repaired, d.Before, d.After, d.RepairedAt = true, "pending", "paid", us(t0)
		}
		return d
	}
	// One channel number on both channels (an auto order's two trades).
	carry := func() []*paygate.ReconCrossDay {
		return []*paygate.ReconCrossDay{{Kind: paygate.BookPayment, ChannelNo: "PGboth", BookDay: day, BillDay: "2026-05-02", Carried: true}}
	}
	saveReport(t, s, of(paygate.ChannelAlipay, []*paygate.ReconDifference{diff("PGa1", true), diff("PGboth", false)}, carry()))
	wx := of(paygate.ChannelWechat, []*paygate.ReconDifference{diff("PGw1", true)}, carry())
	wx.ChannelRows = 3
	saveReport(t, s, wx)
	if d := wx.Differences[0]; d.BillChannel != paygate.ChannelWechat || d.Day != day {
		t.Fatalf("WeChat Pay's difference after save: channel %q, day %q", d.BillChannel, d.Day)
	}
	// A second WeChat Pay run replaces WeChat Pay's report only.
	wx2 := of(paygate.ChannelWechat, []*paygate.ReconDifference{diff("PGw2", false)}, nil)
	wx2.ChannelRows = 4
	saveReport(t, s, wx2)

	ali, got := loadReportOf(t, s, day, paygate.ChannelAlipay), loadReportOf(t, s, day, paygate.ChannelWechat)
	nos := func(list []*paygate.ReconDifference, ch paygate.Channel) []string {
		out := []string{}
		for _, d := range list {
			if d.BillChannel != ch {
				t.Errorf("difference %s of the %s report names channel %q", d.ChannelNo, ch, d.BillChannel)
			}
			out = append(out, d.ChannelNo)
		}
		return out
	}
	if ali.Channel != paygate.ChannelAlipay || got.Channel != paygate.ChannelWechat || got.ChannelRows != 4 || ali.ChannelRows != 10 {
		t.Fatalf("reports: %s with %d rows, %s with %d rows", ali.Channel, ali.ChannelRows, got.Channel, got.ChannelRows)
	}
	mustEqual(t, "Alipay's differences", nos(ali.Differences, paygate.ChannelAlipay), []string{"PGa1", "PGboth"})
	mustEqual(t, "WeChat Pay's differences", nos(got.Differences, paygate.ChannelWechat), []string{"PGw2"})
	mustEqual(t, "Alipay's repair log", nos(ali.RepairLog, paygate.ChannelAlipay), []string{"PGa1"})
	mustEqual(t, "WeChat Pay's repair log", nos(got.RepairLog, paygate.ChannelWechat), []string{"PGw1"})
	if len(ali.CrossDay) != 1 || len(got.CrossDay) != 0 {
		t.Fatalf("cross-day entries: Alipay %d, WeChat Pay %d; want 1, 0", len(ali.CrossDay), len(got.CrossDay))
	}
	for ch, want := range map[paygate.Channel]int{paygate.ChannelAlipay: 1, paygate.ChannelWechat: 0} {
		cd, err := s.ReconCrossDayOf(ctx, ch, paygate.BookPayment, "PGboth", "")
		if err != nil || len(cd) != want {
			t.Fatalf("ReconCrossDayOf(%s, PGboth): %d entries, %v; want %d", ch, len(cd), err, want)
		}
	}
	// The merchant sees both channels' differences of the day, Alipay's
	// first.
	var merchant []string
	for _, d := range differencesOf(t, s, day, m.ID) {
		merchant = append(merchant, string(d.BillChannel)+":"+d.ChannelNo)
	}
	mustEqual(t, "the merchant's differences", merchant, []string{"alipay:PGa1", "alipay:PGboth", "wechat:PGw2"})

	// Lists: both channels per day, or one; limit counts days.
	saveReport(t, s, of(paygate.ChannelAlipay, nil, nil)) // replaces Alipay's, keeps WeChat Pay's
	older := report("2026-04-30", nil, nil)
	saveReport(t, s, older)
	for _, tc := range []struct {
		ch    paygate.Channel
		limit int
		want  []string
	}{
		{"", 0, []string{"2026-05-01 alipay", "2026-05-01 wechat", "2026-04-30 alipay"}},
		{"", 1, []string{"2026-05-01 alipay", "2026-05-01 wechat"}},
		{paygate.ChannelWechat, 0, []string{"2026-05-01 wechat"}},
		{paygate.ChannelAlipay, 1, []string{"2026-05-01 alipay"}},
	} {
		list, err := s.ListReconciliations(ctx, tc.ch, tc.limit)
		if err != nil {
			t.Fatalf("ListReconciliations(%q, %d): %v", tc.ch, tc.limit, err)
		}
		var got []string
		for _, r := range list {
			got = append(got, r.Day+" "+string(r.Channel))
		}
		mustEqual(t, "reports listed for "+string(tc.ch), got, tc.want)
	}
	if r := loadReportOf(t, s, day, paygate.ChannelWechat); len(r.Differences) != 1 || len(r.RepairLog) != 1 {
		t.Fatalf("WeChat Pay's report after Alipay's was replaced: %d differences, %d repairs", len(r.Differences), len(r.RepairLog))
	}
	_, err := s.Reconciliation(ctx, "2026-04-30", paygate.ChannelWechat)
	wantCode(t, err, paygate.ENotFound)

	for _, bad := range []paygate.Channel{"", paygate.ChannelAuto, "unionpay"} {
		_, err := s.Reconciliation(ctx, day, bad)
		wantCode(t, err, paygate.EInvalid)
		_, err = s.ReconCrossDayOf(ctx, bad, paygate.BookPayment, "PGboth", "")
		wantCode(t, err, paygate.EInvalid)
		if bad != "" {
			_, err = s.ListReconciliations(ctx, bad, 0)
			wantCode(t, err, paygate.EInvalid)
		}
	}
}
