package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/httpapi"
)

const listPath = "/api/v1/orders"

func TestAuthSuccess(t *testing.T) {
	t.Parallel()
	f := setup(t)
	status, _, body := f.send(t, req{path: listPath, query: url.Values{"limit": {"5"}, "status": {"paid"}}})
	if status != http.StatusOK {
		t.Fatalf("status = %d, body %s", status, body)
	}
	if len(f.orders.Calls()) != 1 {
		t.Fatalf("service calls = %v, want one", f.orders.Calls())
	}
}

func TestAuthFailures(t *testing.T) {
	t.Parallel()
	f := setup(t)
	body := []byte(`{"out_trade_no":"A1","subject":"s","total_amount":"1.00","mode":"qr"}`)
	del := func(name string) func(http.Header) { return func(h http.Header) { h.Del(name) } }
	set := func(name, v string) func(http.Header) { return func(h http.Header) { h.Set(name, v) } }
	now := f.clock.Now()
	ms := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).UnixMilli(), 10) }
	tests := []struct {
		name string
		r    req
		msg  string
	}{
		{"missing access key", req{header: del("X-Access-Key")}, "missing header X-Access-Key"},
		{"missing timestamp", req{header: del("X-Timestamp")}, "missing header X-Timestamp"},
		{"missing nonce", req{header: del("X-Nonce")}, "missing header X-Nonce"},
		{"missing signature", req{header: del("X-Signature")}, "missing header X-Signature"},
		{"empty signature", req{header: set("X-Signature", "")}, "missing header X-Signature"},
		{"repeated nonce header", req{header: func(h http.Header) { h.Add("X-Nonce", "abcdefgh12") }}, "X-Nonce appears more than once"},
		{"nonce too short", req{nonce: "abc1234"}, "X-Nonce must be 8 to 64"},
		{"nonce too long", req{nonce: strings.Repeat("n", 65)}, "X-Nonce must be 8 to 64"},
		{"nonce bad character", req{nonce: "abcd.efgh"}, "X-Nonce must be 8 to 64"},
		{"timestamp not a number", req{timestamp: "yesterday"}, "X-Timestamp must be Unix time in milliseconds"},
		{"timestamp negative", req{timestamp: "-1700000000000"}, "X-Timestamp must be Unix time in milliseconds"},
		{"timestamp in seconds is stale", req{timestamp: strconv.FormatInt(now.Unix(), 10)}, "X-Timestamp is more than 5m0s away"},
		{"timestamp too old", req{timestamp: ms(-301 * time.Second)}, "X-Timestamp is more than 5m0s away"},
		{"timestamp too new", req{timestamp: ms(301 * time.Second)}, "X-Timestamp is more than 5m0s away"},
		{"signature upper case", req{header: func(h http.Header) { h.Set("X-Signature", strings.ToUpper(h.Get("X-Signature"))) }}, "X-Signature must be 64 lower-case hex digits"},
		{"signature short", req{header: set("X-Signature", "abcdef")}, "X-Signature must be 64 lower-case hex digits"},
		{"signature not hex", req{header: set("X-Signature", strings.Repeat("g", 64))}, "X-Signature must be 64 lower-case hex digits"},
		{"access key too long", req{accessKey: strings.Repeat("k", 129)}, "X-Access-Key must be"},
		{"unknown access key", req{accessKey: "ak_nobody"}, "unknown access key"},
		{"wrong secret", req{secret: "sk_wrong"}, "signature does not match"},
		{"signed another body", req{method: "POST", path: listPath, body: body, signBody: []byte(`{}`)}, "signature does not match"},
		{"signed another path", req{path: listPath + "/A1", signPath: listPath + "/A2"}, "signature does not match"},
		{"signed another query", req{query: url.Values{"limit": {"5"}}, signQuery: url.Values{"limit": {"50"}}}, "signature does not match"},
		{"signed no query", req{query: url.Values{"limit": {"5"}}, signQuery: url.Values{}}, "signature does not match"},
		{"signed another method", req{method: "POST", path: listPath, body: body, header: func(h http.Header) {
			h.Set("X-Signature", client.Sign(secretKey, "GET", listPath, nil, accessKey, h.Get("X-Timestamp"), h.Get("X-Nonce"), body))
		}}, "signature does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.r.path == "" {
				tt.r.path = listPath
			}
			status, hdr, b := f.send(t, tt.r)
			// One message for every cause; the reason is in the log only.
			wantError(t, status, hdr, b, http.StatusUnauthorized, "UNAUTHORIZED", "")
			if got := apiMessage(t, b); got != authFailedMessage {
				t.Errorf("message = %q, want the one 401 message %q", got, authFailedMessage)
			}
			if !strings.Contains(f.logs.String(), tt.msg) {
				t.Errorf("the log lacks the reason %q", tt.msg)
			}
			if bytes.Contains(b, []byte(secretKey)) {
				t.Errorf("answer reveals the secret: %s", b)
			}
		})
	}
	if calls := f.orders.Calls(); len(calls) != 0 {
		t.Fatalf("service was called on failed authentication: %v", calls)
	}
}

func TestAuthNoExpectedSignatureInAnswer(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ts := strconv.FormatInt(f.clock.Now().UnixMilli(), 10)
	good := client.Sign(secretKey, "GET", listPath, nil, accessKey, ts, "nonce-aaaa", nil)
	_, _, b := f.send(t, req{path: listPath, timestamp: ts, nonce: "nonce-aaaa", secret: "other"})
	if bytes.Contains(b, []byte(good)) {
		t.Fatalf("answer reveals the expected signature: %s", b)
	}
}

func TestAuthTimestampWithinTolerance(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, d := range []time.Duration{-299 * time.Second, 299 * time.Second} {
		ts := strconv.FormatInt(f.clock.Now().Add(d).UnixMilli(), 10)
		if status, _, b := f.send(t, req{path: listPath, timestamp: ts}); status != http.StatusOK {
			t.Fatalf("timestamp %v away: status %d, %s", d, status, b)
		}
	}
}

func TestAuthCustomTolerance(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *httpapi.Config) { c.Tolerance = 10 * time.Second })
	ts := strconv.FormatInt(f.clock.Now().Add(-11*time.Second).UnixMilli(), 10)
	status, hdr, b := f.send(t, req{path: listPath, timestamp: ts})
	wantError(t, status, hdr, b, http.StatusUnauthorized, "UNAUTHORIZED", "authentication failed")
	if !strings.Contains(f.logs.String(), "more than 10s away") {
		t.Error("the log lacks the reason: more than 10s away")
	}
}

func TestAuthReplayedNonce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	nonce := "replay-nonce-1"
	// A forged request with the nonce must not use it up.
	status, _, _ := f.send(t, req{path: listPath, nonce: nonce, secret: "forger"})
	if status != http.StatusUnauthorized {
		t.Fatalf("forged request: status %d", status)
	}
	if status, _, b := f.send(t, req{path: listPath, nonce: nonce}); status != http.StatusOK {
		t.Fatalf("first good request: status %d, %s", status, b)
	}
	status, hdr, b := f.send(t, req{path: listPath, nonce: nonce})
	wantError(t, status, hdr, b, http.StatusUnauthorized, "UNAUTHORIZED", "authentication failed")
	if !strings.Contains(f.logs.String(), "X-Nonce was already used") {
		t.Error("the log lacks the reason: X-Nonce was already used")
	}
	// Still refused late in the window: nonces are kept for twice the tolerance.
	f.clock.Add(4 * time.Minute)
	ts := strconv.FormatInt(t0.UnixMilli(), 10)
	status, hdr, b = f.send(t, req{path: listPath, nonce: nonce, timestamp: ts})
	wantError(t, status, hdr, b, http.StatusUnauthorized, "UNAUTHORIZED", "authentication failed")
	if n := len(f.orders.Calls()); n != 1 {
		t.Fatalf("service calls = %d, want 1", n)
	}
}

func TestReservedQueryNames(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, name := range []string{"accessKey", "timestamp", "nonce", "method", "path", "bodySha256"} {
		t.Run(name, func(t *testing.T) {
			status, hdr, b := f.send(t, req{path: listPath, query: url.Values{name: {"x"}}})
			wantError(t, status, hdr, b, http.StatusBadRequest, "INVALID_REQUEST", name)
		})
	}
	if calls := f.orders.Calls(); len(calls) != 0 {
		t.Fatalf("service was called: %v", calls)
	}
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	f := setup(t)
	big := bytes.Repeat([]byte("a"), 1<<20+1)
	t.Run("with length", func(t *testing.T) {
		status, hdr, b := f.send(t, req{method: "POST", path: listPath, body: big})
		wantError(t, status, hdr, b, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", "larger than")
	})
	t.Run("chunked", func(t *testing.T) {
		hr, err := http.NewRequest("POST", f.url+listPath, io.MultiReader(bytes.NewReader(big)))
		if err != nil {
			t.Fatal(err)
		}
		signHeaders(hr.Header, f.clock.Now(), "POST", listPath, big)
		if hr.ContentLength != 0 {
			t.Fatalf("ContentLength = %d; the test needs an unknown length", hr.ContentLength)
		}
		status, hdr, b := do(t, hr)
		wantError(t, status, hdr, b, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", "larger than")
	})
	t.Run("exactly the limit is read", func(t *testing.T) {
		status, hdr, b := f.send(t, req{method: "POST", path: listPath, body: bytes.Repeat([]byte(" "), 1<<20)})
		// Authenticated, then refused as an empty JSON body.
		wantError(t, status, hdr, b, http.StatusBadRequest, "INVALID_REQUEST", "JSON object")
	})
	if calls := f.orders.Calls(); len(calls) != 0 {
		t.Fatalf("service was called: %v", calls)
	}
}
