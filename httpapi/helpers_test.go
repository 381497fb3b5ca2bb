package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/httpapi"
	"github.com/paygate/paygate/sqlite"
)

// t0 is the tests' clock start; the server, the store and the client share it.
var t0 = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

// clock is a settable clock shared by everything in one test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// logBuffer collects the server's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Lines decodes every log line.
func (l *logBuffer) Lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

const (
	accessKey = "ak_test"
	secretKey = "sk_test_0123456789abcdef"
)

// fixture is one server over a real SQLite store, with a fake order service.
type fixture struct {
	url      string
	api      *httpapi.Server
	store    *sqlite.Store
	orders   *fakeOrders
	merchant *paygate.Merchant
	client   *client.Client
	clock    *clock
	logs     *logBuffer
}

// setup starts a server; edit adjusts its configuration before New.
func setup(t *testing.T, edit ...func(*httpapi.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	key := make([]byte, paygate.MasterKeySize)
	rand.Read(key)
	sealer, err := paygate.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: t0}
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "paygate.db"), sealer,
		sqlite.WithMigrate(), sqlite.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	m := &paygate.Merchant{Name: "Test Shop", AccessKey: accessKey, SecretKey: secretKey, WebhookSecret: "whsec_test"}
	if err := store.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: store, orders: newFakeOrders(clk.Now), merchant: m, clock: clk, logs: &logBuffer{}}
	cfg := httpapi.Config{
		Orders:      f.orders,
		Merchants:   store,
		Idempotency: store,
		Nonces:      httpapi.NewMemoryNonces(clk.Now),
		Logger:      slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:         clk.Now,
		Ready:       store.Ping,
		PublicURL:   "https://pay.example.com",
	}
	for _, e := range edit {
		e(&cfg)
	}
	f.api = httpapi.New(cfg)
	srv := httptest.NewServer(f.api.Handler())
	t.Cleanup(srv.Close)
	f.url = srv.URL
	f.client = client.New(srv.URL, accessKey, secretKey, client.WithClock(clk.Now))
	return f
}

// req is a hand-built request, for the cases the client will not produce.
// Zero fields take a correct value; sign* fields, when set, are what the
// signature covers instead of the request's own.
type req struct {
	method    string
	path      string
	query     url.Values
	body      []byte
	accessKey string
	secret    string
	timestamp string
	nonce     string
	signBody  []byte
	signPath  string
	signQuery url.Values
	header    func(http.Header) // applied last
}

func randomNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// send sends r signed (or mis-signed as r says) and returns the status,
// headers and body.
func (f *fixture) send(t *testing.T, r req) (int, http.Header, []byte) {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	if r.accessKey == "" {
		r.accessKey = accessKey
	}
	if r.secret == "" {
		r.secret = secretKey
	}
	if r.timestamp == "" {
		r.timestamp = strconv.FormatInt(f.clock.Now().UnixMilli(), 10)
	}
	if r.nonce == "" {
		r.nonce = randomNonce()
	}
	signBody, signPath, signQuery := r.body, r.path, r.query
	if r.signBody != nil {
		signBody = r.signBody
	}
	if r.signPath != "" {
		signPath = r.signPath
	}
	if r.signQuery != nil {
		signQuery = r.signQuery
	}
	u := f.url + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	hr, err := http.NewRequest(r.method, u, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("X-Access-Key", r.accessKey)
	hr.Header.Set("X-Timestamp", r.timestamp)
	hr.Header.Set("X-Nonce", r.nonce)
	hr.Header.Set("X-Signature", client.Sign(r.secret, r.method, signPath, signQuery, r.accessKey, r.timestamp, r.nonce, signBody))
	if r.header != nil {
		r.header(hr.Header)
	}
	return do(t, hr)
}

func do(t *testing.T, hr *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

type apiError struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

// wantError checks an error answer's status, code and (when msg is not
// empty) that its message contains msg.
func wantError(t *testing.T, status int, hdr http.Header, body []byte, wantStatus int, code, msg string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status = %d, want %d; body %s", status, wantStatus, body)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want JSON", ct)
	}
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("body is not a JSON error: %s", body)
	}
	if e.Error.Code != code {
		t.Errorf("code = %q, want %q (message %q)", e.Error.Code, code, e.Error.Message)
	}
	if !strings.Contains(e.Error.Message, msg) {
		t.Errorf("message = %q, want it to mention %q", e.Error.Message, msg)
	}
	if e.Error.RequestID == "" || e.Error.RequestID != hdr.Get("X-Request-Id") {
		t.Errorf("request_id = %q, want the answer's X-Request-Id %q", e.Error.RequestID, hdr.Get("X-Request-Id"))
	}
}

// wantAPIError checks an error returned by the client.
func wantAPIError(t *testing.T, err error, status int, code string) *client.APIError {
	t.Helper()
	e, ok := err.(*client.APIError)
	if !ok {
		t.Fatalf("err = %v (%T), want *client.APIError", err, err)
	}
	if e.StatusCode != status || e.Code != code {
		t.Fatalf("got %d %s (%q), want %d %s", e.StatusCode, e.Code, e.Message, status, code)
	}
	return e
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
