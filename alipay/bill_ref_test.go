package alipay

// The bill reader as it was before it split GBK bytes itself (commit
// 4e54c2d, issue 8): the whole file decoded by x/text, the table read by
// encoding/csv. It is kept, unchanged but for its names, as the oracle the
// differential tests hold the reader to: same rows, same errors.

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"github.com/paygate/paygate"
)

// refParseBillCSV is ParseBillCSV of commit 4e54c2d.
func refParseBillCSV(gbk []byte) (*Bill, error) {
	b, err := refParseBillDetail(gbk)
	if err != nil {
		return nil, fmt.Errorf("alipay: bill: %w", err)
	}
	return b, nil
}

func refParseBillDetail(gbk []byte) (*Bill, error) {
	t, err := refOpenTable(bytes.NewReader(gbk), "业务明细列表")
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
		row, err := refParseBillRow(t, &c, rec)
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
	if err := checkBillTotals(&billTable{footer: t.footer, footerLine: t.footerLine}, b.TradeCount, b.TradeAmount, b.RefundCount, b.RefundAmount); err != nil {
		return nil, err
	}
	return b, nil
}

// refTable reads one bill file: the head lines, the CSV table between the
// "#---<list>---" and "#---<list>结束---" markers, and the lines after it.
type refTable struct {
	account    string
	start, end time.Time
	header     []string       // column names as written, trimmed
	cols       map[string]int // billColKey(name) → index
	used       []bool         // columns read into typed fields; the rest go to Extra
	err        error          // the first missing required column
	headerLine int
	r          *csv.Reader
	firstLine  int      // the file's line number of the reader's line 1
	footer     []string // the lines after the end marker, once it is reached
	footerLine int      // the file's line number of footer[0]

	br      *bufio.Reader // the file, decoded from GBK
	list    string        // the table's marker word
	lineNo  int           // lines read from br
	pending string        // the rest of a line the CSV reader has not taken yet
	ended   bool          // the end marker was read
}

// refOpenTable reads a bill file's head lines up to the table's
// marker; the table's rows then stream from r as they are read (next), and
// the lines after its end marker are kept once it is reached (footer).
// Nothing but one line at a time is held, whatever the file's size.
func refOpenTable(gbk io.Reader, list string) (*refTable, error) {
	t := &refTable{br: bufio.NewReaderSize(transform.NewReader(gbk, simplifiedchinese.GBK.NewDecoder()), 64<<10), list: list}
	var head []string
	for {
		l, err := t.line()
		if err == io.EOF {
			return nil, fmt.Errorf("no #---%s--- line", list)
		}
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(l, "#") && strings.Contains(l, list+"结束") {
			return nil, fmt.Errorf("no #---%s--- line", list)
		}
		if strings.HasPrefix(l, "#") && strings.Contains(l, list) {
			break
		}
		head = append(head, l)
	}
	t.firstLine = t.lineNo + 1
	if err := t.readHead(head); err != nil {
		return nil, err
	}
	t.r = csv.NewReader(refLines{t})
	t.r.FieldsPerRecord = -1
	t.r.LazyQuotes = true
	t.r.ReuseRecord = false
	header, line, err := t.read()
	if err == io.EOF {
		return nil, fmt.Errorf("line %d: no header row after the %s marker", t.firstLine-1, list)
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

// line reads the file's next line, without its line end (\n or \r\n).
func (t *refTable) line() (string, error) {
	l, err := t.br.ReadString('\n')
	if err == io.EOF && l == "" {
		return "", io.EOF
	}
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read: %w", err)
	}
	t.lineNo++
	return strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r"), nil
}

// refLines feeds the CSV reader the table's lines, one at a time, up to
// the end marker, which ends the table (io.EOF); the lines after it are
// kept in the footer. A file without the marker was cut short.
type refLines struct{ t *refTable }

func (r refLines) Read(p []byte) (int, error) {
	t := r.t
	if t.ended {
		return 0, io.EOF
	}
	if t.pending == "" {
		l, err := t.line()
		if err == io.EOF {
			return 0, fmt.Errorf("no #---%s结束--- line after line %d: the file is cut short", t.list, t.firstLine-1)
		}
		if err != nil {
			return 0, err
		}
		if strings.HasPrefix(l, "#") && strings.Contains(l, t.list+"结束") {
			t.ended, t.footerLine = true, t.lineNo+1
			for {
				f, err := t.line()
				if err == io.EOF {
					break
				}
				if err != nil {
					return 0, err
				}
				t.footer = append(t.footer, f)
			}
			return 0, io.EOF
		}
		t.pending = l + "\n"
	}
	n := copy(p, t.pending)
	t.pending = t.pending[n:]
	return n, nil
}

func (t *refTable) readHead(lines []string) error {
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
func (t *refTable) read() ([]string, int, error) {
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
func (t *refTable) next() ([]string, int, error) {
	rec, line, err := t.read()
	if err != nil {
		return nil, 0, err
	}
	if len(rec) != len(t.header) {
		return nil, 0, fmt.Errorf("line %d: %d fields, the header (line %d) has %d", line, len(rec), t.headerLine, len(t.header))
	}
	return rec, line, nil
}

// col is the index of the named column, or -1.
func (t *refTable) col(name string) int {
	i, ok := t.cols[billColKey(name)]
	if !ok {
		return -1
	}
	t.used[i] = true
	return i
}

// require is col for a column the table cannot be read without; a missing
// one is remembered in t.err.
func (t *refTable) require(name string) int {
	i := t.col(name)
	if i < 0 && t.err == nil {
		t.err = fmt.Errorf("line %d: the header has no %s column", t.headerLine, name)
	}
	return i
}

func (t *refTable) field(rec []string, i int) string {
	if i < 0 {
		return ""
	}
	return rec[i]
}

// extra collects the non-empty values of the columns no typed field took.
func (t *refTable) extra(rec []string) map[string]string {
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

func refParseBillRow(t *refTable, c *billDetailCols, rec []string) (BillRow, error) {
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

func refParseBillSummary(gbk []byte) (*BillSummary, error) {
	t, err := refOpenTable(bytes.NewReader(gbk), "业务汇总列表")
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
