package alipay

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

var (
	keysOnce          sync.Once
	appKey, alipayKey *rsa.PrivateKey
)

// testKeys generates the app's and Alipay's key pairs once per test binary.
func testKeys(t testing.TB) (app, ali *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if appKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if alipayKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return appKey, alipayKey
}

// fakeGateway answers every call with body(r), signed by Alipay's key over
// the node unless sign is false. It checks the request's signature first.
func fakeGateway(t *testing.T, node func(r *http.Request) (key, node string, sign bool)) *httptest.Server {
	t.Helper()
	app, ali := testKeys(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("gateway: parse form: %v", err)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			t.Errorf("gateway: content type %q", ct)
		}
		if err := Verify(&app.PublicKey, []byte(SignContent(r.Form, "sign")), r.Form.Get("sign")); err != nil {
			t.Errorf("gateway: request signature: %v", err)
		}
		key, n, signed := node(r)
		body := `{"` + key + `":` + n
		if signed {
			sig, err := Sign(ali, []byte(n))
			if err != nil {
				t.Fatal(err)
			}
			body += `,"sign":"` + sig + `"`
		}
		body += "}"
		w.Header().Set("trace_id", "0b1c2d3e")
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newTestClient(t *testing.T, url string, mutate ...func(*Config)) *Client {
	t.Helper()
	app, ali := testKeys(t)
	cfg := Config{AppID: "2021000000000001", GatewayURL: url, PrivateKey: app, AlipayPublicKey: &ali.PublicKey}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientSignedSuccess(t *testing.T) {
	t.Parallel()
	var gotTimestamp string
	srv := fakeGateway(t, func(r *http.Request) (string, string, bool) {
		gotTimestamp = r.Form.Get("timestamp")
		if r.Form.Get("method") != MethodPrecreate || r.Form.Get("sign_type") != "RSA2" || r.Form.Get("notify_url") != "https://shop.example/notify" {
			t.Errorf("unexpected params %v", r.Form)
		}
		return "alipay_trade_precreate_response", `{"code":"10000","msg":"Success","out_trade_no":"T1","qr_code":"https:\/\/qr.alipay.com\/bax01"}`, true
	})
	// A clock in UTC-7 must still produce a UTC+8 timestamp.
	at := time.Date(2024, 5, 13, 2, 49, 20, 0, time.FixedZone("X", -7*3600))
	c := newTestClient(t, srv.URL, func(cfg *Config) {
		cfg.Now = func() time.Time { return at }
		cfg.NotifyURL = "https://shop.example/notify"
	})
	resp, err := c.Precreate(context.Background(), PrecreateRequest{OutTradeNo: "T1", TotalAmount: 1, Subject: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.QRCode != "https://qr.alipay.com/bax01" || resp.Outcome() != OutcomeSuccess {
		t.Errorf("resp = %+v", resp)
	}
	if gotTimestamp != "2024-05-13 17:49:20" {
		t.Errorf("timestamp = %q; want UTC+8", gotTimestamp)
	}
}

func TestClientUnknownResults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		code    string
		inErr   string
	}{
		{"http 502", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad gateway", 502) }, "", "HTTP 502"},
		{"not json", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>busy</html>")) }, "", "not a JSON object"},
		{"truncated", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"alipay_trade_query_response":{"code":"10000"`))
		}, "", "malformed"},
		{"unsigned error", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"alipay_trade_query_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id","sub_msg":"无效的AppID参数"}}`))
		}, "40002", "unsigned"},
		{"unsigned success", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"alipay_trade_query_response":{"code":"10000","msg":"Success","trade_status":"TRADE_SUCCESS"}}`))
		}, "10000", "unsigned"},
		{"bad signature", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"alipay_trade_query_response":{"code":"10000","msg":"Success"},"sign":"` + strings.Repeat("A", 344) + `"}`))
		}, "10000", "does not verify"},
		{"duplicate node", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"alipay_trade_query_response":{"code":"40004"},"alipay_trade_query_response":{"code":"10000"},"sign":"x"}`))
		}, "", "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			c := newTestClient(t, srv.URL)
			_, err := c.Query(context.Background(), TradeRef{OutTradeNo: "T1"})
			var e *Error
			if !errors.As(err, &e) || e.Outcome != OutcomeUnknown {
				t.Fatalf("err = %v; want OutcomeUnknown", err)
			}
			if e.Code != tt.code || !strings.Contains(e.Error(), tt.inErr) {
				t.Errorf("err = %v; want code %q and %q", e, tt.code, tt.inErr)
			}
		})
	}
}

func TestClientDeadline(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	c := newTestClient(t, srv.URL, func(cfg *Config) { cfg.Timeout = 100 * time.Millisecond })
	_, err := c.Pay(context.Background(), PayRequest{OutTradeNo: "T1", AuthCode: "281234567890123456", Subject: "x", TotalAmount: 1})
	if OutcomeOf(err) != OutcomeUnknown || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("default timeout: err = %v; want unknown, deadline exceeded", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err = c.Query(ctx, TradeRef{OutTradeNo: "T1"})
	if OutcomeOf(err) != OutcomeUnknown || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v; want unknown, canceled", err)
	}
}

func TestClientFailureKeepsFields(t *testing.T) {
	t.Parallel()
	srv := fakeGateway(t, func(r *http.Request) (string, string, bool) {
		return "alipay_trade_cancel_response", `{"code":"40004","msg":"Business Failed","sub_code":"ACQ.SYSTEM_ERROR","sub_msg":"系统错误","out_trade_no":"T1","retry_flag":"Y"}`, true
	})
	c := newTestClient(t, srv.URL)
	resp, err := c.Cancel(context.Background(), TradeRef{OutTradeNo: "T1"})
	var e *Error
	if !errors.As(err, &e) || e.Outcome != OutcomeUnknown || e.SubCode != SubCodeSystemError || e.TraceID != "0b1c2d3e" {
		t.Fatalf("err = %#v", err)
	}
	if !resp.Retry() || resp.OutTradeNo != "T1" {
		t.Errorf("resp = %+v; want retry_flag Y kept", resp)
	}
}

func TestClientBusinessFailureAndPaying(t *testing.T) {
	t.Parallel()
	srv := fakeGateway(t, func(r *http.Request) (string, string, bool) {
		if strings.Contains(r.Form.Get("biz_content"), `"auth_code":"26`) {
			return "alipay_trade_pay_response", `{"code":"40004","msg":"Business Failed","sub_code":"ACQ.BUYER_BALANCE_NOT_ENOUGH","sub_msg":"买家余额不足"}`, true
		}
		return "alipay_trade_pay_response", `{"code":"10003","msg":" order success pay inprocess","buyer_logon_id":"159****5620","buyer_pay_amount":"0.00","invoice_amount":"0.00","out_trade_no":"T1","point_amount":"0.00","receipt_amount":"0.00","total_amount":"2650.00","trade_no":"2017082221001004710224447407"}`, true
	})
	c := newTestClient(t, srv.URL)
	resp, err := c.Pay(context.Background(), PayRequest{OutTradeNo: "T1", AuthCode: "291234567890123456", Subject: "x", TotalAmount: 265000})
	if err != nil || resp.Outcome() != OutcomePaying || resp.TotalAmount != paygate.Money(265000) || resp.TradeNo == "" {
		t.Fatalf("paying: resp = %+v, err = %v", resp, err)
	}
	_, err = c.Pay(context.Background(), PayRequest{OutTradeNo: "T2", AuthCode: "261234567890123456", Subject: "x", TotalAmount: 1})
	if OutcomeOf(err) != OutcomeFailed || !IsSubCode(err, SubBalanceNotEnough) {
		t.Fatalf("balance: err = %v", err)
	}
}

func TestClientErrorResponseIsConfig(t *testing.T) {
	t.Parallel()
	srv := fakeGateway(t, func(r *http.Request) (string, string, bool) {
		return "error_response", `{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-method","sub_msg":"不存在的方法名"}`, true
	})
	c := newTestClient(t, srv.URL)
	_, err := c.Query(context.Background(), TradeRef{OutTradeNo: "T1"})
	if OutcomeOf(err) != OutcomeConfig || !IsSubCode(err, "isv.invalid-method") {
		t.Fatalf("err = %v", err)
	}
}

func TestClientCertModeSN(t *testing.T) {
	t.Parallel()
	_, ali := testKeys(t)
	handler := func(sn string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			if r.Form.Get("app_cert_sn") != "appsn" || r.Form.Get("alipay_root_cert_sn") != "rootsn" {
				t.Errorf("cert SNs not sent: %v", r.Form)
			}
			node := `{"code":"10000","msg":"Success","trade_status":"TRADE_SUCCESS","out_trade_no":"T1","total_amount":"1.00"}`
			sig, _ := Sign(ali, []byte(node))
			w.Write([]byte(`{"alipay_trade_query_response":` + node + `,"alipay_cert_sn":"` + sn + `","sign":"` + sig + `"}`))
		}
	}
	for _, tt := range []struct {
		sn   string
		want Outcome
	}{{"alisn", OutcomeSuccess}, {"othersn", OutcomeUnknown}} {
		srv := httptest.NewServer(handler(tt.sn))
		c := newTestClient(t, srv.URL, func(cfg *Config) {
			cfg.AlipayPublicKey = nil
			cfg.Cert = &CertMode{AppCertSN: "appsn", AlipayRootCertSN: "rootsn", AlipayCertSN: "alisn", AlipayPublicKey: &ali.PublicKey}
		})
		resp, err := c.Query(context.Background(), TradeRef{OutTradeNo: "T1"})
		if OutcomeOf(err) != tt.want {
			t.Errorf("alipay_cert_sn %s: err = %v; want %v", tt.sn, err, tt.want)
		}
		if tt.want == OutcomeSuccess && (!resp.Paid() || resp.TotalAmount != 100) {
			t.Errorf("resp = %+v", resp)
		}
		srv.Close()
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	app, ali := testKeys(t)
	good := Config{AppID: "2021000000000001", PrivateKey: app, AlipayPublicKey: &ali.PublicKey}
	tests := []struct {
		name   string
		mutate func(*Config)
		inErr  string
	}{
		{"no app id", func(c *Config) { c.AppID = "" }, "app id"},
		{"no private key", func(c *Config) { c.PrivateKey = nil }, "private key"},
		{"no alipay key", func(c *Config) { c.AlipayPublicKey = nil }, "Alipay public key"},
		{"own key as alipay key", func(c *Config) { c.AlipayPublicKey = &app.PublicKey }, "app's own public key"},
		{"gateway not http", func(c *Config) { c.GatewayURL = "ftp://x/gateway.do" }, "not an http(s) URL"},
		{"notify with query", func(c *Config) { c.NotifyURL = "https://shop.example/n?a=1" }, "query string"},
	}
	for _, tt := range tests {
		cfg := good
		tt.mutate(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tt.inErr) {
			t.Errorf("%s: err = %v; want %q", tt.name, err, tt.inErr)
		}
	}
	if _, err := New(good); err != nil {
		t.Errorf("good config: %v", err)
	}
}
