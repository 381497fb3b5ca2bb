package alipay

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// syntheticBillHead and syntheticBillRow write a 业务明细 file of payments,
// in Alipay's form (GBK once encoded), for streaming tests and benchmarks.
const syntheticBillHead = "#支付宝业务明细查询\r\n#账号：[20889110551340340156]\r\n" +
	"#起始日期：[2019年09月16日 00:00:00]   终止日期：[2019年09月17日 00:00:00]\r\n" +
	"#-----------------------------------------业务明细列表----------------------------------------\r\n" +
	"支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,对方账户,订单金额（元）,商家实收（元）,退款批次号/请求号\r\n"

func syntheticBillRow(i int) string {
	return fmt.Sprintf("2019091622001401%012d\t,PG20190916%016X\t,交易,咖啡,2019-09-16 10:00:00,2019-09-16 10:00:05,abc***@example.com,1.00,1.00,\r\n", i, i)
}

func syntheticBillFoot(n int) string {
	return "#-----------------------------------------业务明细列表结束------------------------------------\r\n" +
		fmt.Sprintf("#交易合计：%d笔，商家实收共%d.00元，商家优惠共0.00元\r\n", n, n) +
		"#退款合计：0笔，商家实收退款共0.00元，商家优惠退款共0.00元\r\n"
}

func gbk(t testing.TB, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBillReaderMatchesParse: the streaming reader yields exactly the rows
// ParseBillCSV returns, and ends with io.EOF once the totals agree.
func TestBillReaderMatchesParse(t *testing.T) {
	t.Parallel()
	fixture, err := os.ReadFile(filepath.Join("testdata", "bill_detail.csv.golden"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ParseBillCSV(fixture)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewBillReader(bytes.NewReader(fixture))
	if err != nil {
		t.Fatal(err)
	}
	if r.Account != want.Account || !r.Start.Equal(want.Start) || !r.End.Equal(want.End) {
		t.Errorf("head: %s %v %v; want %s %v %v", r.Account, r.Start, r.End, want.Account, want.Start, want.End)
	}
	got := readRows(t, r)
	if !reflect.DeepEqual(got, want.Rows) {
		t.Errorf("rows:\n%+v\nwant\n%+v", got, want.Rows)
	}
}

// TestBillReaderStreams: the first row is delivered while the rest of the
// file is not even written yet, so a bill of any size is read in constant
// memory; totals that do not add up fail at the end, and stay failed.
func TestBillReaderStreams(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	firstRead := make(chan struct{})
	go func() {
		pw.Write(gbk(t, syntheticBillHead+syntheticBillRow(1)+syntheticBillRow(2)))
		select {
		case <-firstRead:
		case <-time.After(10 * time.Second):
			pw.CloseWithError(errors.New("the reader did not deliver a row before the end of the file"))
			return
		}
		pw.Write(gbk(t, syntheticBillRow(3)+syntheticBillFoot(4))) // says 4 rows; there are 3
		pw.Close()
	}()
	r, err := NewBillReader(pr)
	if err != nil {
		t.Fatal(err)
	}
	row, err := r.Next()
	if err != nil || row.TradeNo != "2019091622001401000000000001" || row.OutTradeNo != "PG20190916"+fmt.Sprintf("%016X", 1) {
		t.Fatalf("first row: %+v, %v", row, err)
	}
	close(firstRead)
	for range 2 {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	_, err = r.Next()
	if err == nil || err == io.EOF || !strings.Contains(err.Error(), "#交易合计 says 4 payments") {
		t.Fatalf("end of a bill whose totals do not add up: %v", err)
	}
	if _, again := r.Next(); again == nil || again.Error() != err.Error() {
		t.Errorf("after a failure Next returned %v, want the same error", again)
	}
}

// BenchmarkBillReader streams a synthetic bill of b.N payments, never held
// whole: rows/s is the reader's rate (GBK decoding, CSV, row checks).
func BenchmarkBillReader(b *testing.B) {
	head, foot := gbk(b, syntheticBillHead), gbk(b, syntheticBillFoot(b.N))
	pr, pw := io.Pipe()
	go func() {
		pw.Write(head)
		var buf bytes.Buffer
		for i := range b.N {
			buf.WriteString(syntheticBillRow(i))
			if buf.Len() > 64<<10 || i == b.N-1 {
				pw.Write(gbk(b, buf.String()))
				buf.Reset()
			}
		}
		pw.Write(foot)
		pw.Close()
	}()
	b.ResetTimer()
	r, err := NewBillReader(pr)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
	if n != b.N {
		b.Fatalf("%d rows, want %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// TestOpenBillZip: the archive streams the same rows ParseBillZip returns,
// from a file on disk; a detail entry whose bytes were altered fails on its
// CRC-32 at the end, never yielding io.EOF.
func TestOpenBillZip(t *testing.T) {
	t.Parallel()
	data := specZip(t, specSummaryLines)
	want, err := ParseBillZip(data)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bill.zip")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	r, err := OpenBillZip(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := readRows(t, r)
	if !reflect.DeepEqual(got, want.Rows) || r.Account != want.Account {
		t.Errorf("rows %+v, account %s; want %+v, %s", got, r.Account, want.Rows, want.Account)
	}

	// The same archive stored (not deflated), one digit of an amount
	// changed in place: the entry's CRC-32 no longer matches.
	detail := billFile(t, specDetailLines, "\r\n", nil)
	stored := storedZip(t, specZipBase+"_业务明细.csv", detail)
	i := bytes.Index(stored, []byte("10.00,10.00"))
	if i < 0 {
		t.Fatal("amount not found in the stored entry")
	}
	stored[i] = '2' // 20.00 in 订单金额 only: the rows still add up, the CRC does not
	r, err = OpenBillZip(bytes.NewReader(stored), int64(len(stored)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		_, err = r.Next()
		if err != nil {
			break
		}
	}
	if err == io.EOF || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("altered entry ended with %v; want a checksum error", err)
	}
}

func storedZip(t testing.TB, name string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: string(billGBK(t, name)), NonUTF8: true, Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readRows reads r to its end, failing t on any error but io.EOF.
func readRows(t *testing.T, r *BillReader) []BillRow {
	t.Helper()
	var rows []BillRow
	for {
		row, err := r.Next()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
}

// bigBillZip is an archive whose detail entry is large enough to be read
// ahead in a goroutine (billPrefetchMin), with n synthetic payments.
func bigBillZip(t testing.TB, n int) []byte {
	t.Helper()
	var detail strings.Builder
	detail.WriteString(syntheticBillHead)
	for i := range n {
		detail.WriteString(syntheticBillRow(i))
	}
	detail.WriteString(syntheticBillFoot(n))
	data := gbk(t, detail.String())
	if len(data) < billPrefetchMin {
		t.Fatalf("detail of %d bytes; want at least %d", len(data), billPrefetchMin)
	}
	return billZip(t, zipEntry{name: specZipBase + "_业务明细.csv", data: data})
}

// TestOpenBillZipLarge: an entry read ahead in a goroutine streams the rows
// ParseBillZip returns, fails on its CRC-32 at its end when altered, and
// can be closed half read.
func TestOpenBillZipLarge(t *testing.T) {
	t.Parallel()
	const n = 12000
	data := bigBillZip(t, n)
	want, err := ParseBillZip(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Rows) != n {
		t.Fatalf("%d rows, want %d", len(want.Rows), n)
	}
	r, err := OpenBillZip(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if got := readRows(t, r); !reflect.DeepEqual(got, want.Rows) {
		t.Errorf("streamed rows differ from ParseBillZip's")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	r, err = OpenBillZip(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for range n / 2 {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// What was buffered may still come; then an error, never io.EOF.
	for err == nil {
		_, err = r.Next()
	}
	if err == io.EOF || !strings.Contains(err.Error(), "read after Close") {
		t.Fatalf("Next after Close ended with %v; want a read error", err)
	}

	var detail bytes.Buffer
	detail.WriteString(syntheticBillHead)
	for i := range n {
		detail.WriteString(syntheticBillRow(i))
	}
	detail.WriteString(syntheticBillFoot(n))
	stored := storedZip(t, specZipBase+"_业务明细.csv", gbk(t, detail.String()))
	i := bytes.LastIndex(stored, []byte("abc***@example.com,1.00,1.00,"))
	if i < 0 {
		t.Fatal("row not found in the stored entry")
	}
	stored[i] = 'x' // the buyer of the last row: the rows still add up, the CRC does not
	r, err = OpenBillZip(bytes.NewReader(stored), int64(len(stored)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		if _, err = r.Next(); err != nil {
			break
		}
	}
	if err == io.EOF || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("altered entry ended with %v; want a checksum error", err)
	}
}
