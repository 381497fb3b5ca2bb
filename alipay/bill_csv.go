package alipay

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/paygate/paygate"
)

// ParseBillCSV parses a trade bill's 业务明细 file (GBK, §3.8). It reads the
// #账号 and #起始日期 head lines, then the table between the 业务明细列表 and
// 业务明细列表结束 markers (matched on the words: the dashes vary) by header
// name, so unknown columns land in BillRow.Extra and column order does not
// matter; it accepts \n and \r\n line ends and trims the tab Alipay appends to
// ID columns. A missing required column, a malformed amount or time, a row of
// another kind than 交易 or 退款, a payment with a negative or a refund with a
// positive amount, a missing end marker (a file cut short) or rows that do not
// add up to the #交易合计 and #退款合计 lines are errors that give the line.
func ParseBillCSV(gbk []byte) (*Bill, error) {
	b, err := parseBillDetail(gbk)
	if err != nil {
		return nil, fmt.Errorf("alipay: bill: %w", err)
	}
	return b, nil
}

// ParseBillSummaryCSV parses a trade bill's 业务明细(汇总) file (GBK): one row
// per store and the 合计 row, which it requires.
func ParseBillSummaryCSV(gbk []byte) (*BillSummary, error) {
	s, err := parseBillSummary(gbk)
	if err != nil {
		return nil, fmt.Errorf("alipay: bill summary: %w", err)
	}
	return s, nil
}

// Column names of the detail and summary tables (§3.8).
const (
	colTradeNo      = "支付宝交易号"
	colOutTradeNo   = "商户订单号"
	colKind         = "业务类型"
	colSubject      = "商品名称"
	colCreated      = "创建时间"
	colFinished     = "完成时间"
	colBuyer        = "对方账户"
	colTotal        = "订单金额（元）"
	colReceipt      = "商家实收（元）"
	colOutRequestNo = "退款批次号/请求号"
	colStoreID      = "门店编号"
	colStoreName    = "门店名称"
	colTradeCount   = "交易订单总笔数"
	colRefundCount  = "退款订单总笔数"
	colNet          = "实收净额（元）"
	billTotalRow    = "合计"
)

var (
	billAccountRe     = regexp.MustCompile(`^#账号[：:]\s*\[([^\]]*)\]`)
	billDatesRe       = regexp.MustCompile(`^#起始日期[：:]\s*\[([^\]]*)\]\s*终止日期[：:]\s*\[([^\]]*)\]`)
	billTradeTotalRe  = regexp.MustCompile(`^#交易合计[：:]\s*(\d+)\s*笔\s*[，,]\s*商家实收共\s*(-?[0-9.]+)\s*元`)
	billRefundTotalRe = regexp.MustCompile(`^#退款合计[：:]\s*(\d+)\s*笔\s*[，,]\s*商家实收退款共\s*(-?[0-9.]+)\s*元`)
)

// billDateLayout is the head lines' date form, 2019年09月16日 00:00:00.
const billDateLayout = "2006年01月02日 15:04:05"

type billDetailCols struct {
	tradeNo, outTradeNo, kind, subject, created, finished, buyer, total, receipt, outRequestNo int
}

func parseBillDetail(gbk []byte) (*Bill, error) {
	t, err := openBillTable(gbk, "业务明细列表")
	if err != nil {
		return nil, err
	}
	if t.account == "" {
		return nil, errors.New("no #账号：[...] line before the table")
	}
	if t.start.IsZero() {
		return nil, errors.New("no #起始日期：[...] 终止日期：[...] line before the table")
	}
	c := billDetailCols{
		tradeNo: t.require(colTradeNo), outTradeNo: t.require(colOutTradeNo), kind: t.require(colKind),
		subject: t.col(colSubject), created: t.col(colCreated), finished: t.require(colFinished),
		buyer: t.col(colBuyer), total: t.require(colTotal), receipt: t.require(colReceipt),
		outRequestNo: t.col(colOutRequestNo),
	}
	if t.err != nil {
		return nil, t.err
	}
	b := &Bill{Account: t.account, Start: t.start, End: t.end}
	for {
		rec, line, err := t.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		row, err := parseBillRow(t, &c, rec)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if row.Kind == BillKindTrade {
			b.TradeCount++
			b.TradeAmount += row.ReceiptAmount
		} else {
			b.RefundCount++
			b.RefundAmount += row.ReceiptAmount
		}
		b.Rows = append(b.Rows, row)
	}
	if err := checkBillTotals(t, b); err != nil {
		return nil, err
	}
	return b, nil
}

func parseBillRow(t *billTable, c *billDetailCols, rec []string) (BillRow, error) {
	row := BillRow{
		TradeNo: rec[c.tradeNo], OutTradeNo: rec[c.outTradeNo], Kind: rec[c.kind],
		Subject: t.field(rec, c.subject), BuyerAccount: t.field(rec, c.buyer),
		OutRequestNo: t.field(rec, c.outRequestNo), Extra: t.extra(rec),
	}
	if row.TradeNo == "" {
		return row, fmt.Errorf("empty %s", colTradeNo)
	}
	if row.Kind != BillKindTrade && row.Kind != BillKindRefund {
		return row, fmt.Errorf("%s %q is neither %s nor %s", colKind, row.Kind, BillKindTrade, BillKindRefund)
	}
	var err error
	if row.TotalAmount, err = billAmount(rec[c.total], colTotal, row.Kind); err != nil {
		return row, err
	}
	if row.ReceiptAmount, err = billAmount(rec[c.receipt], colReceipt, row.Kind); err != nil {
		return row, err
	}
	if row.Finished, err = billTime(rec[c.finished], colFinished); err != nil {
		return row, err
	}
	if s := t.field(rec, c.created); s != "" {
		if row.Created, err = billTime(s, colCreated); err != nil {
			return row, err
		}
	}
	return row, nil
}

// billAmount parses a row's amount and checks its sign against the row's
// kind: a sign error would otherwise cancel out in the totals.
func billAmount(s, col, kind string) (paygate.Money, error) {
	m, err := paygate.ParseYuan(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", col, s, err)
	}
	if (kind == BillKindTrade && m < 0) || (kind == BillKindRefund && m > 0) {
		return 0, fmt.Errorf("%s %s on a %s row: payments are never negative, refunds never positive", col, s, kind)
	}
	return m, nil
}

func billTime(s, col string) (time.Time, error) {
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not yyyy-MM-dd HH:mm:ss", col, s)
	}
	return t, nil
}

// checkBillTotals requires the #交易合计 and #退款合计 lines after the table
// and that the rows add up to them, count and 商家实收 alike.
func checkBillTotals(t *billTable, b *Bill) error {
	var sawTrade, sawRefund bool
	for i, l := range t.footer {
		n := t.footerLine + i
		var label, what string
		var count, wantCount int
		var amount, wantAmount paygate.Money
		var err error
		switch {
		case strings.HasPrefix(l, "#交易合计"):
			label, what, wantCount, wantAmount, sawTrade = "#交易合计", "payments", b.TradeCount, b.TradeAmount, true
			count, amount, err = billTotalLine(l, billTradeTotalRe)
		case strings.HasPrefix(l, "#退款合计"):
			label, what, wantCount, wantAmount, sawRefund = "#退款合计", "refunds", b.RefundCount, b.RefundAmount, true
			count, amount, err = billTotalLine(l, billRefundTotalRe)
			// Only the magnitude is checked: a refund total is never positive.
			if amount > 0 {
				amount = -amount
			}
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("line %d: %s: %w", n, label, err)
		}
		if count != wantCount || amount != wantAmount {
			return fmt.Errorf("line %d: %s says %d %s totalling %s yuan, the rows hold %d totalling %s",
				n, label, count, what, amount.Yuan(), wantCount, wantAmount.Yuan())
		}
	}
	if !sawTrade {
		return fmt.Errorf("no #交易合计 line after the table's end (line %d)", t.footerLine-1)
	}
	if !sawRefund {
		return fmt.Errorf("no #退款合计 line after the table's end (line %d)", t.footerLine-1)
	}
	return nil
}

func billTotalLine(l string, re *regexp.Regexp) (int, paygate.Money, error) {
	m := re.FindStringSubmatch(l)
	if m == nil {
		return 0, 0, errors.New("not N笔，商家实收…共X元")
	}
	count, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, 0, fmt.Errorf("count %q: %w", m[1], err)
	}
	amount, err := paygate.ParseYuan(m[2])
	if err != nil {
		return 0, 0, fmt.Errorf("amount %q: %w", m[2], err)
	}
	return count, amount, nil
}

func parseBillSummary(gbk []byte) (*BillSummary, error) {
	t, err := openBillTable(gbk, "业务汇总列表")
	if err != nil {
		return nil, err
	}
	store, name := t.col(colStoreID), t.col(colStoreName)
	trades, refunds := t.require(colTradeCount), t.require(colRefundCount)
	total, receipt, net := t.require(colTotal), t.require(colReceipt), t.col(colNet)
	if t.err != nil {
		return nil, t.err
	}
	s := &BillSummary{Account: t.account, Start: t.start, End: t.end}
	sawTotal := false
	for {
		rec, line, err := t.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		row := BillSummaryRow{StoreID: t.field(rec, store), StoreName: t.field(rec, name), Extra: t.extra(rec)}
		if row.TradeCount, err = billCount(rec[trades], colTradeCount); err == nil {
			row.RefundCount, err = billCount(rec[refunds], colRefundCount)
		}
		for _, a := range []struct {
			dst *paygate.Money
			i   int
			col string
		}{{&row.TotalAmount, total, colTotal}, {&row.ReceiptAmount, receipt, colReceipt}, {&row.NetAmount, net, colNet}} {
			if err == nil && a.i >= 0 {
				if *a.dst, err = paygate.ParseYuan(rec[a.i]); err != nil {
					err = fmt.Errorf("%s %q: %w", a.col, rec[a.i], err)
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if rec[0] != billTotalRow && row.StoreID != billTotalRow && row.StoreName != billTotalRow {
			s.Stores = append(s.Stores, row)
			continue
		}
		if sawTotal {
			return nil, fmt.Errorf("line %d: a second %s row", line, billTotalRow)
		}
		s.Total, sawTotal = row, true
	}
	if !sawTotal {
		return nil, fmt.Errorf("no %s row before the table's end (line %d)", billTotalRow, t.footerLine-1)
	}
	return s, nil
}

func billCount(s, col string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || s[0] == '+' {
		return 0, fmt.Errorf("%s %q is not a count", col, s)
	}
	return n, nil
}

// billTable reads one bill file: the head lines, the CSV table between the
// "#---<list>---" and "#---<list>结束---" markers, and the lines after it.
type billTable struct {
	account    string
	start, end time.Time
	header     []string       // column names as written, trimmed
	cols       map[string]int // billColKey(name) → index
	used       []bool         // columns read into typed fields; the rest go to Extra
	err        error          // the first missing required column
	headerLine int
	r          *csv.Reader
	firstLine  int      // the file's line number of the reader's line 1
	footer     []string // the lines after the end marker
	footerLine int      // the file's line number of footer[0]
}

func openBillTable(gbk []byte, list string) (*billTable, error) {
	text, err := simplifiedchinese.GBK.NewDecoder().Bytes(gbk)
	if err != nil {
		return nil, fmt.Errorf("decode GBK: %w", err)
	}
	lines := strings.Split(string(text), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	begin, end := -1, -1
	for i, l := range lines {
		if !strings.HasPrefix(l, "#") {
			continue
		}
		if strings.Contains(l, list+"结束") {
			end = i
			break
		}
		if begin < 0 && strings.Contains(l, list) {
			begin = i
		}
	}
	if begin < 0 {
		return nil, fmt.Errorf("no #---%s--- line", list)
	}
	if end < 0 {
		return nil, fmt.Errorf("no #---%s结束--- line after line %d: the file is cut short", list, begin+1)
	}
	t := &billTable{footer: lines[end+1:], footerLine: end + 2, firstLine: begin + 2}
	if err := t.readHead(lines[:begin]); err != nil {
		return nil, err
	}
	t.r = csv.NewReader(strings.NewReader(strings.Join(lines[begin+1:end], "\n")))
	t.r.FieldsPerRecord = -1
	t.r.LazyQuotes = true
	header, line, err := t.read()
	if err == io.EOF {
		return nil, fmt.Errorf("line %d: no header row after the %s marker", begin+1, list)
	}
	if err != nil {
		return nil, err
	}
	t.header, t.headerLine = header, line
	t.cols, t.used = make(map[string]int, len(header)), make([]bool, len(header))
	for i, h := range header {
		if h == "" {
			continue
		}
		if _, dup := t.cols[billColKey(h)]; dup {
			return nil, fmt.Errorf("line %d: column %s appears twice", line, h)
		}
		t.cols[billColKey(h)] = i
	}
	return t, nil
}

func (t *billTable) readHead(lines []string) error {
	for i, l := range lines {
		if m := billAccountRe.FindStringSubmatch(l); m != nil {
			t.account = strings.TrimSpace(m[1])
		}
		if m := billDatesRe.FindStringSubmatch(l); m != nil {
			start, err1 := time.ParseInLocation(billDateLayout, strings.TrimSpace(m[1]), ChinaTime)
			end, err2 := time.ParseInLocation(billDateLayout, strings.TrimSpace(m[2]), ChinaTime)
			if err1 != nil || err2 != nil || !end.After(start) {
				return fmt.Errorf("line %d: dates [%s] to [%s] are not a period of yyyy年MM月dd日 HH:mm:ss", i+1, m[1], m[2])
			}
			t.start, t.end = start, end
		}
	}
	return nil
}

// read returns the table's next record, fields trimmed of the spaces and the
// tab Alipay puts around IDs, with its line number. Blank records are skipped.
func (t *billTable) read() ([]string, int, error) {
	for {
		rec, err := t.r.Read()
		if err == io.EOF {
			return nil, 0, io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, 0, fmt.Errorf("line %d: %w", t.firstLine-1+pe.Line, pe.Err)
			}
			return nil, 0, err
		}
		line, _ := t.r.FieldPos(0)
		blank := true
		for i := range rec {
			rec[i] = strings.Trim(rec[i], " \t\ufeff")
			blank = blank && rec[i] == ""
		}
		if !blank {
			return rec, t.firstLine - 1 + line, nil
		}
	}
}

// next is read for rows: a row must have exactly the header's fields, so that
// a shifted row (an unquoted comma) can never put one column's value in
// another, not even when the last column is empty.
func (t *billTable) next() ([]string, int, error) {
	rec, line, err := t.read()
	if err != nil {
		return nil, 0, err
	}
	if len(rec) != len(t.header) {
		return nil, 0, fmt.Errorf("line %d: %d fields, the header (line %d) has %d", line, len(rec), t.headerLine, len(t.header))
	}
	return rec, line, nil
}

// billColKey matches header names whether their parentheses are full-width,
// as Alipay writes them, or ASCII.
func billColKey(name string) string { return billParens.Replace(name) }

var billParens = strings.NewReplacer("（", "(", "）", ")")

// col is the index of the named column, or -1.
func (t *billTable) col(name string) int {
	i, ok := t.cols[billColKey(name)]
	if !ok {
		return -1
	}
	t.used[i] = true
	return i
}

// require is col for a column the table cannot be read without; a missing
// one is remembered in t.err.
func (t *billTable) require(name string) int {
	i := t.col(name)
	if i < 0 && t.err == nil {
		t.err = fmt.Errorf("line %d: the header has no %s column", t.headerLine, name)
	}
	return i
}

func (t *billTable) field(rec []string, i int) string {
	if i < 0 {
		return ""
	}
	return rec[i]
}

// extra collects the non-empty values of the columns no typed field took.
func (t *billTable) extra(rec []string) map[string]string {
	var m map[string]string
	for i, h := range t.header {
		if t.used[i] || h == "" || rec[i] == "" {
			continue
		}
		if m == nil {
			m = make(map[string]string)
		}
		m[h] = rec[i]
	}
	return m
}
