package alipaysim_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
)

func (e *env) pay(out, authCode, amount, timeout, notifyURL string) (*alipay.PayResponse, error) {
	return e.client.Pay(ctx(e.t), alipay.PayRequest{OutTradeNo: out, AuthCode: authCode, Subject: "coffee", TotalAmount: yuan(amount), TimeoutExpress: timeout, NotifyURL: notifyURL})
}

// TestPayAtOnce: 28… pays at once with the full 10000 body.
func TestPayAtOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r, err := e.pay("B28", "281234567890123456", "0.01", "", "")
	if err != nil || r.Outcome() != alipay.OutcomeSuccess {
		t.Fatalf("%v %+v", err, r)
	}
	if !tradeNoPattern.MatchString(r.TradeNo) || !regexp.MustCompile(`^2088\d{12}$`).MatchString(r.BuyerUserID) ||
		r.TotalAmount != 1 || r.ReceiptAmount != 1 || r.BuyerPayAmount != 1 || r.InvoiceAmount != 1 || r.PointAmount != 0 ||
		r.GmtPayment != "2024-05-13 10:00:00" || len(r.FundBillList) != 1 || r.FundBillList[0].Amount != 1 {
		t.Fatalf("pay response %+v", r)
	}
	e.mustStatus("B28", alipay.TradeSuccess)
}

// TestPayConfirmLater: 29… answers 10003 in the observed shape and is paid
// PayDelay later.
func TestPayConfirmLater(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	e := setup(t)
	p, _ := e.client.Params(alipay.MethodPay, []byte(`{"out_trade_no":"B29","scene":"bar_code","auth_code":"291234567890123456","subject":"s","total_amount":"2650.00"}`), rcv.url())
	_, body := e.raw("", p.Encode())
	want := regexp.MustCompile(`^\{"alipay_trade_pay_response":\{"code":"10003","msg":" order success pay inprocess","buyer_logon_id":"1\d\d\*\*\*\*\d{4}","buyer_pay_amount":"0.00","invoice_amount":"0.00","out_trade_no":"B29","point_amount":"0.00","receipt_amount":"0.00","total_amount":"2650.00","trade_no":"2024051322001\d{15}"\},"sign":"[^"]+"\}$`)
	if !want.Match(body) {
		t.Fatalf("10003 body: %s", body)
	}
	decode(t, body, alipay.MethodPay)
	e.mustStatus("B29", alipay.TradeWaitBuyerPay)
	// The same pay again answers 10003 again.
	r, err := e.client.Pay(ctx(t), alipay.PayRequest{OutTradeNo: "B29", AuthCode: "291234567890123456", Subject: "s", TotalAmount: yuan("2650.00"), NotifyURL: rcv.url()})
	if err != nil || r.Outcome() != alipay.OutcomePaying {
		t.Fatalf("repeat: %v %+v", err, r)
	}
	e.clock.Advance(3 * time.Second)
	f := rcv.next(t) // the sweeper pays and notifies without a query
	if f.Get("trade_status") != alipay.TradeSuccess || f.Get("gmt_payment") != "2024-05-13 10:00:03" {
		t.Fatalf("notification %v", f)
	}
	q := e.mustStatus("B29", alipay.TradeSuccess)
	if q.ReceiptAmount != yuan("2650.00") {
		t.Fatalf("paid %+v", q)
	}
}

// TestPayNeverConfirmed: 27… waits and closes at its timeout_express.
func TestPayNeverConfirmed(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r, err := e.pay("B27", "271234567890123456", "5.00", "5m", "")
	if err != nil || r.Outcome() != alipay.OutcomePaying || r.ReceiptAmount != 0 {
		t.Fatalf("%v %+v", err, r)
	}
	e.clock.Advance(4 * time.Minute)
	e.mustStatus("B27", alipay.TradeWaitBuyerPay)
	e.clock.Advance(time.Minute)
	e.mustStatus("B27", alipay.TradeClosed)
	_, err = e.pay("B27", "271234567890123456", "5.00", "5m", "")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeHasClose)

	// Default timeout: 3 h.
	if _, err := e.pay("B27b", "271234567890123456", "5.00", "", ""); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(3*time.Hour - time.Second)
	e.mustStatus("B27b", alipay.TradeWaitBuyerPay)
	e.clock.Advance(time.Second)
	e.mustStatus("B27b", alipay.TradeClosed)
}

// TestPayFailures: 26… and invalid codes create no trade, so a retry with
// a good code works.
func TestPayFailures(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cases := []struct{ code, sub string }{
		{"261234567890123456", alipay.SubBalanceNotEnough},
		{"12345", alipay.SubAuthCodeInvalid},
		{"301234567890123456", alipay.SubAuthCodeInvalid},
		{"28123456789012345", alipay.SubAuthCodeInvalid},   // 17 digits
		{"2812345678901234567", alipay.SubAuthCodeInvalid}, // 19 digits
		{"28123456789012345a", alipay.SubAuthCodeInvalid},
	}
	for _, c := range cases {
		_, err := e.pay("BF", c.code, "1.00", "", "")
		wantSub(t, err, alipay.OutcomeFailed, c.sub)
		_, err = e.query("BF")
		wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeNotExist)
	}
	p, _ := e.client.Params(alipay.MethodPay, []byte(`{"out_trade_no":"BF","scene":"bar_code","auth_code":"261234567890123456","subject":"s","total_amount":"1"}`), "")
	_, body := e.raw("", p.Encode())
	n := decode(t, body, alipay.MethodPay)
	if n.Fields["receipt_amount"] != "0.00" || n.Fields["out_trade_no"] != "BF" {
		t.Fatalf("failure body %s", body)
	}
	e.paidTrade("BF", "1.00", "")
}

// TestPayRepeats: §8.3 for pay on an existing out_trade_no.
func TestPayRepeats(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.paidTrade("PR1", "1.00", "")
	_, err := e.pay("PR1", "280000000000000001", "1.00", "", "")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeHasSuccess)

	r1, err := e.pay("PR2", "270000000000000001", "1.00", "", "")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := e.pay("PR2", "270000000000000001", "1.00", "", "")
	if err != nil || r2.Outcome() != alipay.OutcomePaying || r2.TradeNo != r1.TradeNo {
		t.Fatalf("repeat while waiting: %v %+v", err, r2)
	}
	_, err = e.pay("PR2", "270000000000000001", "2.00", "", "")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubContextInconsistent)
	if _, err := e.client.Cancel(ctx(t), alipay.TradeRef{OutTradeNo: "PR2"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.pay("PR2", "270000000000000001", "1.00", "", "")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeHasClose)

	// A precreated out_trade_no cannot be reused for a barcode pay.
	e.precreate("PR3", "1.00", "")
	_, err = e.pay("PR3", "280000000000000001", "1.00", "", "")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubContextInconsistent)
}
