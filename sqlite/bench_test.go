package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/sqlite"
	"github.com/paygate/paygate/storetest"
)

// BenchmarkScanBookPayments1M: the day's books of a million paid orders,
// as a reconciliation run reads them. Run once: -bench ScanBookPayments1M
// -benchtime 1x.
func BenchmarkScanBookPayments1M(b *testing.B) {
	storetest.BenchScanBookPayments(b, open(b, filepath.Join(b.TempDir(), "paygate.db")), 1_000_000)
}

// BenchmarkBulkInsertOrders1M: loading a million paid orders.
func BenchmarkBulkInsertOrders1M(b *testing.B) {
	storetest.BenchBulkInsertOrders(b, func(b *testing.B) paygate.Store {
		return open(b, filepath.Join(b.TempDir(), "paygate.db"))
	}, 1_000_000)
}

// BenchmarkScanBookChannel1M: a day's scan of a million paid Alipay orders
// before and after migration 11, in one run, on one table loaded once with
// both day indexes (migration 10's, led by the day, added beside the
// migrated schema's per-channel ones): migration 10's scan of every order
// of the day and Alipay's scan now, in alternating rounds
// (storetest.BenchScanPair: medians, and the median ratio after/before).
// Then a million WeChat Pay orders of the same day are added, which leave
// Alipay's day index as it was (its pages are logged), and Alipay's scan is
// timed again ("beside-wechat", rows/s). Run: -bench ScanBookChannel1M
// -benchtime 7x.
func BenchmarkScanBookChannel1M(b *testing.B) {
	ctx := context.Background()
	const n = 1_000_000
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "paygate.db"), newSealer(b), sqlite.WithMigrate())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.AddV10DayIndex(ctx); err != nil {
		b.Fatal(err)
	}
	from, to := storetest.BenchDay()
	storetest.LoadPaidOrders(b, s, n, from, to)
	plans, err := s.BookScanPlans(ctx, paygate.ChannelAlipay, from, to, false)
	if err != nil {
		b.Fatal(err)
	}
	v10plans, err := s.BookScanPlans(ctx, "", from, to, true)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("plans: before %s; after %s", v10plans["day"], plans["day"])
	before := func(ctx context.Context, fn func(*paygate.BookEntry) error) error {
		return s.ScanBookPaymentsV10(ctx, from, to, fn)
	}
	after := func(ctx context.Context, fn func(*paygate.BookEntry) error) error {
		return s.ScanBookPayments(ctx, paygate.ChannelAlipay, from, to, fn)
	}
	b.Run("alone", func(b *testing.B) { storetest.BenchScanPair(b, n, before, after) })
	pages := func() string {
		var out []string
		for _, ix := range []string{"orders_paid_day_idx", "orders_paid_day_alipay_idx", "orders_paid_day_wechat_idx"} {
			p, err := s.IndexPages(ctx, ix)
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %d", ix, p))
		}
		return strings.Join(out, ", ")
	}
	b.Logf("index pages with Alipay's orders: %s", pages())
	storetest.LoadPaidOrdersOn(b, s, paygate.ChannelWechat, n, from, to)
	b.Logf("index pages with WeChat Pay's beside: %s", pages())
	b.Run("beside-wechat", func(b *testing.B) { storetest.BenchScan(b, n, after) })
}
