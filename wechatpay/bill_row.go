package wechatpay

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// row decodes one detail row and adds it to the running totals.
func (b *BillReader) row(vals []string) (BillRow, error) {
	get := func(col string) string {
		if i, ok := b.cols[col]; ok {
			return vals[i]
		}
		return ""
	}
	var err error
	money := func(col string) int64 {
		v, e := decimal(get(col), 2, !b.hasCol[col])
		if e != nil && err == nil {
			err = fmt.Errorf("%s %q: %w", col, get(col), e)
		}
		return v
	}
	r := BillRow{
		AppID: get(colAppID), MchID: get(colMchID), SubMchID: get(colSubMchID), DeviceID: get(colDeviceID),
		TransactionID: get(colTransactionID), OutTradeNo: get(colOutTradeNo), OpenID: get(colOpenID),
		TradeType: get(colTradeType), TradeState: get(colTradeState), BankType: get(colBankType),
		Currency: get(colCurrency), RefundID: noZero(get(colRefundID)), OutRefundNo: noZero(get(colOutRefundNo)),
		RefundType: get(colRefundType), RefundStatus: get(colRefundStatus), Description: get(colDescription),
		Attach: get(colAttach), Rate: get(colRate),
		Settlement: money(colSettlement), Coupon: money(colCoupon), RefundAmount: money(colRefundAmount),
		CouponRefund: money(colCouponRefund), Total: money(colTotal), RequestedRefund: money(colRequestedRefund),
	}
	if err != nil {
		return BillRow{}, err
	}
	if r.Fee, err = decimal(get(colFee), 5, !b.hasCol[colFee]); err != nil {
		return BillRow{}, fmt.Errorf("%s %q: %w", colFee, get(colFee), err)
	}
	if r.TradeTime, err = time.ParseInLocation(BillTimeLayout, get(colTradeTime), ChinaTime); err != nil {
		return BillRow{}, fmt.Errorf("%s %q is not yyyy-MM-dd HH:mm:ss", colTradeTime, get(colTradeTime))
	}
	if r.OutTradeNo == "" || r.TradeState == "" {
		return BillRow{}, errors.New("row lacks 商户订单号 or 交易状态")
	}
	if r.IsRefund() && r.OutRefundNo == "" {
		return BillRow{}, errors.New("refund row lacks 商户退款单号")
	}
	for i, name := range b.names {
		if !knownColumn(name) && vals[i] != "" {
			if r.Extra == nil {
				r.Extra = map[string]string{}
			}
			r.Extra[name] = vals[i]
		}
	}
	b.got.Count++
	b.got.Settlement += r.Settlement
	b.got.Refund += r.RefundAmount
	b.got.CouponRefund += r.CouponRefund
	b.got.Total += r.Total
	b.got.RequestedRefund += r.RequestedRefund
	return r, nil
}

// summary reads the summary header (already in hand) and row, requires
// nothing but blank lines after them, and compares the totals. It returns
// io.EOF when all agree.
func (b *BillReader) summary(header string) error {
	names := strings.Split(header, ",")
	var line string
	for line == "" {
		var err error
		if line, err = b.nextLine(); err == io.EOF {
			return errors.New("the file ends after the summary header: cut short")
		} else if err != nil {
			return err
		}
	}
	vals, ok := fields(line)
	if !ok || len(vals) != len(names) {
		return fmt.Errorf("summary row has not the %d backticked fields of its header", len(names))
	}
	cols := map[string]string{}
	for i, n := range names {
		cols[strings.TrimSpace(n)] = vals[i]
	}
	count, err := strconv.Atoi(cols[sumCount])
	if err != nil || count < 0 {
		return fmt.Errorf("%s %q is not a count", sumCount, cols[sumCount])
	}
	s := BillSummary{Count: count}
	for _, f := range []struct {
		col    string
		places int
		dst    *int64
	}{
		{sumSettlement, 2, &s.Settlement}, {sumRefund, 2, &s.Refund}, {sumCouponRefund, 2, &s.CouponRefund},
		{sumFee, 5, &s.Fee}, {sumTotal, 2, &s.Total}, {sumRequestedRefund, 2, &s.RequestedRefund},
	} {
		v, present := cols[f.col]
		if *f.dst, err = decimal(v, f.places, !present); err != nil {
			return fmt.Errorf("%s %q: %w", f.col, v, err)
		}
	}
	for {
		line, err := b.nextLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if line != "" {
			return errors.New("more lines after the summary row")
		}
	}
	checks := []struct {
		name      string
		got, want int64
		present   bool
	}{
		{sumCount, int64(b.got.Count), int64(s.Count), true},
		{sumSettlement, b.got.Settlement, s.Settlement, true},
		{sumRefund, b.got.Refund, s.Refund, true},
		{sumCouponRefund, b.got.CouponRefund, s.CouponRefund, b.hasCol[colCouponRefund] && cols[sumCouponRefund] != ""},
		{sumTotal, b.got.Total, s.Total, b.hasCol[colTotal] && cols[sumTotal] != ""},
		{sumRequestedRefund, b.got.RequestedRefund, s.RequestedRefund, b.hasCol[colRequestedRefund] && cols[sumRequestedRefund] != ""},
	}
	for _, c := range checks {
		if c.present && c.got != c.want {
			return fmt.Errorf("summary %s is %d but the rows add up to %d", c.name, c.want, c.got)
		}
	}
	b.sum = s
	return io.EOF
}

var knownColumns = map[string]bool{
	colTradeTime: true, colAppID: true, colMchID: true, colSubMchID: true, colDeviceID: true,
	colTransactionID: true, colOutTradeNo: true, colOpenID: true, colTradeType: true, colTradeState: true,
	colBankType: true, colCurrency: true, colSettlement: true, colCoupon: true, colRefundID: true,
	colOutRefundNo: true, colRefundAmount: true, colCouponRefund: true, colRefundType: true,
	colRefundStatus: true, colDescription: true, colAttach: true, colFee: true, colRate: true,
	colTotal: true, colRequestedRefund: true,
}

func knownColumn(name string) bool { return knownColumns[name] }

// noZero maps the "0" WeChat Pay writes for an absent ID to "".
func noZero(s string) string {
	if s == "0" {
		return ""
	}
	return s
}

// decimal parses a yuan amount with at most places decimals (an optional
// '-', digits, '.', digits) into units of 10^-places yuan, exactly. An absent
// column is 0; a present but empty value is an error.
func decimal(s string, places int, absent bool) (int64, error) {
	if absent {
		return 0, nil
	}
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || len(intPart) > 12 || (hasDot && frac == "") || len(frac) > places ||
		strings.Trim(intPart, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return 0, fmt.Errorf("not an amount with at most %d decimals", places)
	}
	frac += strings.Repeat("0", places-len(frac))
	v, err := strconv.ParseInt(intPart+frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not an amount: %w", err)
	}
	if neg {
		v = -v
	}
	return v, nil
}
