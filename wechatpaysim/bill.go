package wechatpaysim

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/paygate/paygate/wechatpay"
)

// Bill download (§7.1, §7.2).
const (
	pathBillDownload = "/v3/billdownload/file"
	opBillDownload   = "bill download"
	billURLLife      = 5 * time.Minute
	billReadyHour    = 10 // a day's bill exists from 10:00 Beijing time the next day
	billKeepDays     = 90 // bills are served for about 3 months
	feePerFen        = 6  // 0.6 % in the bill's 0.00001 yuan: 1 fen = 1000 units
)

// billFile is a bill handed out by a download_url.
type billFile struct {
	mchID   string
	data    []byte // plain CSV
	gzip    bool
	expires time.Time
}

// billHeader is the detail header: the columns of the fact sheet's trade
// bill (§7.3; wechatpay/testdata/tradebill.csv).
var billHeader = []string{"交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识",
	"交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "微信退款单号", "商户退款单号", "退款金额",
	"充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额", "费率备注"}

const billSummaryHeader = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"

// tradeBill is GET /v3/bill/tradebill?bill_date=&bill_type=&tar_type= (§7.1).
func (s *Server) tradeBill(c *call) answer {
	q := c.r.URL.Query()
	now := s.now().In(wechatpay.ChinaTime)
	day, err := time.ParseInLocation("2006-01-02", q.Get("bill_date"), wechatpay.ChinaTime)
	if err != nil {
		return paramError("bill_date", "query", "bill_date must be yyyy-MM-DD")
	}
	billType := cmp.Or(q.Get("bill_type"), wechatpay.BillTypeAll)
	if billType != wechatpay.BillTypeAll && billType != wechatpay.BillTypeSuccess && billType != wechatpay.BillTypeRefund {
		return paramError("bill_type", "query", "bill_type must be ALL, SUCCESS or REFUND")
	}
	tar := q.Get("tar_type")
	if tar != "" && tar != wechatpay.TarTypeGzip {
		return paramError("tar_type", "query", "tar_type must be GZIP")
	}
	ready := day.AddDate(0, 0, 1).Add(billReadyHour * time.Hour)
	switch {
	case now.Sub(day) > billKeepDays*24*time.Hour:
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "只能下载三个月以内的账单")
	case now.Before(ready) && !(s.Faults().BillSameDay && !now.Before(day)):
		return apiError(http.StatusBadRequest, "STATEMENT_CREATING", "账单生成中")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(s.now())
	data, rows := s.buildBill(c.merchant.MchID, day, billType)
	if rows == 0 {
		return apiError(http.StatusBadRequest, "NO_STATEMENT_EXIST", "请求的账单文件不存在")
	}
	for tok, b := range s.bills {
		if now.After(b.expires) {
			delete(s.bills, tok)
		}
	}
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	token := hex.EncodeToString(tok)
	s.bills[token] = &billFile{mchID: c.merchant.MchID, data: data, gzip: tar != "", expires: now.Add(billURLLife)}
	base := s.cfg.PublicURL
	if base == "" {
		base = "http://" + c.r.Host
	}
	u := base + pathBillDownload + "?token=" + token
	if tar != "" {
		u += "&tartype=gzip"
	}
	sum := sha1.Sum(data)
	return jsonAnswer(http.StatusOK, wechatpay.BillURL{HashType: wechatpay.HashTypeSHA1, HashValue: hex.EncodeToString(sum[:]), DownloadURL: u})
}

// billDownload is GET /v3/billdownload/file?token= (§7.2): signed like any
// request, answered unsigned (serveAPI skips the signature).
func (s *Server) billDownload(c *call) answer {
	s.mu.Lock()
	b := s.bills[c.r.URL.Query().Get("token")]
	s.mu.Unlock()
	if b == nil || b.mchID != c.merchant.MchID || s.now().After(b.expires) {
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "下载链接已失效，请重新申请账单")
	}
	if !b.gzip {
		return answer{status: http.StatusOK, body: b.data}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b.data)
	_ = zw.Close()
	return answer{status: http.StatusOK, body: buf.Bytes()}
}

// billLine is one detail row and when it happened.
type billLine struct {
	at   time.Time
	vals []string
	sum  [5]int64 // settlement, refund, fee, total, requested refund
}

// buildBill writes mchID's bill of day (s.mu held): a payment row per order
// paid that day, a refund row per refund that succeeded that day.
func (s *Server) buildBill(mchID string, day time.Time, billType string) ([]byte, int) {
	end := day.AddDate(0, 0, 1)
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(day) && t.Before(end) }
	var lines []billLine
	for _, t := range s.book.trades {
		if t.MchID != mchID {
			continue
		}
		row := func(at time.Time, state, refundID, outRefundNo string, settle, ref int64, refundType, refundStatus string) billLine {
			fee := (settle - ref) * feePerFen
			return billLine{at: at, sum: [5]int64{settle, ref, fee, settle, ref}, vals: []string{
				at.In(wechatpay.ChinaTime).Format(wechatpay.BillTimeLayout), t.AppID, t.MchID, "0", t.DeviceID, t.TransactionID,
				t.OutTradeNo, t.OpenID, t.TradeType, state, t.BankType, wechatpay.CurrencyCNY, yuan(settle), "0.00",
				cmp.Or(refundID, "0"), cmp.Or(outRefundNo, "0"), yuan(ref), "0.00", refundType, refundStatus,
				cell(t.Description), cell(t.Attach), fee5(fee), "0.60%", yuan(settle), yuan(ref), ""}}
		}
		if billType != wechatpay.BillTypeRefund && in(t.Paid) {
			lines = append(lines, row(t.Paid, wechatpay.TradeSuccess, "", "", t.Total, 0, "", ""))
		}
		if billType == wechatpay.BillTypeSuccess {
			continue
		}
		for _, r := range t.Refunds {
			if r.Status == wechatpay.RefundSuccess && in(r.Success) {
				lines = append(lines, row(r.Success, wechatpay.TradeRefund, r.RefundID, r.OutRefundNo, 0, r.Amount, "ORIGINAL", wechatpay.RefundSuccess))
			}
		}
	}
	slices.SortFunc(lines, func(a, b billLine) int { return a.at.Compare(b.at) })
	var buf bytes.Buffer
	buf.WriteString(strings.Join(billHeader, ",") + "\r\n")
	var tot [5]int64
	for _, l := range lines {
		buf.WriteString("`" + strings.Join(l.vals, ",`") + "\r\n")
		for i := range tot {
			tot[i] += l.sum[i]
		}
	}
	buf.WriteString(billSummaryHeader + "\r\n")
	fmt.Fprintf(&buf, "`%d,`%s,`%s,`0.00,`%s,`%s,`%s\r\n", len(lines), yuan(tot[0]), yuan(tot[1]), fee5(tot[2]), yuan(tot[3]), yuan(tot[4]))
	return buf.Bytes(), len(lines)
}

// yuan formats fen as yuan with two decimals, by integer arithmetic.
func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

// fee5 formats 0.00001-yuan units with five decimals.
func fee5(u int64) string {
	sign := ""
	if u < 0 {
		sign, u = "-", -u
	}
	return fmt.Sprintf("%s%d.%05d", sign, u/100000, u%100000)
}

// cell keeps a value from breaking the row: no backtick, no line break.
func cell(s string) string {
	return strings.NewReplacer("`", "'", "\r", " ", "\n", " ").Replace(s)
}
