package wechatpay_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/wechatpay"
)

// fakeWechat is WeChat Pay as far as these tests need it, over the real HTTP
// stack: it checks every request's Authorization with VerifyRequest and the
// required headers, then answers from a per-route function and signs the
// answer with the platform certificate (or the public key when the request
// asks for it via Wechatpay-Serial).
type fakeWechat struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	routes map[string]func(r *http.Request, body []byte) (int, string)
	// sign, when set, replaces the normal answer signing.
	sign    func(h http.Header, body []byte)
	seen    []string
	authErr error
}

func newFakeWechat(t *testing.T) *fakeWechat {
	f := &fakeWechat{t: t, routes: map[string]func(*http.Request, []byte) (int, string){}}
	merchantPub := &mustKey(t, merchantKeyPEM).PublicKey
	platform, pubMode := platformSigner(t), pubModeSigner(t)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, err := wechatpay.VerifyRequest(r.Header.Get("Authorization"), r.Method, r.RequestURI, body,
			func(mchID, serial string) (*rsa.PublicKey, error) {
				if mchID != testMchID || serial != merchantSerial {
					return nil, fmt.Errorf("unknown merchant %s serial %s", mchID, serial)
				}
				return merchantPub, nil
			}, time.Now())
		f.mu.Lock()
		f.seen = append(f.seen, r.Method+" "+r.RequestURI)
		if err != nil && f.authErr == nil {
			f.authErr = err
		}
		route := f.routes[r.Method+" "+r.URL.Path]
		sign := f.sign
		f.mu.Unlock()
		if err != nil || r.Header.Get("Accept") == "" || r.Header.Get("User-Agent") == "" {
			w.WriteHeader(401)
			io.WriteString(w, `{"code":"SIGN_ERROR","message":"错误的签名，验签失败"}`)
			return
		}
		if route == nil {
			w.WriteHeader(404)
			io.WriteString(w, `{"code":"NOT_FOUND","message":"no route"}`)
			return
		}
		status, answer := route(r, body)
		signer := platform
		if r.Header.Get(wechatpay.HeaderSerial) == pubKeyID {
			signer = pubMode
		}
		if sign != nil {
			sign(w.Header(), []byte(answer))
		} else if err := signer.SignHeaders(w.Header(), []byte(answer), time.Now()); err != nil {
			t.Error(err)
		}
		w.Header().Set("Request-ID", "08F5B8C2B506102C18FDDFEEA30620BE821E28EDC405-0")
		if answer != "" {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
		}
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() {
		if f.authErr != nil {
			t.Errorf("a request's Authorization did not verify: %v", f.authErr)
		}
	})
	return f
}

func (f *fakeWechat) route(methodPath string, h func(r *http.Request, body []byte) (int, string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[methodPath] = h
}

func (f *fakeWechat) answer(methodPath string, status int, body string) {
	f.route(methodPath, func(*http.Request, []byte) (int, string) { return status, body })
}

func (f *fakeWechat) client(t *testing.T, keys ...wechatpay.PublicKey) *wechatpay.Client {
	t.Helper()
	if keys == nil {
		keys = wechatKeys(t)[:1] // certificate mode
	}
	c, err := wechatpay.New(wechatpay.Config{MchID: testMchID, AppID: testAppID, BaseURL: f.srv.URL,
		PrivateKey: mustKey(t, merchantKeyPEM), SerialNo: merchantSerial, WechatPayKeys: keys,
		APIv3Key: mustAPIv3Key(t), NotifyURL: testNotifyURL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const paidTx = `{"transaction_id":"4200001863202305068344507881","amount":{"currency":"CNY","payer_currency":"CNY","payer_total":100,"total":100},"mchid":"1900000001","trade_state":"SUCCESS","bank_type":"OTHERS","promotion_detail":[],"success_time":"2023-05-06T15:17:31+08:00","payer":{"openid":"oPuGI5V0_LybXP5_fmDLmW1Aiggw"},"out_trade_no":"PG20240518ABC","appid":"wxd678efh567hg6787","trade_state_desc":"支付成功","trade_type":"NATIVE"}`

func TestNativePrepayAndQuery(t *testing.T) {
	t.Parallel()
	f := newFakeWechat(t)
	var prepayBody string
	f.route("POST /v3/pay/transactions/native", func(r *http.Request, body []byte) (int, string) {
		prepayBody = string(body)
		return 200, `{"code_url":"weixin://wxpay/bizpayurl?pr=JyC91EIz1"}`
	})
	f.route("GET /v3/pay/transactions/out-trade-no/PG20240518ABC", func(r *http.Request, _ []byte) (int, string) {
		if r.URL.RawQuery != "mchid=1900000001" {
			return 400, `{"code":"PARAM_ERROR","message":"mchid"}`
		}
		return 200, paidTx
	})
	c := f.client(t)
	ctx := context.Background()
	expire := time.Date(2024, 5, 18, 10, 34, 56, 0, time.UTC)
	resp, err := c.NativePrepay(ctx, wechatpay.NativeRequest{Description: "拿铁 & 可颂", OutTradeNo: "PG20240518ABC",
		TimeExpire: wechatpay.Time{Time: expire}, Amount: wechatpay.Amount{Total: 100}})
	if err != nil || resp.CodeURL != "weixin://wxpay/bizpayurl?pr=JyC91EIz1" {
		t.Fatalf("prepay %+v, %v", resp, err)
	}
	want := `{"appid":"wxd678efh567hg6787","mchid":"1900000001","description":"拿铁 & 可颂","out_trade_no":"PG20240518ABC","time_expire":"2024-05-18T18:34:56+08:00","notify_url":"https://shop.example/wechat/notify","amount":{"total":100,"currency":"CNY"}}`
	if prepayBody != want {
		t.Errorf("prepay body\n got %s\nwant %s", prepayBody, want)
	}
	tx, err := c.QueryByOutTradeNo(ctx, "PG20240518ABC")
	if err != nil || !tx.Paid() || tx.Total() != 100 || tx.Payer.OpenID != "oPuGI5V0_LybXP5_fmDLmW1Aiggw" ||
		!tx.SuccessTime.Equal(time.Date(2023, 5, 6, 7, 17, 31, 0, time.UTC)) {
		t.Fatalf("query %+v, %v", tx, err)
	}
}

func TestPublicKeyModeAnswers(t *testing.T) {
	t.Parallel()
	f := newFakeWechat(t)
	f.answer("POST /v3/pay/transactions/out-trade-no/PG20240518ABC/close", 204, "")
	pub := wechatKeys(t)[1]
	// Only the public key configured: the client asks for it, and the
	// answer it gets verifies.
	if err := f.client(t, pub).Close(context.Background(), "PG20240518ABC"); err != nil {
		t.Fatal(err)
	}
}

func TestCallOutcomes(t *testing.T) {
	t.Parallel()
	f := newFakeWechat(t)
	c := f.client(t)
	const q = "GET /v3/pay/transactions/out-trade-no/PG20240518ABC"
	wrongKey := wechatpay.Signer{ID: platformSerial, Key: mustKey(t, pubModeKeyPEM)}
	stranger := wechatpay.Signer{ID: "1111111111111111111111111111111111111111", Key: mustKey(t, platformKeyPEM)}
	cases := []struct {
		name    string
		status  int
		body    string
		sign    func(h http.Header, body []byte)
		outcome wechatpay.Outcome
		code    string
		errIs   error
	}{
		{"paid", 200, paidTx, nil, wechatpay.OutcomeSuccess, "", nil},
		{"not found", 404, `{"code":"ORDER_NOT_EXIST","message":"订单不存在"}`, nil, wechatpay.OutcomeFailed, "ORDER_NOT_EXIST", nil},
		{"system error", 500, `{"code":"SYSTEM_ERROR","message":"系统异常，请稍后重试"}`, nil, wechatpay.OutcomeUnknown, "SYSTEM_ERROR", nil},
		{"bad gateway page", 502, `<html>bad gateway</html>`, nil, wechatpay.OutcomeUnknown, "", nil},
		{"rate limited", 429, `{"code":"RATELIMIT_EXCEEDED","message":"请求未受理"}`, nil, wechatpay.OutcomeUnknown, "RATELIMIT_EXCEEDED", nil},
		{"param error", 400, `{"code":"PARAM_ERROR","message":"参数错误","detail":{"field":"/amount/currency","location":"body"}}`, nil, wechatpay.OutcomeFailed, "PARAM_ERROR", nil},
		{"sign error", 401, `{"code":"SIGN_ERROR","message":"签名错误"}`, nil, wechatpay.OutcomeConfig, "SIGN_ERROR", nil},
		{"unsigned error is classified", 404, `{"code":"ORDER_NOT_EXIST","message":"订单不存在"}`, func(http.Header, []byte) {}, wechatpay.OutcomeFailed, "ORDER_NOT_EXIST", nil},
		{"error with a bad signature", 404, `{"code":"ORDER_NOT_EXIST","message":"订单不存在"}`, func(h http.Header, b []byte) { wrongKey.SignHeaders(h, b, time.Now()) }, wechatpay.OutcomeUnknown, "", wechatpay.ErrSignature},
		{"2xx signed by the wrong key", 200, paidTx, func(h http.Header, b []byte) { wrongKey.SignHeaders(h, b, time.Now()) }, wechatpay.OutcomeUnknown, "", wechatpay.ErrSignature},
		{"2xx unsigned", 200, paidTx, func(http.Header, []byte) {}, wechatpay.OutcomeUnknown, "", wechatpay.ErrUnsigned},
		{"2xx probe", 200, paidTx, func(h http.Header, b []byte) {
			platformSigner(t).SignHeaders(h, b, time.Now())
			h.Set(wechatpay.HeaderSignature, "WECHATPAY/SIGNTEST/AbCdEf")
		}, wechatpay.OutcomeUnknown, "", wechatpay.ErrSignatureProbe},
		{"2xx stale", 200, paidTx, func(h http.Header, b []byte) { platformSigner(t).SignHeaders(h, b, time.Now().Add(-6*time.Minute)) }, wechatpay.OutcomeUnknown, "", wechatpay.ErrTimestamp},
		{"2xx unknown serial", 200, paidTx, func(h http.Header, b []byte) { stranger.SignHeaders(h, b, time.Now()) }, wechatpay.OutcomeUnknown, "", wechatpay.ErrUnknownSerial},
		{"2xx not JSON", 200, `{"trade_state":`, nil, wechatpay.OutcomeUnknown, "", nil},
		{"2xx about another order", 200, strings.Replace(paidTx, "PG20240518ABC", "PG20240518XYZ", 1), nil, wechatpay.OutcomeUnknown, "", wechatpay.ErrMismatch},
		{"2xx about another merchant", 200, strings.Replace(paidTx, `"mchid":"1900000001"`, `"mchid":"1900000002"`, 1), nil, wechatpay.OutcomeUnknown, "", wechatpay.ErrMismatch},
	}
	for _, tc := range cases {
		f.answer(q, tc.status, tc.body)
		f.mu.Lock()
		f.sign = tc.sign
		f.mu.Unlock()
		tx, err := c.QueryByOutTradeNo(context.Background(), "PG20240518ABC")
		if got := wechatpay.OutcomeOf(err); got != tc.outcome {
			t.Errorf("%s: outcome %s (%v), want %s", tc.name, got, err, tc.outcome)
			continue
		}
		if tc.outcome == wechatpay.OutcomeSuccess {
			if tx == nil || !tx.Paid() {
				t.Errorf("%s: %+v", tc.name, tx)
			}
			continue
		}
		var e *wechatpay.Error
		if !errors.As(err, &e) || e.Code != tc.code || (tc.code != "" && !wechatpay.IsCode(err, tc.code)) {
			t.Errorf("%s: error %#v", tc.name, err)
		}
		if tc.errIs != nil && !errors.Is(err, tc.errIs) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.errIs)
		}
		if tc.status < 500 && tc.code != "" && e.RequestID == "" {
			t.Errorf("%s: no Request-ID", tc.name)
		}
		if strings.Contains(err.Error(), "WECHATPAY2-SHA256") || strings.Contains(err.Error(), "signature=") {
			t.Errorf("%s: the error shows the Authorization: %v", tc.name, err)
		}
	}
}

func TestTransportOutcomes(t *testing.T) {
	t.Parallel()
	f := newFakeWechat(t)
	release := make(chan struct{})
	f.route("POST /v3/refund/domestic/refunds", func(*http.Request, []byte) (int, string) {
		<-release
		return 500, `{"code":"SYSTEM_ERROR","message":"x"}`
	})
	defer close(release)
	c := f.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Refund(ctx, wechatpay.RefundRequest{OutTradeNo: "PG20240518ABC", OutRefundNo: "RF1",
		Amount: wechatpay.RefundAmount{Refund: 1, Total: 100}})
	if wechatpay.OutcomeOf(err) != wechatpay.OutcomeUnknown || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}
	// Nobody listening: the request may not have left, but the client
	// cannot tell; unknown.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	dc, err := wechatpay.New(wechatpay.Config{MchID: testMchID, AppID: testAppID, BaseURL: dead.URL,
		PrivateKey: mustKey(t, merchantKeyPEM), SerialNo: merchantSerial, WechatPayKeys: wechatKeys(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = dc.QueryByOutTradeNo(context.Background(), "PG20240518ABC")
	if wechatpay.OutcomeOf(err) != wechatpay.OutcomeUnknown || strings.Contains(err.Error(), dead.URL) {
		t.Errorf("connection refused: %v", err)
	}
}

func TestCodePayAndReverse(t *testing.T) {
	t.Parallel()
	f := newFakeWechat(t)
	c := f.client(t)
	req := wechatpay.CodePayRequest{Description: "条码", OutTradeNo: "PG20240518ABC",
		Payer: wechatpay.CodePayPayer{AuthCode: "134567890123456789"}, Amount: wechatpay.Amount{Total: 100},
		SceneInfo: wechatpay.SceneInfo{DeviceIP: "127.0.0.1"}}
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		outcome wechatpay.Outcome
	}{
		{"paid", 200, strings.Replace(paidTx, "NATIVE", "MICROPAY", 1), wechatpay.OutcomeSuccess},
		{"user paying", 200, `{"trade_state":"USERPAYING"}`, wechatpay.OutcomePaying},
		{"user paying, 202", 202, `{"trade_state":"USERPAYING"}`, wechatpay.OutcomePaying},
		{"payerror", 200, `{"trade_state":"PAYERROR"}`, wechatpay.OutcomeUnknown},
		{"paid another amount", 200, strings.Replace(paidTx, `"total":100`, `"total":1`, 1), wechatpay.OutcomeUnknown},
		{"system error", 500, `{"code":"SYSTEM_ERROR","message":"系统繁忙,请稍后重试"}`, wechatpay.OutcomeUnknown},
		{"balance", 403, `{"code":"NOT_ENOUGH","message":"余额不足"}`, wechatpay.OutcomeFailed},
		{"already paid", 400, `{"code":"ORDER_PAID","message":"订单已支付"}`, wechatpay.OutcomeUnknown},
	} {
		f.answer("POST /v3/pay/transactions/codepay", tc.status, tc.body)
		tx, err := c.CodePay(context.Background(), req)
		got := wechatpay.OutcomeOf(err)
		if err == nil {
			got = wechatpay.CodePayOutcome(tx)
		}
		if got != tc.outcome {
			t.Errorf("%s: %s (%v), want %s", tc.name, got, err, tc.outcome)
		}
	}
	if _, err := c.CodePay(context.Background(), wechatpay.CodePayRequest{Description: "x", OutTradeNo: "PG20240518ABC",
		Payer: wechatpay.CodePayPayer{AuthCode: "283456789012345678"}, Amount: wechatpay.Amount{Total: 1}}); wechatpay.OutcomeOf(err) != wechatpay.OutcomeConfig {
		t.Errorf("an Alipay code was sent: %v", err)
	}
	var reverseBody string
	f.route("POST /v3/pay/transactions/out-trade-no/PG20240518ABC/reverse", func(_ *http.Request, b []byte) (int, string) {
		reverseBody = string(b)
		return 200, `{"appid":"wxd678efh567hg6787","mchid":"1900000001","out_trade_no":"PG20240518ABC"}`
	})
	if _, err := c.Reverse(context.Background(), "PG20240518ABC"); err != nil || reverseBody != `{"appid":"wxd678efh567hg6787","mchid":"1900000001"}` {
		t.Errorf("reverse: %v, body %s", err, reverseBody)
	}
}

func TestCloseAndRefund(t *testing.T) {
	t.Parallel()
	f := newFakeWechat(t)
	c := f.client(t)
	var closeBody string
	f.route("POST /v3/pay/transactions/out-trade-no/PG20240518ABC/close", func(_ *http.Request, b []byte) (int, string) {
		closeBody = string(b)
		return 204, ""
	})
	if err := c.Close(context.Background(), "PG20240518ABC"); err != nil || closeBody != `{"mchid":"1900000001"}` {
		t.Errorf("close: %v, body %s", err, closeBody)
	}
	const refund = `{"refund_id":"50300807092021020105990201735","out_refund_no":"RF-1","transaction_id":"4200000925202101284997714292","out_trade_no":"PG20240518ABC","channel":"ORIGINAL","user_received_account":"支付用户零钱","create_time":"2021-02-01T15:13:10+08:00","status":"PROCESSING","funds_account":"UNAVAILABLE","amount":{"total":100,"refund":40,"payer_total":100,"payer_refund":40,"settlement_total":100,"settlement_refund":40,"discount_refund":0,"currency":"CNY"}}`
	var refundBody string
	f.route("POST /v3/refund/domestic/refunds", func(_ *http.Request, b []byte) (int, string) {
		refundBody = string(b)
		return 200, refund
	})
	f.answer("GET /v3/refund/domestic/refunds/RF-1", 200, strings.Replace(refund, `"status":"PROCESSING"`, `"status":"SUCCESS","success_time":"2021-02-01T15:14:10+08:00"`, 1))
	r, err := c.Refund(context.Background(), wechatpay.RefundRequest{OutTradeNo: "PG20240518ABC", OutRefundNo: "RF-1",
		Reason: "顾客退货", Amount: wechatpay.RefundAmount{Refund: 40, Total: 100}})
	if err != nil || r.Status != wechatpay.RefundProcessing || r.Amount.Refund != 40 {
		t.Fatalf("refund %+v, %v", r, err)
	}
	if want := `{"out_trade_no":"PG20240518ABC","out_refund_no":"RF-1","reason":"顾客退货","notify_url":"https://shop.example/wechat/notify","amount":{"refund":40,"total":100,"currency":"CNY"}}`; refundBody != want {
		t.Errorf("refund body\n got %s\nwant %s", refundBody, want)
	}
	r, err = c.QueryRefund(context.Background(), "RF-1")
	if err != nil || r.Status != wechatpay.RefundSuccess || r.SuccessTime.IsZero() {
		t.Fatalf("refund query %+v, %v", r, err)
	}
	f.answer("GET /v3/refund/domestic/refunds/RF-2", 404, `{"code":"RESOURCE_NOT_EXISTS","message":"退款单不存在"}`)
	if _, err := c.QueryRefund(context.Background(), "RF-2"); !wechatpay.IsCode(err, wechatpay.CodeResourceNotExists) || wechatpay.OutcomeOf(err) != wechatpay.OutcomeFailed {
		t.Errorf("unknown refund: %v", err)
	}
}

func TestTradeBillDownload(t *testing.T) {
	t.Parallel()
	f := newFakeWechat(t)
	c := f.client(t)
	plain := []byte(mustRead(t, "testdata/tradebill.csv"))
	sum := sha1.Sum(plain)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	hash := hex.EncodeToString(sum[:])
	f.route("GET /v3/bill/tradebill", func(r *http.Request, _ []byte) (int, string) {
		tar := ""
		if r.URL.Query().Get("tar_type") == "GZIP" {
			tar = "&tartype=gzip"
		}
		if r.URL.Query().Get("bill_date") == "2024-05-19" {
			return 400, `{"code":"STATEMENT_CREATING","message":"账单生成中"}`
		}
		return 200, fmt.Sprintf(`{"hash_type":"SHA1","hash_value":%q,"download_url":"%s/v3/billdownload/file?token=SECRETTOKEN%s"}`, hash, f.srv.URL, tar)
	})
	f.route("GET /v3/billdownload/file", func(r *http.Request, _ []byte) (int, string) {
		if r.URL.Query().Get("tartype") == "gzip" {
			return 200, gz.String()
		}
		return 200, string(plain)
	})
	ctx := context.Background()
	for _, gzipped := range []bool{false, true} {
		u, err := c.TradeBill(ctx, wechatpay.BillRequest{BillDate: "2024-05-18", Gzip: gzipped})
		if err != nil {
			t.Fatal(err)
		}
		bill, err := c.DownloadBill(ctx, u)
		if err != nil || len(bill.Rows) != 3 || bill.Summary.Count != 3 {
			t.Fatalf("gzip %v: %+v, %v", gzipped, bill, err)
		}
		// A file that is not the one described is refused.
		bad := *u
		bad.HashValue = strings.Repeat("0", 40)
		var sink bytes.Buffer
		if _, err := c.DownloadBillTo(ctx, &bad, &sink); !errors.Is(err, wechatpay.ErrBillHash) || strings.Contains(err.Error(), "SECRETTOKEN") {
			t.Errorf("gzip %v, wrong hash: %v", gzipped, err)
		}
	}
	elsewhere := &wechatpay.BillURL{HashType: "SHA1", HashValue: hash, DownloadURL: "http://127.0.0.1:1/v3/billdownload/file?token=SECRETTOKEN"}
	if _, err := c.DownloadBill(ctx, elsewhere); err == nil || strings.Contains(err.Error(), "SECRETTOKEN") {
		t.Errorf("a download URL on another origin: %v", err)
	}
	_, err := c.TradeBill(ctx, wechatpay.BillRequest{BillDate: "2024-05-19"})
	if !wechatpay.IsCode(err, wechatpay.CodeStatementCreating) || wechatpay.OutcomeOf(err) != wechatpay.OutcomeUnknown {
		t.Errorf("statement creating: %v", err)
	}
	if _, err := c.TradeBill(ctx, wechatpay.BillRequest{BillDate: "20240518"}); wechatpay.OutcomeOf(err) != wechatpay.OutcomeConfig {
		t.Errorf("bad date: %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	good := wechatpay.Config{MchID: testMchID, AppID: testAppID, PrivateKey: mustKey(t, merchantKeyPEM),
		SerialNo: merchantSerial, WechatPayKeys: wechatKeys(t)}
	own := wechatpay.PublicKey{ID: platformSerial, Key: &good.PrivateKey.PublicKey}
	for name, edit := range map[string]func(c *wechatpay.Config){
		"no mchid":          func(c *wechatpay.Config) { c.MchID = "" },
		"no appid":          func(c *wechatpay.Config) { c.AppID = "" },
		"no key":            func(c *wechatpay.Config) { c.PrivateKey = nil },
		"lower-case serial": func(c *wechatpay.Config) { c.SerialNo = strings.ToLower(merchantSerial) },
		"no WeChat keys":    func(c *wechatpay.Config) { c.WechatPayKeys = nil },
		"own key":           func(c *wechatpay.Config) { c.WechatPayKeys = []wechatpay.PublicKey{own} },
		"bad base":          func(c *wechatpay.Config) { c.BaseURL = "ftp://x" },
		"notify query":      func(c *wechatpay.Config) { c.NotifyURL = "https://shop.example/n?a=1" },
	} {
		cfg := good
		edit(&cfg)
		if _, err := wechatpay.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := wechatpay.New(good); err != nil {
		t.Error(err)
	}
}
