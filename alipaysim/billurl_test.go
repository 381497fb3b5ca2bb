package alipaysim_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

// TestBillDownload: a day's payments, refunds and a cancel's refund come
// back as a bill the real client parses.
func TestBillDownload(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p1 := e.paidTrade("BL1", "10.00", "")
	e.clock.Advance(time.Hour)
	if _, err := e.refund("BL1", "RQ1", "3.00"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	p2 := e.paidTrade("BL2", "5.00", "")
	e.clock.Advance(time.Minute)
	if _, err := e.client.Cancel(ctx(t), alipay.TradeRef{OutTradeNo: "BL2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pay("BL3", "270000000000000001", "7.00", "", ""); err != nil { // never paid: not in the bill
		t.Fatal(err)
	}
	e.clock.Advance(14 * time.Hour) // 2024-05-14 01:00: the next day

	_, err := e.client.BillURL(ctx(t), alipay.BillURLRequest{BillDate: "2024-05-14"})
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubBillNotExist)
	_, err = e.client.BillURL(ctx(t), alipay.BillURLRequest{BillDate: "2024-06-01"})
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubBillNotExist)

	r, err := e.client.BillURL(ctx(t), alipay.BillURLRequest{BillDate: "2024-05-13"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.BillDownloadURL, e.srv.URL+"/sim/bill/download?") || r.BillFileCode != "" {
		t.Fatalf("bill response %+v", r)
	}
	bill, err := e.client.DownloadBill(ctx(t), r.BillDownloadURL)
	if err != nil {
		t.Fatal(err)
	}
	if bill.TradeCount != 2 || bill.TradeAmount != yuan("15.00") || bill.RefundCount != 2 || bill.RefundAmount != yuan("-8.00") {
		t.Fatalf("bill totals %+v", bill)
	}
	want := []struct {
		tradeNo, out, kind, req string
		amount                  string
	}{
		{p1.TradeNo, "BL1", alipay.BillKindTrade, "", "10.00"},
		{p1.TradeNo, "BL1", alipay.BillKindRefund, "RQ1", "-3.00"},
		{p2.TradeNo, "BL2", alipay.BillKindTrade, "", "5.00"},
		{p2.TradeNo, "BL2", alipay.BillKindRefund, "BL2", "-5.00"},
	}
	if len(bill.Rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(bill.Rows), len(want), bill.Rows)
	}
	for i, w := range want {
		g := bill.Rows[i]
		if g.TradeNo != w.tradeNo || g.OutTradeNo != w.out || g.Kind != w.kind || g.OutRequestNo != w.req || g.ReceiptAmount != yuan(w.amount) || g.Subject != "coffee" {
			t.Errorf("row %d = %+v, want %+v", i, g, w)
		}
	}
	if !strings.HasPrefix(bill.Account, "2088") || !strings.HasSuffix(bill.Account, "0156") {
		t.Fatalf("account %s", bill.Account)
	}

	// The link lives 30 s.
	e.clock.Advance(31 * time.Second)
	resp, err := http.Get(r.BillDownloadURL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "expired") {
		t.Fatalf("expired link: HTTP %d %s", resp.StatusCode, b)
	}

	// A day without trades: an empty bill.
	r, err = e.client.BillURL(ctx(t), alipay.BillURLRequest{BillDate: "2024-05-01"})
	if err != nil || r.BillFileCode != alipay.BillFileCodeEmpty {
		t.Fatalf("empty day: %v %+v", err, r)
	}
	bill, err = e.client.DownloadBill(ctx(t), r.BillDownloadURL)
	if err != nil || len(bill.Rows) != 0 || bill.TradeCount != 0 {
		t.Fatalf("empty bill: %v %+v", err, bill)
	}
}

// TestBillArguments: bad arguments and unsupported bills.
func TestBillArguments(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *alipaysim.Config) { c.PublicURL = "http://sim.example:9090/" })
	for biz, sub := range map[string]string{
		`{"bill_type":"trade","bill_date":"2024/05/12"}`:        "invalid_arguments",
		`{"bill_type":"trade","bill_date":"2024-02-30"}`:        "invalid_arguments",
		`{"bill_type":"trade"}`:                                 "invalid_arguments",
		`{"bill_date":"2024-05-12"}`:                            "invalid_arguments",
		`{"bill_type":"fund","bill_date":"2024-05-12"}`:         "invalid_arguments",
		`{"bill_type":"trade","bill_date":"2024-04"}`:           alipay.SubBillNotExist,
		`{"bill_type":"signcustomer","bill_date":"2024-05-12"}`: alipay.SubBillNotExist,
	} {
		p, _ := e.client.Params(alipay.MethodBillURL, []byte(biz), "")
		_, body := e.raw("", p.Encode())
		decode(t, body, alipay.MethodBillURL).want(t, "40004", sub)
	}
	r, err := e.client.BillURL(ctx(t), alipay.BillURLRequest{BillDate: "2024-05-12"})
	if err != nil || !strings.HasPrefix(r.BillDownloadURL, "http://sim.example:9090/sim/bill/download?") {
		t.Fatalf("PublicURL: %v %+v", err, r)
	}
}

// TestBillSameDay: Alipay serves a day's bill only once the day is over;
// the bill_same_day fault lets a test reconcile the day it made, as it
// stands so far. Tomorrow stays refused either way.
func TestBillSameDay(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.paidTrade("SD1", "4.00", "")
	today := e.clock.Now().In(alipay.ChinaTime).Format("2006-01-02")
	tomorrow := e.clock.Now().In(alipay.ChinaTime).AddDate(0, 0, 1).Format("2006-01-02")
	_, err := e.client.BillURL(ctx(t), alipay.BillURLRequest{BillDate: today})
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubBillNotExist)

	if err := e.sim.SetFaults(alipaysim.Faults{BillSameDay: true}); err != nil {
		t.Fatal(err)
	}
	r, err := e.client.BillURL(ctx(t), alipay.BillURLRequest{BillDate: today})
	if err != nil {
		t.Fatal(err)
	}
	bill, err := e.client.DownloadBill(ctx(t), r.BillDownloadURL)
	if err != nil {
		t.Fatal(err)
	}
	if bill.TradeCount != 1 || bill.TradeAmount != yuan("4.00") || bill.Rows[0].OutTradeNo != "SD1" {
		t.Fatalf("today's bill: %+v", bill)
	}
	_, err = e.client.BillURL(ctx(t), alipay.BillURLRequest{BillDate: tomorrow})
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubBillNotExist)
}
