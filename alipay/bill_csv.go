package alipay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

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
	r, err := newBillReader(bytes.NewReader(gbk))
	if err != nil {
		return nil, err
	}
	return r.readAll()
}

// readAll reads the rest of the bill into a Bill, checked to its end.
func (r *BillReader) readAll() (*Bill, error) {
	b := &Bill{Account: r.Account, Start: r.Start, End: r.End, Summary: r.summary}
	for {
		var row BillRow
		err := r.next(&row, billExtraNew)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		b.Rows = append(b.Rows, row)
	}
	b.TradeCount, b.TradeAmount, b.RefundCount, b.RefundAmount = r.tradeCount, r.tradeAmount, r.refundCount, r.refundAmount
	return b, nil
}

// BillReader streams the rows of a trade bill's 业务明细 file (GBK), one at a
// time, with the checks ParseBillCSV makes: a bill of any size is read in
// constant memory. At the end, once the rows have been checked against the
// #交易合计 and #退款合计 lines, Next returns io.EOF.
type BillReader struct {
	Account    string    // #账号
	Start, End time.Time // the bill's period, from #起始日期 … 终止日期

	t                         *billTable
	c                         billDetailCols
	extra                     billExtra
	idBuf                     []byte
	tradeCount, refundCount   int
	tradeAmount, refundAmount paygate.Money
	err                       error

	// From an archive (OpenBillZip): the entry to close, the summary the
	// totals must agree with, and the names errors give.
	closer      io.Closer
	summary     *BillSummary
	where       string
	summaryName string
}

// Close releases the archive's entry; a reader not from an archive has
// nothing to release.
func (r *BillReader) Close() error {
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}

// NewBillReader reads the bill's head lines and the table's header from
// gbk; the rows follow with Next.
func NewBillReader(gbk io.Reader) (*BillReader, error) {
	r, err := newBillReader(gbk)
	if err != nil {
		return nil, fmt.Errorf("alipay: bill: %w", err)
	}
	return r, nil
}

func newBillReader(gbk io.Reader) (*BillReader, error) {
	t, err := openBillTableReader(gbk, "业务明细列表")
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
	r := &BillReader{Account: t.account, Start: t.start, End: t.end, t: t, c: c}
	r.extra.init(t)
	return r, nil
}

// Next returns the next row; io.EOF after the last, once the totals agree.
// After any other error the bill is not to be trusted, and every later call
// returns the same error.
func (r *BillReader) Next() (BillRow, error) {
	var row BillRow
	if err := r.next(&row, billExtraNew); err != nil {
		return BillRow{}, r.wrap(err)
	}
	return row, nil
}

// NextInto is Next without the allocations a row need not make: it
// overwrites *row with the next row, with the same checks, the same errors
// and the same values as Next. The strings it stores are new or shared with
// earlier rows, never reused memory: they stay valid and unchanged after later
// calls. Extra is reused: when row.Extra is not nil it is cleared and filled
// with the row's other columns; when it is nil it stays nil, which skips that
// work. After an error *row holds no row.
func (r *BillReader) NextInto(row *BillRow) error {
	fill := billExtraNone
	if row.Extra != nil {
		fill = billExtraReuse
	}
	if err := r.next(row, fill); err != nil {
		extra := row.Extra
		clear(extra)
		*row = BillRow{Extra: extra}
		return r.wrap(err)
	}
	return nil
}

// wrap gives an error of next the package's prefix.
func (r *BillReader) wrap(err error) error {
	switch {
	case err == io.EOF:
		return err
	case r.where == "":
		return fmt.Errorf("alipay: bill: %w", err)
	default:
		return fmt.Errorf("alipay: %w", err)
	}
}

func (r *BillReader) next(row *BillRow, fill billExtraFill) error {
	if r.err != nil {
		return r.err
	}
	line, err := r.t.next()
	if err == io.EOF {
		err = r.finish()
	}
	if err != nil {
		if err != io.EOF && r.where != "" {
			err = fmt.Errorf("%s: %w", r.where, err)
		}
		r.err = err
		return err
	}
	if err := r.parseRow(row, fill); err != nil {
		r.err = fmt.Errorf("line %d: %w", line, err)
		if r.where != "" {
			r.err = fmt.Errorf("%s: %w", r.where, r.err)
		}
		return r.err
	}
	if row.Kind == BillKindTrade {
		r.tradeCount++
		r.tradeAmount += row.ReceiptAmount
	} else {
		r.refundCount++
		r.refundAmount += row.ReceiptAmount
	}
	return nil
}

// finish checks, at the table's end, the rows against the bill's totals
// and its summary, and an archive's entry to its end (its CRC-32): io.EOF
// when all agree.
func (r *BillReader) finish() error {
	if err := checkBillTotals(r.t, r.tradeCount, r.tradeAmount, r.refundCount, r.refundAmount); err != nil {
		return err
	}
	if r.closer != nil {
		if _, err := io.Copy(io.Discard, r.t.br); err != nil {
			return fmt.Errorf("read: %w", err)
		}
	}
	if r.summary != nil {
		b := &Bill{Account: r.Account, Start: r.Start, End: r.End, TradeCount: r.tradeCount, TradeAmount: r.tradeAmount,
			RefundCount: r.refundCount, RefundAmount: r.refundAmount}
		if err := checkBillSummary(b, r.summary); err != nil {
			return fmt.Errorf("the summary %s disagrees with the detail: %w", r.summaryName, err)
		}
	}
	return io.EOF
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
func checkBillTotals(t *billTable, tradeCount int, tradeAmount paygate.Money, refundCount int, refundAmount paygate.Money) error {
	var sawTrade, sawRefund bool
	for i, l := range t.footer {
		n := t.footerLine + i
		var label, what string
		var count, wantCount int
		var amount, wantAmount paygate.Money
		var err error
		switch {
		case strings.HasPrefix(l, "#交易合计"):
			label, what, wantCount, wantAmount, sawTrade = "#交易合计", "payments", tradeCount, tradeAmount, true
			count, amount, err = billTotalLine(l, billTradeTotalRe)
		case strings.HasPrefix(l, "#退款合计"):
			label, what, wantCount, wantAmount, sawRefund = "#退款合计", "refunds", refundCount, refundAmount, true
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
		line, err := t.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		rec := t.strings()
		row := BillSummaryRow{StoreID: t.recField(rec, store), StoreName: t.recField(rec, name), Extra: t.extra(rec)}
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
