package alipaysim

import (
	"archive/zip"
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

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
	if !buildBillAccountOK(accountID) {
		return nil, fmt.Errorf("alipaysim: bill account %q is not a 16-digit PID followed by 0156", accountID)
	}
	d := day.In(alipay.ChinaTime)
	start := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, alipay.ChinaTime)
	end := start.AddDate(0, 0, 1)
	exported := end.Add(9 * time.Hour)
	rows = append([]BillRow(nil), rows...)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Finished.Before(rows[j].Finished) })
	for i, r := range rows {
		if err := buildBillCheck(r, start, end); err != nil {
			return nil, fmt.Errorf("alipaysim: bill row %d (%s %s): %w", i, r.Kind, r.TradeNo, err)
		}
	}
	head := []string{
		"#账号：[" + accountID + "]",
		"#起始日期：[" + buildBillDate(start) + "]   终止日期：[" + buildBillDate(end) + "]",
	}
	tail := "#导出时间：[" + buildBillDate(exported) + "]"
	base := accountID + "_" + start.Format("20060102")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct{ name, text string }{
		{base + "_业务明细.csv", buildBillDetail(head, tail, rows)},
		{base + "_业务明细(汇总).csv", buildBillSummary(head, tail, rows)},
	} {
		name, err := buildBillGBK(f.name)
		if err != nil {
			return nil, fmt.Errorf("alipaysim: bill file name: %w", err)
		}
		// NonUTF8 keeps archive/zip from setting the UTF-8 flag (0x800).
		w, err := zw.CreateHeader(&zip.FileHeader{Name: string(name), NonUTF8: true, Method: zip.Deflate, Modified: exported})
		if err != nil {
			return nil, fmt.Errorf("alipaysim: bill zip: %w", err)
		}
		data, err := buildBillGBK(f.text)
		if err != nil {
			return nil, fmt.Errorf("alipaysim: bill %s: %w", f.name, err)
		}
		if _, err := w.Write(data); err != nil {
			return nil, fmt.Errorf("alipaysim: bill zip: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("alipaysim: bill zip: %w", err)
	}
	return buf.Bytes(), nil
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

// buildBillDetail is the 业务明细 file's text, each line ended by buildBillEOL.
func buildBillDetail(head []string, tail string, rows []BillRow) string {
	var b strings.Builder
	line := func(s string) { b.WriteString(s); b.WriteString(buildBillEOL) }
	line("#支付宝业务明细查询")
	for _, h := range head {
		line(h)
	}
	line(buildBillDashesBefore + "业务明细列表" + buildBillDashesAfter)
	line(buildBillDetailHeader)
	var trades, refunds int
	var paid, refunded paygate.Money
	for _, r := range rows {
		if r.Kind == BillKindTrade {
			trades, paid = trades+1, paid+r.Amount
		} else {
			refunds, refunded = refunds+1, refunded+r.Amount
		}
		line(buildBillDetailRow(r))
	}
	line(buildBillDashesBefore + "业务明细列表结束" + buildBillDashesEnd)
	line(fmt.Sprintf("#交易合计：%d笔，商家实收共%s元，商家优惠共0.00元", trades, paid.Yuan()))
	line(fmt.Sprintf("#退款合计：%d笔，商家实收退款共%s元，商家优惠退款共0.00元", refunds, refunded.Yuan()))
	line(tail)
	return b.String()
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

// buildBillSummary is the 业务明细(汇总) file's text.
func buildBillSummary(head []string, tail string, rows []BillRow) string {
	var b strings.Builder
	line := func(s string) { b.WriteString(s); b.WriteString(buildBillEOL) }
	line("#支付宝业务汇总查询")
	for _, h := range head {
		line(h)
	}
	line(buildBillDashesBefore + "业务汇总列表" + buildBillDashesAfter)
	line(buildBillSummaryHeader)
	var trades, refunds int
	var net paygate.Money
	for _, r := range rows {
		if r.Kind == BillKindTrade {
			trades++
		} else {
			refunds++
		}
		net += r.Amount
	}
	sums := fmt.Sprintf("%d,%d,%s,%s,0.00,0.00,0.00,0.00,0.00,%s", trades, refunds, net.Yuan(), net.Yuan(), net.Yuan())
	if len(rows) > 0 {
		line(",," + sums)
	}
	line("合计,," + sums)
	line(buildBillDashesBefore + "业务汇总列表结束" + buildBillDashesEnd)
	line(tail)
	return b.String()
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
