package postgres_test

import (
	"context"
	"testing"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/storetest"
)

// BenchmarkScanBookPayments1M: the day's books of a million paid orders,
// as a reconciliation run reads them. Run once: -bench ScanBookPayments1M
// -benchtime 1x.
func BenchmarkScanBookPayments1M(b *testing.B) {
	storetest.BenchScanBookPayments(b, open(b, postgres.WithMigrate()), 1_000_000)
}

// BenchmarkBulkInsertOrders1M: loading a million paid orders.
func BenchmarkBulkInsertOrders1M(b *testing.B) {
	storetest.BenchBulkInsertOrders(b, func(b *testing.B) paygate.Store { return open(b, postgres.WithMigrate()) }, 1_000_000)
}

// BenchmarkScanBookChannel1M: a day's scan of a million paid Alipay orders
// before and after migration 11, in one run: the same orders loaded in two
// schemas (vacuumed and analyzed, as autovacuum would), one at migration
// 10 (its scan of every order of the day, through the day index that led
// with the day) and one migrated (Alipay's scan, through the index rebuilt
// with the channel first), scanned in alternating rounds
// (storetest.BenchScanPair: medians, and the median ratio after/before).
// "beside-wechat" runs again once a million WeChat Pay orders of the same
// day were added to the migrated schema. Run: -bench ScanBookChannel1M
// -benchtime 5x.
func BenchmarkScanBookChannel1M(b *testing.B) {
	ctx := context.Background()
	const n = 1_000_000
	v10, v11 := open(b), open(b, postgres.WithMigrate())
	if err := postgres.MigrateUpTo(ctx, v10.DB(), 10); err != nil {
		b.Fatal(err)
	}
	from, to := storetest.BenchDay()
	for _, s := range []*postgres.Store{v10, v11} {
		storetest.LoadPaidOrders(b, s, n, from, to)
		if err := s.VacuumAnalyze(ctx); err != nil {
			b.Fatal(err)
		}
	}
	before := func(ctx context.Context, fn func(*paygate.BookEntry) error) error {
		return v10.ScanBookPaymentsV10(ctx, from, to, fn)
	}
	after := func(ctx context.Context, fn func(*paygate.BookEntry) error) error {
		return v11.ScanBookPayments(ctx, paygate.ChannelAlipay, from, to, fn)
	}
	b.Run("alone", func(b *testing.B) { storetest.BenchScanPair(b, n, before, after) })
	storetest.LoadPaidOrdersOn(b, v11, paygate.ChannelWechat, n, from, to)
	if err := v11.VacuumAnalyze(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("beside-wechat", func(b *testing.B) { storetest.BenchScanPair(b, n, before, after) })
}
