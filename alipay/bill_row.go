package alipay

import (
	"bytes"
	"fmt"
	"maps"
	"time"

	"github.com/paygate/paygate"
)

// The row kinds as a bill's GBK bytes (Appendix A), so that a row's kind is
// recognised without decoding it.
var (
	billKindTradeGBK  = []byte("\xbd\xbb\xd2\xd7") // 交易
	billKindRefundGBK = []byte("\xcd\xcb\xbf\xee") // 退款
)

// parseRow reads the table's current record into *row, checked as a row of
// the detail. The fast paths (ASCII IDs, amounts and times in their usual
// form) give the values the general ones would; anything else goes the
// general way, which also words the errors.
func (r *BillReader) parseRow(row *BillRow, fill billExtraFill) error {
	t, c := r.t, &r.c
	extra := row.Extra
	*row = BillRow{
		Subject: t.cached(c.subject), BuyerAccount: t.cached(c.buyer),
		Extra: r.extra.fill(t, fill, extra),
	}
	r.ids(row)
	switch kind := t.field(c.kind); {
	case bytes.Equal(kind, billKindTradeGBK):
		row.Kind = BillKindTrade
	case bytes.Equal(kind, billKindRefundGBK):
		row.Kind = BillKindRefund
	default:
		row.Kind = t.str(c.kind)
	}
	if row.TradeNo == "" {
		return fmt.Errorf("empty %s", colTradeNo)
	}
	if row.Kind != BillKindTrade && row.Kind != BillKindRefund {
		return fmt.Errorf("%s %q is neither %s nor %s", colKind, row.Kind, BillKindTrade, BillKindRefund)
	}
	var err error
	if row.TotalAmount, err = t.amount(c.total, colTotal, row.Kind); err != nil {
		return err
	}
	if row.ReceiptAmount, err = t.amount(c.receipt, colReceipt, row.Kind); err != nil {
		return err
	}
	if row.Finished, err = t.time(c.finished, colFinished); err != nil {
		return err
	}
	if c.created >= 0 && len(t.field(c.created)) > 0 {
		if row.Created, err = t.time(c.created, colCreated); err != nil {
			return err
		}
	}
	return nil
}

// ids sets the row's three IDs. When they are ASCII, as Alipay's and
// paygate's are, they are cut from one string: one allocation, not three.
func (r *BillReader) ids(row *BillRow) {
	t, c := r.t, &r.c
	tradeNo, outTradeNo := t.field(c.tradeNo), t.field(c.outTradeNo)
	var outRequestNo []byte
	if c.outRequestNo >= 0 {
		outRequestNo = t.field(c.outRequestNo)
	}
	b := append(append(append(r.idBuf[:0], tradeNo...), outTradeNo...), outRequestNo...)
	r.idBuf = b
	if !billASCII(b) {
		row.TradeNo, row.OutTradeNo = t.str(c.tradeNo), t.str(c.outTradeNo)
		if c.outRequestNo >= 0 {
			row.OutRequestNo = t.str(c.outRequestNo)
		}
		return
	}
	s := string(b)
	i, j := len(tradeNo), len(tradeNo)+len(outTradeNo)
	row.TradeNo, row.OutTradeNo, row.OutRequestNo = s[:i], s[i:j], s[j:]
}

// amount is billAmount of field i.
func (t *billTable) amount(i int, col, kind string) (paygate.Money, error) {
	m, ok := billYuan(t.field(i))
	if !ok || (kind == BillKindTrade && m < 0) || (kind == BillKindRefund && m > 0) {
		return billAmount(t.str(i), col, kind)
	}
	return m, nil
}

// billYuan parses what paygate.ParseYuan accepts, to the same value: an
// optional '-', 1 to 12 digits without a leading zero, and 1 or 2 decimals
// after a '.'. ok is false for anything else.
func billYuan(b []byte) (m paygate.Money, ok bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	n := 0
	var yuan int64
	for n < len(b) && n <= 12 && '0' <= b[n] && b[n] <= '9' {
		yuan = yuan*10 + int64(b[n]-'0')
		n++
	}
	if n == 0 || n > 12 || (n > 1 && b[0] == '0') {
		return 0, false
	}
	fen := yuan * 100
	switch frac := b[n:]; {
	case len(frac) == 0:
	case len(frac) == 2 && frac[0] == '.' && billDigit(frac[1]):
		fen += int64(frac[1]-'0') * 10
	case len(frac) == 3 && frac[0] == '.' && billDigit(frac[1]) && billDigit(frac[2]):
		fen += int64(frac[1]-'0')*10 + int64(frac[2]-'0')
	default:
		return 0, false
	}
	if neg {
		fen = -fen
	}
	return paygate.Money(fen), true
}

func billDigit(c byte) bool { return '0' <= c && c <= '9' }

// time is billTime of field i.
func (t *billTable) time(i int, col string) (time.Time, error) {
	f, c := t.field(i), &t.times[i]
	if len(f) == len(c.raw) && !c.t.IsZero() && string(f) == string(c.raw[:]) {
		return c.t, nil
	}
	if tm, ok := billTimeFast(f); ok {
		copy(c.raw[:], f)
		c.t = tm
		return tm, nil
	}
	return billTime(t.str(i), col)
}

// billTimeFast parses yyyy-MM-dd HH:mm:ss in UTC+8 to the time ParseTime
// gives; ok is false for any other form and for a date or time ParseTime
// rejects, which ParseTime then decides.
func billTimeFast(b []byte) (time.Time, bool) {
	if len(b) != len(TimeLayout) || b[4] != '-' || b[7] != '-' || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(i, j int) int {
		n := 0
		for _, c := range b[i:j] {
			if !billDigit(c) {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec := num(11, 13), num(14, 16), num(17, 19)
	if year < 0 || month < 1 || month > 12 || day < 1 || day > billDaysIn(month, year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, ChinaTime), true
}

func billDaysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// billExtraFill says what a row's Extra gets.
type billExtraFill int

const (
	billExtraNew   billExtraFill = iota // a new map, nil when no column has a value (Next)
	billExtraReuse                      // the row's map, cleared and filled (NextInto)
	billExtraNone                       // nothing (NextInto with a nil Extra)
)

// billExtra builds the rows' Extra maps: the columns no typed field takes,
// by header name, when they have a value. Rows of a bill mostly repeat these
// columns (0.00 after 0.00), so the last row's values are kept in tmpl, never
// handed out, and a new map is a copy of it, which is cheaper than filling
// one.
type billExtra struct {
	cols  []int    // the columns
	names []string // their header names
	vals  []string // the values tmpl holds, "" for none
	tmpl  map[string]string
}

func (e *billExtra) init(t *billTable) {
	for i, h := range t.header {
		if !t.used[i] && h != "" {
			e.cols, e.names = append(e.cols, i), append(e.names, h)
		}
	}
	e.vals = make([]string, len(e.cols))
	e.tmpl = map[string]string{}
}

// fill returns the Extra of the table's current record.
func (e *billExtra) fill(t *billTable, fill billExtraFill, m map[string]string) map[string]string {
	if fill == billExtraNone {
		return nil
	}
	changed := false
	for k, i := range e.cols {
		if v := t.cached(i); v != e.vals[k] {
			e.vals[k], changed = v, true
		}
	}
	if changed {
		// A map made for exactly its entries: a copy is as large as the
		// map it copies.
		n := 0
		for _, v := range e.vals {
			if v != "" {
				n++
			}
		}
		e.tmpl = make(map[string]string, n)
		for k, v := range e.vals {
			if v != "" {
				e.tmpl[e.names[k]] = v
			}
		}
	}
	if fill == billExtraReuse {
		clear(m)
		maps.Copy(m, e.tmpl)
		return m
	}
	if len(e.tmpl) == 0 {
		return nil
	}
	return maps.Clone(e.tmpl)
}
