package alipay

import (
	"bytes"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

// billEquivSeeds are detail files that exercise the CSV corners: quotes,
// quoted fields across lines, stray quotes, blank and whitespace lines,
// extra columns, \r before line ends, GBK text in every kind of column.
func billEquivSeeds(t testing.TB) [][]byte {
	t.Helper()
	seeds := [][]byte{
		billFile(t, specDetailLines, "\r\n", nil),
		billFile(t, specDetailLines, "\n", nil),
		billFile(t, emptyDetailLines, "\n", nil),
		billFile(t, specDetailLines, "\n", billReplaceLine(6, ",coffee,", `,"co""f,fee",`)),
		billFile(t, specDetailLines, "\n", billReplaceLine(6, ",coffee,", ",\"co\nf\r\nfee\",")),
		billFile(t, specDetailLines, "\n", billReplaceLine(6, ",coffee,", `,co"ffee",`)),
		billFile(t, specDetailLines, "\n", billReplaceLine(6, ",coffee,", `,"co"ffee,`)),
		billFile(t, specDetailLines, "\n", billReplaceLine(7, ",,0.00,0.00,", `,,0.00,0.00,"备注`)),
		billFile(t, specDetailLines, "\r\r\n", nil),
		billFile(t, specDetailLines, "\n", billReplaceLine(6, ",coffee,", ",咖啡（大杯）,")),
		billFile(t, specDetailLines, "\n", billReplaceLine(6, ",,,,abc", ",门店1, 总店 ,\t操作员\t,,abc")),
		billFile(t, specDetailLines, "\n", billReplaceLine(6, "2019-09-16 10:00:00,", ",")),
		billFile(t, specDetailLines, "\n", func(l []string) []string {
			return append(l[:6], append([]string{"  ", ",,,", "\t", "#注释"}, l[6:]...)...)
		}),
	}
	return seeds
}

// billEquivLong are detail files with lines longer than the reader's
// buffer, quoted across lines or not.
func billEquivLong(t testing.TB) [][]byte {
	t.Helper()
	return [][]byte{
		billFile(t, specDetailLines, "\n", billReplaceLine(6, ",coffee,", ","+strings.Repeat("咖啡", 40000)+",")),
		billFile(t, specDetailLines, "\r\n", billReplaceLine(7, ",coffee,", ",\""+strings.Repeat("a,", 40000)+"\n"+strings.Repeat("\"\"", 40000)+"\",")),
	}
}

// billMutate changes data in one to three places: a byte inserted (one that
// matters to CSV, GBK or the checks), deleted or replaced, or a line doubled.
func billMutate(rng *rand.Rand, data []byte) []byte {
	special := []byte{',', '"', '\r', '\n', ' ', '\t', '#', 0x80, 0x81, 0xa3, 0xbd, 0xff, 'a', '0', '9', '-', '.', ':'}
	d := append([]byte(nil), data...)
	for range 1 + rng.IntN(3) {
		if len(d) == 0 {
			return d
		}
		i := rng.IntN(len(d))
		switch rng.IntN(4) {
		case 0:
			d = append(d[:i], append([]byte{special[rng.IntN(len(special))]}, d[i:]...)...)
		case 1:
			d = append(d[:i], d[i+1:]...)
		case 2:
			d[i] = special[rng.IntN(len(special))]
		case 3:
			start := bytes.LastIndexByte(d[:i], '\n') + 1
			end := bytes.IndexByte(d[i:], '\n')
			if end < 0 {
				continue
			}
			line := append([]byte(nil), d[start:i+end+1]...)
			d = append(d[:start], append(line, d[start:]...)...)
		}
	}
	return d
}

// TestBillMatchesReference: on the seeds and thousands of mutations of them,
// ParseBillCSV, Next and NextInto give what the reader of commit 4e54c2d gave:
// the same rows, or the same error.
func TestBillMatchesReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(8, 8))
	seeds := billEquivSeeds(t)
	n := 1500
	if testing.Short() {
		n = 200
	}
	for _, s := range seeds {
		checkBillMatchesReference(t, s)
	}
	for _, s := range billEquivLong(t) {
		checkBillMatchesReference(t, s)
		for range 10 {
			if data := billMutate(rng, s); !checkBillMatchesReference(t, data) {
				t.Fatalf("input %q", data)
			}
		}
	}
	for i := range n {
		data := billMutate(rng, seeds[i%len(seeds)])
		if !checkBillMatchesReference(t, data) {
			t.Fatalf("input %q", data)
		}
	}
}

// FuzzBillMatchesReference is TestBillMatchesReference's check on
// whatever the fuzzer makes of the seeds.
func FuzzBillMatchesReference(f *testing.F) {
	for _, s := range billEquivSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkBillMatchesReference(t, data) })
}

func checkBillMatchesReference(t *testing.T, data []byte) bool {
	t.Helper()
	want, wantErr := refParseBillCSV(data)
	got, err := ParseBillCSV(data)
	if errText(err) != errText(wantErr) {
		t.Errorf("ParseBillCSV: error %v; the reference's %v", err, wantErr)
		return false
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseBillCSV:\n%+v\nthe reference's\n%+v", got, want)
		return false
	}
	// The stream ends with the error ParseBillCSV gave, after the rows
	// before it; NextInto gives the same, Extra when asked for.
	for _, mode := range []string{"Next", "NextInto", "NextInto+Extra"} {
		rows, err := readBillAll(data, mode)
		if wantErr == nil {
			if err != nil || !billRowsEqual(rows, want.Rows, mode) {
				t.Errorf("%s: %v, rows\n%+v\nwant\n%+v", mode, err, rows, want.Rows)
				return false
			}
		} else if err == nil || errText(err) != errText(wantErr) {
			t.Errorf("%s: error %v; want %v", mode, err, wantErr)
			return false
		}
	}
	wantS, wantErr := refParseBillSummary(data)
	gotS, err := parseBillSummary(data)
	if errText(err) != errText(wantErr) || !reflect.DeepEqual(gotS, wantS) {
		t.Errorf("summary: %+v, %v; the reference's %+v, %v", gotS, err, wantS, wantErr)
		return false
	}
	return true
}

func readBillAll(data []byte, mode string) ([]BillRow, error) {
	r, err := NewBillReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var rows []BillRow
	var row BillRow
	for {
		switch mode {
		case "Next":
			row, err = r.Next()
		case "NextInto":
			err = r.NextInto(&row)
		default:
			if row.Extra == nil {
				row.Extra = map[string]string{}
			}
			err = r.NextInto(&row)
			if err == nil {
				c := row
				c.Extra = nil
				for k, v := range row.Extra {
					if c.Extra == nil {
						c.Extra = map[string]string{}
					}
					c.Extra[k] = v
				}
				rows = append(rows, c)
				continue
			}
		}
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		rows = append(rows, row)
	}
}

func billRowsEqual(got, want []BillRow, mode string) bool {
	if mode == "NextInto" && want != nil {
		w := make([]BillRow, len(want))
		for i := range want {
			w[i], w[i].Extra = want[i], nil
		}
		want = w
	}
	return reflect.DeepEqual(got, want)
}

// errText is err's message, "" for none; a bill's errors are compared
// without their "alipay: bill: " prefix, which the reference's summary lacks.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimPrefix(err.Error(), "alipay: bill: ")
}

// TestBillTimeFast: the hand parser gives ParseTime's time, to the bit, or
// leaves the string to it.
func TestBillTimeFast(t *testing.T) {
	t.Parallel()
	cases := []string{
		"2019-09-16 10:00:05", "2000-02-29 23:59:59", "1900-02-29 00:00:00", "2024-02-29 12:00:00",
		"2023-02-29 12:00:00", "2019-04-31 00:00:00", "2019-12-31 24:00:00", "2019-12-31 23:60:00",
		"2019-12-31 23:59:60", "2019-00-10 00:00:00", "2019-13-10 00:00:00", "2019-01-00 00:00:00",
		"0000-01-01 00:00:00", "9999-12-31 23:59:59", "2019-09-16 10:00:0x", "2019/09/16 10:00:05",
		"2019-09-16T10:00:05", "2019-09-16 10:00:05.5", "2019-9-16 10:00:05", "2019-09-16  9:00:05",
		"-019-09-16 10:00:05", "2019-09-16 1:00:005", "", "2019-09-16",
	}
	for _, s := range cases {
		want, wantErr := ParseTime(s)
		got, ok := billTimeFast([]byte(s))
		if ok && (wantErr != nil || got != want) {
			t.Errorf("%q: fast %v; ParseTime %v, %v", s, got, want, wantErr)
		}
	}
	for d := time.Date(2023, 12, 25, 0, 0, 0, 0, time.UTC); d.Year() < 2025; d = d.Add(7*time.Hour + 13*time.Minute + 7*time.Second) {
		s := d.Format(TimeLayout)
		want, _ := ParseTime(s)
		if got, ok := billTimeFast([]byte(s)); !ok || got != want {
			t.Fatalf("%q: fast %v, %v; want %v", s, got, ok, want)
		}
	}
}

// TestBillYuan: the hand parser gives ParseYuan's amount or declines.
func TestBillYuan(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"0", "0.00", "0.0", "-0.00", "1", "1.5", "10.00", "-3.00", "999999999999.99", "1000000000000.00",
		"01.00", "00", "-", "", ".5", "1.", "1.000", "1.0a", "+1.00", "--1", "1,00", " 1.00", "1e3", "-0",
	} {
		m, err := paygate.ParseYuan(s)
		got, ok := billYuan([]byte(s))
		if ok != (err == nil) || got != m {
			t.Errorf("%q: %v, %v; ParseYuan %v, %v", s, got, ok, m, err)
		}
	}
}

// TestBillSplit: the eight-bytes-at-a-time split is bytes.Split at commas.
func TestBillSplit(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{',', ',', 'a', '0', 0x80, 0xac, 0x2b, 0x2d, 0xff, 0x00, 0x01, '\t'}
	for n := range 2000 {
		l := make([]byte, n%70)
		for i := range l {
			l[i] = alphabet[rng.IntN(len(alphabet))]
		}
		spans := billSplit(nil, l)
		want := bytes.Split(l, []byte(","))
		if len(spans) != len(want) {
			t.Fatalf("%q: %v; want %q", l, spans, want)
		}
		for i, s := range spans {
			if !bytes.Equal(l[s.from:s.to], want[i]) {
				t.Fatalf("%q: %v; want %q", l, spans, want)
			}
		}
	}
}
