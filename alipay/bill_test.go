package alipay

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/paygate/paygate"
)

// specDetailLines is §3.8's example detail file, copied by hand from the
// protocol sheet (the tabs after the IDs included).
var specDetailLines = []string{
	"#支付宝业务明细查询",
	"#账号：[20889110551340340156]",
	"#起始日期：[2019年09月16日 00:00:00]   终止日期：[2019年09月17日 00:00:00]",
	"#-----------------------------------------业务明细列表----------------------------------------",
	"支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注",
	"2019091622001401234567890123\t,T20190916001\t,交易,coffee,2019-09-16 10:00:00,2019-09-16 10:00:05,,,,,abc***@example.com,10.00,10.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,0.00,0.00,",
	"2019091622001401234567890123\t,T20190916001\t,退款,coffee,2019-09-16 10:00:00,2019-09-16 12:00:00,,,,,abc***@example.com,-3.00,-3.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,R1\t,0.00,0.00,",
	"#-----------------------------------------业务明细列表结束------------------------------------",
	"#交易合计：1笔，商家实收共10.00元，商家优惠共0.00元",
	"#退款合计：1笔，商家实收退款共-3.00元，商家优惠退款共0.00元",
	"#导出时间：[2019年09月17日 09:12:10]",
}

// specSummaryLines is a summary file for the same day, laid out by §3.8's
// column list: the (empty) store and the 合计 row, net of the refund.
var specSummaryLines = []string{
	"#支付宝业务汇总查询",
	"#账号：[20889110551340340156]",
	"#起始日期：[2019年09月16日 00:00:00]   终止日期：[2019年09月17日 00:00:00]",
	"#-----------------------------------------业务汇总列表----------------------------------------",
	"门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）",
	",,1,1,7.00,7.00,0.00,0.00,0.00,0.00,0.00,7.00",
	"合计,,1,1,7.00,7.00,0.00,0.00,0.00,0.00,0.00,7.00",
	"#-----------------------------------------业务汇总列表结束------------------------------------",
	"#导出时间：[2019年09月17日 09:12:10]",
}

// appendixA is Appendix A of the protocol sheet: text and its GBK bytes.
var appendixA = []struct{ text, hex string }{
	{"交易", "bd bb d2 d7"},
	{"退款", "cd cb bf ee"},
	{"业务明细", "d2 b5 ce f1 c3 f7 cf b8"},
	{"业务明细列表", "d2 b5 ce f1 c3 f7 cf b8 c1 d0 b1 ed"},
	{"业务明细列表结束", "d2 b5 ce f1 c3 f7 cf b8 c1 d0 b1 ed bd e1 ca f8"},
	{"业务明细(汇总)", "d2 b5 ce f1 c3 f7 cf b8 28 bb e3 d7 dc 29"},
	{"业务汇总列表", "d2 b5 ce f1 bb e3 d7 dc c1 d0 b1 ed"},
	{"支付宝交易号", "d6 a7 b8 b6 b1 a6 bd bb d2 d7 ba c5"},
	{"商户订单号", "c9 cc bb a7 b6 a9 b5 a5 ba c5"},
	{"#支付宝业务明细查询", "23 d6 a7 b8 b6 b1 a6 d2 b5 ce f1 c3 f7 cf b8 b2 e9 d1 af"},
	{"#账号：[", "23 d5 cb ba c5 a3 ba 5b"},
	{"#起始日期：[", "23 c6 f0 ca bc c8 d5 c6 da a3 ba 5b"},
	{"]   终止日期：[", "5d 20 20 20 d6 d5 d6 b9 c8 d5 c6 da a3 ba 5b"},
	{"#交易合计：", "23 bd bb d2 d7 ba cf bc c6 a3 ba"},
	{"#退款合计：", "23 cd cb bf ee ba cf bc c6 a3 ba"},
	{"#导出时间：[", "23 b5 bc b3 f6 ca b1 bc e4 a3 ba 5b"},
	{"元", "d4 aa"},
	{"年", "c4 ea"},
	{"月", "d4 c2"},
	{"日", "c8 d5"},
	{"：", "a3 ba"},
	{"（", "a3 a8"},
	{"）", "a3 a9"},
	{"，", "a3 ac"},
}

func billGBK(t testing.TB, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("encode %q to GBK: %v", s, err)
	}
	return b
}

func billUnhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// billFile joins edited copies of lines with eol (after every line, as a
// file ends) and encodes the result to GBK.
func billFile(t testing.TB, lines []string, eol string, edit func([]string) []string) []byte {
	t.Helper()
	l := append([]string(nil), lines...)
	if edit != nil {
		l = edit(l)
	}
	return billGBK(t, strings.Join(l, eol)+eol)
}

// billUpdateGolden reports whether golden files are to be rewritten: with the
// package's -update flag when a test file defines one, or PAYGATE_UPDATE_GOLDEN=1.
func billUpdateGolden() bool {
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		return true
	}
	return os.Getenv("PAYGATE_UPDATE_GOLDEN") == "1"
}

// billGolden compares testdata/name with want, rewriting it first when asked.
func billGolden(t *testing.T, name string, want []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	if billUpdateGolden() {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the spec's lines encoded to GBK; rerun with PAYGATE_UPDATE_GOLDEN=1 if the spec changed", path)
	}
	return got
}

// TestBillGoldenIsSpecGBK proves the fixtures hold the spec's text in the
// spec's bytes: the encoder agrees with Appendix A, not just with the decoder.
func TestBillGoldenIsSpecGBK(t *testing.T) {
	t.Parallel()
	detail := billGolden(t, "bill_detail.csv.golden", billFile(t, specDetailLines, "\r\n", nil))
	summary := billGolden(t, "bill_summary.csv.golden", billFile(t, specSummaryLines, "\r\n", nil))
	for _, a := range appendixA {
		want := billUnhex(t, a.hex)
		if got := billGBK(t, a.text); !bytes.Equal(got, want) {
			t.Errorf("GBK(%q) = % x; Appendix A says % x", a.text, got, want)
		}
		inDetail, inSummary := bytes.Contains(detail, want), bytes.Contains(summary, want)
		switch a.text {
		case "业务明细(汇总)": // only in the archive's entry name, checked in TestParseBillZip
		case "业务汇总列表":
			if !inSummary {
				t.Errorf("summary fixture lacks %q (% x)", a.text, want)
			}
		default:
			if !inDetail {
				t.Errorf("detail fixture lacks %q (% x)", a.text, want)
			}
		}
	}
}

func billChina(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, ChinaTime)
}

// specBill is what §3.8's example must parse to.
func specBill() *Bill {
	zeros := map[string]string{
		"支付宝红包（元）": "0.00", "集分宝（元）": "0.00", "支付宝优惠（元）": "0.00", "商家优惠（元）": "0.00",
		"券核销金额（元）": "0.00", "商家红包消费金额（元）": "0.00", "卡消费金额（元）": "0.00",
		"服务费（元）": "0.00", "分润（元）": "0.00",
	}
	return &Bill{
		Account: "20889110551340340156",
		Start:   billChina(2019, 9, 16, 0, 0, 0),
		End:     billChina(2019, 9, 17, 0, 0, 0),
		Rows: []BillRow{{
			TradeNo: "2019091622001401234567890123", OutTradeNo: "T20190916001", Kind: BillKindTrade,
			Subject: "coffee", Created: billChina(2019, 9, 16, 10, 0, 0), Finished: billChina(2019, 9, 16, 10, 0, 5),
			BuyerAccount: "abc***@example.com", TotalAmount: 1000, ReceiptAmount: 1000, Extra: zeros,
		}, {
			TradeNo: "2019091622001401234567890123", OutTradeNo: "T20190916001", Kind: BillKindRefund,
			Subject: "coffee", Created: billChina(2019, 9, 16, 10, 0, 0), Finished: billChina(2019, 9, 16, 12, 0, 0),
			BuyerAccount: "abc***@example.com", TotalAmount: -300, ReceiptAmount: -300, OutRequestNo: "R1",
			Extra: zeros,
		}},
		TradeCount: 1, TradeAmount: 1000, RefundCount: 1, RefundAmount: -300,
	}
}

// utcBill copies b with every time in UTC, so that DeepEqual compares instants.
func utcBill(b *Bill) Bill {
	c := *b
	c.Start, c.End = c.Start.UTC(), c.End.UTC()
	c.Rows = append([]BillRow(nil), b.Rows...)
	for i := range c.Rows {
		c.Rows[i].Created, c.Rows[i].Finished = c.Rows[i].Created.UTC(), c.Rows[i].Finished.UTC()
	}
	return c
}

func checkBill(t *testing.T, got, want *Bill) {
	t.Helper()
	if got.Start.Location() != ChinaTime || (len(got.Rows) > 0 && got.Rows[0].Finished.Location() != ChinaTime) {
		t.Errorf("times are not in ChinaTime")
	}
	g, w := utcBill(got), utcBill(want)
	g.Summary, w.Summary = nil, nil
	if !reflect.DeepEqual(g, w) {
		gj, _ := json.MarshalIndent(g, "", " ")
		wj, _ := json.MarshalIndent(w, "", " ")
		t.Errorf("bill =\n%s\nwant\n%s", gj, wj)
	}
}

func TestParseBillCSVSpec(t *testing.T) {
	t.Parallel()
	fixture, err := os.ReadFile(filepath.Join("testdata", "bill_detail.csv.golden"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"golden":  fixture,
		"crlf":    billFile(t, specDetailLines, "\r\n", nil),
		"lf":      billFile(t, specDetailLines, "\n", nil),
		"no-last": bytes.TrimSuffix(billFile(t, specDetailLines, "\n", nil), []byte("\n")),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := ParseBillCSV(data)
			if err != nil {
				t.Fatal(err)
			}
			checkBill(t, b, specBill())
		})
	}
}

// billEditColumns rewrites the header and both rows (lines 5 to 7), which hold
// no quoted commas, with f applied to their fields.
func billEditColumns(f func(i int, fields []string) []string) func([]string) []string {
	return func(l []string) []string {
		for i := 4; i <= 6; i++ {
			l[i] = strings.Join(f(i, strings.Split(l[i], ",")), ",")
		}
		return l
	}
}

func TestParseBillCSVColumnsByName(t *testing.T) {
	t.Parallel()
	t.Run("unknown column in the middle", func(t *testing.T) {
		t.Parallel()
		data := billFile(t, specDetailLines, "\n", billEditColumns(func(i int, f []string) []string {
			v := "x" + string(rune('0'+i))
			if i == 4 {
				v = "新增列（元）"
			}
			return append(f[:4], append([]string{v}, f[4:]...)...)
		}))
		b, err := ParseBillCSV(data)
		if err != nil {
			t.Fatal(err)
		}
		want := specBill()
		for i := range want.Rows {
			extra := map[string]string{"新增列（元）": "x" + string(rune('5'+i))}
			for k, v := range want.Rows[i].Extra {
				extra[k] = v
			}
			want.Rows[i].Extra = extra
		}
		checkBill(t, b, want)
	})
	t.Run("reordered with ASCII parentheses", func(t *testing.T) {
		t.Parallel()
		data := billFile(t, specDetailLines, "\n", billEditColumns(func(i int, f []string) []string {
			if i == 4 {
				f[12] = "商家实收(元)"
			}
			f[0], f[12] = f[12], f[0]
			return f
		}))
		b, err := ParseBillCSV(data)
		if err != nil {
			t.Fatal(err)
		}
		checkBill(t, b, specBill())
	})
	for _, col := range []string{"支付宝交易号", "商户订单号", "业务类型", "订单金额（元）", "商家实收（元）", "完成时间"} {
		t.Run("missing "+col, func(t *testing.T) {
			t.Parallel()
			idx := strings.Index(","+specDetailLines[4]+",", ","+col+",")
			n := strings.Count(specDetailLines[4][:idx], ",")
			data := billFile(t, specDetailLines, "\n", billEditColumns(func(_ int, f []string) []string {
				return append(f[:n], f[n+1:]...)
			}))
			_, err := ParseBillCSV(data)
			if err == nil || !strings.Contains(err.Error(), col) || !strings.Contains(err.Error(), "line 5") {
				t.Fatalf("err = %v; want one naming %s on line 5", err, col)
			}
		})
	}
}

// billReplaceLine returns an edit that replaces old by new in line n (1-based).
func billReplaceLine(n int, old, new string) func([]string) []string {
	return func(l []string) []string {
		if !strings.Contains(l[n-1], old) {
			panic("test edit: line " + l[n-1] + " lacks " + old)
		}
		l[n-1] = strings.Replace(l[n-1], old, new, 1)
		return l
	}
}

func billDropLine(n int) func([]string) []string {
	return func(l []string) []string { return append(l[:n-1], l[n:]...) }
}

func TestParseBillCSVRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func([]string) []string
		want []string // substrings of the error
	}{
		{"trade count", billReplaceLine(9, "1笔", "2笔"), []string{"line 9", "#交易合计", "2 payments"}},
		{"trade amount", billReplaceLine(9, "共10.00元", "共11.00元"), []string{"line 9", "#交易合计", "11.00"}},
		{"refund count", billReplaceLine(10, "1笔", "0笔"), []string{"line 10", "#退款合计"}},
		{"refund amount", billReplaceLine(10, "-3.00元", "-4.00元"), []string{"line 10", "-4.00"}},
		{"row amount changed", billReplaceLine(6, ",10.00,10.00,", ",10.00,9.00,"), []string{"line 9", "9.00"}},
		{"row dropped", billDropLine(7), []string{"line 9", "#退款合计"}},
		{"no trade total", billDropLine(9), []string{"no #交易合计"}},
		{"no refund total", billDropLine(10), []string{"no #退款合计"}},
		{"garbled total", billReplaceLine(9, "1笔", "一笔"), []string{"line 9", "#交易合计"}},
		{"cut short", func(l []string) []string { return l[:7] }, []string{"cut short"}},
		{"no marker", billDropLine(4), []string{"业务明细列表"}},
		{"no account", billDropLine(2), []string{"#账号"}},
		{"no dates", billDropLine(3), []string{"#起始日期"}},
		{"bad dates", billReplaceLine(3, "2019年09月17日", "2019年09月15日"), []string{"line 3"}},
		{"malformed amount", billReplaceLine(6, ",10.00,10.00,", ",10.00,1O.00,"), []string{"line 6", "商家实收（元）", "1O.00"}},
		{"three decimals", billReplaceLine(7, ",-3.00,-3.00,", ",-3.000,-3.00,"), []string{"line 7", "订单金额（元）"}},
		{"empty amount", billReplaceLine(6, ",10.00,10.00,", ",,10.00,"), []string{"line 6", "订单金额（元）"}},
		{"negative payment", billReplaceLine(6, ",10.00,10.00,", ",-10.00,-10.00,"), []string{"line 6", "交易"}},
		{"positive refund", billReplaceLine(7, ",-3.00,-3.00,", ",3.00,3.00,"), []string{"line 7", "退款"}},
		{"unknown kind", billReplaceLine(6, ",交易,", ",转账,"), []string{"line 6", "转账"}},
		{"bad time", billReplaceLine(7, "2019-09-16 12:00:00", "2019/09/16 12:00"), []string{"line 7", "完成时间"}},
		{"empty trade no", billReplaceLine(6, "2019091622001401234567890123\t", ""), []string{"line 6", "支付宝交易号"}},
		{"short row", billReplaceLine(6, ",0.00,0.00,", ","), []string{"line 6", "fields"}},
		{"shifted row", billReplaceLine(6, ",coffee,", ",cof,fee,"), []string{"line 6", "26 fields"}},
		{"extra empty field", billReplaceLine(6, "0.00,0.00,", "0.00,0.00,,"), []string{"line 6", "26 fields"}},
		{"duplicate column", billReplaceLine(5, ",备注", ",商家实收（元）"), []string{"line 5", "twice"}},
		{"no header", func(l []string) []string { return append(l[:4], l[7:]...) }, []string{"no header"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseBillCSV(billFile(t, specDetailLines, "\r\n", c.edit))
			if err == nil {
				t.Fatal("parsed; want an error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v; want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParseBillCSVTolerates(t *testing.T) {
	t.Parallel()
	cases := map[string]func([]string) []string{
		// The refund total's sign is not what the check is about.
		"positive refund total": billReplaceLine(10, "-3.00元", "3.00元"),
		"blank line in table":   func(l []string) []string { return append(l[:6], append([]string{""}, l[6:]...)...) },
		"quoted subject":        billReplaceLine(6, ",coffee,", `,"coffee",`),
		"dash count":            billReplaceLine(8, "#------", "#--"),
		"no export time":        billDropLine(11),
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := ParseBillCSV(billFile(t, specDetailLines, "\n", edit))
			if err != nil {
				t.Fatal(err)
			}
			checkBill(t, b, specBill())
		})
	}
}

// emptyDetailLines is a day without trades.
var emptyDetailLines = []string{
	specDetailLines[0], specDetailLines[1], specDetailLines[2], specDetailLines[3], specDetailLines[4], specDetailLines[7],
	"#交易合计：0笔，商家实收共0.00元，商家优惠共0.00元",
	"#退款合计：0笔，商家实收退款共0.00元，商家优惠退款共0.00元",
	specDetailLines[10],
}

func TestParseBillCSVEmpty(t *testing.T) {
	t.Parallel()
	b, err := ParseBillCSV(billFile(t, emptyDetailLines, "\r\n", nil))
	if err != nil {
		t.Fatal(err)
	}
	want := specBill()
	want.Rows, want.TradeCount, want.TradeAmount, want.RefundCount, want.RefundAmount = nil, 0, 0, 0, 0
	checkBill(t, b, want)
}

type zipEntry struct {
	name string // UTF-8; written as GBK unless utf8
	data []byte
	utf8 bool
}

func billZip(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if !e.utf8 {
			h.Name, h.NonUTF8 = string(billGBK(t, e.name)), true
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const specZipBase = "20889110551340340156_20190916"

func specZip(t testing.TB, summary []string) []byte {
	t.Helper()
	return billZip(t,
		zipEntry{name: specZipBase + "_业务明细.csv", data: billFile(t, specDetailLines, "\r\n", nil)},
		zipEntry{name: specZipBase + "_业务明细(汇总).csv", data: billFile(t, summary, "\r\n", nil)})
}

func TestParseBillZip(t *testing.T) {
	t.Parallel()
	data := specZip(t, specSummaryLines)
	// The archive is what Alipay serves: GBK names without the UTF-8 flag.
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if f := zr.File[1]; f.Flags&0x800 != 0 || !bytes.Contains([]byte(f.Name), billUnhex(t, "d2 b5 ce f1 c3 f7 cf b8 28 bb e3 d7 dc 29")) {
		t.Fatalf("summary entry name % x, flags %#x; want GBK 业务明细(汇总) without the UTF-8 flag", f.Name, f.Flags)
	}

	b, err := ParseBillZip(data)
	if err != nil {
		t.Fatal(err)
	}
	checkBill(t, b, specBill())
	total := BillSummaryRow{StoreID: "合计", TradeCount: 1, RefundCount: 1, TotalAmount: 700, ReceiptAmount: 700, NetAmount: 700,
		Extra: map[string]string{"支付宝优惠（元）": "0.00", "商家优惠（元）": "0.00", "卡消费金额（元）": "0.00", "服务费（元）": "0.00", "分润（元）": "0.00"}}
	store := total
	store.StoreID = ""
	if s := b.Summary; s == nil || s.Account != b.Account || !s.Start.Equal(b.Start) || !s.End.Equal(b.End) ||
		!reflect.DeepEqual(s.Total, total) || !reflect.DeepEqual(s.Stores, []BillSummaryRow{store}) {
		t.Errorf("summary = %+v", b.Summary)
	}
}

func TestParseBillZipVariants(t *testing.T) {
	t.Parallel()
	detail := billFile(t, specDetailLines, "\r\n", nil)
	t.Run("UTF-8 names", func(t *testing.T) {
		t.Parallel()
		b, err := ParseBillZip(billZip(t,
			zipEntry{name: specZipBase + "_业务明细(汇总).csv", data: billFile(t, specSummaryLines, "\n", nil), utf8: true},
			zipEntry{name: specZipBase + "_业务明细.csv", data: detail, utf8: true}))
		if err != nil || b.Summary == nil {
			t.Fatalf("bill %+v, err %v", b, err)
		}
	})
	t.Run("summary without head lines", func(t *testing.T) {
		t.Parallel()
		b, err := ParseBillZip(specZip(t, append([]string{specSummaryLines[0]}, specSummaryLines[3:]...)))
		if err != nil || b.Summary == nil || b.Summary.Total.TradeCount != 1 {
			t.Fatalf("bill %+v, err %v", b, err)
		}
	})
	t.Run("detail only", func(t *testing.T) {
		t.Parallel()
		b, err := ParseBillZip(billZip(t, zipEntry{name: specZipBase + "_业务明细.csv", data: detail}))
		if err != nil || b.Summary != nil || len(b.Rows) != 2 {
			t.Fatalf("bill %+v, err %v", b, err)
		}
	})
	rejects := map[string]struct {
		data []byte
		want string
	}{
		"no detail":   {billZip(t, zipEntry{name: specZipBase + "_业务明细(汇总).csv", data: billFile(t, specSummaryLines, "\n", nil)}), "no file named"},
		"two details": {billZip(t, zipEntry{name: "a_业务明细.csv", data: detail}, zipEntry{name: "b_业务明细.csv", data: detail}), "two detail files"},
		"summary count": {specZip(t, append(append([]string(nil), specSummaryLines[:6]...),
			"合计,,2,1,7.00,7.00,0.00,0.00,0.00,0.00,0.00,7.00", specSummaryLines[7], specSummaryLines[8])), "2 trades"},
		"summary amount": {specZip(t, append(append([]string(nil), specSummaryLines[:6]...),
			"合计,,1,1,10.00,10.00,0.00,0.00,0.00,0.00,0.00,10.00", specSummaryLines[7], specSummaryLines[8])), "10.00"},
		"summary account":  {specZip(t, append([]string{specSummaryLines[0], "#账号：[20889110551340350156]"}, specSummaryLines[2:]...)), "account"},
		"summary no total": {specZip(t, append(append([]string(nil), specSummaryLines[:6]...), specSummaryLines[7:]...)), "no 合计 row"},
		"bad detail":       {billZip(t, zipEntry{name: specZipBase + "_业务明细.csv", data: billFile(t, specDetailLines, "\n", billDropLine(9))}), "业务明细.csv"},
		"not a zip":        {detail, "bill archive"},
	}
	for name, c := range rejects {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseBillZip(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want one containing %q", err, c.want)
			}
		})
	}
	t.Run("corrupted", func(t *testing.T) {
		t.Parallel()
		data := specZip(t, specSummaryLines)
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		off, err := zr.File[0].DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		data[off+20] ^= 0x55 // inside the detail's compressed bytes
		if _, err := ParseBillZip(data); err == nil {
			t.Fatal("a corrupted archive parsed")
		}
	})
}

func TestDownloadBill(t *testing.T) {
	t.Parallel()
	data := specZip(t, specSummaryLines)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			t.Errorf("method %s", r.Method)
		}
		switch r.URL.Path {
		case "/ok":
			w.Header().Set("Content-Type", "application/oct-stream")
			w.Write(data)
		case "/slow":
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL, func(cfg *Config) { cfg.Timeout = 200 * time.Millisecond })
	ctx := context.Background()

	b, err := c.DownloadBill(ctx, srv.URL+"/ok?token=secret")
	if err != nil {
		t.Fatal(err)
	}
	checkBill(t, b, specBill())
	if b.Summary == nil {
		t.Error("summary not parsed")
	}
	for path, want := range map[string]string{"/gone?token=secret": "HTTP 404", "/slow?token=secret": "deadline"} {
		_, err := c.DownloadBill(ctx, srv.URL+path)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "alipay: download bill: ") {
			t.Errorf("%s: err = %v; want %q", path, err, want)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error %q leaks the URL's token", path, err)
		}
	}
	if _, err := c.DownloadBill(ctx, "ftp://example.com/x"); err == nil {
		t.Error("an ftp URL was fetched")
	}
}

func TestBillURL(t *testing.T) {
	t.Parallel()
	srv := fakeGateway(t, func(r *http.Request) (string, string, bool) {
		if r.Form.Get("method") != MethodBillURL {
			t.Errorf("method %q", r.Form.Get("method"))
		}
		var biz BillURLRequest
		if err := json.Unmarshal([]byte(r.Form.Get("biz_content")), &biz); err != nil {
			t.Errorf("biz_content: %v", err)
		}
		key := ResponseKey(MethodBillURL)
		switch {
		case biz.BillType != BillTypeTrade:
			t.Errorf("bill_type %q; want the default trade", biz.BillType)
		case biz.BillDate == "2019-09-15":
			return key, `{"code":"40004","msg":"Business Failed","sub_code":"isp.bill_not_exist","sub_msg":"账单不存在"}`, true
		}
		return key, `{"code":"10000","msg":"Success","bill_download_url":"http:\/\/dwbillcenter.alipay.com\/downloadBillFile.resource?bizType=trade&fileType=csv.zip"}`, true
	})
	c := newTestClient(t, srv.URL)
	ctx := context.Background()

	resp, err := c.BillURL(ctx, BillURLRequest{BillDate: "2019-09-16"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.BillDownloadURL != "http://dwbillcenter.alipay.com/downloadBillFile.resource?bizType=trade&fileType=csv.zip" {
		t.Errorf("url %q", resp.BillDownloadURL)
	}
	if _, err := c.BillURL(ctx, BillURLRequest{BillDate: "2019-09"}); err != nil {
		t.Errorf("monthly: %v", err)
	}
	_, err = c.BillURL(ctx, BillURLRequest{BillDate: "2019-09-15"})
	if !IsSubCode(err, SubBillNotExist) || OutcomeOf(err) != OutcomeFailed {
		t.Errorf("no bill: err = %v", err)
	}
	for _, d := range []string{"", "2019-9-16", "20190916", "2019-09-16 00:00:00", "2019-13"} {
		if _, err := c.BillURL(ctx, BillURLRequest{BillDate: d}); OutcomeOf(err) != OutcomeConfig {
			t.Errorf("bill_date %q: err = %v; want a config error", d, err)
		}
	}
}

func FuzzParseBillCSV(f *testing.F) {
	f.Add(billFile(f, specDetailLines, "\r\n", nil))
	f.Add(billFile(f, specDetailLines, "\n", nil))
	f.Add(billFile(f, emptyDetailLines, "\n", nil))
	f.Add(billFile(f, specSummaryLines, "\n", nil))
	f.Add(billFile(f, specDetailLines, "\n", billReplaceLine(6, ",coffee,", `,"co""f,fee`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBillCSV(data)
		if err != nil {
			return
		}
		if b.TradeCount+b.RefundCount != len(b.Rows) || b.RefundAmount > 0 || b.TradeAmount < 0 {
			t.Fatalf("inconsistent bill %+v", b)
		}
		var sum paygate.Money
		for _, r := range b.Rows {
			sum += r.ReceiptAmount
		}
		if sum != b.TradeAmount+b.RefundAmount {
			t.Fatalf("rows sum to %s, totals %s and %s", sum, b.TradeAmount, b.RefundAmount)
		}
		_, _ = ParseBillSummaryCSV(data)
	})
}
