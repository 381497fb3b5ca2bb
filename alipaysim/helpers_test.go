package alipaysim_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

const (
	testAppID  = "2021000000000001"
	otherAppID = "2021000000000002"
)

// The keys are generated once per test binary (see export_test.go).
func alipayKey() *rsa.PrivateKey { return alipaysim.SharedTestKeys()[0] }
func appKey() *rsa.PrivateKey    { return alipaysim.SharedTestKeys()[1] }
func otherKey() *rsa.PrivateKey  { return alipaysim.SharedTestKeys()[2] }

// clock is a controllable clock shared by the simulator and the clients.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2024, 5, 13, 10, 0, 0, 0, alipay.ChinaTime)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a simulator served over real HTTP with a client of its app.
type env struct {
	t      *testing.T
	cfg    alipaysim.Config
	sim    *alipaysim.Server
	srv    *httptest.Server
	clock  *clock
	client *alipay.Client
}

// setup starts a simulator with one registered app (testAppID, appKey) on a
// controllable clock; opts adjust the configuration.
func setup(t *testing.T, opts ...func(*alipaysim.Config)) *env {
	t.Helper()
	clk := newClock()
	cfg := alipaysim.Config{
		AlipayKey:     alipayKey(),
		Apps:          []alipaysim.App{{AppID: testAppID, PublicKey: &appKey().PublicKey}},
		Now:           clk.Now,
		SweepInterval: 10 * time.Millisecond,
		Seed:          1,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return start(t, cfg, clk)
}

// start serves cfg; the clock must be cfg.Now's.
func start(t *testing.T, cfg alipaysim.Config, clk *clock) *env {
	t.Helper()
	sim, err := alipaysim.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		srv.Close()
		if err := sim.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	e := &env{t: t, cfg: cfg, sim: sim, srv: srv, clock: clk}
	e.client = e.newClient(testAppID, appKey(), nil)
	return e
}

// newClient is an alipay.Client of appID against this simulator.
func (e *env) newClient(appID string, key *rsa.PrivateKey, cert *alipay.CertMode) *alipay.Client {
	e.t.Helper()
	c, err := alipay.New(alipay.Config{
		AppID: appID, GatewayURL: e.srv.URL + "/gateway.do", PrivateKey: key,
		AlipayPublicKey: &alipayKey().PublicKey, Cert: cert, Now: e.cfg.Now,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func ctx(t *testing.T) context.Context { return t.Context() }

func yuan(s string) paygate.Money {
	m, err := paygate.ParseYuan(s)
	if err != nil {
		panic(err)
	}
	return m
}

// precreate makes a QR code for out with amount and fails the test otherwise.
func (e *env) precreate(out, amount string, notifyURL string) string {
	e.t.Helper()
	resp, err := e.client.Precreate(ctx(e.t), alipay.PrecreateRequest{OutTradeNo: out, TotalAmount: yuan(amount), Subject: "coffee", NotifyURL: notifyURL})
	if err != nil {
		e.t.Fatalf("precreate %s: %v", out, err)
	}
	return resp.QRCode
}

// paidTrade makes a trade paid at once by barcode.
func (e *env) paidTrade(out, amount, notifyURL string) *alipay.PayResponse {
	e.t.Helper()
	resp, err := e.client.Pay(ctx(e.t), alipay.PayRequest{OutTradeNo: out, AuthCode: "280000000000000001", Subject: "coffee", TotalAmount: yuan(amount), NotifyURL: notifyURL})
	if err != nil || resp.Outcome() != alipay.OutcomeSuccess {
		e.t.Fatalf("pay %s: %v (%+v)", out, err, resp)
	}
	return resp
}

// query fetches a trade's state; the error is returned, not fatal.
func (e *env) query(out string) (*alipay.QueryResponse, error) {
	return e.client.Query(ctx(e.t), alipay.TradeRef{OutTradeNo: out})
}

// mustStatus asserts the trade's status at Alipay.
func (e *env) mustStatus(out, want string) *alipay.QueryResponse {
	e.t.Helper()
	q, err := e.query(out)
	if err != nil {
		e.t.Fatalf("query %s: %v", out, err)
	}
	if q.TradeStatus != want {
		e.t.Fatalf("trade %s status %s, want %s", out, q.TradeStatus, want)
	}
	return q
}

// view returns the simulator's record of out.
func (e *env) view(out string) alipaysim.TradeView {
	e.t.Helper()
	for _, v := range e.sim.Trades() {
		if v.OutTradeNo == out {
			return v
		}
	}
	e.t.Fatalf("no trade %s in the simulator", out)
	return alipaysim.TradeView{}
}

// wantSub asserts an *alipay.Error with outcome and sub_code.
func wantSub(t *testing.T, err error, outcome alipay.Outcome, subCode string) *alipay.Error {
	t.Helper()
	ae, ok := err.(*alipay.Error)
	if !ok {
		t.Fatalf("err = %v (%T), want *alipay.Error %s %s", err, err, outcome, subCode)
	}
	if ae.Outcome != outcome || ae.SubCode != subCode {
		t.Fatalf("err = %v, want outcome %s sub_code %s", err, outcome, subCode)
	}
	return ae
}

// params builds a signed request as the official SDKs do. mutate runs
// before signing; the result is signed unless mutate removed app_id.
func (e *env) params(method, biz string, mutate func(url.Values)) url.Values {
	e.t.Helper()
	p := url.Values{
		"app_id": {testAppID}, "method": {method}, "format": {"JSON"}, "charset": {"utf-8"},
		"sign_type": {"RSA2"}, "timestamp": {alipay.FormatTime(e.cfg.Now())}, "version": {"1.0"},
	}
	if biz != "" {
		p.Set("biz_content", biz)
	}
	if mutate != nil {
		mutate(p)
	}
	sign, err := alipay.Sign(appKey(), []byte(alipay.SignContent(p, "sign")))
	if err != nil {
		e.t.Fatal(err)
	}
	if !p.Has("sign") {
		p.Set("sign", sign)
	}
	return p
}

// raw posts a form body (and an optional query) to gateway.do.
func (e *env) raw(query string, body string) (*http.Response, []byte) {
	e.t.Helper()
	u := e.srv.URL + "/gateway.do"
	if query != "" {
		u += "?" + query
	}
	resp, err := http.Post(u, "application/x-www-form-urlencoded;charset=utf-8", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

// node is a decoded response: which key, its fields, and whether signed.
type node struct {
	Key    string
	Fields map[string]string
	Raw    json.RawMessage
	Sign   string
	CertSN string
}

// decode splits a response body and verifies its signature when present.
func decode(t *testing.T, body []byte, method string) node {
	t.Helper()
	raw, err := alipay.ExtractResponse(body, method)
	if err != nil {
		t.Fatalf("extract %s: %v\n%s", method, err, body)
	}
	n := node{Key: raw.Key, Raw: raw.Node, Sign: raw.Sign, CertSN: raw.AlipayCertSN, Fields: map[string]string{}}
	var m map[string]any
	if err := json.Unmarshal(raw.Node, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range m {
		if s, ok := v.(string); ok {
			n.Fields[k] = s
		} else {
			b, _ := json.Marshal(v)
			n.Fields[k] = string(b)
		}
	}
	if n.Sign != "" {
		if err := alipay.Verify(&alipayKey().PublicKey, raw.Node, raw.Sign); err != nil {
			t.Fatalf("response signature does not verify: %s", body)
		}
	}
	return n
}

// wantNode asserts code and sub_code.
func (n node) want(t *testing.T, code, subCode string) {
	t.Helper()
	if n.Fields["code"] != code || n.Fields["sub_code"] != subCode {
		t.Fatalf("code=%s sub_code=%s sub_msg=%s, want %s %s", n.Fields["code"], n.Fields["sub_code"], n.Fields["sub_msg"], code, subCode)
	}
}

// receiver is a notify_url that records deliveries and answers with reply.
type receiver struct {
	mu    sync.Mutex
	forms []url.Values
	reply func(n int) (int, string) // n counts deliveries from 1
	srv   *httptest.Server
	got   chan url.Values
}

func newReceiver(t *testing.T, reply func(n int) (int, string)) *receiver {
	t.Helper()
	r := &receiver{reply: reply, got: make(chan url.Values, 100)}
	if r.reply == nil {
		r.reply = func(int) (int, string) { return 200, "success" }
	}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if ct := req.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			t.Errorf("notification Content-Type %q", ct)
		}
		body, _ := io.ReadAll(req.Body)
		form, err := url.ParseQuery(string(body))
		if err != nil {
			t.Errorf("notification body: %v", err)
		}
		r.mu.Lock()
		r.forms = append(r.forms, form)
		n := len(r.forms)
		r.mu.Unlock()
		status, text := r.reply(n)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, text)
		r.got <- form
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url() string { return r.srv.URL + "/notify" }

// next waits for the next delivery.
func (r *receiver) next(t *testing.T) url.Values {
	t.Helper()
	select {
	case f := <-r.got:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no notification within 5 s")
		return nil
	}
}

// none asserts that nothing arrives for d.
func (r *receiver) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case f := <-r.got:
		t.Fatalf("unexpected notification: %v", f)
	case <-time.After(d):
	}
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// simJSON calls a /sim route and decodes the JSON answer into out.
func (e *env) simJSON(method, path string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func bizJSON(kv ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// atomicBool is a flag shared with a receiver's goroutines.
type atomicBool struct {
	mu sync.Mutex
	v  bool
}

func (b *atomicBool) get() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.v
}

func (b *atomicBool) set(v bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.v = v
}
