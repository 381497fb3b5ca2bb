package wechatpaysim_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/paygate/paygate/wechatpay"
	"github.com/paygate/paygate/wechatpaysim"
)

// TestPendingCodes: exactly the code_urls Pay would pay now are listed,
// newest first, each until the first of its 2 hours and its time_expire;
// paid, closed and payment-code orders are not.
func TestPendingCodes(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	ctx := context.Background()
	if got := e.sim.PendingCodes(); len(got) != 0 {
		t.Fatalf("an empty simulator lists %+v", got)
	}
	older := prepay(t, e, "PG20240518Q1", 100)
	e.clock.Add(time.Minute)
	newer := prepay(t, e, "PG20240518Q2", 250)
	r, err := e.client.NativePrepay(ctx, wechatpay.NativeRequest{Description: "短", OutTradeNo: "PG20240518Q3",
		Amount: wechatpay.Amount{Total: 1}, TimeExpire: wechatpay.Time{Time: e.clock.Now().Add(10 * time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	short := r.CodeURL
	closed := prepay(t, e, "PG20240518Q4", 1)
	if err := e.client.Close(ctx, "PG20240518Q4"); err != nil {
		t.Fatal(err)
	}
	paid := prepay(t, e, "PG20240518Q5", 1)
	if _, err := e.sim.Pay(paid, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := codePay(e, "PG20240518Q6", "111234567890123456", 1); err != nil { // USERPAYING, no code_url
		t.Fatal(err)
	}

	got := e.sim.PendingCodes()
	if len(got) != 3 || got[0].CodeURL != newer || got[1].CodeURL != older || got[2].CodeURL != short {
		t.Fatalf("pending = %+v, want %s, %s, %s", got, newer, older, short)
	}
	if p := got[0]; p.OutTradeNo != "PG20240518Q2" || p.Total != 250 || p.Description != "拿铁咖啡" || p.MchID != testMchID ||
		!p.ExpiresAt.Equal(e.clock.Now().Add(2*time.Hour)) {
		t.Fatalf("pending[0] = %+v", p)
	}
	if !got[2].ExpiresAt.Equal(e.clock.Now().Add(10 * time.Minute)) {
		t.Fatalf("a code past its order's time_expire is listed until %v", got[2].ExpiresAt)
	}
	for _, code := range []string{closed, paid} {
		for _, p := range got {
			if p.CodeURL == code {
				t.Fatalf("%s is listed", code)
			}
		}
	}
	e.clock.Add(11 * time.Minute)
	if got := e.sim.PendingCodes(); len(got) != 2 {
		t.Fatalf("after time_expire: %+v", got)
	}
	if _, err := e.sim.Pay(short, ""); err == nil {
		t.Fatal("an unlisted code was paid")
	}
	e.clock.Add(2 * time.Hour)
	if got := e.sim.PendingCodes(); len(got) != 0 {
		t.Fatalf("after 2 h: %+v", got)
	}
}

// TestNewPaymentCode: every kind a buyer's page offers makes fresh codes
// that codepay treats as that kind; another prefix makes none.
func TestNewPaymentCode(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	want := map[string]string{"10": wechatpay.TradeSuccess, "11": wechatpay.TradeUserPaying, "12": wechatpay.TradeUserPaying, "13": ""}
	if len(wechatpaysim.PaymentCodeKinds) != len(want) {
		t.Fatalf("kinds = %+v", wechatpaysim.PaymentCodeKinds)
	}
	for i, k := range wechatpaysim.PaymentCodeKinds {
		code, ok := wechatpaysim.NewPaymentCode(k.Prefix)
		again, _ := wechatpaysim.NewPaymentCode(k.Prefix)
		if !ok || len(code) != 18 || code[:2] != k.Prefix || code == again || k.Label == "" {
			t.Fatalf("kind %+v: %q, %v", k, code, ok)
		}
		tx, err := codePay(e, "PG20240518K"+k.Prefix, code, 1)
		switch state := want[k.Prefix]; {
		case state == "":
			wantCode(t, err, http.StatusForbidden, wechatpay.CodeNotEnough)
		case err != nil || tx.TradeState != state:
			t.Fatalf("kind %d %s: %+v, %v; want %s", i, k.Prefix, tx, err, state)
		}
	}
	if code, ok := wechatpaysim.NewPaymentCode("28"); ok || code != "" {
		t.Fatalf("an Alipay prefix made %q", code)
	}
}
