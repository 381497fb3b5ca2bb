package wechatpaysim_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/paygate/paygate/wechatpay"
)

func codePay(e *env, no, code string, total int64) (*wechatpay.Transaction, error) {
	return e.client.CodePay(context.Background(), wechatpay.CodePayRequest{Description: "可颂", OutTradeNo: no,
		Payer: wechatpay.CodePayPayer{AuthCode: code}, Amount: wechatpay.Amount{Total: total},
		SceneInfo: wechatpay.SceneInfo{DeviceID: "POS-7"}})
}

// TestCodePayKinds: the four payment-code kinds, an invalid and a reused
// code, and reverse of a never-paid and of a paid order.
func TestCodePayKinds(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	ctx := context.Background()

	tx, err := codePay(e, "PG20240518P10", "101234567890123456", 2550)
	if err != nil || tx.TradeState != wechatpay.TradeSuccess || !txnIDRe.MatchString(tx.TransactionID) || tx.TradeType != wechatpay.TradeTypeMicropay {
		t.Fatalf("10…: %+v %v", tx, err)
	}

	tx, err = codePay(e, "PG20240518P11", "111234567890123456", 100)
	if err != nil || wechatpay.CodePayOutcome(tx) != wechatpay.OutcomePaying || tx.TransactionID != "" {
		t.Fatalf("11…: %+v %v", tx, err)
	}
	if q, err := e.client.QueryByOutTradeNo(ctx, "PG20240518P11"); err != nil || q.TradeState != wechatpay.TradeUserPaying {
		t.Fatalf("11… at once: %+v %v", q, err)
	}
	e.clock.Add(3 * time.Second)
	if q, err := e.client.QueryByOutTradeNo(ctx, "PG20240518P11"); err != nil || q.TradeState != wechatpay.TradeSuccess || q.Payer == nil {
		t.Fatalf("11… after the password: %+v %v", q, err)
	}

	tx, err = codePay(e, "PG20240518P12", "121234567890123456", 100)
	if err != nil || tx.TradeState != wechatpay.TradeUserPaying {
		t.Fatalf("12…: %+v %v", tx, err)
	}
	e.clock.Add(29 * time.Second)
	if q, _ := e.client.QueryByOutTradeNo(ctx, "PG20240518P12"); q.TradeState != wechatpay.TradeUserPaying {
		t.Fatalf("12… after 29 s: %s", q.TradeState)
	}
	e.clock.Add(time.Second)
	if q, _ := e.client.QueryByOutTradeNo(ctx, "PG20240518P12"); q.TradeState != wechatpay.TradePayError {
		t.Fatalf("12… after 30 s: %s", q.TradeState)
	}
	if r, err := e.client.Reverse(ctx, "PG20240518P12"); err != nil || r.OutTradeNo != "PG20240518P12" {
		t.Fatalf("reverse: %+v %v", r, err)
	}
	if q, _ := e.client.QueryByOutTradeNo(ctx, "PG20240518P12"); q.TradeState != wechatpay.TradeRevoked || q.TransactionID != "" {
		t.Fatalf("after reverse: %+v", q)
	}

	_, err = codePay(e, "PG20240518P13", "131234567890123456", 100)
	if we := wantCode(t, err, http.StatusForbidden, "NOT_ENOUGH"); we.Outcome != wechatpay.OutcomeFailed {
		t.Fatalf("13… outcome %v", we.Outcome)
	}
	_, err = codePay(e, "PG20240518P14", "141234567890123456", 100)
	wantCode(t, err, http.StatusBadRequest, "PARAM_ERROR")
	_, err = codePay(e, "PG20240518P15", "101234567890123456", 100)
	wantCode(t, err, http.StatusBadRequest, "INVALID_REQUEST") // single use

	// The same codepay again answers the order's state.
	if tx, err := codePay(e, "PG20240518P10", "101234567890123456", 2550); err != nil || tx.TradeState != wechatpay.TradeSuccess {
		t.Fatalf("repeat: %+v %v", tx, err)
	}
	// Reverse of a paid order refunds it in full; again is the same success.
	for range 2 {
		if _, err := e.client.Reverse(ctx, "PG20240518P10"); err != nil {
			t.Fatal(err)
		}
	}
	v := e.view(t, "PG20240518P10")
	if v.TradeState != wechatpay.TradeRevoked || v.Refunded != 2550 || len(v.Refunds) != 1 || !v.Refunds[0].ByReverse {
		t.Fatalf("reversed paid order: %+v", v)
	}
	_, err = e.client.Reverse(ctx, "PG20240518NO")
	wantCode(t, err, http.StatusNotFound, "ORDER_NOT_EXIST")
	if n := e.sim.Notifications(); len(n) != 0 {
		t.Fatalf("codepay sent notifications: %+v", n)
	}
}

// TestRefund: a partial refund is PROCESSING, then SUCCESS with a
// REFUND.SUCCESS notification; repeats, over-refunds and refunds of
// unpaid or unknown orders.
func TestRefund(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	ctx := context.Background()
	code := prepay(t, e, "PG20240518R1", 1000)
	if _, err := e.sim.Pay(code, ""); err != nil {
		t.Fatal(err)
	}
	e.recv.waitNotes(t, 1)
	req := wechatpay.RefundRequest{OutTradeNo: "PG20240518R1", OutRefundNo: "RF1", Amount: wechatpay.RefundAmount{Refund: 400, Total: 1000}}
	r, err := e.client.Refund(ctx, req)
	if err != nil || r.Status != wechatpay.RefundProcessing || !refundRe.MatchString(r.RefundID) || r.Amount.Refund != 400 || !r.SuccessTime.IsZero() {
		t.Fatalf("refund: %+v %v", r, err)
	}
	if again, err := e.client.Refund(ctx, req); err != nil || again.RefundID != r.RefundID {
		t.Fatalf("repeat: %+v %v", again, err)
	}
	other := req
	other.Amount.Refund = 500
	_, err = e.client.Refund(ctx, other)
	wantCode(t, err, http.StatusBadRequest, "INVALID_REQUEST")
	over := wechatpay.RefundRequest{OutTradeNo: "PG20240518R1", OutRefundNo: "RF2", Amount: wechatpay.RefundAmount{Refund: 601, Total: 1000}}
	_, err = e.client.Refund(ctx, over)
	wantCode(t, err, http.StatusBadRequest, "INVALID_REQUEST")
	if q, _ := e.client.QueryByOutTradeNo(ctx, "PG20240518R1"); q.TradeState != wechatpay.TradeRefund {
		t.Fatalf("trade_state after a refund: %s", q.TradeState)
	}

	e.clock.Add(time.Second)
	q, err := e.client.QueryRefund(ctx, "RF1")
	if err != nil || q.Status != wechatpay.RefundSuccess || q.SuccessTime.IsZero() {
		t.Fatalf("refund query: %+v %v", q, err)
	}
	notes := e.recv.waitNotes(t, 2)
	rn, err := notes[1].Refund()
	if err != nil || rn.RefundStatus != wechatpay.RefundSuccess || rn.OutRefundNo != "RF1" || rn.Amount.Refund != 400 || notes[1].Resource.AssociatedData != "refund" {
		t.Fatalf("refund notification: %+v %v", rn, err)
	}

	_, err = e.client.QueryRefund(ctx, "RF404")
	wantCode(t, err, http.StatusNotFound, "RESOURCE_NOT_EXISTS")
	prepay(t, e, "PG20240518R2", 100)
	_, err = e.client.Refund(ctx, wechatpay.RefundRequest{OutTradeNo: "PG20240518R2", OutRefundNo: "RF3", Amount: wechatpay.RefundAmount{Refund: 1, Total: 100}})
	wantCode(t, err, http.StatusNotFound, "RESOURCE_NOT_EXISTS")
	if v := e.view(t, "PG20240518R1"); v.Refunded != 400 || len(v.Refunds) != 1 || v.Refunds[0].Status != wechatpay.RefundSuccess {
		t.Fatalf("view: %+v", v)
	}
}
