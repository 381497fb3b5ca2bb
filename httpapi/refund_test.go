package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/client"
)

func TestRefund(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	if _, err := f.client.CreateOrder(ctx, qrOrder("R1")); err != nil {
		t.Fatal(err)
	}
	rr := client.RefundRequest{OutRequestNo: "RQ_1", Amount: "10.5", Reason: "退货"}
	var r client.Refund
	resp, err := f.client.Do(ctx, "POST", "/api/v1/orders/R1/refunds", nil, rr, &r)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || r.Amount != "10.50" || r.OutTradeNo != "R1" || r.Status != "succeeded" {
		t.Fatalf("refund: %d %+v", resp.StatusCode, r)
	}
	calls := f.orders.Calls()
	want := paygate.CreateRefund{OutRequestNo: "RQ_1", Amount: 1050, Reason: "退货"}
	if last := calls[len(calls)-1]; last.method != "Refund" || !reflect.DeepEqual(last.arg, want) {
		t.Fatalf("last call = %+v, want Refund(%+v)", last, want)
	}
	resp, err = f.client.Do(ctx, "POST", "/api/v1/orders/R1/refunds", nil, rr, &r)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("repeat: %v %v, want 200", resp.StatusCode, err)
	}

	_, _, b := f.send(t, req{path: "/api/v1/orders/R1/refunds"})
	var got map[string][]map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	wantJSON := map[string][]map[string]any{"refunds": {{
		"out_request_no": "RQ_1", "out_trade_no": "R1", "amount": "10.50", "reason": "退货",
		"status": "succeeded", "created_at": "2026-05-06T07:08:09Z", "succeeded_at": "2026-05-06T07:08:09Z",
	}}}
	if !reflect.DeepEqual(got, wantJSON) {
		t.Fatalf("refunds JSON = %v\nwant %v", got, wantJSON)
	}
	if _, err := f.client.CreateOrder(ctx, qrOrder("R2")); err != nil {
		t.Fatal(err)
	}
	if _, _, b := f.send(t, req{path: "/api/v1/orders/R2/refunds"}); string(b) != `{"refunds":[]}` {
		t.Fatalf("no refunds = %s", b)
	}
}

func TestRefundValidation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name string
		path string
		body string
		msg  string
	}{
		{"bad path", "/api/v1/orders/R.1/refunds", `{"out_request_no":"Q1","amount":"1.00"}`, "out_trade_no must be 1 to 64"},
		{"empty", "", ``, "JSON object"},
		{"unknown field", "", `{"out_request_no":"Q1","amount":"1.00","refund_amount":"1"}`, `unknown field "refund_amount"`},
		{"no out_request_no", "", `{"amount":"1.00"}`, "out_request_no must be 1 to 64"},
		{"bad out_request_no", "", `{"out_request_no":"Q 1","amount":"1.00"}`, "out_request_no must be 1 to 64"},
		{"long out_request_no", "", `{"out_request_no":"` + strings.Repeat("q", 65) + `","amount":"1.00"}`, "out_request_no must be 1 to 64"},
		{"no amount", "", `{"out_request_no":"Q1"}`, "amount is required"},
		{"amount number", "", `{"out_request_no":"Q1","amount":1}`, "amount must be a string"},
		{"amount zero", "", `{"out_request_no":"Q1","amount":"0"}`, "amount must be between 0.01 and 100000000.00"},
		{"amount decimals", "", `{"out_request_no":"Q1","amount":"0.001"}`, "amount must be yuan with at most two decimals"},
		{"reason long", "", `{"out_request_no":"Q1","amount":"1","reason":"` + strings.Repeat("因", 257) + `"}`, "reason must be at most 256 characters"},
		{"reason control", "", `{"out_request_no":"Q1","amount":"1","reason":"a\u0000b"}`, "reason must not contain control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = "/api/v1/orders/R1/refunds"
			}
			status, hdr, b := f.send(t, req{method: "POST", path: path, body: []byte(tt.body)})
			wantError(t, status, hdr, b, http.StatusBadRequest, "INVALID_REQUEST", tt.msg)
		})
	}
	if calls := f.orders.Calls(); len(calls) != 0 {
		t.Fatalf("service was called on invalid input: %v", calls)
	}
}
