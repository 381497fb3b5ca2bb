package alipaysim

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/paygate/paygate/alipay"
)

// Bill download links live this long (§3.8).
const billURLLifetime = 30 * time.Second

// Sub-messages of bill queries.
const (
	subMsgBillNotExist = "账单不存在"
	subMsgBillDate     = "参数bill_date格式错误，应为yyyy-MM-dd"
)

// billFile is a built bill waiting behind a download token.
type billFile struct {
	name    string
	data    []byte
	expires time.Time
}

// billURL answers alipay.data.dataservice.bill.downloadurl.query (§3.8) for
// bill_type trade and daily dates before today (China time; today too with
// the bill_same_day fault, as the day stands so far). The bill is
// built at once; its link works for 30 s. A day without trades gets an empty
// bill, flagged with bill_file_code EMPTY_DATA_WITH_BILL_FILE.
func (s *Server) billURL(c *call) *node {
	invalid := func(msg string) *node { return business(subInvalidArguments, msg) }
	billType, ok1 := c.biz.str("bill_type")
	billDate, ok2 := c.biz.str("bill_date")
	switch {
	case !ok1 || billType == "":
		return invalid("缺少必选参数bill_type")
	case billType != alipay.BillTypeTrade && billType != alipay.BillTypeSignCustomer:
		return invalid("参数bill_type取值错误")
	case !ok2 || billDate == "":
		return invalid("缺少必选参数bill_date")
	}
	if len(billDate) == len("2006-01") {
		if _, err := time.Parse("2006-01", billDate); err == nil {
			return business(alipay.SubBillNotExist, subMsgBillNotExist) // monthly bills are not simulated
		}
	}
	if len(billDate) != len("2006-01-02") {
		return invalid(subMsgBillDate)
	}
	day, err := time.ParseInLocation("2006-01-02", billDate, alipay.ChinaTime)
	if err != nil {
		return invalid(subMsgBillDate)
	}
	today := c.now.In(alipay.ChinaTime)
	today = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, alipay.ChinaTime)
	sameDay := day.Equal(today) && s.Faults().BillSameDay
	if (!day.Before(today) && !sameDay) || billType != alipay.BillTypeTrade {
		return business(alipay.SubBillNotExist, subMsgBillNotExist)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(c.now)
	rows := s.billRows(c.app.SellerID, day)
	account := c.app.SellerID + "0156"
	data, err := BuildBill(account, day, rows)
	if err != nil {
		s.log.Error("build bill", "err", err)
		return busy()
	}
	token := randomHex(16)
	name := BillFileName(account, day)
	s.bills[token] = billFile{name: name, data: data, expires: c.now.Add(billURLLifetime)}
	q := url.Values{
		"bizType":          {billType},
		"userId":           {account},
		"fileType":         {"csv.zip"},
		"bizDates":         {day.Format("20060102")},
		"downloadFileName": {name},
		"timestamp":        {c.now.Format("20060102150405")},
		"token":            {token},
	}
	n := success().str("bill_download_url", c.base+"/sim/bill/download?"+q.Encode())
	if len(rows) == 0 {
		n.str("bill_file_code", alipay.BillFileCodeEmpty)
	}
	return n
}

// billRows lists a seller's payments and refunds completed on day (China
// time): a payment as 交易 dated at payment, each refund (a cancel's too) as
// 退款 with a negative amount. The caller holds s.mu.
func (s *Server) billRows(sellerID string, day time.Time) []BillRow {
	end := day.AddDate(0, 0, 1)
	within := func(t time.Time) bool { return !t.Before(day) && t.Before(end) }
	var rows []BillRow
	for _, t := range s.book.trades {
		if t.SellerID != sellerID || !t.wasPaid() {
			continue
		}
		base := BillRow{TradeNo: t.TradeNo, OutTradeNo: t.OutTradeNo, Subject: t.Subject, Created: t.Created, BuyerLogonID: t.BuyerLogonID}
		if within(t.Paid) {
			r := base
			r.Kind, r.Finished, r.Amount = BillKindTrade, t.Paid, t.Total
			rows = append(rows, r)
		}
		for _, rf := range t.Refunds {
			if within(rf.At) {
				r := base
				r.Kind, r.Finished, r.Amount, r.OutRequestNo = BillKindRefund, rf.At, -rf.Amount, rf.OutRequestNo
				rows = append(rows, r)
			}
		}
	}
	slices.SortFunc(rows, func(a, b BillRow) int {
		if c := a.Finished.Compare(b.Finished); c != 0 {
			return c
		}
		if c := strings.Compare(a.TradeNo, b.TradeNo); c != 0 {
			return c
		}
		return strings.Compare(a.OutRequestNo, b.OutRequestNo)
	})
	return rows
}

// pruneBills forgets expired download links. The caller holds s.mu.
func (s *Server) pruneBills(now time.Time) {
	for token, b := range s.bills {
		if !now.Before(b.expires) {
			delete(s.bills, token)
		}
	}
}

// serveBillDownload serves GET /sim/bill/download?token=…: the zip while the
// link lives, else 404 with a short text.
func (s *Server) serveBillDownload(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	s.mu.Lock()
	b, ok := s.bills[token]
	expired := ok && !s.now().Before(b.expires)
	s.mu.Unlock()
	if !ok || expired {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("bill download link expired or unknown\n"))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+b.name+`"`)
	_, _ = w.Write(b.data)
}
