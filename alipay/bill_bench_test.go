// The 1,000,000-row bill of reconciliation (issue 8), read the way
// reconciliation reads it: OpenBillZip over an *os.File.
//
//	go test ./alipay -run '^$' -bench BillReader1M -benchtime 3x
//
// Writing the archive takes several seconds; set PAYGATE_BENCH_BILL1M to a
// path to keep it between runs (it is written there when missing).
package alipay_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

const bench1MRows = 1_000_000

// bench1MBill returns the path of the synthetic 1M-row archive of
// `paygate sim bill --rows 1000000`, writing it first when needed.
func bench1MBill(b *testing.B) string {
	b.Helper()
	path := os.Getenv("PAYGATE_BENCH_BILL1M")
	if path == "" {
		path = filepath.Join(b.TempDir(), "bill-1m.zip")
	}
	if _, err := os.Stat(path); err == nil {
		return path
	} else if !errors.Is(err, fs.ErrNotExist) {
		b.Fatal(err)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, alipay.ChinaTime)
	if err := alipaysim.WriteSyntheticBill(w, "20889110551340340156", day, bench1MRows); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkBillReader1M streams the 1M-row archive with Next: decompression,
// CRC-32, GBK, CSV and the row checks, the summary compared at the end.
// peak-MB is the process's peak RSS (VmHWM) while reading, growth-MB that
// less the RSS when reading began, on Linux.
func BenchmarkBillReader1M(b *testing.B) {
	benchBill1M(b, func(r *alipay.BillReader) error {
		_, err := r.Next()
		return err
	})
}

func benchBill1M(b *testing.B, next func(*alipay.BillReader) error) {
	f, err := os.Open(bench1MBill(b))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	resetPeakRSS()
	start := procStatusMB("VmRSS:")
	for b.Loop() {
		r, err := alipay.OpenBillZip(f, fi.Size())
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			err := next(r)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		r.Close()
		if n != bench1MRows {
			b.Fatalf("%d rows, want %d", n, bench1MRows)
		}
	}
	b.ReportMetric(float64(b.N)*bench1MRows/b.Elapsed().Seconds(), "rows/s")
	if peak := procStatusMB("VmHWM:"); peak > 0 {
		b.ReportMetric(peak, "peak-MB")
		b.ReportMetric(peak-start, "growth-MB")
	}
}

// resetPeakRSS restarts VmHWM from the current RSS (Linux 4.0+), so that
// writing the archive does not count; elsewhere it does nothing.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// procStatusMB is a field of /proc/self/status (VmRSS:, VmHWM:) in MiB, or
// 0 where there is none.
func procStatusMB(field string) float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range bytes.Split(status, []byte("\n")) {
		if v, ok := bytes.CutPrefix(l, []byte(field)); ok {
			kb, err := strconv.Atoi(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))))
			if err != nil {
				return 0
			}
			return float64(kb) / 1024
		}
	}
	return 0
}

// BenchmarkBillReader1MNextInto is BillReader1M through NextInto with a nil
// Extra: the same checks, no Extra maps, one row value reused.
func BenchmarkBillReader1MNextInto(b *testing.B) {
	var row alipay.BillRow
	benchBill1M(b, func(r *alipay.BillReader) error { return r.NextInto(&row) })
}
