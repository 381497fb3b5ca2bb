package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/paygate/paygate"
)

// TestStrictJSON: a body encoding/json would read other than its first
// reading says is refused with 400, and nothing runs.
func TestStrictJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path, body, msg string
	}{
		{"duplicate key", "/api/v1/orders",
			`{"out_trade_no":"D1","subject":"s","total_amount":"1.00","mode":"qr","total_amount":"999.00"}`, `"total_amount" twice`},
		{"case-variant duplicate", "/api/v1/orders",
			`{"out_trade_no":"D1","subject":"s","total_amount":"1.00","mode":"qr","TOTAL_AMOUNT":"999.00"}`, "case-sensitive"},
		{"case variant alone", "/api/v1/orders",
			`{"out_trade_no":"D1","subject":"s","Total_Amount":"1.00","mode":"qr"}`, "case-sensitive"},
		{"long s folds like s", "/api/v1/orders",
			`{"out_trade_no":"D1","ſubject":"s","total_amount":"1.00","mode":"qr"}`, "case-sensitive"},
		{"long s duplicate", "/api/v1/orders",
			"{\"out_trade_no\":\"D1\",\"subject\":\"s\",\"ſubject\":\"t\",\"total_amount\":\"1.00\",\"mode\":\"qr\"}", "twice"},
		{"nested duplicate", "/api/v1/orders",
			`{"out_trade_no":"D1","subject":"s","total_amount":"1.00","mode":"qr","x":{"a":1,"A":2}}`, "twice"},
		{"invalid UTF-8 in subject", "/api/v1/orders",
			"{\"out_trade_no\":\"D1\",\"subject\":\"caf\xe9\",\"total_amount\":\"1.00\",\"mode\":\"qr\"}", "UTF-8"},
		{"unpaired surrogate escape", "/api/v1/orders",
			`{"out_trade_no":"D1","subject":"tea \ud800","total_amount":"1.00","mode":"qr"}`, "surrogate"},
		{"lone low surrogate escape", "/api/v1/orders",
			`{"out_trade_no":"D1","subject":"tea \udc00 x","total_amount":"1.00","mode":"qr"}`, "surrogate"},
		{"refund duplicate", "/api/v1/orders/D1/refunds",
			`{"out_request_no":"R1","amount":"1.00","amount":"100.00"}`, `"amount" twice`},
		{"refund invalid UTF-8", "/api/v1/orders/D1/refunds",
			"{\"out_request_no\":\"R1\",\"amount\":\"1.00\",\"reason\":\"\xff\"}", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			status, hdr, b := f.send(t, req{method: "POST", path: tt.path, body: []byte(tt.body)})
			wantError(t, status, hdr, b, http.StatusBadRequest, paygate.EInvalid, tt.msg)
			if calls := f.orders.Calls(); len(calls) != 0 {
				t.Fatalf("the service was called: %+v", calls)
			}
		})
	}
	t.Run("accepted: a surrogate pair and an escaped key", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		body := `{"out_trade_no":"D1","subject":"tea \ud83c\udf75 \\ud800","total_amount":"1.00","mode":"qr","tim\u0065out":"15m"}`
		status, _, b := f.send(t, req{method: "POST", path: "/api/v1/orders", body: []byte(body)})
		if status != http.StatusCreated {
			t.Fatalf("status %d: %s", status, b)
		}
		var o struct{ Subject string }
		if err := json.Unmarshal(b, &o); err != nil || o.Subject != "tea 🍵 \\ud800" {
			t.Fatalf("subject %q (%v)", o.Subject, err)
		}
	})
}

// TestAnswerHeaders: every answer, success or error, is not to be cached or
// sniffed.
func TestAnswerHeaders(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, r := range []req{
		{method: "POST", path: "/api/v1/orders", body: []byte(`{"out_trade_no":"H1","subject":"s","total_amount":"1.00","mode":"qr"}`)},
		{path: "/api/v1/orders/H1"},
		{path: "/api/v1/orders/NOPE"},
		{path: "/api/v1/orders/H1", secret: "wrong-secret"},
	} {
		status, hdr, b := f.send(t, r)
		if hdr.Get("Cache-Control") != "no-store" || hdr.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s answered %d with Cache-Control %q, X-Content-Type-Options %q: %s",
				r.method, r.path, status, hdr.Get("Cache-Control"), hdr.Get("X-Content-Type-Options"), b)
		}
	}
}

// TestDeclinedPayment: a decline is 402 with the reason and the closed
// order, and, being final, is stored for Idempotency-Key and replayed.
func TestDeclinedPayment(t *testing.T) {
	t.Parallel()
	f := setup(t)
	body := `{"out_trade_no":"B26","subject":"s","total_amount":"1.00","mode":"barcode","auth_code":"260000000000000001"}`
	status, hdr, b := f.send(t, idemReq("decline-1", body))
	wantError(t, status, hdr, b, http.StatusPaymentRequired, paygate.EPaymentFailed, "ACQ.BUYER_BALANCE_NOT_ENOUGH")
	var got struct {
		Order *struct {
			OutTradeNo string `json:"out_trade_no"`
			Status     string `json:"status"`
		} `json:"order"`
	}
	if err := json.Unmarshal(b, &got); err != nil || got.Order == nil || got.Order.OutTradeNo != "B26" || got.Order.Status != "closed" {
		t.Fatalf("402 body without the closed order: %s", b)
	}
	status2, hdr2, b2 := f.send(t, idemReq("decline-1", body))
	if status2 != http.StatusPaymentRequired || !bytes.Equal(b2, b) || hdr2.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("repeat: %d %q %s; want the 402 replayed", status2, hdr2.Get("Idempotent-Replayed"), b2)
	}
	if n := countCalls(f.orders, "CreateOrder"); n != 1 {
		t.Fatalf("CreateOrder ran %d times, want 1", n)
	}
}
