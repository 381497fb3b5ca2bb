package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/paygate/paygate"
)

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		status int
		code   string
		msg    string
	}{
		{paygate.Errorf(paygate.EInvalid, "bad thing"), 400, "INVALID_REQUEST", "bad thing"},
		{paygate.Errorf(paygate.EUnauthorized, "who"), 401, "UNAUTHORIZED", "who"},
		{paygate.Errorf(paygate.EForbidden, "not yours"), 403, "FORBIDDEN", "not yours"},
		{paygate.Errorf(paygate.ENotFound, "order X1 of merchant 7 not found"), 404, "NOT_FOUND", "order X1 not found"},
		{paygate.Errorf(paygate.EConflict, "state"), 409, "CONFLICT", "state"},
		{paygate.Errorf(paygate.EIdempotencyReuse, "reused"), 409, "IDEMPOTENCY_KEY_REUSED", "reused"},
		{paygate.Errorf(paygate.EIdempotencyBusy, "busy"), 409, "IDEMPOTENCY_IN_FLIGHT", "busy"},
		{paygate.Errorf(paygate.EOutTradeNoReused, "other params"), 409, "OUT_TRADE_NO_REUSED", "other params"},
		{paygate.Errorf(paygate.ERefundExceeds, "too much"), 409, "REFUND_EXCEEDS_BALANCE", "too much"},
		{paygate.Errorf(paygate.ETooLarge, "big"), 413, "BODY_TOO_LARGE", "big"},
		{paygate.Errorf(paygate.ERateLimited, "slow down"), 429, "RATE_LIMITED", "slow down"},
		{paygate.Errorf(paygate.EChannel, "alipay said no"), 502, "CHANNEL_ERROR", "alipay said no"},
		{paygate.Errorf(paygate.EPaymentFailed, "no balance"), 402, "PAYMENT_FAILED", "no balance"},
		{paygate.Errorf(paygate.EChannelUnavailable, "circuit open"), 503, "CHANNEL_UNAVAILABLE", "circuit open"},
		{paygate.Errorf(paygate.EDraining, "draining"), 503, "DRAINING", "draining"},
		{fmt.Errorf("%w: postgres: begin: %w", paygate.Errorf(paygate.EDatabaseDown, "the database cannot be reached; retry later"),
			errors.New("dial tcp db.internal:5432: connection refused")), 503, "DATABASE_UNAVAILABLE", "retry later"},
		{fmt.Errorf("gateway: create: %w", paygate.Errorf(paygate.EConflict, "wrapped")), 409, "CONFLICT", "wrapped"},
		{paygate.Errorf(paygate.EInternal, "db password=hunter2"), 500, "INTERNAL", "internal error"},
		{paygate.Errorf("SOMETHING_NEW", "secret detail"), 500, "INTERNAL", "internal error"},
		{errors.New("sql: connection refused to db.internal:5432"), 500, "INTERNAL", "internal error"},
		{context.DeadlineExceeded, 500, "INTERNAL", "internal error"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%02d_%s", i, tt.code), func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.orders.set(func(f *fakeOrders) { f.err = tt.err })
			status, hdr, b := f.send(t, req{path: "/api/v1/orders/X1"})
			wantError(t, status, hdr, b, tt.status, tt.code, tt.msg)
			if tt.status == 500 && (strings.Contains(string(b), "hunter2") || strings.Contains(string(b), "db.internal") || strings.Contains(string(b), "secret detail")) {
				t.Fatalf("500 answer leaks the cause: %s", b)
			}
			if tt.status == 429 && hdr.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			if tt.code == paygate.EDatabaseDown && hdr.Get("Retry-After") != "5" {
				t.Errorf("DATABASE_UNAVAILABLE with Retry-After %q, want 5", hdr.Get("Retry-After"))
			}
			if strings.Contains(string(b), "merchant 7") || strings.Contains(string(b), "db.internal") {
				t.Fatalf("the answer names internals: %s", b)
			}
			// The cause is logged once, on the request's line, for 500s.
			lines := f.logs.Lines(t)
			if len(lines) != 1 {
				t.Fatalf("log lines = %d, want 1: %v", len(lines), lines)
			}
			wantLevel := map[bool]string{true: "ERROR", false: "WARN"}[tt.status == 500]
			if tt.status >= 500 {
				if lines[0]["error"] != tt.err.Error() || lines[0]["level"] != wantLevel {
					t.Errorf("log line = %v, want the cause at %s", lines[0], wantLevel)
				}
			} else if _, ok := lines[0]["error"]; ok {
				t.Errorf("log line carries an error for a %d: %v", tt.status, lines[0])
			}
		})
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, tt := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/nope", 404, "NOT_FOUND"},
		{"GET", "/api/v1/merchants", 404, "NOT_FOUND"},
		{"GET", "/api/v1/orders/", 404, "NOT_FOUND"},
		{"DELETE", "/api/v1/orders", 405, "METHOD_NOT_ALLOWED"},
		{"PUT", "/api/v1/orders/X1", 405, "METHOD_NOT_ALLOWED"},
		{"GET", "/notify/alipay", 405, "METHOD_NOT_ALLOWED"},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			hr, _ := http.NewRequest(tt.method, f.url+tt.path, nil)
			status, hdr, b := do(t, hr)
			wantError(t, status, hdr, b, tt.status, tt.code, "")
			if tt.status == 405 && hdr.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}
