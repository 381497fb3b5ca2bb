package sqlite_test

import (
	"context"
	"path/filepath"
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
// before and after migration 11, in one run: the same orders loaded in two
// databases, one at migration 10 (its scan of every order of the day,
// through the day index that led with the day) and one migrated (Alipay's
// scan, through the index rebuilt with the channel first), scanned in
// alternating rounds (storetest.BenchScanPair: medians, and the median
// ratio after/before). "beside-wechat" runs again once a million WeChat Pay
// orders of the same day were added to the migrated database.
// Run: -bench ScanBookChannel1M -benchtime 5x.
func BenchmarkScanBookChannel1M(b *testing.B) {
	ctx := context.Background()
	const n = 1_000_000
	openAt := func(version int64) *sqlite.Store {
		s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "paygate.db"), newSealer(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		if version == 0 {
			err = s.Migrate(ctx)
		} else {
			err = sqlite.MigrateUpTo(ctx, s.DB(), version)
		}
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	from, to := storetest.BenchDay()
	v10, v11 := openAt(10), openAt(0)
	storetest.LoadPaidOrders(b, v10, n, from, to)
	storetest.LoadPaidOrders(b, v11, n, from, to)
	before := func(ctx context.Context, fn func(*paygate.BookEntry) error) error {
		return v10.ScanBookPaymentsV10(ctx, from, to, fn)
	}
	after := func(ctx context.Context, fn func(*paygate.BookEntry) error) error {
		return v11.ScanBookPayments(ctx, paygate.ChannelAlipay, from, to, fn)
	}
	b.Run("alone", func(b *testing.B) { storetest.BenchScanPair(b, n, before, after) })
	storetest.LoadPaidOrdersOn(b, v11, paygate.ChannelWechat, n, from, to)
	b.Run("beside-wechat", func(b *testing.B) { storetest.BenchScanPair(b, n, before, after) })
}
