package recon_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/postgres/pgtest"
	"github.com/paygate/paygate/recon"
	"github.com/paygate/paygate/sqlite"
	"github.com/paygate/paygate/testenv"
)

const billAccount = "20880000000000010156"

func sealer(t testing.TB) *paygate.Sealer {
	k := make([]byte, 32)
	rand.Read(k)
	s, err := paygate.NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// stores runs fn on SQLite, and on PostgreSQL when configured (required in
// CI).
func stores(t *testing.T, fn func(t *testing.T, st paygate.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "paygate.db"), sealer(t), sqlite.WithMigrate())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testenv.Postgres(t)
		fn(t, pgtest.Open(t, sealer(t), postgres.WithMigrate()))
	})
}

// china is a time on 2026-11-DD in China time.
func china(day, h, m, s int) time.Time {
	return time.Date(2026, 11, day, h, m, s, 0, alipay.ChinaTime)
}

// book is a test's books: orders by channel number.
type book struct {
	t        *testing.T
	st       paygate.Store
	merchant *paygate.Merchant
	orders   []*paygate.Order
	refunds  []*paygate.Refund
}

func newBook(t *testing.T, st paygate.Store) *book {
	m := &paygate.Merchant{Name: "shop", AccessKey: "ak_" + strings.ReplaceAll(t.Name(), "/", "_"), SecretKey: "sk", WebhookSecret: "wh", CreatedAt: time.Now()}
	if err := st.CreateMerchant(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return &book{t: t, st: st, merchant: m}
}

// order adds an order: status, total, when paid (zero: never).
func (b *book) order(no string, status paygate.OrderStatus, total paygate.Money, paid time.Time) *paygate.Order {
	created := china(1, 0, 0, 0).Add(-time.Hour)
	if !paid.IsZero() {
		created = paid.Add(-time.Minute)
	}
	o := &paygate.Order{MerchantID: b.merchant.ID, OutTradeNo: "M-" + no, ChannelNo: no, TradeNo: "T" + no, Mode: paygate.ModeQR,
		Subject: "coffee", TotalAmount: total, Status: status, CreatedAt: created, UpdatedAt: created,
		ExpiresAt: created.Add(2 * time.Hour), PaidAt: paid}
	if status == paygate.StatusPending || status == paygate.StatusClosed && paid.IsZero() {
		o.TradeNo = ""
	}
	if status == paygate.StatusClosed {
		o.ClosedAt = created.Add(time.Hour)
	}
	b.orders = append(b.orders, o)
	return o
}

func (b *book) refund(o *paygate.Order, no string, amount paygate.Money, at time.Time) {
	o.RefundedAmount += amount
	if o.RefundedAmount == o.TotalAmount {
		o.Status = paygate.StatusRefunded
	}
	b.refunds = append(b.refunds, &paygate.Refund{MerchantID: b.merchant.ID, OutTradeNo: o.OutTradeNo, OutRequestNo: no,
		Amount: amount, Status: paygate.RefundSucceeded, CreatedAt: at, UpdatedAt: at, SucceededAt: at, Reason: "r",
		OrderID: int64(len(b.orders))}) // the order's index + 1 until saved
}

func (b *book) save() {
	ctx := context.Background()
	loader := b.st.(paygate.BulkOrderLoader)
	byIndex := slices.Clone(b.orders)
	if err := loader.BulkInsertOrders(ctx, b.orders, nil); err != nil {
		b.t.Fatal(err)
	}
	for _, r := range b.refunds {
		r.OrderID = byIndex[r.OrderID-1].ID
	}
	if err := loader.BulkInsertOrders(ctx, nil, b.refunds); err != nil {
		b.t.Fatal(err)
	}
}

// bill writes a bill file of day (2026-11-DD) with rows.
func bill(t *testing.T, day int, rows ...alipaysim.BillRow) string {
	t.Helper()
	data, err := alipaysim.BuildBill(billAccount, china(day, 0, 0, 0), rows)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bill.zip")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pay(no string, amount paygate.Money, at time.Time) alipaysim.BillRow {
	return alipaysim.BillRow{TradeNo: "T" + no, OutTradeNo: no, Kind: alipaysim.BillKindTrade, Subject: "咖啡",
		Created: at.Add(-time.Minute), Finished: at, BuyerLogonID: "abc***@example.com", Amount: amount}
}

func refund(no, req string, amount paygate.Money, at time.Time) alipaysim.BillRow {
	return alipaysim.BillRow{TradeNo: "T" + no, OutTradeNo: no, Kind: alipaysim.BillKindRefund, Subject: "咖啡",
		Created: at.Add(-time.Hour), Finished: at, BuyerLogonID: "abc***@example.com", Amount: -amount, OutRequestNo: req}
}

func kinds(rep *paygate.Reconciliation) map[string][]string {
	out := map[string][]string{}
	for _, d := range rep.Differences {
		key := d.ChannelNo
		if d.OutRequestNo != "" {
			key += "/" + d.OutRequestNo
		}
		out[d.Kind] = append(out[d.Kind], key)
	}
	return out
}

func TestReconcileKinds(t *testing.T) {
	stores(t, func(t *testing.T, st paygate.Store) {
		ctx := context.Background()
		b := newBook(t, st)
		noon := china(1, 12, 0, 0)
		b.order("PGA", paygate.StatusPaid, 1000, noon)                                          // matched
		b.order("PGB", paygate.StatusPaid, 500, noon)                                           // the bill says 6.00
		b.order("PGC", paygate.StatusPending, 300, time.Time{})                                 // paid at Alipay
		b.order("PGE", paygate.StatusClosed, 200, time.Time{})                                  // paid at Alipay, not refunded
		b.order("PGF", paygate.StatusClosed, 200, time.Time{})                                  // paid and refunded in full (a cancel)
		b.order("PGG", paygate.StatusPaid, 700, noon)                                           // not on the bill
		b.refund(b.order("PGH", paygate.StatusPaid, 900, noon), "r1", 200, noon.Add(time.Hour)) // matched with its refund
		b.order("PGI", paygate.StatusPaid, 800, noon)                                           // refunded at Alipay's console
		b.order("PGJ", paygate.StatusPaid, 400, china(1, 23, 55, 0))                            // on the next day's bill
		b.order("PGK", paygate.StatusPaid, 400, china(1, 23, 58, 0))                            // on no bill
		b.order("PGL", paygate.StatusPaid, 400, china(2, 0, 3, 0))                              // paid 23:59:59 at Alipay
		b.refund(b.order("PGM", paygate.StatusPaid, 600, noon), "r2", 100, noon.Add(time.Hour)) // a refund not on the bill
		b.order("PGN", paygate.StatusPaid, 100, china(2, 12, 0, 0))                             // the next day's
		b.save()

		day1 := bill(t, 1,
			pay("PGA", 1000, noon), pay("PGB", 600, noon), pay("PGC", 300, noon), pay("PGE", 200, noon),
			pay("PGF", 200, noon), refund("PGF", "cancel", 200, noon.Add(time.Second)),
			pay("PGH", 900, noon), refund("PGH", "r1", 200, noon.Add(time.Hour)),
			pay("PGI", 800, noon), refund("PGI", "console1", 300, noon.Add(2*time.Hour)),
			pay("PGL", 400, china(1, 23, 59, 59)), pay("PGM", 600, noon),
			pay("PGX", 1234, noon), // made outside paygate
		)
		rc, err := recon.New(recon.Config{Store: st, ChunkRows: 3}) // tiny runs: the merge of spilled runs is used
		if err != nil {
			t.Fatal(err)
		}
		rep, err := rc.Run(ctx, "2026-11-01", recon.Options{BillFile: day1})
		if err != nil {
			t.Fatal(err)
		}
		got := kinds(rep)
		want := map[string][]string{
			recon.MissingLocal:   {"PGX"},
			recon.MissingChannel: {"PGG", "PGM/r2"},
			recon.StatusMismatch: {"PGC", "PGE"},
			recon.AmountMismatch: {"PGB"},
			recon.RefundMismatch: {"PGI/console1"},
		}
		if !mapsEqual(got, want) {
			t.Errorf("differences %v, want %v", got, want)
		}
		if rep.ChannelRows != 13 || rep.DifferenceCount != 7 || rep.OpenCount != 7 || rep.Repairs != 0 {
			t.Errorf("channel rows %d, differences %d, open %d, repairs %d; want 13, 7, 7, 0", rep.ChannelRows, rep.DifferenceCount, rep.OpenCount, rep.Repairs)
		}
		// Matched: A, F and its refund, H and r1, I, L (dated the next day
		// by the books), M's payment.
		if rep.Matched != 8 {
			t.Errorf("matched %d, want 8", rep.Matched)
		}
		// The books' rows of the day: A B G H r1 I J K M r2 (C, E, F were
		// never paid; L and N are the next day's).
		if rep.LocalRows != 10 {
			t.Errorf("local rows %d, want 10", rep.LocalRows)
		}
		var carried, crossed []string
		for _, x := range rep.CrossDay {
			if x.Carried {
				carried = append(carried, x.ChannelNo)
			} else {
				crossed = append(crossed, x.ChannelNo+"@"+x.BookDay+">"+x.BillDay)
			}
		}
		if !slices.Equal(carried, []string{"PGJ", "PGK"}) || !slices.Equal(crossed, []string{"PGL@2026-11-02>2026-11-01"}) {
			t.Errorf("carried %v, crossed %v", carried, crossed)
		}
		for _, d := range rep.Differences {
			if d.Action == "" || !json.Valid(d.Local) || !json.Valid(d.Channel) {
				t.Errorf("difference %+v: no action or invalid sides", d)
			}
			if d.Kind == recon.MissingLocal && (d.MerchantID != 0 || string(d.Local) != "null") {
				t.Errorf("missing_local with a local side: %+v", d)
			}
			if d.Kind != recon.MissingLocal && d.MerchantID != b.merchant.ID {
				t.Errorf("%s %s: merchant %d, want %d", d.Kind, d.ChannelNo, d.MerchantID, b.merchant.ID)
			}
		}

		// The report is kept, and the merchant sees its own differences.
		kept, err := st.Reconciliation(ctx, "2026-11-01", paygate.ChannelAlipay)
		if err != nil {
			t.Fatal(err)
		}
		if !mapsEqual(kinds(kept), want) || kept.Status != paygate.ReconDone {
			t.Errorf("kept report: %s %v", kept.Status, kinds(kept))
		}
		own, err := st.ReconDifferencesOf(ctx, "2026-11-01", b.merchant.ID)
		if err != nil || len(own) != 6 {
			t.Errorf("merchant's differences: %d, %v; want 6", len(own), err)
		}

		// The next day: J is on its bill, K on neither; L, matched the day
		// before, is not missing; N is matched.
		day2 := bill(t, 2, pay("PGJ", 400, china(2, 0, 0, 1)), pay("PGN", 100, china(2, 12, 0, 0)))
		rep2, err := rc.Run(ctx, "2026-11-02", recon.Options{BillFile: day2})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := kinds(rep2), map[string][]string{recon.MissingChannel: {"PGK"}}; !mapsEqual(got, want) {
			t.Errorf("next day's differences %v, want %v", got, want)
		}
		if rep2.Matched != 2 {
			t.Errorf("next day matched %d, want 2", rep2.Matched)
		}
	})
}

func TestReconcileRefusesAnotherDaysBill(t *testing.T) {
	stores(t, func(t *testing.T, st paygate.Store) {
		rc, err := recon.New(recon.Config{Store: st})
		if err != nil {
			t.Fatal(err)
		}
		_, err = rc.Run(context.Background(), "2026-11-02", recon.Options{BillFile: bill(t, 1)})
		if err == nil || !strings.Contains(err.Error(), "not that day") {
			t.Fatalf("a bill of another day: %v", err)
		}
		if _, err := rc.Run(context.Background(), "2026-13-01", recon.Options{BillFile: bill(t, 1)}); paygate.ErrorCode(err) != paygate.EInvalid {
			t.Fatalf("a malformed day: %v", err)
		}
		// A failed run is kept (the day had no good report).
		rep, err := st.Reconciliation(context.Background(), "2026-11-02", paygate.ChannelAlipay)
		if err != nil || rep.Status != paygate.ReconFailed || rep.Error == "" {
			t.Fatalf("failed report: %+v, %v", rep, err)
		}
	})
}

func mapsEqual(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
