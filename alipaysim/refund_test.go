package alipaysim_test

import (
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

func (e *env) refund(out, reqNo, amount string) (*alipay.RefundResponse, error) {
	return e.client.Refund(ctx(e.t), alipay.RefundRequest{OutTradeNo: out, OutRequestNo: reqNo, RefundAmount: yuan(amount)})
}

// TestRefundRules: §3.6 and §8.3.
func TestRefundRules(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	e := setup(t)
	e.paidTrade("RF1", "10.00", rcv.url())
	rcv.next(t)

	e.clock.Advance(time.Minute)
	r, err := e.refund("RF1", "R1", "3.00")
	if err != nil || r.FundChange != "Y" || r.RefundFee != yuan("3.00") || r.GmtRefundPay != "2024-05-13 10:01:00" || r.BuyerUserID == "" {
		t.Fatalf("first refund: %v %+v", err, r)
	}
	f := rcv.next(t)
	if f.Get("trade_status") != alipay.TradeSuccess || f.Get("refund_fee") != "3.00" || f.Get("out_biz_no") != "R1" || f.Get("gmt_refund") != "2024-05-13 10:01:00.000" {
		t.Fatalf("partial refund notification %v", f)
	}
	e.clock.Advance(time.Minute)
	if r, err := e.refund("RF1", "R1", "3.00"); err != nil || r.FundChange != "N" || r.RefundFee != yuan("3.00") || r.GmtRefundPay != "2024-05-13 10:01:00" {
		t.Fatalf("repeat: %v %+v", err, r)
	}
	_, err = e.refund("RF1", "R1", "4.00")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubDiscordantRepeat)
	_, err = e.refund("RF1", "R2", "7.01")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubRefundFeeErr)
	_, err = e.refund("RF1", "", "7.00")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubRefundAmtNotEqual)
	p, _ := e.client.Params(alipay.MethodRefund, []byte(`{"out_trade_no":"RF1","refund_amount":"1.00"}`), "")
	_, body := e.raw("", p.Encode())
	if n := decode(t, body, alipay.MethodRefund); n.Fields["refund_fee"] != "0.00" || n.Fields["sub_code"] != alipay.SubRefundAmtNotEqual {
		t.Fatalf("REFUND_AMT_NOT_EQUAL_TOTAL body %s", body)
	}
	if r, err := e.refund("RF1", "R2", "2.00"); err != nil || r.RefundFee != yuan("5.00") {
		t.Fatalf("second refund: %v %+v", err, r)
	}
	rcv.next(t)
	if r, err := e.refund("RF1", "R3", "5.00"); err != nil || r.RefundFee != yuan("10.00") || r.FundChange != "Y" {
		t.Fatalf("last refund: %v %+v", err, r)
	}
	f = rcv.next(t)
	if f.Get("trade_status") != alipay.TradeClosed || f.Get("refund_fee") != "10.00" || f.Get("gmt_close") == "" {
		t.Fatalf("full refund notification %v", f)
	}
	e.mustStatus("RF1", alipay.TradeClosed)
	if r, err := e.refund("RF1", "R2", "2.00"); err != nil || r.FundChange != "N" || r.RefundFee != yuan("10.00") {
		t.Fatalf("repeat on a closed trade: %v %+v", err, r)
	}
	_, err = e.refund("RF1", "R4", "0.01")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeStatusError)
	if v := e.view("RF1"); len(v.Refunds) != 3 || v.RefundFee != yuan("10.00") || v.CloseReason != "refund" {
		t.Fatalf("view %+v", v)
	}

	// Without out_request_no: the full amount, keyed by out_trade_no.
	e.paidTrade("RF2", "4.00", "")
	if r, err := e.refund("RF2", "", "4.00"); err != nil || r.FundChange != "Y" {
		t.Fatalf("full refund: %v %+v", err, r)
	}
	if r, err := e.refund("RF2", "", "4.00"); err != nil || r.FundChange != "N" {
		t.Fatalf("repeat full refund: %v %+v", err, r)
	}
	if rq, err := e.client.RefundQuery(ctx(t), alipay.RefundQueryRequest{OutTradeNo: "RF2", OutRequestNo: "RF2"}); err != nil || !rq.Refunded() {
		t.Fatalf("refund query by out_trade_no: %v %+v", err, rq)
	}

	// Unpaid and unknown trades.
	if _, err := e.pay("RF3", "270000000000000001", "1.00", "", ""); err != nil {
		t.Fatal(err)
	}
	_, err = e.refund("RF3", "R1", "1.00")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeStatusError)
	_, err = e.refund("RF9", "R1", "1.00")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeNotExist)
}

// TestRefundFinished: after the refund period the trade is TRADE_FINISHED,
// notified, and refunds fail.
func TestRefundFinished(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	e := setup(t)
	e.paidTrade("FN1", "1.00", rcv.url())
	rcv.next(t)
	e.clock.Advance(90 * 24 * time.Hour)
	f := rcv.next(t)
	if f.Get("trade_status") != alipay.TradeFinished || f.Get("gmt_close") != "2024-08-11 10:00:00" {
		t.Fatalf("finished notification %v", f)
	}
	e.mustStatus("FN1", alipay.TradeFinished)
	_, err := e.refund("FN1", "R1", "1.00")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeHasFinished)
}

// TestRefundQuery: §3.7.
func TestRefundQuery(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.paidTrade("RQ1", "9.99", "")
	if _, err := e.client.Refund(ctx(t), alipay.RefundRequest{OutTradeNo: "RQ1", OutRequestNo: "R1", RefundAmount: yuan("1.11"), RefundReason: "broken"}); err != nil {
		t.Fatal(err)
	}
	rq, err := e.client.RefundQuery(ctx(t), alipay.RefundQueryRequest{OutTradeNo: "RQ1", OutRequestNo: "R1"})
	if err != nil || rq.RefundStatus != alipay.RefundSuccess || rq.RefundAmount != yuan("1.11") || rq.TotalAmount != yuan("9.99") ||
		rq.OutRequestNo != "R1" || rq.RefundReason != "broken" || rq.GmtRefundPay != "2024-05-13 10:00:00" {
		t.Fatalf("%v %+v", err, rq)
	}
	p, _ := e.client.Params(alipay.MethodRefundQuery, []byte(`{"out_trade_no":"RQ1","out_request_no":"R9"}`), "")
	_, body := e.raw("", p.Encode())
	if n := decode(t, body, alipay.MethodRefundQuery); len(n.Fields) != 2 || n.Fields["code"] != "10000" {
		t.Fatalf("unknown out_request_no: %s", body)
	}
	_, err = e.client.RefundQuery(ctx(t), alipay.RefundQueryRequest{OutTradeNo: "RQ9", OutRequestNo: "R1"})
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeNotExist)
}

// TestRefundNotifyDisabled: DisableRefundNotify silences refunds only.
func TestRefundNotifyDisabled(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	e := setup(t, func(c *alipaysim.Config) { c.DisableRefundNotify = true })
	e.paidTrade("RN1", "2.00", rcv.url())
	rcv.next(t)
	if _, err := e.refund("RN1", "R1", "2.00"); err != nil {
		t.Fatal(err)
	}
	rcv.none(t, 100*time.Millisecond)
}
