package postgres_test

import (
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
