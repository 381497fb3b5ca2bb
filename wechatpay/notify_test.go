package wechatpay_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/wechatpay"
)

// notification builds a signed notification carrying the stored
// python-sealed resource of goldenName, as WeChat Pay would send it.
func notification(t *testing.T, goldenName, eventType, originalType string, at time.Time) (http.Header, []byte) {
	t.Helper()
	g := golden(t, goldenName)
	body := fmt.Sprintf(`{"id":"7b2b145f-9cda-5573-8be2-d2d9eaaffa25","create_time":"2024-05-18T10:35:13+08:00","resource_type":"encrypt-resource","event_type":%q,"summary":"支付成功","resource":{"original_type":%q,"algorithm":"AEAD_AES_256_GCM","ciphertext":%q,"associated_data":%q,"nonce":%q}}`,
		eventType, originalType, g["ciphertext"], g["associated_data"], g["nonce"])
	h := http.Header{}
	if err := platformSigner(t).SignHeaders(h, []byte(body), at); err != nil {
		t.Fatal(err)
	}
	return h, []byte(body)
}

func TestParseNotificationTransaction(t *testing.T) {
	t.Parallel()
	now := time.Unix(1716000000, 0)
	v, err := wechatpay.NewVerifier(func() time.Time { return now }, wechatKeys(t)...)
	if err != nil {
		t.Fatal(err)
	}
	key := mustAPIv3Key(t)
	h, body := notification(t, "resource_transaction.golden", wechatpay.EventTransactionSuccess, "transaction", now)
	n, err := wechatpay.ParseNotification(h, body, v, key)
	if err != nil {
		t.Fatal(err)
	}
	if n.ID != "7b2b145f-9cda-5573-8be2-d2d9eaaffa25" || n.EventType != wechatpay.EventTransactionSuccess ||
		!n.CreateTime.Equal(time.Date(2024, 5, 18, 2, 35, 13, 0, time.UTC)) {
		t.Errorf("notification %+v", n)
	}
	tx, err := n.Transaction()
	if err != nil {
		t.Fatal(err)
	}
	want := wechatpay.Transaction{AppID: testAppID, MchID: testMchID, OutTradeNo: "PG20240518103456ABCD",
		TransactionID: "4200001863202405188344507881", TradeType: "NATIVE", TradeState: "SUCCESS",
		TradeStateDesc: "支付成功", BankType: "OTHERS", Attach: "自定义数据",
		SuccessTime: wechatpay.Time{Time: time.Date(2024, 5, 18, 10, 35, 12, 0, wechatpay.ChinaTime)},
		Payer:       &wechatpay.Payer{OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
		Amount:      &wechatpay.Amount{Total: 100, PayerTotal: 100, Currency: "CNY", PayerCurrency: "CNY"}}
	if !tx.SuccessTime.Equal(want.SuccessTime.Time) {
		t.Errorf("success_time %v", tx.SuccessTime)
	}
	tx.SuccessTime = want.SuccessTime
	if got, _ := json.Marshal(tx); !bytes.Equal(got, mustJSON(t, want)) {
		t.Errorf("transaction\n got %s\nwant %s", got, mustJSON(t, want))
	}
	if !tx.Paid() || tx.Check(testMchID, testAppID, "PG20240518103456ABCD", 100) != nil {
		t.Error("a paid transaction for this order does not check")
	}
	if err := tx.Check(testMchID, testAppID, "PG20240518103456ABCD", 101); !errors.Is(err, wechatpay.ErrMismatch) {
		t.Errorf("amount mismatch: %v", err)
	}
	if _, err := n.Refund(); !errors.Is(err, wechatpay.ErrNotifyMalformed) {
		t.Errorf("a payment read as a refund: %v", err)
	}
}

func TestParseNotificationRefund(t *testing.T) {
	t.Parallel()
	now := time.Unix(1716000000, 0)
	v, _ := wechatpay.NewVerifier(func() time.Time { return now }, wechatKeys(t)...)
	h, body := notification(t, "resource_refund.golden", wechatpay.EventRefundSuccess, "refund", now)
	n, err := wechatpay.ParseNotification(h, body, v, mustAPIv3Key(t))
	if err != nil {
		t.Fatal(err)
	}
	r, err := n.Refund()
	if err != nil {
		t.Fatal(err)
	}
	if r.OutRefundNo != "RF20240518110000XYZ" || r.RefundStatus != wechatpay.RefundSuccess || r.Amount.Refund != 40 ||
		r.Amount.Total != 100 || r.RefundID != "50300807092024051805990201735" || r.SuccessTime.IsZero() {
		t.Errorf("refund %+v", r)
	}
	if _, err := n.Transaction(); !errors.Is(err, wechatpay.ErrNotifyMalformed) {
		t.Errorf("a refund read as a payment: %v", err)
	}
}

func TestParseNotificationRefuses(t *testing.T) {
	t.Parallel()
	now := time.Unix(1716000000, 0)
	v, _ := wechatpay.NewVerifier(func() time.Time { return now }, wechatKeys(t)...)
	key := mustAPIv3Key(t)
	otherKey, _ := wechatpay.ParseAPIv3Key([]byte("0123456789abcdef0123456789abcdef"))
	resign := func(body []byte) (http.Header, []byte) {
		h := http.Header{}
		if err := platformSigner(t).SignHeaders(h, body, now); err != nil {
			t.Fatal(err)
		}
		return h, body
	}
	h, body := notification(t, "resource_transaction.golden", wechatpay.EventTransactionSuccess, "transaction", now)
	g := golden(t, "resource_transaction.golden")
	ct, _ := base64.StdEncoding.DecodeString(g["ciphertext"])
	ct[3] ^= 1
	flipped := strings.Replace(string(body), g["ciphertext"], base64.StdEncoding.EncodeToString(ct), 1)
	cases := []struct {
		name string
		h    http.Header
		body []byte
		key  wechatpay.APIv3Key
		want error
	}{
		{"probe", with(h.Clone(), wechatpay.HeaderSignature, "WECHATPAY/SIGNTEST/x"), body, key, wechatpay.ErrNotifySignature},
		{"tampered body", h, bytes.Replace(body, []byte("支付成功"), []byte("支付失败"), 1), key, wechatpay.ErrNotifySignature},
		{"stale", func() http.Header {
			h, _ := notification(t, "resource_transaction.golden", "TRANSACTION.SUCCESS", "transaction", now.Add(-10*time.Minute))
			return h
		}(), body, key, wechatpay.ErrNotifySignature},
		{"unsigned", http.Header{}, body, key, wechatpay.ErrNotifySignature},
		{"wrong APIv3 key", h, body, otherKey, wechatpay.ErrNotifyDecrypt},
		{"no APIv3 key", h, body, wechatpay.APIv3Key{}, wechatpay.ErrNotifyDecrypt},
	}
	hh, bb := resign([]byte(flipped))
	cases = append(cases, struct {
		name string
		h    http.Header
		body []byte
		key  wechatpay.APIv3Key
		want error
	}{"flipped ciphertext bit", hh, bb, key, wechatpay.ErrNotifyDecrypt})
	for name, edit := range map[string][2]string{
		"wrong associated_data": {`"associated_data":"transaction"`, `"associated_data":"refund"`},
		"other algorithm":       {`"AEAD_AES_256_GCM"`, `"AEAD_SM4_GCM"`},
		"short nonce":           {`"nonce":"fdasflkja484"`, `"nonce":"fdasflkja48"`},
		"plain resource":        {`"resource_type":"encrypt-resource"`, `"resource_type":"plain"`},
		"not JSON":              {`{"id"`, `{"id`},
	} {
		hh, bb := resign(bytes.Replace(body, []byte(edit[0]), []byte(edit[1]), 1))
		want := wechatpay.ErrNotifyMalformed
		if name == "wrong associated_data" {
			want = wechatpay.ErrNotifyDecrypt
		}
		cases = append(cases, struct {
			name string
			h    http.Header
			body []byte
			key  wechatpay.APIv3Key
			want error
		}{name, hh, bb, key, want})
	}
	for _, c := range cases {
		_, err := wechatpay.ParseNotification(c.h, c.body, v, c.key)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "paygatetestapiv3key") {
			t.Errorf("%s: the error shows the APIv3 key", c.name)
		}
	}
	if got := wechatpay.NotifyStatus(fmt.Errorf("x: %w", wechatpay.ErrNotifySignature)); got != 401 {
		t.Errorf("signature failure answered %d", got)
	}
}

// The simulator's side: NewNotification + SignHeaders round-trip through
// ParseNotification.
func TestNewNotificationRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Unix(1716000000, 0)
	v, _ := wechatpay.NewVerifier(func() time.Time { return now }, wechatKeys(t)...)
	key := mustAPIv3Key(t)
	tx := wechatpay.Transaction{AppID: testAppID, MchID: testMchID, OutTradeNo: "PG-roundtrip", TradeState: "SUCCESS",
		SuccessTime: wechatpay.Time{Time: now}, Amount: &wechatpay.Amount{Total: 1234}}
	body, err := wechatpay.NewNotification(key, "id-1", now, wechatpay.EventTransactionSuccess, "支付成功", wechatpay.OriginalTransaction, tx)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	if err := pubModeSigner(t).SignHeaders(h, body, now); err != nil {
		t.Fatal(err)
	}
	n, err := wechatpay.ParseNotification(h, body, v, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := n.Transaction()
	if err != nil || got.OutTradeNo != "PG-roundtrip" || got.Total() != 1234 || !got.SuccessTime.Equal(now) {
		t.Fatalf("%+v, %v", got, err)
	}
	if n.Resource.AssociatedData != "transaction" || len(n.Resource.Nonce) != 12 {
		t.Errorf("resource %+v", n.Resource)
	}
	if strings.Contains(string(body), "PG-roundtrip") {
		t.Error("the resource travels in clear")
	}
}

func TestNotifyAnswers(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	wechatpay.NotifySuccess(w)
	if w.Code != 204 || w.Body.Len() != 0 {
		t.Errorf("success: %d %q", w.Code, w.Body)
	}
	for _, c := range []struct{ in, want int }{{500, 500}, {401, 401}, {400, 400}, {200, 500}, {302, 500}} {
		w := httptest.NewRecorder()
		wechatpay.NotifyFailure(w, c.in, "验签失败")
		if w.Code != c.want || w.Body.String() != `{"code":"FAIL","message":"验签失败"}` {
			t.Errorf("failure %d: %d %q", c.in, w.Code, w.Body)
		}
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
