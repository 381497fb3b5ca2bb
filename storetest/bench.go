package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

// Benchmarks both stores run on a large book (see each store's
// bench_test.go).

// loadChunk is how many orders one BulkInsertOrders call of LoadPaidOrders
// carries, so that a million orders never sit in memory at once.
const loadChunk = 50_000

// LoadPaidOrders bulk-loads n Alipay orders of one new merchant, paid at
// times spread evenly over [from, to) in insertion order, with channel
// numbers as the gateway makes them (PG, the UTC date, 16 random hex
// digits: random against the time order), and returns the merchant. A
// fixed seed makes every load the same.
func LoadPaidOrders(tb testing.TB, s paygate.Store, n int, from, to time.Time) *paygate.Merchant {
	tb.Helper()
	return LoadPaidOrdersOn(tb, s, paygate.ChannelAlipay, n, from, to)
}

// LoadPaidOrdersOn is LoadPaidOrders of channel ch's orders; the channel
// numbers of another channel's load of the same window are others (the
// seed includes the channel), interleaved with the first load's.
func LoadPaidOrdersOn(tb testing.TB, s paygate.Store, ch paygate.Channel, n int, from, to time.Time) *paygate.Merchant {
	tb.Helper()
	ctx := context.Background()
	l, ok := s.(paygate.BulkOrderLoader)
	if !ok {
		tb.Fatalf("%T does not implement paygate.BulkOrderLoader", s)
	}
	m := &paygate.Merchant{Name: "Bench", AccessKey: randomID("ak_"), SecretKey: "sk", WebhookSecret: "wh", CreatedAt: from}
	if err := s.CreateMerchant(ctx, m); err != nil {
		tb.Fatalf("create merchant: %v", err)
	}
	seed := uint64(n)
	if ch != paygate.ChannelAlipay { // Alipay's load stays the one it always was
		for _, c := range []byte(ch) {
			seed = seed*31 + uint64(c)
		}
	}
	rng := rand.New(rand.NewPCG(uint64(from.Unix()), seed))
	step := to.Sub(from) / time.Duration(n)
	chunk := make([]*paygate.Order, 0, loadChunk)
	for start := 0; start < n; start += loadChunk {
		chunk = chunk[:0]
		for i := start; i < min(start+loadChunk, n); i++ {
			paid := from.Add(time.Duration(i) * step)
			o := &paygate.Order{
				MerchantID: m.ID, OutTradeNo: fmt.Sprintf("otn%09d", i), Channel: ch,
				ChannelNo: "PG" + paid.UTC().Format("20060102") + fmt.Sprintf("%016X", rng.Uint64()),
				TradeNo:   fmt.Sprintf("2026%024d", i), Mode: paygate.ModeQR, Subject: "coffee",
				TotalAmount: paygate.Money(100 + rng.IntN(100000)), Status: paygate.StatusPaid,
				CreatedAt: paid.Add(-time.Minute), UpdatedAt: paid, ExpiresAt: paid.Add(14 * time.Minute), PaidAt: paid,
			}
			if i%10 == 0 { // some refunded in part
				o.RefundedAmount = o.TotalAmount / 2
			}
			chunk = append(chunk, o)
		}
		if err := l.BulkInsertOrders(ctx, chunk, nil); err != nil {
			tb.Fatalf("BulkInsertOrders: %v", err)
		}
	}
	return m
}

// BenchDay is the day the benchmarks load and scan: [from, to), China
// time.
func BenchDay() (from, to time.Time) { return dayFrom, dayTo }

// BenchScanBookPayments times Alipay's ScanBookPayments over one day of n
// paid Alipay orders (loaded before the timer starts), and reports rows/s.
// The load of the day is alone in the store unless other days or channels
// were loaded before.
func BenchScanBookPayments(b *testing.B, s paygate.Store, n int) {
	LoadPaidOrders(b, s, n, dayFrom, dayTo)
	BenchScan(b, n, func(ctx context.Context, fn func(*paygate.BookEntry) error) error {
		return s.ScanBookPayments(ctx, paygate.ChannelAlipay, dayFrom, dayTo, fn)
	})
}

// ScanFunc is a scan of a day's books a benchmark times.
type ScanFunc func(ctx context.Context, fn func(*paygate.BookEntry) error) error

// BenchScanPair times two scans of the same n entries, before and after
// (a schema change, say), in rounds that run both, each first in turn, so
// that both see the same machine (a shared one's load comes and goes). It
// reports each one's median time (before-ms, after-ms) and the median of
// the rounds' ratios (after/before).
func BenchScanPair(b *testing.B, n int, before, after ScanFunc) {
	var tb, ta, ratios []float64
	for i := 0; b.Loop(); i++ {
		d := [2]time.Duration{}
		for j := range 2 {
			k := (i + j) % 2
			scan := before
			if k == 1 {
				scan = after
			}
			start := time.Now()
			countScan(b, n, scan)
			d[k] = time.Since(start)
		}
		tb, ta = append(tb, float64(d[0].Milliseconds())), append(ta, float64(d[1].Milliseconds()))
		ratios = append(ratios, float64(d[1])/float64(d[0]))
	}
	b.ReportMetric(median(tb), "before-ms")
	b.ReportMetric(median(ta), "after-ms")
	b.ReportMetric(median(ratios), "after/before")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// countScan runs scan, which must stream n entries in ascending channel
// number order.
func countScan(b *testing.B, n int, scan ScanFunc) {
	rows, last := 0, ""
	err := scan(context.Background(), func(e *paygate.BookEntry) error {
		if e.ChannelNo <= last {
			return fmt.Errorf("channel number %q after %q", e.ChannelNo, last)
		}
		rows, last = rows+1, e.ChannelNo
		return nil
	})
	if err != nil {
		b.Fatalf("scan: %v", err)
	}
	if rows != n {
		b.Fatalf("scanned %d rows, want %d", rows, n)
	}
}

// BenchScan times scan, which must stream n entries in ascending channel
// number order, and reports rows/s.
func BenchScan(b *testing.B, n int, scan func(ctx context.Context, fn func(*paygate.BookEntry) error) error) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rows, last := 0, ""
		err := scan(ctx, func(e *paygate.BookEntry) error {
			if e.ChannelNo <= last {
				return fmt.Errorf("channel number %q after %q", e.ChannelNo, last)
			}
			rows, last = rows+1, e.ChannelNo
			return nil
		})
		if err != nil {
			b.Fatalf("scan: %v", err)
		}
		if rows != n {
			b.Fatalf("scanned %d rows, want %d", rows, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchBulkInsertOrders times LoadPaidOrders of n orders, and reports
// orders/s.
func BenchBulkInsertOrders(b *testing.B, open func(b *testing.B) paygate.Store, n int) {
	for b.Loop() {
		b.StopTimer()
		s := open(b)
		b.StartTimer()
		LoadPaidOrders(b, s, n, dayFrom, dayTo)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}
