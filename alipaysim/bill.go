package alipaysim

import (
	"archive/zip"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
)

// Bill row kinds: the 业务类型 column of a trade bill (§3.8).
const (
	BillKindTrade  = "交易" // a payment
	BillKindRefund = "退款" // a refund
)

// BillRow is one payment or refund in a simulated daily trade bill.
type BillRow struct {
	TradeNo    string // 支付宝交易号
	OutTradeNo string // 商户订单号
	Kind       string // BillKindTrade or BillKindRefund
	Subject    string // 商品名称; characters GBK lacks become '?'
	Created    time.Time
	Finished   time.Time // when the payment or refund completed; must fall on the bill's day
	// BuyerLogonID is the masked buyer account (对方账户).
	BuyerLogonID string
	// Amount is 订单金额 and 商家实收 alike (the simulator grants no
	// discounts): positive for a payment, negative for a refund.
	Amount       paygate.Money
	OutRequestNo string // a refund's out_request_no (退款批次号/请求号)
}

// buildBillEOL ends every line. UNCONFIRMED whether Alipay's files use CRLF
// or LF; CRLF is chosen because the files are made for Excel on Windows (the
// tabs after IDs exist for it). alipay.ParseBillCSV accepts both.
const buildBillEOL = "\r\n"

// The table markers, with §3.8's dash counts.
const (
	buildBillDashesBefore = "#-----------------------------------------"
	buildBillDashesAfter  = "----------------------------------------"
	buildBillDashesEnd    = "------------------------------------"
)

const buildBillDetailHeader = "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户," +
	"订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称," +
	"商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"

const buildBillSummaryHeader = "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）," +
	"支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）"

// BillFileName is the archive's name, <accountID>_<yyyyMMdd>.csv.zip, as the
// downloadFileName of a bill URL carries it (§3.8); day is read in UTC+8.
func BillFileName(accountID string, day time.Time) string {
	return accountID + "_" + day.In(alipay.ChinaTime).Format("20060102") + ".csv.zip"
}

// BuildBill returns the bytes of the zip Alipay serves as accountID's trade
// bill for day (the calendar day of day in UTC+8), laid out as §3.8 says: two
// GBK files whose names are GBK without the zip UTF-8 flag,
// <accountID>_<yyyyMMdd>_业务明细.csv (the rows, sorted by Finished, then the
// #交易合计 and #退款合计 lines) and <accountID>_<yyyyMMdd>_业务明细(汇总).csv
// (a row for the one, unnamed store when there are rows, and the 合计 row,
// whose amounts are net of refunds). accountID is the 16-digit PID followed
// by 0156. The output depends only on the arguments: the export time is
// 09:00:00 the next day, when Alipay publishes daily bills. Service fees and
// discounts are 0.00. A row of another kind, with an amount of the wrong
// sign, an ID Alipay could not have issued, or finished outside the day is an
// error: the bill is only as true as its rows.
func BuildBill(accountID string, day time.Time, rows []BillRow) ([]byte, error) {
	rows = append([]BillRow(nil), rows...)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Finished.Before(rows[j].Finished) })
	var buf bytes.Buffer
	i := 0
	err := WriteBill(&buf, accountID, day, func() (BillRow, bool) {
		if i == len(rows) {
			return BillRow{}, false
		}
		i++
		return rows[i-1], true
	})
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteBill writes the archive BuildBill returns to w, streaming: the rows
// come from next, in the order they appear (by Finished, as Alipay's do),
// and only one is held at a time, so a bill of a million rows costs no more
// memory than one of ten. It checks each row as BuildBill does.
func WriteBill(w io.Writer, accountID string, day time.Time, next func() (BillRow, bool)) error {
	if !buildBillAccountOK(accountID) {
		return fmt.Errorf("alipaysim: bill account %q is not a 16-digit PID followed by 0156", accountID)
	}
	d := day.In(alipay.ChinaTime)
	start := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, alipay.ChinaTime)
	end := start.AddDate(0, 0, 1)
	exported := end.Add(9 * time.Hour)
	head := []string{
		"#账号：[" + accountID + "]",
		"#起始日期：[" + buildBillDate(start) + "]   终止日期：[" + buildBillDate(end) + "]",
	}
	tail := "#导出时间：[" + buildBillDate(exported) + "]"
	base := accountID + "_" + start.Format("20060102")
	zw := zip.NewWriter(w)
	entry := func(name string, write func(line func(string))) error {
		gbkName, err := buildBillGBK(name)
		if err != nil {
			return fmt.Errorf("alipaysim: bill file name: %w", err)
		}
		// NonUTF8 keeps archive/zip from setting the UTF-8 flag (0x800).
		ew, err := zw.CreateHeader(&zip.FileHeader{Name: string(gbkName), NonUTF8: true, Method: zip.Deflate, Modified: exported})
		if err != nil {
			return fmt.Errorf("alipaysim: bill zip: %w", err)
		}
		tw := transform.NewWriter(ew, simplifiedchinese.GBK.NewEncoder())
		bw := bufio.NewWriterSize(tw, 64<<10)
		var werr error
		write(func(s string) {
			if werr == nil {
				_, werr = bw.WriteString(s + buildBillEOL)
			}
		})
		if werr == nil {
			werr = bw.Flush()
		}
		if werr == nil {
			werr = tw.Close()
		}
		if werr != nil {
			return fmt.Errorf("alipaysim: bill %s: %w", name, werr)
		}
		return nil
	}
	var t billTotals
	var rowErr error
	err := entry(base+"_业务明细.csv", func(line func(string)) {
		line("#支付宝业务明细查询")
		for _, h := range head {
			line(h)
		}
		line(buildBillDashesBefore + "业务明细列表" + buildBillDashesAfter)
		line(buildBillDetailHeader)
		for i := 0; ; i++ {
			r, ok := next()
			if !ok {
				break
			}
			if err := buildBillCheck(r, start, end); err != nil {
				rowErr = fmt.Errorf("alipaysim: bill row %d (%s %s): %w", i, r.Kind, r.TradeNo, err)
				return
			}
			t.add(r)
			line(buildBillDetailRow(r))
		}
		line(buildBillDashesBefore + "业务明细列表结束" + buildBillDashesEnd)
		line(fmt.Sprintf("#交易合计：%d笔，商家实收共%s元，商家优惠共0.00元", t.trades, t.paid.Yuan()))
		line(fmt.Sprintf("#退款合计：%d笔，商家实收退款共%s元，商家优惠退款共0.00元", t.refunds, t.refunded.Yuan()))
		line(tail)
	})
	if rowErr != nil {
		return rowErr
	}
	if err != nil {
		return err
	}
	if err := entry(base+"_业务明细(汇总).csv", func(line func(string)) { buildBillSummary(line, head, tail, t) }); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("alipaysim: bill zip: %w", err)
	}
	return nil
}

// billTotals are what a bill's footer and summary say of its rows.
type billTotals struct {
	trades, refunds int
	paid, refunded  paygate.Money // refunded is zero or negative
}

func (t *billTotals) add(r BillRow) {
	if r.Kind == BillKindTrade {
		t.trades, t.paid = t.trades+1, t.paid+r.Amount
	} else {
		t.refunds, t.refunded = t.refunds+1, t.refunded+r.Amount
	}
}

func buildBillAccountOK(s string) bool {
	if len(s) != 20 || !strings.HasPrefix(s, "2088") || !strings.HasSuffix(s, "0156") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func buildBillCheck(r BillRow, start, end time.Time) error {
	switch {
	case r.Kind != BillKindTrade && r.Kind != BillKindRefund:
		return fmt.Errorf("kind %q is neither %s nor %s", r.Kind, BillKindTrade, BillKindRefund)
	case r.Kind == BillKindTrade && r.Amount <= 0:
		return fmt.Errorf("payment amount %s is not positive", r.Amount)
	case r.Kind == BillKindRefund && r.Amount >= 0:
		return fmt.Errorf("refund amount %s is not negative", r.Amount)
	case r.Finished.Before(start) || !r.Finished.Before(end):
		return fmt.Errorf("finished %s, outside %s to %s", alipay.FormatTime(r.Finished), alipay.FormatTime(start), alipay.FormatTime(end))
	case r.TradeNo == "":
		return fmt.Errorf("no trade_no")
	}
	for _, id := range []string{r.TradeNo, r.OutTradeNo, r.OutRequestNo} {
		for i := 0; i < len(id); i++ {
			if c := id[i]; c <= ' ' || c > '~' || c == ',' || c == '"' {
				return fmt.Errorf("ID %q has a character Alipay's IDs never hold", id)
			}
		}
	}
	return nil
}

// buildBillDetailRow is one row in buildBillDetailHeader's 25 columns. IDs end
// with a tab, as Alipay's do, so that spreadsheets keep them as text.
func buildBillDetailRow(r BillRow) string {
	id := func(s string) string {
		if s == "" {
			return ""
		}
		return s + "\t"
	}
	created := ""
	if !r.Created.IsZero() {
		created = alipay.FormatTime(r.Created)
	}
	amount := r.Amount.Yuan()
	return strings.Join([]string{
		id(r.TradeNo), id(r.OutTradeNo), r.Kind, buildBillCell(r.Subject), created, alipay.FormatTime(r.Finished),
		"", "", "", "", // 门店编号, 门店名称, 操作员, 终端号
		buildBillCell(r.BuyerLogonID), amount, amount,
		"0.00", "0.00", "0.00", "0.00", "0.00", "", // 支付宝红包 … 券核销金额, 券名称
		"0.00", "0.00", // 商家红包消费金额, 卡消费金额
		id(r.OutRequestNo), "0.00", "0.00", "", // 退款批次号/请求号, 服务费, 分润, 备注
	}, ",")
}

// buildBillSummary writes the 业务明细(汇总) file's lines.
func buildBillSummary(line func(string), head []string, tail string, t billTotals) {
	line("#支付宝业务汇总查询")
	for _, h := range head {
		line(h)
	}
	line(buildBillDashesBefore + "业务汇总列表" + buildBillDashesAfter)
	line(buildBillSummaryHeader)
	net := t.paid + t.refunded
	sums := fmt.Sprintf("%d,%d,%s,%s,0.00,0.00,0.00,0.00,0.00,%s", t.trades, t.refunds, net.Yuan(), net.Yuan(), net.Yuan())
	if t.trades+t.refunds > 0 {
		line(",," + sums)
	}
	line("合计,," + sums)
	line(buildBillDashesBefore + "业务汇总列表结束" + buildBillDashesEnd)
	line(tail)
}

// buildBillCell makes free text safe for one CSV field of a GBK file: line
// breaks become spaces, characters GBK lacks become '?', and a field with a
// comma or a quote is quoted.
func buildBillCell(s string) string {
	s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	enc := simplifiedchinese.GBK.NewEncoder()
	if _, err := enc.String(s); err != nil {
		var b strings.Builder
		for _, r := range s {
			if _, err := enc.String(string(r)); err != nil {
				r = '?'
			}
			b.WriteRune(r)
		}
		s = b.String()
	}
	if strings.ContainsAny(s, `,"`) {
		s = `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

func buildBillDate(t time.Time) string {
	return t.In(alipay.ChinaTime).Format("2006年01月02日 15:04:05")
}

func buildBillGBK(s string) ([]byte, error) {
	return simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
}

// SyntheticBillRow is the i-th of n payments of a synthetic trade bill for
// day (UTC+8), as `paygate sim bill` writes them: out_trade_no in the form
// paygate gives the channel (PG, the date, 16 hex digits), distinct for
// each i but in no order (as a real bill's, which is in completion order,
// are in no order of out_trade_no: a reconciliation must sort), a trade_no
// unique per i, amounts from 0.01 to 99.99 yuan, completions spread evenly
// over the day in order. A benchmark makes matching orders from the same
// function.
func SyntheticBillRow(day time.Time, i, n int) BillRow {
	d := day.In(alipay.ChinaTime)
	start := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, alipay.ChinaTime)
	// i/n of the day, without the overflow of i × 24 h in nanoseconds.
	finished := start.Add(time.Duration(float64(24*time.Hour) * float64(i) / float64(max(n, 1)))).Truncate(time.Second)
	return BillRow{
		TradeNo:      fmt.Sprintf("%s22001%015d", start.Format("20060102"), i),
		OutTradeNo:   fmt.Sprintf("PG%s%016X", start.Format("20060102"), uint64(i)*syntheticScramble),
		Kind:         BillKindTrade,
		Subject:      "synthetic",
		Created:      finished,
		Finished:     finished,
		BuyerLogonID: "abc***@example.com",
		Amount:       paygate.Money(1 + i%9999),
	}
}

// syntheticScramble is odd, so i ↦ i × syntheticScramble (mod 2^64) is a
// bijection: distinct i give distinct numbers, in an order unrelated to i.
const syntheticScramble = 0x9E3779B97F4A7C15

// WriteSyntheticBill writes a bill of n synthetic payments (see
// SyntheticBillRow) for day to w, streaming.
func WriteSyntheticBill(w io.Writer, accountID string, day time.Time, n int) error {
	i := 0
	return WriteBill(w, accountID, day, func() (BillRow, bool) {
		if i == n {
			return BillRow{}, false
		}
		i++
		return SyntheticBillRow(day, i-1, n), true
	})
}
