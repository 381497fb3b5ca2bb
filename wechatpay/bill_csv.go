package wechatpay

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Trade bill column names (§7.3). Columns are found by these names; others
// are kept in BillRow.Extra.
const (
	colTradeTime       = "交易时间"
	colAppID           = "公众账号ID"
	colMchID           = "商户号"
	colSubMchID        = "特约商户号"
	colDeviceID        = "设备号"
	colTransactionID   = "微信订单号"
	colOutTradeNo      = "商户订单号"
	colOpenID          = "用户标识"
	colTradeType       = "交易类型"
	colTradeState      = "交易状态"
	colBankType        = "付款银行"
	colCurrency        = "货币种类"
	colSettlement      = "应结订单金额"
	colCoupon          = "代金券金额"
	colRefundID        = "微信退款单号"
	colOutRefundNo     = "商户退款单号"
	colRefundAmount    = "退款金额"
	colCouponRefund    = "充值券退款金额"
	colRefundType      = "退款类型"
	colRefundStatus    = "退款状态"
	colDescription     = "商品名称"
	colAttach          = "商户数据包"
	colFee             = "手续费"
	colRate            = "费率"
	colTotal           = "订单金额"
	colRequestedRefund = "申请退款金额"

	sumCount           = "总交易单数"
	sumSettlement      = "应结订单总金额"
	sumRefund          = "退款总金额"
	sumCouponRefund    = "充值券退款总金额"
	sumFee             = "手续费总金额"
	sumTotal           = "订单总金额"
	sumRequestedRefund = "申请退款总金额"
)

// BillTimeLayout is the bill's 交易时间 form, Beijing time.
const BillTimeLayout = "2006-01-02 15:04:05"

// maxBillLine bounds one line of a bill.
const maxBillLine = 64 << 10

// BillRow is one detail row of a trade bill: a payment (TradeState
// SUCCESS) or a refund (TradeState REFUND). Amounts are fen; Fee is in
// 0.00001 yuan, the bill's five decimals. WeChat Pay writes "0" for the
// refund IDs of a payment row; they are "" here.
type BillRow struct {
	TradeTime       time.Time // 交易时间
	AppID           string    // 公众账号ID
	MchID           string    // 商户号
	SubMchID        string    // 特约商户号, "0" for a direct merchant
	DeviceID        string    // 设备号
	TransactionID   string    // 微信订单号
	OutTradeNo      string    // 商户订单号
	OpenID          string    // 用户标识
	TradeType       string    // 交易类型: NATIVE, MICROPAY, …
	TradeState      string    // 交易状态: SUCCESS, REFUND, REVOKED, …
	BankType        string    // 付款银行
	Currency        string    // 货币种类
	Settlement      int64     // 应结订单金额
	Coupon          int64     // 代金券金额
	RefundID        string    // 微信退款单号
	OutRefundNo     string    // 商户退款单号
	RefundAmount    int64     // 退款金额
	CouponRefund    int64     // 充值券退款金额
	RefundType      string    // 退款类型: ORIGINAL, BALANCE
	RefundStatus    string    // 退款状态
	Description     string    // 商品名称
	Attach          string    // 商户数据包
	Fee             int64     // 手续费, 0.00001 yuan
	Rate            string    // 费率, e.g. 0.60%
	Total           int64     // 订单金额
	RequestedRefund int64     // 申请退款金额
	// Extra holds the columns no field takes (e.g. 费率备注), by header name,
	// when they have a value.
	Extra map[string]string
}

// IsRefund reports whether the row is a refund.
func (r *BillRow) IsRefund() bool { return r.TradeState == TradeRefund }

// BillSummary is a trade bill's summary row. Fee is in 0.00001 yuan.
type BillSummary struct {
	Count           int   // 总交易单数
	Settlement      int64 // 应结订单总金额
	Refund          int64 // 退款总金额
	CouponRefund    int64 // 充值券退款总金额
	Fee             int64 // 手续费总金额
	Total           int64 // 订单总金额; 0 when the bill lacks it
	RequestedRefund int64 // 申请退款总金额; 0 when the bill lacks it
}

// Bill is a parsed trade bill whose rows add up to its summary.
type Bill struct {
	Rows    []BillRow
	Summary BillSummary
}

// ParseBill parses a whole trade bill (plain, not gzipped); see BillReader.
func ParseBill(data []byte) (*Bill, error) {
	r, err := NewBillReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var b Bill
	for {
		row, err := r.Next()
		if err == io.EOF {
			b.Summary = r.Summary()
			return &b, nil
		}
		if err != nil {
			return nil, err
		}
		b.Rows = append(b.Rows, row)
	}
}

// BillReader streams the rows of a trade bill (§7.3), one line at a time,
// in constant memory: the header line (plain names), detail rows (every
// value prefixed by a backtick), the summary header and the summary row.
// Columns are found by name, so order and unknown columns do not matter; a
// UTF-8 BOM and \r\n line ends are accepted. Next returns io.EOF only once
// the summary row was read and the rows add up to it: its count, and the
// sums of 应结订单金额, 退款金额, 充值券退款金额, 订单金额 and 申请退款金额
// (when those columns exist) equal to its totals. 手续费总金额 is read but
// not checked: how WeChat Pay rounds the five-decimal fees is UNCONFIRMED.
// A file cut short, a row with the wrong number of fields, a malformed
// amount or time, or anything after the summary is an error giving the line.
type BillReader struct {
	br     *bufio.Reader
	line   int
	cols   map[string]int
	names  []string
	sum    BillSummary
	got    BillSummary
	hasCol map[string]bool
	err    error
	done   bool
}

// NewBillReader reads the bill's header line from r; rows follow with Next.
func NewBillReader(r io.Reader) (*BillReader, error) {
	b := &BillReader{br: bufio.NewReaderSize(r, 64<<10)}
	line, err := b.nextLine()
	if err == io.EOF {
		return nil, errors.New("wechatpay: bill: empty file")
	}
	if err != nil {
		return nil, b.wrap(err)
	}
	line = strings.TrimPrefix(line, "\ufeff")
	if strings.HasPrefix(line, "`") {
		return nil, b.wrap(errors.New("first line is a row, not the header"))
	}
	b.names = strings.Split(line, ",")
	b.cols = make(map[string]int, len(b.names))
	b.hasCol = map[string]bool{}
	for i, n := range b.names {
		n = strings.TrimSpace(n)
		b.names[i] = n
		if _, dup := b.cols[n]; dup {
			return nil, b.wrap(fmt.Errorf("column %s twice", n))
		}
		b.cols[n] = i
		b.hasCol[n] = true
	}
	for _, need := range []string{colTradeTime, colMchID, colTransactionID, colOutTradeNo, colTradeState, colSettlement, colRefundAmount} {
		if !b.hasCol[need] {
			return nil, b.wrap(fmt.Errorf("header lacks column %s", need))
		}
	}
	return b, nil
}

// Summary is the summary row; valid once Next returned io.EOF.
func (b *BillReader) Summary() BillSummary { return b.sum }

// Next returns the next detail row, or io.EOF once the summary agrees.
// After any other error every later call returns the same error.
func (b *BillReader) Next() (BillRow, error) {
	if b.err != nil {
		return BillRow{}, b.err
	}
	if b.done {
		return BillRow{}, io.EOF
	}
	row, err := b.next()
	if err == io.EOF {
		b.done = true
		return BillRow{}, io.EOF
	}
	if err != nil {
		b.err = b.wrap(err)
		return BillRow{}, b.err
	}
	return row, nil
}

func (b *BillReader) wrap(err error) error {
	return fmt.Errorf("wechatpay: bill line %d: %w", b.line, err)
}

// nextLine reads one line without its \n or \r\n.
func (b *BillReader) nextLine() (string, error) {
	line, err := b.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > maxBillLine {
		return "", fmt.Errorf("line longer than %d KiB", maxBillLine>>10)
	}
	if err == io.EOF && len(line) == 0 {
		return "", io.EOF
	}
	if err != nil && err != io.EOF {
		return "", err
	}
	b.line++
	s := strings.TrimSuffix(string(line), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}

// fields splits a row: every value starts with a backtick, so values are
// separated by ",`" and a comma inside a value (a description) survives.
func fields(line string) ([]string, bool) {
	if !strings.HasPrefix(line, "`") {
		return nil, false
	}
	return strings.Split(line[1:], ",`"), true
}

func (b *BillReader) next() (BillRow, error) {
	for {
		line, err := b.nextLine()
		if err == io.EOF {
			return BillRow{}, errors.New("the file ends before its summary: cut short")
		}
		if err != nil {
			return BillRow{}, err
		}
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, sumCount) {
			return BillRow{}, b.summary(line)
		}
		vals, ok := fields(line)
		if !ok {
			return BillRow{}, errors.New("neither a row (values start with `) nor the summary header")
		}
		if len(vals) != len(b.names) {
			return BillRow{}, fmt.Errorf("row has %d fields, the header %d", len(vals), len(b.names))
		}
		return b.row(vals)
	}
}
