package httpapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
)

// Forged and replayed requests are warnings naming the reason.
func TestAuthFailureReason(t *testing.T) {
	t.Parallel()
	f := setup(t)
	replayed := req{path: listPath, nonce: "nonce-replayed-1"}
	f.send(t, replayed)
	tests := []struct {
		name   string
		r      req
		reason string
	}{
		{"wrong secret", req{path: listPath, secret: "wrong"}, "bad_signature"},
		{"unknown key", req{path: listPath, accessKey: "ak_nobody_at_all"}, "unknown_key"},
		{"replayed nonce", replayed, "replayed_nonce"},
		{"stale timestamp", req{path: listPath, timestamp: strconv.FormatInt(f.clock.Now().Add(-time.Hour).UnixMilli(), 10)}, "timestamp_skew"},
		{"malformed nonce", req{path: listPath, nonce: "abc"}, "malformed_header"},
	}
	for _, tt := range tests {
		if status, _, _ := f.send(t, tt.r); status != http.StatusUnauthorized {
			t.Fatalf("%s: status %d, want 401", tt.name, status)
		}
	}
	lines := f.logs.Lines(t)[1:]
	if len(lines) != len(tests) {
		t.Fatalf("%d lines, want %d: %v", len(lines), len(tests), lines)
	}
	for i, tt := range tests {
		if l := lines[i]; l["level"] != "WARN" || l["reason"] != tt.reason {
			t.Errorf("%s: level %v reason %v, want WARN %s (%v)", tt.name, l["level"], l["reason"], tt.reason, l)
		}
	}
}

// Refused notifications are warnings naming the reason; deferred ones are
// not refused.
func TestNotifyRefusedReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err           error
		level, reason string
	}{
		{fmt.Errorf("%w: no sign", alipay.ErrNotifySignature), "WARN", "refused_signature"},
		{fmt.Errorf("%w: total_amount", alipay.ErrNotifyMismatch), "WARN", "refused_mismatch"},
		{fmt.Errorf("%w: no app_id", alipay.ErrNotifyMalformed), "WARN", "refused_malformed"},
		{paygate.Errorf(paygate.ENotFound, "no order"), "WARN", "unknown_order"},
		{errors.New("database is down"), "WARN", "error"},
		{fmt.Errorf("barcode payment is being decided; %w", paygate.ErrNotifyLater), "INFO", "deferred"},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.orders.set(func(f *fakeOrders) { f.notifyErr = tt.err })
			form := url.Values{"out_trade_no": {"N1"}, "trade_status": {"TRADE_SUCCESS"}, "sign": {"c2lnbmF0dXJl"}}
			if status, _, b := postForm(t, f.url+"/notify/alipay", form); status != 200 || string(b) != "failure" {
				t.Fatalf("%d %q, want 200 failure", status, b)
			}
			l := f.logs.Lines(t)[0]
			if l["level"] != tt.level || l["reason"] != tt.reason {
				t.Errorf("level %v reason %v, want %s %s (%v)", l["level"], l["reason"], tt.level, tt.reason, l)
			}
		})
	}
}
