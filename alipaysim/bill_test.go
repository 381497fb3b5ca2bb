package alipaysim

import (
	"archive/zip"
	"bytes"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/paygate/paygate/alipay"
)

const billTestAccount = "20889110551340340156"

func billTestTime(day, h, m, s int) time.Time {
	return time.Date(2019, 9, day, h, m, s, 0, alipay.ChinaTime)
}

// billTestSpecRows are the two illustrative rows of §3.8.
func billTestSpecRows() []BillRow {
	return []BillRow{{
		TradeNo: "2019091622001401234567890123", OutTradeNo: "T20190916001", Kind: BillKindRefund, Subject: "coffee",
		Created: billTestTime(16, 10, 0, 0), Finished: billTestTime(16, 12, 0, 0), BuyerLogonID: "abc***@example.com",
		Amount: -300, OutRequestNo: "R1",
	}, {
		TradeNo: "2019091622001401234567890123", OutTradeNo: "T20190916001", Kind: BillKindTrade, Subject: "coffee",
		Created: billTestTime(16, 10, 0, 0), Finished: billTestTime(16, 10, 0, 5), BuyerLogonID: "abc***@example.com",
		Amount: 1000,
	}}
}

// billTestUnzip returns the archive's entries by decoded name, checking that
// every name is GBK without the UTF-8 flag.
func billTestUnzip(t *testing.T, data []byte) (names []string, files map[string][]byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	files = map[string][]byte{}
	for _, f := range zr.File {
		if f.Flags&0x800 != 0 || !f.NonUTF8 {
			t.Errorf("entry % x has the UTF-8 flag (flags %#x)", f.Name, f.Flags)
		}
		name, err := simplifiedchinese.GBK.NewDecoder().String(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
		files[name] = b
	}
	return names, files
}

func billTestHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func billTestDecode(t *testing.T, b []byte) []string {
	t.Helper()
	s, err := simplifiedchinese.GBK.NewDecoder().Bytes(b)
	if err != nil {
		t.Fatal(err)
	}
	text := string(s)
	if !strings.HasSuffix(text, "\r\n") || strings.Count(text, "\n") != strings.Count(text, "\r\n") {
		t.Errorf("lines do not all end with CRLF: %q", text)
	}
	return strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n")
}

// TestBuildBillSpecExample builds §3.8's example day and compares it with
// the sheet's lines, copied by hand; only the export time is the simulator's.
func TestBuildBillSpecExample(t *testing.T) {
	t.Parallel()
	// 2019-09-15 20:00 in UTC is already the 16th in UTC+8.
	data, err := BuildBill(billTestAccount, time.Date(2019, 9, 15, 20, 0, 0, 0, time.UTC), billTestSpecRows())
	if err != nil {
		t.Fatal(err)
	}
	if got := BillFileName(billTestAccount, time.Date(2019, 9, 15, 20, 0, 0, 0, time.UTC)); got != "20889110551340340156_20190916.csv.zip" {
		t.Errorf("BillFileName = %q", got)
	}
	names, files := billTestUnzip(t, data)
	wantNames := []string{"20889110551340340156_20190916_业务明细.csv", "20889110551340340156_20190916_业务明细(汇总).csv"}
	if strings.Join(names, "|") != strings.Join(wantNames, "|") {
		t.Fatalf("entries %q; want %q", names, wantNames)
	}
	zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	// Appendix A: 业务明细 and 业务明细(汇总) in GBK.
	if !strings.HasSuffix(zr.File[0].Name, string(billTestHex(t, "5f d2 b5 ce f1 c3 f7 cf b8 2e 63 73 76"))) ||
		!strings.HasSuffix(zr.File[1].Name, string(billTestHex(t, "5f d2 b5 ce f1 c3 f7 cf b8 28 bb e3 d7 dc 29 2e 63 73 76"))) {
		t.Errorf("entry names % x and % x are not Appendix A's GBK", zr.File[0].Name, zr.File[1].Name)
	}

	detail := files[wantNames[0]]
	wantDetail := []string{
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
		"#导出时间：[2019年09月17日 09:00:00]",
	}
	billTestLines(t, "detail", billTestDecode(t, detail), wantDetail)
	// Appendix A byte sequences, checked on the bytes, not the decoded text.
	for _, h := range []string{
		"23 d6 a7 b8 b6 b1 a6 d2 b5 ce f1 c3 f7 cf b8 b2 e9 d1 af", // #支付宝业务明细查询
		"23 d5 cb ba c5 a3 ba 5b",                                  // #账号：[
		"23 c6 f0 ca bc c8 d5 c6 da a3 ba 5b",                      // #起始日期：[
		"5d 20 20 20 d6 d5 d6 b9 c8 d5 c6 da a3 ba 5b",             // ]   终止日期：[
		"d2 b5 ce f1 c3 f7 cf b8 c1 d0 b1 ed bd e1 ca f8",          // 业务明细列表结束
		"d6 a7 b8 b6 b1 a6 bd bb d2 d7 ba c5",                      // 支付宝交易号
		"c9 cc bb a7 b6 a9 b5 a5 ba c5",                            // 商户订单号
		"2c bd bb d2 d7 2c",                                        // ,交易,
		"2c cd cb bf ee 2c",                                        // ,退款,
		"23 bd bb d2 d7 ba cf bc c6 a3 ba",                         // #交易合计：
		"23 cd cb bf ee ba cf bc c6 a3 ba",                         // #退款合计：
		"23 b5 bc b3 f6 ca b1 bc e4 a3 ba 5b",                      // #导出时间：[
	} {
		if !bytes.Contains(detail, billTestHex(t, h)) {
			t.Errorf("detail lacks % x", billTestHex(t, h))
		}
	}

	wantSummary := []string{
		"#支付宝业务汇总查询",
		"#账号：[20889110551340340156]",
		"#起始日期：[2019年09月16日 00:00:00]   终止日期：[2019年09月17日 00:00:00]",
		"#-----------------------------------------业务汇总列表----------------------------------------",
		"门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）",
		",,1,1,7.00,7.00,0.00,0.00,0.00,0.00,0.00,7.00",
		"合计,,1,1,7.00,7.00,0.00,0.00,0.00,0.00,0.00,7.00",
		"#-----------------------------------------业务汇总列表结束------------------------------------",
		"#导出时间：[2019年09月17日 09:00:00]",
	}
	summary := files[wantNames[1]]
	billTestLines(t, "summary", billTestDecode(t, summary), wantSummary)
	if !bytes.Contains(summary, billTestHex(t, "d2 b5 ce f1 bb e3 d7 dc c1 d0 b1 ed")) { // 业务汇总列表
		t.Error("summary lacks 业务汇总列表 in GBK")
	}

	again, err := BuildBill(billTestAccount, billTestTime(16, 23, 59, 59), billTestSpecRows())
	if err != nil || !bytes.Equal(again, data) {
		t.Errorf("a second build differs (err %v): the bytes must depend only on the arguments", err)
	}
}

func billTestLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s has %d lines, want %d:\n%s", what, len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s line %d:\n got %q\nwant %q", what, i+1, got[i], want[i])
		}
	}
}

// TestBuildBillRoundTrip parses a bill through the client's parser.
func TestBuildBillRoundTrip(t *testing.T) {
	t.Parallel()
	rows := append(billTestSpecRows(),
		BillRow{
			TradeNo: "2019091622001401234567890999", OutTradeNo: "T20190916002", Kind: BillKindTrade,
			Subject: `tea, "large" 🍵`, Created: billTestTime(16, 23, 58, 0), Finished: billTestTime(16, 23, 59, 59),
			BuyerLogonID: "131****2989", Amount: 265000,
		},
		BillRow{
			TradeNo: "2019091522001401234567890555", OutTradeNo: "T20190915009", Kind: BillKindRefund,
			Subject: "午餐\n套餐", Created: billTestTime(15, 9, 0, 0), Finished: billTestTime(16, 0, 0, 0),
			BuyerLogonID: "buyer@example.com", Amount: -1, OutRequestNo: "T20190915009-r2",
		})
	data, err := BuildBill(billTestAccount, billTestTime(16, 12, 0, 0), rows)
	if err != nil {
		t.Fatal(err)
	}
	b, err := alipay.ParseBillZip(data)
	if err != nil {
		t.Fatal(err)
	}
	if b.Account != billTestAccount || !b.Start.Equal(billTestTime(16, 0, 0, 0)) || !b.End.Equal(billTestTime(17, 0, 0, 0)) {
		t.Errorf("account %s, %s to %s", b.Account, b.Start, b.End)
	}
	if b.TradeCount != 2 || b.TradeAmount != 266000 || b.RefundCount != 2 || b.RefundAmount != -301 {
		t.Errorf("totals %d %s, %d %s", b.TradeCount, b.TradeAmount, b.RefundCount, b.RefundAmount)
	}
	if s := b.Summary; s == nil || s.Total.TradeCount != 2 || s.Total.RefundCount != 2 || s.Total.ReceiptAmount != 265699 || len(s.Stores) != 1 {
		t.Errorf("summary %+v", b.Summary)
	}
	// Sorted by Finished: the midnight refund, the spec's trade and refund, the late trade.
	want := []BillRow{rows[3], rows[1], rows[0], rows[2]}
	want[0].Subject, want[3].Subject = "午餐 套餐", `tea, "large" ?`
	if len(b.Rows) != len(want) {
		t.Fatalf("%d rows; want %d", len(b.Rows), len(want))
	}
	for i, w := range want {
		g := b.Rows[i]
		if g.TradeNo != w.TradeNo || g.OutTradeNo != w.OutTradeNo || g.Kind != w.Kind || g.Subject != w.Subject ||
			!g.Created.Equal(w.Created) || !g.Finished.Equal(w.Finished) || g.BuyerAccount != w.BuyerLogonID ||
			g.TotalAmount != w.Amount || g.ReceiptAmount != w.Amount || g.OutRequestNo != w.OutRequestNo {
			t.Errorf("row %d = %+v\nwant %+v", i, g, w)
		}
		if g.Kind == alipay.BillKindRefund && g.ReceiptAmount >= 0 {
			t.Errorf("row %d: refund amount %s is not negative", i, g.ReceiptAmount)
		}
	}
}

func TestBuildBillEmptyDay(t *testing.T) {
	t.Parallel()
	data, err := BuildBill(billTestAccount, billTestTime(16, 0, 0, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, files := billTestUnzip(t, data)
	lines := billTestDecode(t, files["20889110551340340156_20190916_业务明细.csv"])
	if len(lines) != 9 || lines[6] != "#交易合计：0笔，商家实收共0.00元，商家优惠共0.00元" || lines[7] != "#退款合计：0笔，商家实收退款共0.00元，商家优惠退款共0.00元" {
		t.Errorf("empty detail:\n%s", strings.Join(lines, "\n"))
	}
	b, err := alipay.ParseBillZip(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Rows) != 0 || b.TradeCount != 0 || b.RefundCount != 0 || b.TradeAmount != 0 || b.RefundAmount != 0 ||
		b.Summary == nil || len(b.Summary.Stores) != 0 || b.Summary.Total.StoreID != "合计" {
		t.Errorf("empty bill parsed as %+v, summary %+v", b, b.Summary)
	}
}

func TestBuildBillRejects(t *testing.T) {
	t.Parallel()
	day := billTestTime(16, 0, 0, 0)
	ok := billTestSpecRows()[1]
	edit := func(f func(*BillRow)) []BillRow {
		r := ok
		f(&r)
		return []BillRow{r}
	}
	cases := map[string]struct {
		account string
		rows    []BillRow
	}{
		"PID without 0156": {"2088911055134034", nil},
		"not digits":       {"2088911055134034x156", nil},
		"kind":             {billTestAccount, edit(func(r *BillRow) { r.Kind = "转账" })},
		"negative payment": {billTestAccount, edit(func(r *BillRow) { r.Amount = -1000 })},
		"zero payment":     {billTestAccount, edit(func(r *BillRow) { r.Amount = 0 })},
		"positive refund":  {billTestAccount, edit(func(r *BillRow) { r.Kind, r.OutRequestNo = BillKindRefund, "R1" })},
		"next day":         {billTestAccount, edit(func(r *BillRow) { r.Finished = billTestTime(17, 0, 0, 0) })},
		"day before":       {billTestAccount, edit(func(r *BillRow) { r.Finished = billTestTime(15, 23, 59, 59) })},
		"no trade_no":      {billTestAccount, edit(func(r *BillRow) { r.TradeNo = "" })},
		"comma in ID":      {billTestAccount, edit(func(r *BillRow) { r.OutTradeNo = "T1,2" })},
		"tab in ID":        {billTestAccount, edit(func(r *BillRow) { r.OutTradeNo = "T1\t" })},
	}
	for name, c := range cases {
		if _, err := BuildBill(c.account, day, c.rows); err == nil {
			t.Errorf("%s: built; want an error", name)
		}
	}
}

// TestSyntheticBill: a synthetic bill is a real one: the client's streaming
// reader reads every row back, in order, and the totals and the summary
// agree.
func TestSyntheticBill(t *testing.T) {
	t.Parallel()
	day := time.Date(2024, 5, 13, 0, 0, 0, 0, alipay.ChinaTime)
	const n = 5000
	// The last row of a million (i × 24 h in nanoseconds overflows past
	// 106,751) still falls on the day.
	if last := SyntheticBillRow(day, 999_999, 1_000_000); last.Finished.Before(day) || !last.Finished.Before(day.AddDate(0, 0, 1)) {
		t.Fatalf("row 999,999 of a million finished at %v", last.Finished)
	}
	var buf bytes.Buffer
	if err := WriteSyntheticBill(&buf, "20880000000000010156", day, n); err != nil {
		t.Fatal(err)
	}
	r, err := alipay.OpenBillZip(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 0; ; i++ {
		row, err := r.Next()
		if err == io.EOF {
			if i != n {
				t.Fatalf("%d rows, want %d", i, n)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want := SyntheticBillRow(day, i, n)
		if row.OutTradeNo != want.OutTradeNo || row.TradeNo != want.TradeNo || row.ReceiptAmount != want.Amount || !row.Finished.Equal(want.Finished) {
			t.Fatalf("row %d = %+v, want %+v", i, row, want)
		}
	}
}
