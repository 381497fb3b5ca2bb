package recon_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/postgres/pgtest"
	"github.com/paygate/paygate/recon"
	"github.com/paygate/paygate/sqlite"
	"github.com/paygate/paygate/testenv"
)

// BenchmarkReconcile1M reconciles a 1,000,000-row bill (`paygate sim bill`'s
// synthetic payments, in completion order, their channel numbers in no
// order) against a store holding the matching 1,000,000 paid orders, on
// each store. It reports rows/s and the process's peak RSS during the
// reconciliation (the peak is reset before it, after the store was filled):
//
//	go test -run '^$' -bench BenchmarkReconcile1M -benchtime 1x ./recon/
//
// PAYGATE_BENCH_RECON_ROWS changes the size; PAYGATE_BENCH_RECON_PROFILE=DIR
// writes a CPU profile of each store's reconciliation (not of the filling)
// to DIR/<store>.pprof.
func BenchmarkReconcile1M(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("PAYGATE_BENCH_RECON_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("PAYGATE_BENCH_RECON_ROWS=%q", v)
		}
	}
	day := china(1, 0, 0, 0)
	billFile := filepath.Join(b.TempDir(), "bill.zip")
	f, err := os.Create(billFile)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := alipaysim.WriteSyntheticBill(w, billAccount, day, n); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()

	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "paygate.db"), sealer(b), sqlite.WithMigrate())
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchReconcile(b, st, day, n, billFile)
	})
	b.Run("postgres", func(b *testing.B) {
		testenv.Postgres(b)
		benchReconcile(b, pgtest.Open(b, sealer(b), postgres.WithMigrate()), day, n, billFile)
	})
}

func benchReconcile(b *testing.B, st paygate.Store, day time.Time, n int, billFile string) {
	ctx := context.Background()
	seedSynthetic(b, st, day, n)
	rc, err := recon.New(recon.Config{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	dayStr := recon.DayOf(day)
	var peak float64
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		debug.FreeOSMemory()
		resetPeakRSS(b)
		stopProfile := startProfile(b)
		b.StartTimer()
		rep, err := rc.Run(ctx, dayStr, recon.Options{BillFile: billFile})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		stopProfile()
		peak = max(peak, peakRSSMB(b))
		if rep.ChannelRows != n || rep.Matched != n || rep.DifferenceCount != 0 {
			b.Fatalf("bill rows %d, matched %d, differences %d; want %d, %d, 0", rep.ChannelRows, rep.Matched, rep.DifferenceCount, n, n)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(peak, "peak-rss-MB")
}

// seedSynthetic fills st with the paid orders that match the synthetic
// bill's rows, in batches (the seeding's own memory stays small).
func seedSynthetic(b *testing.B, st paygate.Store, day time.Time, n int) {
	ctx := context.Background()
	m := &paygate.Merchant{Name: "bench", AccessKey: "ak_bench", SecretKey: "sk", WebhookSecret: "wh", CreatedAt: day}
	if err := st.CreateMerchant(ctx, m); err != nil {
		b.Fatal(err)
	}
	loader := st.(paygate.BulkOrderLoader)
	const batch = 50_000
	orders := make([]*paygate.Order, 0, batch)
	for i := range n {
		r := alipaysim.SyntheticBillRow(day, i, n)
		orders = append(orders, &paygate.Order{MerchantID: m.ID, OutTradeNo: "M" + r.OutTradeNo[2:], ChannelNo: r.OutTradeNo,
			TradeNo: r.TradeNo, Mode: paygate.ModeQR, Subject: r.Subject, TotalAmount: r.Amount, Status: paygate.StatusPaid,
			CreatedAt: r.Created, UpdatedAt: r.Finished, ExpiresAt: r.Created.Add(2 * time.Hour), PaidAt: r.Finished})
		if len(orders) == batch || i == n-1 {
			if err := loader.BulkInsertOrders(ctx, orders, nil); err != nil {
				b.Fatal(err)
			}
			orders = orders[:0]
		}
	}
}

// resetPeakRSS resets the process's VmHWM (Linux: clear_refs 5).
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset the peak RSS (%v): peak-rss-MB includes the seeding", err)
	}
}

// peakRSSMB is the process's VmHWM in MB.
func peakRSSMB(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range bytes.Lines(data) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, err := strconv.Atoi(string(bytes.Fields(v)[0]))
			if err != nil {
				b.Fatal(err)
			}
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// startProfile starts a CPU profile of the timed part when
// PAYGATE_BENCH_RECON_PROFILE names a directory.
func startProfile(b *testing.B) func() {
	dir := os.Getenv("PAYGATE_BENCH_RECON_PROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, filepath.Base(b.Name())+".pprof"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
