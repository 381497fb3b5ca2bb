package wechatpaysim_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/paygate/paygate/wechatpay"
	"github.com/paygate/paygate/wechatpaysim"
)

var (
	codeURLRe = regexp.MustCompile(`^weixin://wxpay/bizpayurl\?pr=[0-9A-Za-z]{9}$`)
	txnIDRe   = regexp.MustCompile(`^42000[0-9]{5}20240518[0-9]{10}$`)
	refundRe  = regexp.MustCompile(`^50[0-9]{8}20240518[0-9]{11}$`)
	openIDRe  = regexp.MustCompile(`^o[A-Za-z0-9_-]{27}$`)
)

func prepay(t *testing.T, e *env, no string, total int64) string {
	t.Helper()
	r, err := e.client.NativePrepay(context.Background(), wechatpay.NativeRequest{Description: "拿铁咖啡", OutTradeNo: no, Amount: wechatpay.Amount{Total: total}})
	if err != nil {
		t.Fatal(err)
	}
	return r.CodeURL
}

// TestNativeFlow: prepay, repeat, query NOTPAY, the buyer pays, the
// notification arrives verified and decrypted, query by both IDs, close of
// a paid order, prepay on a paid order; in both signing modes.
func TestNativeFlow(t *testing.T) {
	for _, mode := range []string{"certificate", "public key"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := setup(t, options{pubKeyMode: mode == "public key"})
			ctx := context.Background()
			code := prepay(t, e, "PG20240518A1", 100)
			if !codeURLRe.MatchString(code) {
				t.Fatalf("code_url %q", code)
			}
			if again := prepay(t, e, "PG20240518A1", 100); again != code {
				t.Fatalf("repeat gave %q, want %q", again, code)
			}
			_, err := e.client.NativePrepay(ctx, wechatpay.NativeRequest{Description: "拿铁咖啡", OutTradeNo: "PG20240518A1", Amount: wechatpay.Amount{Total: 200}})
			wantCode(t, err, http.StatusBadRequest, "INVALID_REQUEST")

			tx, err := e.client.QueryByOutTradeNo(ctx, "PG20240518A1")
			if err != nil || tx.TradeState != wechatpay.TradeNotPay || tx.TransactionID != "" || tx.Payer != nil || tx.Total() != 100 {
				t.Fatalf("query before payment: %+v %v", tx, err)
			}
			v, err := e.sim.Pay(code, "")
			if err != nil || v.TradeState != wechatpay.TradeSuccess {
				t.Fatalf("pay: %+v %v", v, err)
			}
			if _, err := e.sim.Pay(code, ""); !errors.Is(err, wechatpaysim.ErrOrderPaid) {
				t.Fatalf("second pay: %v", err)
			}
			tx, err = e.client.QueryByOutTradeNo(ctx, "PG20240518A1")
			if err != nil || tx.TradeState != wechatpay.TradeSuccess || !txnIDRe.MatchString(tx.TransactionID) ||
				!openIDRe.MatchString(tx.Payer.OpenID) || tx.Amount.PayerTotal != 100 || tx.TradeType != wechatpay.TradeTypeNative {
				t.Fatalf("query after payment: %+v %v", tx, err)
			}
			if _, off := tx.SuccessTime.Zone(); off != 8*3600 {
				t.Fatalf("success_time not +08:00: %v", tx.SuccessTime)
			}
			byID, err := e.client.QueryByTransactionID(ctx, tx.TransactionID)
			if err != nil || byID.OutTradeNo != "PG20240518A1" {
				t.Fatalf("query by id: %+v %v", byID, err)
			}
			notes := e.recv.waitNotes(t, 1)
			paid, err := notes[0].Transaction()
			if err != nil || notes[0].EventType != wechatpay.EventTransactionSuccess || notes[0].Resource.AssociatedData != "transaction" {
				t.Fatalf("notification: %+v %v", notes[0], err)
			}
			if err := paid.Check(testMchID, testAppID, "PG20240518A1", 100); err != nil || paid.TransactionID != tx.TransactionID {
				t.Fatalf("notified transaction: %+v %v", paid, err)
			}
			wantCode(t, e.client.Close(ctx, "PG20240518A1"), http.StatusBadRequest, "ORDERPAID")
			_, err = e.client.NativePrepay(ctx, wechatpay.NativeRequest{Description: "拿铁咖啡", OutTradeNo: "PG20240518A1", Amount: wechatpay.Amount{Total: 100}})
			wantCode(t, err, http.StatusBadRequest, "ORDERPAID")
		})
	}
}

// TestCloseAndExpiry: close of an unpaid order, of a closed and of an
// unknown one answer 204; a closed order cannot be paid; an unknown one is
// ORDER_NOT_EXIST; a code_url past time_expire or 2 h cannot be paid.
func TestCloseAndExpiry(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	ctx := context.Background()
	code := prepay(t, e, "PG20240518C1", 50)
	for range 2 {
		if err := e.client.Close(ctx, "PG20240518C1"); err != nil {
			t.Fatal(err)
		}
	}
	if tx, err := e.client.QueryByOutTradeNo(ctx, "PG20240518C1"); err != nil || tx.TradeState != wechatpay.TradeClosed {
		t.Fatalf("after close: %+v %v", tx, err)
	}
	if _, err := e.sim.Pay(code, ""); !errors.Is(err, wechatpaysim.ErrOrderClosed) {
		t.Fatalf("pay closed: %v", err)
	}
	if err := e.client.Close(ctx, "PG20240518XX"); err != nil {
		t.Fatalf("close unknown: %v", err)
	}
	_, err := e.client.QueryByOutTradeNo(ctx, "PG20240518XX")
	if we := wantCode(t, err, http.StatusNotFound, "ORDER_NOT_EXIST"); we.Outcome != wechatpay.OutcomeFailed {
		t.Fatalf("outcome %v", we.Outcome)
	}
	if _, err := e.sim.Pay("weixin://wxpay/bizpayurl?pr=nothing00", ""); !errors.Is(err, wechatpaysim.ErrUnknownCode) {
		t.Fatalf("unknown code: %v", err)
	}

	_, err = e.client.NativePrepay(ctx, wechatpay.NativeRequest{Description: "d", OutTradeNo: "PG20240518E1",
		Amount: wechatpay.Amount{Total: 1}, TimeExpire: wechatpay.Time{Time: e.clock.Now().Add(10 * time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(11 * time.Minute)
	if _, err := e.sim.Pay(e.view(t, "PG20240518E1").CodeURL, ""); !errors.Is(err, wechatpaysim.ErrOrderExpired) {
		t.Fatalf("pay after time_expire: %v", err)
	}
	old := prepay(t, e, "PG20240518E2", 1)
	e.clock.Add(2 * time.Hour)
	if _, err := e.sim.Pay(old, ""); !errors.Is(err, wechatpaysim.ErrCodeExpired) {
		t.Fatalf("pay an old code: %v", err)
	}
	if fresh := prepay(t, e, "PG20240518E2", 1); fresh == old {
		t.Fatal("a repeat after 2 h kept the old code_url")
	}
	e.clock.Add(7 * 24 * time.Hour)
	if v := e.view(t, "PG20240518E2"); v.TradeState != wechatpay.TradeClosed {
		t.Fatalf("unpaid after 7 days: %s", v.TradeState)
	}
}
