package main

// docs/openapi.yaml against the server: the document is a valid OpenAPI 3.1
// document naming every route the node serves, and every request and answer
// of an end-to-end run is validated against it (libopenapi-validator).

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	vconfig "github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/paths"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/httpapi"
	"github.com/paygate/paygate/recon"
)

// openAPIPath is the document, from this package's directory.
var openAPIPath = filepath.Join("..", "..", "docs", "openapi.yaml")

// openAPIDoc parses the document and builds its OpenAPI 3 model.
func openAPIDoc(t *testing.T) (libopenapi.Document, *v3.Document) {
	t.Helper()
	spec, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatalf("%s: %v", openAPIPath, err)
	}
	if v := doc.GetVersion(); v != "3.1.0" {
		t.Fatalf("%s: openapi %q, want 3.1.0", openAPIPath, v)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("%s: building the model: %v", openAPIPath, err)
	}
	return doc, &m.Model
}

// openAPIValidator validates requests and answers against the document:
// formats (date-time, date) are checked, every status an answer has must be
// one the document names for its operation, and (strict mode) a query
// parameter, header or property the document does not declare is refused,
// as the server refuses unknown query parameters and keys.
func openAPIValidator(t *testing.T) validator.Validator {
	t.Helper()
	doc, _ := openAPIDoc(t)
	v, errs := validator.NewValidator(doc, vconfig.WithFormatAssertions(), vconfig.WithStrictMode(),
		// What the books and the bill hold, free-form JSON.
		vconfig.WithStrictIgnorePaths("$.body.differences[*].local.*", "$.body.differences[*].channel.*",
			"$.body.repair_log[*].local.*", "$.body.repair_log[*].channel.*"))
	if len(errs) > 0 {
		t.Fatalf("%s: %v", openAPIPath, errs)
	}
	return v
}

func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("\n  " + e.Message + ": " + e.Reason)
		for _, s := range e.SchemaValidationErrors {
			b.WriteString("\n    " + s.KeywordLocation + " at /" + strings.Join(s.InstancePath, "/") + ": " + s.Reason)
		}
	}
	return b.String()
}

// TestOpenAPIDocument: the document is valid OpenAPI 3.1 (against the
// specification's schema) and names exactly the routes the node serves
// under /api/v1 plus /healthz and /readyz, with the methods it serves them
// with.
func TestOpenAPIDocument(t *testing.T) {
	v := openAPIValidator(t)
	if ok, errs := v.ValidateDocument(); !ok {
		t.Fatalf("%s is not a valid OpenAPI 3.1 document:%s", openAPIPath, describe(errs))
	}
	_, model := openAPIDoc(t)
	var documented []string
	for path, item := range model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	e := e2e(t, "sqlite")
	var served []string
	for _, r := range e.app.api.Handler().(*gin.Engine).Routes() {
		if r.Path != "/healthz" && r.Path != "/readyz" && !strings.HasPrefix(r.Path, "/api/v1/") {
			continue // the Alipay notification endpoint and mounts are no part of the merchant API
		}
		p := r.Path
		for _, seg := range strings.Split(r.Path, "/") {
			if name, ok := strings.CutPrefix(seg, ":"); ok {
				p = strings.Replace(p, seg, "{"+name+"}", 1)
			}
		}
		served = append(served, r.Method+" "+p)
	}
	sort.Strings(documented)
	sort.Strings(served)
	if !slices.Equal(documented, served) {
		t.Fatalf("the document's operations differ from the node's routes:\ndocumented %q\nserved     %q", documented, served)
	}
	var hooks []string
	for name := range model.Webhooks.FromOldest() {
		hooks = append(hooks, name)
	}
	want := paygate.EventTypes()
	sort.Strings(hooks)
	sort.Strings(want)
	if !slices.Equal(hooks, want) {
		t.Fatalf("the document's webhooks are %q, want one per event type %q", hooks, want)
	}
}

// openAPIRecorder carries the test client's requests and validates each
// one to the merchant API or the probes, and its answer, against the
// document. The simulator's routes pass unchecked.
type openAPIRecorder struct {
	t     *testing.T
	base  http.RoundTripper
	v     validator.Validator
	model *v3.Document

	mu sync.Mutex
	// refuse: the next request is one the document itself must refuse
	// (the server refuses it too, with 400).
	refuse bool
	pairs  int
	seen   map[string]bool // "METHOD /path/{template} status" answered
}

// expectRefused marks the next request as one the document must refuse.
func (r *openAPIRecorder) expectRefused() {
	r.mu.Lock()
	r.refuse = true
	r.mu.Unlock()
}

// CloseIdleConnections lets the harness close the base's idle connections.
func (r *openAPIRecorder) CloseIdleConnections() {
	if c, ok := r.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (r *openAPIRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	p := req.URL.Path
	if p != "/healthz" && p != "/readyz" && !strings.HasPrefix(p, "/api/") {
		return r.base.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	withBody := func() *http.Request {
		c := req.Clone(req.Context())
		c.Body = io.NopCloser(bytes.NewReader(body))
		if body == nil {
			c.Body = http.NoBody
		}
		return c
	}
	resp, err := r.base.RoundTrip(withBody())
	if err != nil {
		return nil, err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(answer))

	template := p
	if _, _, found := paths.FindPath(withBody(), r.model, vconfig.NewValidationOptions()); found != "" {
		template = found
	}
	r.mu.Lock()
	refuse := r.refuse
	r.refuse = false
	r.pairs++
	r.seen[req.Method+" "+template+" "+strconv.Itoa(resp.StatusCode)] = true
	r.mu.Unlock()

	what := req.Method + " " + req.URL.RequestURI() + " " + string(body)
	reqOK, reqErrs := r.v.ValidateHttpRequestSync(withBody())
	switch {
	case refuse && reqOK:
		r.t.Errorf("the document accepts %s, which it should refuse (the server answered %d %s)", what, resp.StatusCode, answer)
	case refuse && resp.StatusCode != http.StatusBadRequest:
		r.t.Errorf("%s: the document refuses it, the server answered %d %s", what, resp.StatusCode, answer)
	case !refuse && !reqOK:
		r.t.Errorf("the document refuses %s:%s", what, describe(reqErrs))
	}
	shown := *resp
	shown.Body = io.NopCloser(bytes.NewReader(answer))
	if ok, errs := r.v.ValidateHttpResponse(withBody(), &shown); !ok {
		r.t.Errorf("the document refuses the answer to %s: %d %s\n%v:%s", what, resp.StatusCode, answer, resp.Header, describe(errs))
	}
	return resp, nil
}

// openAPIHooks receives webhooks and validates each against the document's
// webhooks (body by event type, Paygate-Signature, Paygate-Event-Id).
type openAPIHooks struct {
	t      *testing.T
	model  *v3.Document
	secret string
	mu     sync.Mutex
	types  map[string]int
}

func (h *openAPIHooks) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var env struct {
		ID, Type string
	}
	if err := json.Unmarshal(body, &env); err != nil {
		h.t.Errorf("webhook body %s: %v", body, err)
		return
	}
	item, ok := h.model.Webhooks.Get(env.Type)
	if !ok || item.Post == nil {
		h.t.Errorf("the document has no webhook %q: %s", env.Type, body)
		return
	}
	op := item.Post
	mt, _ := op.RequestBody.Content.Get("application/json")
	sv := schema_validation.NewSchemaValidator(vconfig.WithFormatAssertions())
	if ok, errs := sv.ValidateSchemaBytesWithVersion(mt.Schema.Schema(), body, 3.1); !ok {
		h.t.Errorf("the document refuses webhook %s:%s", body, describe(errs))
	}
	for _, p := range op.Parameters {
		got := req.Header.Get(p.Name)
		if got == "" || !regexp.MustCompile(p.Schema.Schema().Pattern).MatchString(got) {
			h.t.Errorf("webhook header %s: %q does not match %q", p.Name, got, p.Schema.Schema().Pattern)
		}
	}
	if err := client.VerifyWebhookHeaders(h.secret, req.Header, body, 0, time.Now()); err != nil {
		h.t.Errorf("webhook %s: %v", env.ID, err)
	}
	h.mu.Lock()
	h.types[env.Type]++
	h.mu.Unlock()
}

func (h *openAPIHooks) count(typ string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.types[typ]
}

// TestOpenAPITraffic drives the merchant API through its routes and
// answers, success and failure, on each store, and validates every request
// and answer against docs/openapi.yaml, and every webhook against its
// webhooks.
func TestOpenAPITraffic(t *testing.T) {
	e2eStores(t, openAPITraffic)
}

func openAPITraffic(t *testing.T, kind string) {
	_, model := openAPIDoc(t)
	e := e2e(t, kind, func(cfg *config, _ *alipaysim.Config) {
		cfg.Webhooks.AllowPrivateNetworks, cfg.Webhooks.AllowHTTP = true, true // the receiver is on loopback
		cfg.Reconcile.Disabled = true                                          // run by hand below
	})
	rec := &openAPIRecorder{t: t, base: e.http.Transport, v: openAPIValidator(t), model: model, seen: map[string]bool{}}
	e.http.Transport = rec
	hooks := &openAPIHooks{t: t, model: model, secret: e.credsA.WebhookSecret, types: map[string]int{}}
	hookSrv := httptest.NewServer(hooks)
	defer hookSrv.Close()
	a := e.a
	day := recon.DayOf(time.Now())

	// Probes.
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := e.http.Get(e.base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	// Create, with Idempotency-Key: replayed, then reused with another body.
	o1 := e2eQR("OA_1", "9.90")
	o1.NotifyURL = hookSrv.URL + "/hooks"
	o1.ReturnURL = "https://shop.example/thanks?o=OA_1"
	e2eCall(t, a, http.MethodPost, "/api/v1/orders", nil, o1, client.WithIdempotencyKey("key-1")).want(t, "create", 201, "")
	r := e2eCall(t, a, http.MethodPost, "/api/v1/orders", nil, o1, client.WithIdempotencyKey("key-1"))
	r.want(t, "replay", 201, "")
	if r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay without Idempotent-Replayed: %v", r.header)
	}
	e2eCall(t, a, http.MethodPost, "/api/v1/orders", nil, e2eQR("OA_9", "1.00"), client.WithIdempotencyKey("key-1")).
		want(t, "key reused", 409, "IDEMPOTENCY_KEY_REUSED")
	e2eCall(t, a, http.MethodPost, "/api/v1/orders", nil, o1).want(t, "same order again", 200, "")
	e2eCall(t, a, http.MethodPost, "/api/v1/orders", nil, e2eQR("OA_1", "8.00")).want(t, "out_trade_no reused", 409, "OUT_TRADE_NO_REUSED")
	withTimeout := e2eQR("OA_2", "100")
	withTimeout.Timeout, withTimeout.NotifyURL = "1h30m", hookSrv.URL+"/hooks"
	e2eCreate(t, a, withTimeout, 201)
	e2eCreate(t, a, e2eQR("OA_3", "0.01"), 201)

	// List, paged.
	var page struct {
		Orders     []client.Order `json:"orders"`
		NextCursor *string        `json:"next_cursor"`
	}
	r = e2eCall(t, a, http.MethodGet, "/api/v1/orders", url.Values{"limit": {"2"}}, nil)
	r.want(t, "list", 200, "")
	if err := json.Unmarshal(r.body, &page); err != nil || page.NextCursor == nil {
		t.Fatalf("list: %s", r.body)
	}
	e2eCall(t, a, http.MethodGet, "/api/v1/orders", url.Values{"limit": {"2"}, "cursor": {*page.NextCursor}}, nil).want(t, "list page 2", 200, "")
	e2eCall(t, a, http.MethodGet, "/api/v1/orders", url.Values{"status": {"pending"}}, nil).want(t, "list pending", 200, "")

	// Get, pay through the simulator, refund, list refunds.
	e2eCall(t, a, http.MethodGet, "/api/v1/orders/OA_1", url.Values{"refresh": {"true"}}, nil).want(t, "get refresh", 200, "")
	e.pay(t, e2eGet(t, a, "OA_1").QRCode)
	e2eWaitStatus(t, a, "OA_1", "paid")
	refund := client.RefundRequest{OutRequestNo: "OA_1_back", Amount: "1.00", Reason: "cold"}
	e2eCall(t, a, http.MethodPost, "/api/v1/orders/OA_1/refunds", nil, refund).want(t, "refund", 201, "")
	e2eCall(t, a, http.MethodPost, "/api/v1/orders/OA_1/refunds", nil, refund).want(t, "refund again", 200, "")
	e2eCall(t, a, http.MethodPost, "/api/v1/orders/OA_1/refunds", nil, client.RefundRequest{OutRequestNo: "OA_1_all", Amount: "9.90"}).
		want(t, "refund beyond", 409, "REFUND_EXCEEDS_BALANCE")
	e2eCall(t, a, http.MethodPost, "/api/v1/orders/OA_3/refunds", nil, client.RefundRequest{OutRequestNo: "OA_3_back", Amount: "0.01"}).
		want(t, "refund unpaid", 409, "CONFLICT")
	e2eCall(t, a, http.MethodGet, "/api/v1/orders/OA_1/refunds", nil, nil).want(t, "list refunds", 200, "")

	// Close: a pending order (with an empty object for a body), a paid one.
	e2eCall(t, a, http.MethodPost, "/api/v1/orders/OA_2/close", nil, []byte(`{}`)).want(t, "close", 200, "")
	e2eCall(t, a, http.MethodPost, "/api/v1/orders/OA_2/close", nil, nil).want(t, "close again", 200, "")
	e2eCall(t, a, http.MethodPost, "/api/v1/orders/OA_1/close", nil, nil).want(t, "close paid", 409, "CONFLICT")

	// Barcode: paid at once, declined (402 with the order), the decline replayed.
	e2eCreate(t, a, client.CreateOrderRequest{OutTradeNo: "OB_1", Subject: "tea", TotalAmount: "12.00", Mode: "barcode", AuthCode: "280000000000000001"}, 201)
	declined := client.CreateOrderRequest{OutTradeNo: "OB_2", Subject: "tea", TotalAmount: "12.00", Mode: "barcode", AuthCode: "260000000000000001"}
	e2eCall(t, a, http.MethodPost, "/api/v1/orders", nil, declined, client.WithIdempotencyKey("key-2")).want(t, "declined", 402, "PAYMENT_FAILED")
	e2eCall(t, a, http.MethodPost, "/api/v1/orders", nil, declined, client.WithIdempotencyKey("key-2")).want(t, "declined replayed", 402, "PAYMENT_FAILED")

	// Validation errors the document refuses as the server does.
	refused := []struct {
		what, method, path string
		query              url.Values
		body               string
	}{
		{"amount with three decimals", "POST", "/api/v1/orders", nil, `{"out_trade_no":"OV_1","subject":"s","total_amount":"9.999","mode":"qr"}`},
		{"amount zero", "POST", "/api/v1/orders", nil, `{"out_trade_no":"OV_1","subject":"s","total_amount":"0.00","mode":"qr"}`},
		{"amount too large", "POST", "/api/v1/orders", nil, `{"out_trade_no":"OV_1","subject":"s","total_amount":"100000000.01","mode":"qr"}`},
		{"amount as a number", "POST", "/api/v1/orders", nil, `{"out_trade_no":"OV_1","subject":"s","total_amount":9.9,"mode":"qr"}`},
		{"unknown field", "POST", "/api/v1/orders", nil, `{"out_trade_no":"OV_1","subject":"s","total_amount":"1.00","mode":"qr","tip":"1"}`},
		{"key in another case", "POST", "/api/v1/orders", nil, `{"OUT_TRADE_NO":"OV_1","subject":"s","total_amount":"1.00","mode":"qr"}`},
		{"no subject", "POST", "/api/v1/orders", nil, `{"out_trade_no":"OV_1","total_amount":"1.00","mode":"qr"}`},
		{"blank subject", "POST", "/api/v1/orders", nil, `{"out_trade_no":"OV_1","subject":"  ","total_amount":"1.00","mode":"qr"}`},
		{"subject with &", "POST", "/api/v1/orders", nil, `{"out_trade_no":"OV_1","subject":"a&b","total_amount":"1.00","mode":"qr"}`},
		{"bad out_trade_no", "POST", "/api/v1/orders", nil, `{"out_trade_no":"OV-1","subject":"s","total_amount":"1.00","mode":"qr"}`},
		{"bad mode", "POST", "/api/v1/orders", nil, `{"out_trade_no":"OV_1","subject":"s","total_amount":"1.00","mode":"card"}`},
		{"auth_code in qr mode", "POST", "/api/v1/orders", nil, `{"out_trade_no":"OV_1","subject":"s","total_amount":"1.00","mode":"qr","auth_code":"280000000000000001"}`},
		{"barcode without auth_code", "POST", "/api/v1/orders", nil, `{"out_trade_no":"OV_1","subject":"s","total_amount":"1.00","mode":"barcode"}`},
		{"bad notify_url", "POST", "/api/v1/orders", nil, `{"out_trade_no":"OV_1","subject":"s","total_amount":"1.00","mode":"qr","notify_url":"ftp://x"}`},
		{"bad timeout", "POST", "/api/v1/orders", nil, `{"out_trade_no":"OV_1","subject":"s","total_amount":"1.00","mode":"qr","timeout":"soon"}`},
		{"bad return_url", "POST", "/api/v1/orders", nil, `{"out_trade_no":"OV_1","subject":"s","total_amount":"1.00","mode":"qr","return_url":"javascript:alert(1)"}`},
		{"return_url in barcode mode", "POST", "/api/v1/orders", nil, `{"out_trade_no":"OV_1","subject":"s","total_amount":"1.00","mode":"barcode","auth_code":"280000000000000001","return_url":"https://shop.example/"}`},
		{"not an object", "POST", "/api/v1/orders", nil, `["OV_1"]`},
		{"refund without amount", "POST", "/api/v1/orders/OA_1/refunds", nil, `{"out_request_no":"OV_r"}`},
		{"refund unknown field", "POST", "/api/v1/orders/OA_1/refunds", nil, `{"out_request_no":"OV_r","amount":"1.00","why":"x"}`},
		{"close with a body", "POST", "/api/v1/orders/OA_3/close", nil, `{"now":true}`},
		{"bad path out_trade_no", "GET", "/api/v1/orders/OV-1", nil, ""},
		{"limit 0", "GET", "/api/v1/orders", url.Values{"limit": {"0"}}, ""},
		{"limit 101", "GET", "/api/v1/orders", url.Values{"limit": {"101"}}, ""},
		{"bad status", "GET", "/api/v1/orders", url.Values{"status": {"lost"}}, ""},
		{"bad refresh", "GET", "/api/v1/orders/OA_1", url.Values{"refresh": {"yes"}}, ""},
		{"bad event type", "GET", "/api/v1/events", url.Values{"type": {"order.lost"}}, ""},
		{"bad undelivered", "GET", "/api/v1/events", url.Values{"undelivered": {"1"}}, ""},
		{"bad since", "GET", "/api/v1/events", url.Values{"since": {"yesterday"}}, ""},
		{"bad date", "GET", "/api/v1/reconciliations/2026-13-01", nil, ""},
		{"unknown query parameter", "GET", "/api/v1/orders", url.Values{"page": {"2"}}, ""},
		{"query parameter on a create", "POST", "/api/v1/orders", url.Values{"dry_run": {"true"}}, `{"out_trade_no":"OV_1","subject":"s","total_amount":"1.00","mode":"qr"}`},
	}
	for _, c := range refused {
		var body any
		if c.body != "" {
			body = []byte(c.body)
		}
		rec.expectRefused()
		e2eCall(t, a, c.method, c.path, c.query, body).want(t, c.what, 400, "INVALID_REQUEST")
	}
	rec.expectRefused()
	e2eCall(t, a, http.MethodPost, "/api/v1/orders", nil, e2eQR("OV_3", "1.00"), client.WithIdempotencyKey("tab\tkey")).
		want(t, "bad Idempotency-Key", 400, "INVALID_REQUEST")
	// Refusals the document cannot express (it accepts these requests):
	// the answer is still validated.
	e2eCall(t, a, http.MethodPost, "/api/v1/orders", nil,
		[]byte(`{"out_trade_no":"OV_1","out_trade_no":"OV_2","subject":"s","total_amount":"1.00","mode":"qr"}`)).
		want(t, "duplicate key", 400, "INVALID_REQUEST")
	e2eCall(t, a, http.MethodGet, "/api/v1/orders", nil, []byte(`{"status":"paid"}`)).want(t, "a GET with a body", 400, "INVALID_REQUEST")

	// Authentication, not found.
	forger := e.client(e.credsA.AccessKey, "not-the-secret")
	e2eCall(t, forger, http.MethodGet, "/api/v1/orders", nil, nil).want(t, "bad signature", 401, "UNAUTHORIZED")
	e2eCall(t, e.client("no-such-key", "x"), http.MethodGet, "/api/v1/orders", nil, nil).want(t, "unknown key", 401, "UNAUTHORIZED")
	e2eCall(t, a, http.MethodGet, "/api/v1/orders/NOPE", nil, nil).want(t, "unknown order", 404, "NOT_FOUND")
	e2eCall(t, e.b, http.MethodGet, "/api/v1/orders/OA_1", nil, nil).want(t, "another merchant's order", 404, "NOT_FOUND")
	e2eCall(t, a, http.MethodGet, "/api/v1/orders/NOPE/refunds", nil, nil).want(t, "refunds of an unknown order", 404, "NOT_FOUND")
	e2eCall(t, a, http.MethodPost, "/api/v1/orders/NOPE/close", nil, nil).want(t, "close an unknown order", 404, "NOT_FOUND")
	e2eCall(t, a, http.MethodPost, "/api/v1/orders/NOPE/refunds", nil, refund).want(t, "refund an unknown order", 404, "NOT_FOUND")
	e2eCall(t, a, http.MethodGet, "/api/v1/events/evt_nope", nil, nil).want(t, "unknown event", 404, "NOT_FOUND")
	e2eCall(t, a, http.MethodPost, "/api/v1/events/evt_nope/resend", nil, nil).want(t, "resend an unknown event", 404, "NOT_FOUND")
	e2eCall(t, a, http.MethodGet, "/api/v1/reconciliations/2020-01-01", nil, nil).want(t, "a day not reconciled", 404, "NOT_FOUND")

	// Events: the webhooks of OA_1 (paid, refunded) and OA_2 (closed) reach the receiver;
	// the others (no URL) are dead. List, page, filter, get, re-send.
	e2eEventually(t, "OA_1's webhooks", func() bool {
		return hooks.count("order.paid") > 0 && hooks.count("refund.succeeded") > 0 && hooks.count("order.closed") > 0
	})
	var events struct {
		Events []struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		} `json:"events"`
		NextCursor *string `json:"next_cursor"`
	}
	r = e2eCall(t, a, http.MethodGet, "/api/v1/events", url.Values{"limit": {"1"}}, nil)
	r.want(t, "events", 200, "")
	if err := json.Unmarshal(r.body, &events); err != nil || events.NextCursor == nil || len(events.Events) != 1 {
		t.Fatalf("events: %s", r.body)
	}
	e2eCall(t, a, http.MethodGet, "/api/v1/events", url.Values{"limit": {"100"}, "cursor": {*events.NextCursor}}, nil).want(t, "events page 2", 200, "")
	e2eCall(t, a, http.MethodGet, "/api/v1/events", url.Values{"type": {"refund.succeeded"}}, nil).want(t, "refund events", 200, "")
	e2eCall(t, a, http.MethodGet, "/api/v1/events", url.Values{"undelivered": {"true"}}, nil).want(t, "undelivered events", 200, "")
	r = e2eCall(t, a, http.MethodGet, "/api/v1/events", nil, nil)
	if err := json.Unmarshal(r.body, &events); err != nil {
		t.Fatal(err)
	}
	for _, ev := range events.Events {
		e2eCall(t, a, http.MethodGet, "/api/v1/events/"+ev.ID, nil, nil).want(t, "event "+ev.Type, 200, "")
	}
	// Following: since, then after; the answers the document refuses.
	r = e2eCall(t, a, http.MethodGet, "/api/v1/events", url.Values{"since": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, "limit": {"2"}}, nil)
	r.want(t, "events since", 200, "")
	if err := json.Unmarshal(r.body, &events); err != nil || events.NextCursor == nil || len(events.Events) != 2 {
		t.Fatalf("events since: %s", r.body)
	}
	e2eCall(t, a, http.MethodGet, "/api/v1/events", url.Values{"after": {*events.NextCursor}}, nil).want(t, "events after", 200, "")
	// A refusal the document cannot express (it names both parameters).
	e2eCall(t, a, http.MethodGet, "/api/v1/events", url.Values{"after": {*events.NextCursor}, "cursor": {*events.NextCursor}}, nil).
		want(t, "after and cursor", 400, "INVALID_REQUEST")
	resend := "/api/v1/events/" + events.Events[0].ID + "/resend"
	e2eCall(t, a, http.MethodPost, resend, nil, nil, client.WithIdempotencyKey("key-3")).want(t, "resend", 202, "")
	e2eCall(t, a, http.MethodPost, resend, nil, nil, client.WithIdempotencyKey("key-3")).want(t, "resend replayed", 202, "")

	// Reconciliation: a payment whose notification is lost is pending
	// here, paid at Alipay; the day's run repairs it.
	e.setFaults(t, alipaysim.Faults{NotifyDropRate: 1})
	e2eCreate(t, a, e2eQR("OA_4", "5.00"), 201)
	e.pay(t, e2eGet(t, a, "OA_4").QRCode)
	e.setFaults(t, alipaysim.Faults{NotifyDropRate: 1, BillSameDay: true})
	if _, code, stderr := e.reconRun(t, "--date", "today", "--repair"); code != 0 && code != 3 {
		t.Fatalf("reconcile: exit %d: %s", code, stderr)
	}
	if recon.DayOf(time.Now()) == day { // else the day (China time) ended during the test: no report to read
		r = e2eCall(t, a, http.MethodGet, "/api/v1/reconciliations/"+day, nil, nil)
		r.want(t, "reconciliation", 200, "")
		if !strings.Contains(string(r.body), `"repair_log":[{`) {
			t.Errorf("the reconciliation shows no repair, so its differences went unvalidated: %s", r.body)
		}
	}

	// The body limit; the channel failing (unclear, 502), then its circuit
	// open (503); the client address's failed authentications (429); a
	// draining node (503).
	big := append([]byte(`{"out_trade_no":"OT_1","subject":"s","total_amount":"1.00","mode":"qr"}`), bytes.Repeat([]byte(" "), httpapi.MaxBody)...)
	e2eCall(t, a, http.MethodPost, "/api/v1/orders", nil, big).want(t, "body too large", 413, "BODY_TOO_LARGE")
	e.setFaults(t, alipaysim.Faults{GatewayErrorRate: 1})
	codes := map[int]bool{}
	for i := 0; i < 50 && !codes[http.StatusServiceUnavailable]; i++ {
		r := e2eCall(t, a, http.MethodPost, "/api/v1/orders", nil, e2eQR("OF_"+strconv.Itoa(i), "1.00"))
		codes[r.status] = true
	}
	if !codes[http.StatusBadGateway] || !codes[http.StatusServiceUnavailable] {
		t.Errorf("the channel failing gave %v, want 502 then 503", codes)
	}
	e.setFaults(t, alipaysim.Faults{})
	limited := false
	for i := 0; i < 50 && !limited; i++ {
		limited = e2eCall(t, e.client("unknown_"+strconv.Itoa(i), "x"), http.MethodGet, "/api/v1/orders", nil, nil).status == http.StatusTooManyRequests
	}
	if !limited {
		t.Errorf("50 failed authentications from one address were never rate limited")
	}
	e.app.api.Drain()
	e2eCall(t, a, http.MethodGet, "/api/v1/orders", nil, nil).want(t, "draining", 503, "DRAINING")
	if resp, err := e.http.Get(e.base + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz while draining: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	var statuses []string
	for k := range rec.seen {
		statuses = append(statuses, k)
	}
	sort.Strings(statuses)
	t.Logf("validated %d request/answer pairs (%d operation×status) against %s, and %d webhooks; answers seen:\n%s",
		rec.pairs, len(statuses), openAPIPath, hooks.total(), strings.Join(statuses, "\n"))
}

func (h *openAPIHooks) total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.types {
		n += c
	}
	return n
}
