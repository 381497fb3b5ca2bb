package client

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// echoServer checks each request's signature with the rule written out
// independently here, and answers with handle.
func echoServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, body []byte)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v := r.URL.Query()
		sum := sha256.Sum256(body)
		v.Set("accessKey", r.Header.Get("X-Access-Key"))
		v.Set("timestamp", r.Header.Get("X-Timestamp"))
		v.Set("nonce", r.Header.Get("X-Nonce"))
		v.Set("method", r.Method)
		v.Set("path", r.URL.Path)
		v.Set("bodySha256", hex.EncodeToString(sum[:]))
		mac := hmac.New(sha256.New, []byte("sk_test"))
		mac.Write([]byte(v.Encode()))
		if got := r.Header.Get("X-Signature"); got != hex.EncodeToString(mac.Sum(nil)) {
			t.Errorf("%s %s: signature %s does not verify", r.Method, r.URL, got)
		}
		handle(w, r, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDoSignsAndDecodes(t *testing.T) {
	t.Parallel()
	var gotHeader http.Header
	var gotBody []byte
	srv := echoServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		gotHeader, gotBody = r.Header, body
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		io.WriteString(w, `{"out_trade_no":"A1","total_amount":"1.00","trade_no":null,"created_at":"2026-01-02T03:04:05Z","paid_at":null}`)
	})
	now := time.UnixMilli(1700000000123)
	c := New(srv.URL+"/", "ak_test", "sk_test", WithClock(func() time.Time { return now }))
	o, err := c.CreateOrder(context.Background(), CreateOrderRequest{OutTradeNo: "A1", Subject: "s", TotalAmount: "1.00", Mode: "qr"},
		WithIdempotencyKey("idem-1"))
	if err != nil {
		t.Fatal(err)
	}
	if o.OutTradeNo != "A1" || o.TradeNo != "" || o.PaidAt != nil || !o.CreatedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("order = %+v", o)
	}
	if gotHeader.Get("X-Timestamp") != "1700000000123" || gotHeader.Get("Idempotency-Key") != "idem-1" ||
		gotHeader.Get("Content-Type") != "application/json" || gotHeader.Get("X-Access-Key") != "ak_test" {
		t.Fatalf("headers = %v", gotHeader)
	}
	if n := gotHeader.Get("X-Nonce"); len(n) != 32 {
		t.Fatalf("nonce %q, want 32 hex digits", n)
	}
	if string(gotBody) != `{"out_trade_no":"A1","subject":"s","total_amount":"1.00","mode":"qr"}` {
		t.Fatalf("body = %s", gotBody)
	}
}

func TestDoQueryAndRawBody(t *testing.T) {
	t.Parallel()
	var gotQuery string
	srv := echoServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		gotQuery = r.URL.RawQuery
		io.WriteString(w, `{"orders":[],"next_cursor":null}`)
	})
	c := New(srv.URL, "ak_test", "sk_test")
	l, err := c.ListOrders(context.Background(), ListOrdersParams{Status: "paid", Limit: 5, Cursor: "a~b c"})
	if err != nil || l.NextCursor != "" {
		t.Fatalf("%+v %v", l, err)
	}
	if gotQuery != "cursor=a~b+c&limit=5&status=paid" {
		t.Fatalf("query = %q", gotQuery)
	}
	// []byte bodies go as they are; signatures cover them.
	if _, err := c.Do(context.Background(), "post", "/x", nil, []byte(`{"raw":true}`), nil); err != nil {
		t.Fatal(err)
	}
}

func TestDoRejectsReservedQuery(t *testing.T) {
	t.Parallel()
	c := New("http://127.0.0.1:1", "ak_test", "sk_test")
	_, err := c.Do(context.Background(), "GET", "/api/v1/orders", url.Values{"nonce": {"x"}}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("err = %v, want a reserved-name error", err)
	}
}

func TestAPIError(t *testing.T) {
	t.Parallel()
	srv := echoServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("X-Request-Id", "rid-1")
		if r.URL.Path == "/plain" {
			w.WriteHeader(502)
			io.WriteString(w, "bad gateway")
			return
		}
		w.WriteHeader(409)
		io.WriteString(w, `{"error":{"code":"REFUND_EXCEEDS_BALANCE","message":"only 1.00 left"}}`)
	})
	c := New(srv.URL, "ak_test", "sk_test")
	_, err := c.Refund(context.Background(), "A1", RefundRequest{OutRequestNo: "R1", Amount: "2.00"})
	var e *APIError
	if !errors.As(err, &e) || e.StatusCode != 409 || e.Code != "REFUND_EXCEEDS_BALANCE" ||
		e.Message != "only 1.00 left" || e.RequestID != "rid-1" || ErrorCode(err) != "REFUND_EXCEEDS_BALANCE" {
		t.Fatalf("err = %#v", err)
	}
	resp, err := c.Do(context.Background(), "GET", "/plain", nil, nil, nil)
	if !errors.As(err, &e) || e.StatusCode != 502 || e.Code != "" || e.Message != "bad gateway" {
		t.Fatalf("err = %#v", err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "bad gateway" {
		t.Fatalf("resp.Body = %q, want it readable again", b)
	}
	if !e.Retryable() {
		t.Error("a 502 is not Retryable")
	}
}

func TestAPIErrorDeclinedAndUnavailable(t *testing.T) {
	t.Parallel()
	srv := echoServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.URL.Path == "/api/v1/orders" {
			w.WriteHeader(402)
			io.WriteString(w, `{"error":{"code":"PAYMENT_FAILED","message":"pay: the channel refused: no balance (ACQ.BUYER_BALANCE_NOT_ENOUGH)","request_id":"rid-402"},`+
				`"order":{"out_trade_no":"B1","status":"closed","total_amount":"1.00"}}`)
			return
		}
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(503)
		io.WriteString(w, `{"error":{"code":"DATABASE_UNAVAILABLE","message":"retry later","request_id":"rid-503"}}`)
	})
	c := New(srv.URL, "ak_test", "sk_test")
	_, err := c.CreateOrder(context.Background(), CreateOrderRequest{OutTradeNo: "B1", Subject: "s", TotalAmount: "1.00", Mode: "barcode", AuthCode: "260000000000000001"})
	var e *APIError
	if !errors.As(err, &e) || e.StatusCode != 402 || e.Code != "PAYMENT_FAILED" || e.RequestID != "rid-402" ||
		e.Order == nil || e.Order.OutTradeNo != "B1" || e.Order.Status != "closed" || e.Retryable() {
		t.Fatalf("402: err = %#v (order %+v)", err, e.Order)
	}
	_, err = c.GetOrder(context.Background(), "B1", false)
	if !errors.As(err, &e) || e.StatusCode != 503 || e.Code != "DATABASE_UNAVAILABLE" || e.RequestID != "rid-503" ||
		e.RetryAfter != 5*time.Second || e.Order != nil || !e.Retryable() {
		t.Fatalf("503: err = %#v", err)
	}
}
