package postgres_test

import (
	"context"
	"testing"
	"time"

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
// before and after migration 11, in one run on one schema (vacuumed and
// analyzed after each load, as autovacuum would): "v10" is migration 10's
// scan (every order of the day, through the day index that led with the
// day), "v11" Alipay's scan of the same orders after the migration rebuilt
// the index with the channel first, "v11+wechat" the same with a million
// WeChat Pay orders of the same day beside them. The ratios are logged.
// Run: -bench ScanBookChannel1M -benchtime 3x.
func BenchmarkScanBookChannel1M(b *testing.B) {
	ctx := context.Background()
	const n = 1_000_000
	s := open(b)
	if err := postgres.MigrateUpTo(ctx, s.DB(), 10); err != nil {
		b.Fatal(err)
	}
	from, to := storetest.BenchDay()
	storetest.LoadPaidOrders(b, s, n, from, to)
	if err := s.VacuumAnalyze(ctx); err != nil {
		b.Fatal(err)
	}
	perOp := map[string]time.Duration{}
	run := func(name string, scan func(ctx context.Context, fn func(*paygate.BookEntry) error) error) {
		b.Run(name, func(b *testing.B) {
			storetest.BenchScan(b, n, scan)
			perOp[name] = b.Elapsed() / time.Duration(b.N)
		})
	}
	run("v10", func(ctx context.Context, fn func(*paygate.BookEntry) error) error {
		return s.ScanBookPaymentsV10(ctx, from, to, fn)
	})
	start := time.Now()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("migration 11 on %d orders: %s", n, time.Since(start).Round(time.Millisecond))
	if err := s.VacuumAnalyze(ctx); err != nil {
		b.Fatal(err)
	}
	alipay := func(ctx context.Context, fn func(*paygate.BookEntry) error) error {
		return s.ScanBookPayments(ctx, paygate.ChannelAlipay, from, to, fn)
	}
	run("v11", alipay)
	storetest.LoadPaidOrdersOn(b, s, paygate.ChannelWechat, n, from, to)
	if err := s.VacuumAnalyze(ctx); err != nil {
		b.Fatal(err)
	}
	run("v11+wechat", alipay)
	if perOp["v10"] > 0 {
		b.Logf("a day's scan of %d orders: v10 %s, v11 %s (%.2f×), v11 beside %d WeChat Pay orders %s (%.2f×)", n,
			perOp["v10"].Round(time.Millisecond), perOp["v11"].Round(time.Millisecond), float64(perOp["v11"])/float64(perOp["v10"]),
			n, perOp["v11+wechat"].Round(time.Millisecond), float64(perOp["v11+wechat"])/float64(perOp["v10"]))
	}
}
