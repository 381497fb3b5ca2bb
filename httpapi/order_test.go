package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/httpapi"
)

func qrOrder(no string) client.CreateOrderRequest {
	return client.CreateOrderRequest{OutTradeNo: no, Subject: "Coffee 咖啡", TotalAmount: "99.99", Mode: "qr"}
}

func TestCreateOrder(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	var o client.Order
	resp, err := f.client.Do(ctx, "POST", "/api/v1/orders", nil, client.CreateOrderRequest{
		OutTradeNo: "T_001", Subject: "Coffee 咖啡", TotalAmount: "99.9", Mode: "qr",
		NotifyURL: "https://shop.example/hook", Timeout: "2h",
	}, &o)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status = %d, want 201", resp.StatusCode)
	}
	if o.OutTradeNo != "T_001" || o.TotalAmount != "99.90" || o.Status != "pending" || o.QRCode == "" {
		t.Fatalf("order = %+v", o)
	}
	calls := f.orders.Calls()
	want := paygate.CreateOrder{
		OutTradeNo: "T_001", Subject: "Coffee 咖啡", TotalAmount: 9990, Mode: paygate.ModeQR,
		Channel: paygate.ChannelAlipay, NotifyURL: "https://shop.example/hook", Timeout: 2 * time.Hour,
	}
	if len(calls) != 1 || calls[0].merchant != f.merchant.ID || !reflect.DeepEqual(calls[0].arg, want) {
		t.Fatalf("calls = %+v, want CreateOrder(%+v) by merchant %d", calls, want, f.merchant.ID)
	}
	// The same order again: 200 with the existing one.
	resp, err = f.client.Do(ctx, "POST", "/api/v1/orders", nil, qrOrder("T_001"), &o)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("repeat: status = %d, want 200", resp.StatusCode)
	}
}

func TestOrderJSONShape(t *testing.T) {
	t.Parallel()
	f := setup(t)
	status, _, b := f.send(t, req{method: "POST", path: "/api/v1/orders",
		body: []byte(`{"out_trade_no":"Q1","subject":"Tea","total_amount":"12","mode":"qr"}`)})
	if status != http.StatusCreated {
		t.Fatalf("status %d: %s", status, b)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"out_trade_no": "Q1", "trade_no": nil, "mode": "qr", "channel": "alipay", "subject": "Tea", "total_amount": "12.00",
		"status": "pending", "qr_code": "https://qr.alipay.com/Q1", "qr_codes": map[string]any{"alipay": "https://qr.alipay.com/Q1"},
		"refunded_amount": "0.00", "buyer_id": nil,
		"created_at": "2026-05-06T07:08:09Z", "paid_at": nil, "expires_at": "2026-05-06T07:23:09Z",
		"cashier_url": "https://pay.example.com/pay/tok_Q1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("order JSON =\n%v\nwant\n%v", got, want)
	}
	// Barcode: paid, with trade_no and buyer, no qr_code.
	o, err := f.client.CreateOrder(context.Background(), client.CreateOrderRequest{
		OutTradeNo: "B1", Subject: "Tea", TotalAmount: "0.01", Mode: "barcode", AuthCode: "283456789012345678",
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != "paid" || o.TradeNo == "" || o.BuyerID == "" || o.QRCode != "" || o.PaidAt == nil || !o.PaidAt.Equal(t0) {
		t.Fatalf("barcode order = %+v", o)
	}
	// A barcode order has no cashier page: cashier_url is null; and no
	// codes: qr_codes is null.
	status, _, b = f.send(t, req{method: "GET", path: "/api/v1/orders/B1"})
	got = nil
	if err := json.Unmarshal(b, &got); err != nil || status != http.StatusOK {
		t.Fatalf("get B1: %d %v", status, err)
	}
	for _, k := range []string{"cashier_url", "qr_codes"} {
		if v, ok := got[k]; !ok || v != nil {
			t.Fatalf("barcode %s = %v (present %v), want null", k, v, ok)
		}
	}
}

// TestOrderJSONWithoutPublicURL: a node that does not know how buyers
// reach it shows cashier_url null rather than a link that leads nowhere.
func TestOrderJSONWithoutPublicURL(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *httpapi.Config) { c.PublicURL = "" })
	o, err := f.client.CreateOrder(context.Background(), qrOrder("NP1"))
	if err != nil {
		t.Fatal(err)
	}
	if o.CashierURL != "" {
		t.Fatalf("cashier_url = %q without a public URL", o.CashierURL)
	}
}

// TestCreateOrderReturnURL: return_url reaches the service as given, in QR
// mode only, and every malformed one is refused with a clear message.
func TestCreateOrderReturnURL(t *testing.T) {
	t.Parallel()
	f := setup(t)
	o, err := f.client.CreateOrder(context.Background(), client.CreateOrderRequest{
		OutTradeNo: "RU1", Subject: "Tea", TotalAmount: "1.00", Mode: "qr", ReturnURL: "https://shop.example/thanks?o=RU1#top",
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.CashierURL != "https://pay.example.com/pay/tok_RU1" {
		t.Fatalf("cashier_url = %q", o.CashierURL)
	}
	calls := f.orders.Calls()
	if got := calls[len(calls)-1].arg.(paygate.CreateOrder).ReturnURL; got != "https://shop.example/thanks?o=RU1#top" {
		t.Fatalf("service got return_url %q", got)
	}
	bad := []struct{ name, mode, url, msg string }{
		{"barcode", "barcode", "https://shop.example/thanks", "return_url is only for qr mode"},
		{"relative", "qr", "/thanks", "return_url must be an absolute http or https URL"},
		{"javascript", "qr", "javascript:alert(1)", "return_url must be an absolute http or https URL"},
		{"ftp", "qr", "ftp://shop.example/x", "return_url must be an absolute http or https URL"},
		{"no host", "qr", "https:///thanks", "return_url must be an absolute http or https URL"},
		{"user information", "qr", "https://shop.example@evil.example/", "return_url must not carry user information"},
		{"too long", "qr", "https://shop.example/" + strings.Repeat("a", 1010), "return_url must be at most 1024 bytes"},
		{"control character", "qr", "https://shop.example/\nx", "return_url must be an absolute http or https URL"},
	}
	before := len(f.orders.Calls())
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{"out_trade_no": "RU2", "subject": "Tea", "total_amount": "1.00", "mode": tt.mode, "return_url": tt.url}
			if tt.mode == "barcode" {
				body["auth_code"] = "283456789012345678"
			}
			status, hdr, b := f.send(t, req{method: "POST", path: "/api/v1/orders", body: mustJSON(t, body)})
			wantError(t, status, hdr, b, http.StatusBadRequest, "INVALID_REQUEST", tt.msg)
		})
	}
	if n := len(f.orders.Calls()); n != before {
		t.Fatalf("the service was called %d times on invalid return_url", n-before)
	}
}

func TestCreateOrderValidation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	base := map[string]any{"out_trade_no": "V1", "subject": "Tea", "total_amount": "1.00", "mode": "qr"}
	with := func(kv ...any) []byte {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return mustJSON(t, m)
	}
	tests := []struct {
		name string
		body []byte
		msg  string
	}{
		{"empty body", nil, "JSON object"},
		{"not JSON", []byte(`{"out_trade_no":`), "JSON"},
		{"array", []byte(`[1]`), "JSON object"},
		{"two values", []byte(`{} {}`), "single JSON object"},
		{"trailing garbage", append(with(), 'x'), "single JSON object"},
		{"unknown field", with("amount", "1.00"), `unknown field "amount"`},
		{"amount as number", with("total_amount", 1.5), "total_amount must be a string"},
		{"out_trade_no missing", with("out_trade_no", nil), "out_trade_no must be 1 to 64"},
		{"out_trade_no too long", with("out_trade_no", strings.Repeat("a", 65)), "out_trade_no must be 1 to 64"},
		{"out_trade_no dash", with("out_trade_no", "A-1"), "out_trade_no must be 1 to 64"},
		{"out_trade_no unicode", with("out_trade_no", "订单1"), "out_trade_no must be 1 to 64"},
		{"subject missing", with("subject", nil), "subject is required"},
		{"subject blank", with("subject", "   "), "subject is required"},
		{"subject too long", with("subject", strings.Repeat("茶", 257)), "subject must be at most 256 characters"},
		{"subject control", with("subject", "Tea\nCake"), "subject must not contain control characters"},
		{"subject slash", with("subject", "Tea/Cake"), "subject must not contain /, = or &"},
		{"subject equals", with("subject", "a=b"), "subject must not contain /, = or &"},
		{"subject ampersand", with("subject", "Tea & Cake"), "subject must not contain /, = or &"},
		{"amount missing", with("total_amount", nil), "total_amount is required"},
		{"amount three decimals", with("total_amount", "1.001"), "total_amount must be yuan with at most two decimals"},
		{"amount exponent", with("total_amount", "1e2"), "total_amount must be yuan"},
		{"amount plus", with("total_amount", "+1.00"), "total_amount must be yuan"},
		{"amount spaces", with("total_amount", " 1.00"), "total_amount must be yuan"},
		{"amount zero", with("total_amount", "0.00"), "total_amount must be between 0.01 and 100000000.00"},
		{"amount negative", with("total_amount", "-1.00"), "total_amount must be between"},
		{"amount too large", with("total_amount", "100000000.01"), "total_amount must be between"},
		{"mode missing", with("mode", nil), `mode must be "qr" or "barcode"`},
		{"mode unknown", with("mode", "QR"), `mode must be "qr" or "barcode"`},
		{"auth_code in qr", with("auth_code", "283456789012345678"), "auth_code is only for barcode mode"},
		{"auth_code missing", with("mode", "barcode"), "auth_code is required in barcode mode"},
		{"auth_code short", with("mode", "barcode", "auth_code", "123456789"), "auth_code must be 10 to 32"},
		{"auth_code long", with("mode", "barcode", "auth_code", strings.Repeat("1", 33)), "auth_code must be 10 to 32"},
		{"auth_code symbol", with("mode", "barcode", "auth_code", "28345678-012345678"), "auth_code must be 10 to 32"},
		{"notify_url relative", with("notify_url", "/hook"), "notify_url must be an absolute http or https URL"},
		{"notify_url ftp", with("notify_url", "ftp://shop.example/hook"), "notify_url must be an absolute http or https URL"},
		{"notify_url no host", with("notify_url", "https:///hook"), "notify_url must be an absolute http or https URL"},
		{"notify_url too long", with("notify_url", "https://shop.example/"+strings.Repeat("a", 240)), "notify_url must be at most 256 bytes"},
		{"notify_url user information", with("notify_url", "https://u:pw@shop.example/hook"), "notify_url: the webhook URL must not carry user information"},
		{"notify_url numeric host", with("notify_url", "http://0x7f000001:5432/"), "notify_url: the webhook URL's host \"0x7f000001\" is a number but not an IP address"},
		{"timeout garbage", with("timeout", "soon"), "timeout must be a duration"},
		{"timeout seconds", with("timeout", "90s"), "timeout must be a whole number of minutes"},
		{"timeout too short", with("timeout", "30s"), "timeout must be a whole number of minutes"},
		{"timeout zero", with("timeout", "0m"), "timeout must be between 1m and 15d"},
		{"timeout too long", with("timeout", "16d"), "timeout must be between 1m and 15d"},
		{"timeout too long hours", with("timeout", "361h"), "timeout must be between 1m and 15d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, b := f.send(t, req{method: "POST", path: "/api/v1/orders", body: tt.body})
			wantError(t, status, hdr, b, http.StatusBadRequest, "INVALID_REQUEST", tt.msg)
		})
	}
	if calls := f.orders.Calls(); len(calls) != 0 {
		t.Fatalf("service was called on invalid input: %v", calls)
	}
}

func TestCreateOrderAccepts(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name    string
		req     client.CreateOrderRequest
		timeout time.Duration
	}{
		{"max amount", client.CreateOrderRequest{OutTradeNo: "A1", Subject: "x", TotalAmount: "100000000.00", Mode: "qr"}, 0},
		{"min amount", client.CreateOrderRequest{OutTradeNo: "A2", Subject: "x", TotalAmount: "0.01", Mode: "qr"}, 0},
		{"64 char no", client.CreateOrderRequest{OutTradeNo: strings.Repeat("A", 64), Subject: strings.Repeat("茶", 256), TotalAmount: "1", Mode: "qr"}, 0},
		{"1m", client.CreateOrderRequest{OutTradeNo: "A3", Subject: "x", TotalAmount: "1", Mode: "qr", Timeout: "1m"}, time.Minute},
		{"15d", client.CreateOrderRequest{OutTradeNo: "A4", Subject: "x", TotalAmount: "1", Mode: "qr", Timeout: "15d"}, 15 * 24 * time.Hour},
		{"360h", client.CreateOrderRequest{OutTradeNo: "A5", Subject: "x", TotalAmount: "1", Mode: "qr", Timeout: "1h30m"}, 90 * time.Minute},
		{"barcode 10", client.CreateOrderRequest{OutTradeNo: "A6", Subject: "x", TotalAmount: "1", Mode: "barcode", AuthCode: "fp12345678"}, 0},
		{"http notify", client.CreateOrderRequest{OutTradeNo: "A7", Subject: "x", TotalAmount: "1", Mode: "qr", NotifyURL: "http://127.1.2.3:8080/h?x=1"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.client.CreateOrder(context.Background(), tt.req); err != nil {
				t.Fatal(err)
			}
			calls := f.orders.Calls()
			got := calls[len(calls)-1].arg.(paygate.CreateOrder)
			if got.Timeout != tt.timeout || got.OutTradeNo != tt.req.OutTradeNo {
				t.Fatalf("service got %+v", got)
			}
		})
	}
}

func TestGetOrder(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	if _, err := f.client.CreateOrder(ctx, qrOrder("G1")); err != nil {
		t.Fatal(err)
	}
	o, err := f.client.GetOrder(ctx, "G1", true)
	if err != nil {
		t.Fatal(err)
	}
	if o.OutTradeNo != "G1" {
		t.Fatalf("order = %+v", o)
	}
	calls := f.orders.Calls()
	if last := calls[len(calls)-1]; last.method != "GetOrder" || last.arg != [2]any{"G1", true} {
		t.Fatalf("last call = %+v, want GetOrder(G1, refresh)", last)
	}
	_, err = f.client.GetOrder(ctx, "NOPE", false)
	wantAPIError(t, err, http.StatusNotFound, "NOT_FOUND")

	for _, tt := range []struct {
		name  string
		path  string
		query url.Values
		msg   string
	}{
		{"bad refresh", "/api/v1/orders/G1", url.Values{"refresh": {"yes"}}, "refresh must be true or false"},
		{"unknown parameter", "/api/v1/orders/G1", url.Values{"expand": {"refunds"}}, `unknown query parameter "expand"`},
		{"repeated parameter", "/api/v1/orders/G1", url.Values{"refresh": {"true", "false"}}, "refresh is given 2 times"},
		{"bad out_trade_no", "/api/v1/orders/G-1", nil, "out_trade_no must be 1 to 64"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, b := f.send(t, req{path: tt.path, query: tt.query})
			wantError(t, status, hdr, b, http.StatusBadRequest, "INVALID_REQUEST", tt.msg)
		})
	}
}

func TestListOrdersPaging(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	var all []string
	for _, no := range []string{"L1", "L2", "L3", "L4", "L5"} {
		if _, err := f.client.CreateOrder(ctx, qrOrder(no)); err != nil {
			t.Fatal(err)
		}
		all = append([]string{no}, all...) // newest first
	}
	var got []string
	var pages int
	p := client.ListOrdersParams{Limit: 2}
	for {
		l, err := f.client.ListOrders(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range l.Orders {
			got = append(got, o.OutTradeNo)
		}
		if l.NextCursor == "" {
			break
		}
		p.Cursor = l.NextCursor
	}
	if !slices.Equal(got, all) || pages != 3 {
		t.Fatalf("pages = %d, orders = %v, want 3 pages of %v", pages, got, all)
	}
	// A page that ends exactly at the last order has no next cursor.
	l, err := f.client.ListOrders(ctx, client.ListOrdersParams{Limit: 5})
	if err != nil || len(l.Orders) != 5 || l.NextCursor != "" {
		t.Fatalf("limit 5: %+v, %v", l, err)
	}
	// The raw form: next_cursor is null on the last page, orders never null.
	_, _, b := f.send(t, req{path: listPath, query: url.Values{"status": {"closed"}}})
	if string(b) != `{"orders":[],"next_cursor":null}` {
		t.Fatalf("empty page = %s", b)
	}
	calls := f.orders.Calls()
	last := calls[len(calls)-1].arg.(paygate.OrderFilter)
	if last.Status != paygate.StatusClosed || last.MerchantID != f.merchant.ID || last.Limit != 21 {
		t.Fatalf("filter = %+v; want status closed, the merchant, default page 20 plus one", last)
	}
}

func TestListOrdersValidation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name  string
		query url.Values
		msg   string
	}{
		{"bad status", url.Values{"status": {"PAID"}}, "status must be pending, paid, closed or refunded"},
		{"limit zero", url.Values{"limit": {"0"}}, "limit must be a whole number from 1 to 100"},
		{"limit too big", url.Values{"limit": {"101"}}, "limit must be a whole number from 1 to 100"},
		{"limit not a number", url.Values{"limit": {"ten"}}, "limit must be a whole number"},
		{"cursor garbage", url.Values{"cursor": {"!!"}}, "cursor is not one this API returned"},
		{"cursor forged", url.Values{"cursor": {"MTIz"}}, "cursor is not one this API returned"},
		{"cursor empty", url.Values{"cursor": {""}}, "cursor is not one this API returned"},
		{"unknown parameter", url.Values{"sort": {"asc"}}, `unknown query parameter "sort"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, b := f.send(t, req{path: listPath, query: tt.query})
			wantError(t, status, hdr, b, http.StatusBadRequest, "INVALID_REQUEST", tt.msg)
		})
	}
	if calls := f.orders.Calls(); len(calls) != 0 {
		t.Fatalf("service was called on invalid input: %v", calls)
	}
}

func TestCloseOrder(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	if _, err := f.client.CreateOrder(ctx, qrOrder("C1")); err != nil {
		t.Fatal(err)
	}
	o, err := f.client.CloseOrder(ctx, "C1")
	if err != nil || o.Status != "closed" {
		t.Fatalf("close: %+v, %v", o, err)
	}
	// {} is accepted as no parameters; anything else is not.
	if status, _, b := f.send(t, req{method: "POST", path: "/api/v1/orders/C1/close", body: []byte(` {} `)}); status != http.StatusOK {
		t.Fatalf("close with {}: %d %s", status, b)
	}
	status, hdr, b := f.send(t, req{method: "POST", path: "/api/v1/orders/C1/close", body: []byte(`{"reason":"x"}`)})
	wantError(t, status, hdr, b, http.StatusBadRequest, "INVALID_REQUEST", `unknown field "reason"`)
}
