package main

// The end-to-end harness: one gateway node wired by newApp exactly as
// `paygate serve` and `paygate demo` wire it, on a real listener, with the
// Alipay simulator mounted beside the API as the demo mounts it, a real
// store (SQLite or PostgreSQL) and two merchants. Tests talk to it only
// over HTTP: the merchant client for /api/v1, plain HTTP for /sim and
// /notify/alipay; the store and the simulator are read only to check.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/httpapi"
	"github.com/paygate/paygate/postgres/pgtest"
	"github.com/paygate/paygate/testenv"
	"github.com/paygate/paygate/wechatpay"
	"github.com/paygate/paygate/wechatpaysim"
)

// The e2e app id registered with the simulator.
const e2eAppID = "2021000000000042"

// e2eKeys are the app's and the simulator's RSA keys, made once per test
// binary (RSA-2048 generation is slow under -race).
var e2eKeys = sync.OnceValues(func() (*rsa.PrivateKey, *rsa.PrivateKey) {
	app, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ali, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return app, ali
})

// The e2e WeChat Pay merchant registered with its simulator (e2eWechat).
const (
	e2eMchID   = "1900000042"
	e2eWxAppID = "wx0a1b2c3d4e5f6042"
)

// e2eWechatKeys are the WeChat Pay merchant's API key and the simulator's
// WeChat Pay key, made once per test binary.
var e2eWechatKeys = sync.OnceValues(func() (*rsa.PrivateKey, *rsa.PrivateKey) {
	merchant, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	wx, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return merchant, wx
})

// e2eWechat turns WeChat Pay on: the node gets a wechat: section for a
// merchant of the WeChat Pay simulator, which is mounted beside Alipay's
// (/v3/, /sim/wechat/, weixin:// codes on POST /sim/pay and the phone
// page) as the demo mounts it. Options after it may change the section.
func e2eWechat(cfg *config, _ *alipaysim.Config) { cfg.Wechat.MchID = e2eMchID }

// e2eLog is a log sink safe for concurrent writes, shown when a test fails.
type e2eLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *e2eLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *e2eLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// e2eEnv is one running gateway node and what the tests need around it.
type e2eEnv struct {
	kind   string // "sqlite" or "postgres"
	base   string // http://127.0.0.1:PORT: the API, /notify/alipay and the simulator's routes
	app    *app
	sim    *alipaysim.Server
	wx     *wechatpaysim.Server // nil unless e2eWechat
	cfg    config
	a, b   *client.Client // merchant A and merchant B
	credsA merchantCredentials
	credsB merchantCredentials
	idA    int64
	idB    int64
	log    *e2eLog
	http   *http.Client // every request of the test goes through it
	// stop starts the node's drain and shutdown (as SIGTERM does); served
	// is closed once serve has returned.
	stop   context.CancelFunc
	served <-chan struct{}
}

// e2eOption adjusts the node's config or the simulator's before start.
type e2eOption func(cfg *config, sim *alipaysim.Config)

// e2eStores runs fn as subtests "sqlite" and "postgres", in parallel. The
// PostgreSQL run is skipped without PAYGATE_TEST_POSTGRES_URL, and fails
// instead in CI (CI=true), where a skip would hide that nothing ran.
func e2eStores(t *testing.T, fn func(t *testing.T, kind string)) {
	t.Helper()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			if kind == "postgres" {
				testenv.Postgres(t)
			}
			fn(t, kind)
		})
	}
}

// e2e starts a node on store kind ("sqlite" or "postgres") with two
// merchants; it stops when t ends.
func e2e(t *testing.T, kind string, opts ...e2eOption) *e2eEnv {
	t.Helper()
	appKey, simKey := e2eKeys()
	dir := t.TempDir()
	e := &e2eEnv{kind: kind, log: &e2eLog{}}
	e.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: time.Minute}

	var dbURL, schema string
	switch kind {
	case "sqlite":
		dbURL = "sqlite:" + filepath.Join(dir, "paygate.db")
	case "postgres":
		var base string
		base, schema = pgtest.Schema(t) // dropped after the node has stopped (cleanups run last first)
		u, err := url.Parse(base)
		if err != nil {
			t.Fatalf("PAYGATE_TEST_POSTGRES_URL: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema) // pgx sends unknown URL parameters as run-time parameters
		u.RawQuery = q.Encode()
		dbURL = u.String()
	default:
		t.Fatalf("unknown store kind %q", kind)
	}

	appKeyFile := filepath.Join(dir, "app_private_key.pem")
	alipayPubFile := filepath.Join(dir, "alipay_public_key.pem")
	e2eWritePEM(t, appKeyFile, "PRIVATE KEY", e2eMust(x509.MarshalPKCS8PrivateKey(appKey)), 0o600)
	e2eWritePEM(t, alipayPubFile, "PUBLIC KEY", e2eMust(x509.MarshalPKIXPublicKey(&simKey.PublicKey)), 0o644)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + ln.Addr().String()

	master := make([]byte, 32)
	rand.Read(master)
	cfg := defaultConfig()
	cfg.Server.PublicURL = e.base
	cfg.Server.DrainDelay = 0
	cfg.Server.ShutdownTimeout = 10 * time.Second
	cfg.Database.URL = dbURL
	cfg.Secrets.MasterKey = hex.EncodeToString(master)
	cfg.Alipay.AppID = e2eAppID
	cfg.Alipay.GatewayURL = e.base + "/gateway.do"
	cfg.Alipay.PrivateKeyFile = appKeyFile
	cfg.Alipay.AlipayPublicKeyFile = alipayPubFile
	cfg.Alipay.SellerID = alipaysim.DefaultSellerID(e2eAppID) // as serve requires: every notification is checked
	cfg.Alipay.CallTimeout = 5 * time.Second
	cfg.Barcode.PollInterval = 100 * time.Millisecond
	cfg.Barcode.PollTimeout = 1500 * time.Millisecond
	cfg.Log.Level = "info"
	// Tests check each rejection by listing everything before and after,
	// which goes far past the default rate; TestE2ERateLimitAndDrain sets
	// a low one to test the limiter.
	cfg.RateLimit.PerSecond, cfg.RateLimit.Burst = 10000, 10000
	// One node, its nonces in memory, on PostgreSQL too.
	cfg.Server.SingleNode = true

	simCfg := alipaysim.Config{
		AlipayKey: simKey, PublicURL: e.base, PayDelay: 300 * time.Millisecond, SweepInterval: 50 * time.Millisecond,
		Apps: []alipaysim.App{{AppID: e2eAppID, PublicKey: &appKey.PublicKey}},
	}
	for _, o := range opts {
		o(&cfg, &simCfg)
	}

	logger, err := newLogger(e.log, cfg.Log.Level)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Wechat.MchID != "" {
		e.wx = e2eWechatSim(t, dir, &cfg, logger)
		t.Cleanup(func() { e.wx.Close() }) // after the node has stopped (cleanups run last first)
		simCfg.Wallets = []alipaysim.Wallet{wechatWallet(e.wx)}
	}
	e.cfg = cfg
	simCfg.Logger = logger.With("component", "alipaysim")
	e.sim, err = alipaysim.New(simCfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	mounts := []httpapi.Mount{{Path: "/gateway.do", Handler: e.sim}, {Path: "/sim/", Handler: e.sim}}
	if e.wx != nil {
		mounts = []httpapi.Mount{{Path: "/gateway.do", Handler: e.sim}, {Path: "/sim/", Handler: simHandler(e.sim, e.wx)}, {Path: "/v3/", Handler: e.wx}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.app, err = newApp(ctx, cfg, logger, mounts)
	if err != nil {
		cancel()
		ln.Close()
		e.sim.Close()
		t.Fatalf("newApp: %v", err)
	}
	served := make(chan struct{}) // closed when serve returned, with serveErr
	var serveErr error
	tl := &e2eListener{Listener: ln, conns: map[*e2eConn]struct{}{}}
	go func() { serveErr = e.app.serve(ctx, tl); close(served) }()
	e.stop, e.served = cancel, served
	t.Cleanup(func() {
		e.sim.Close()
		cancel()
		// http.Server.Shutdown waits up to 5 s for a connection that was
		// dialled but never used. Concurrent calls leave such spares behind:
		// in the clients' idle pools (the test's own, and the default
		// transport the gateway's Alipay client calls the mounted simulator
		// through), and, now and then, held by the default transport outside
		// its pool where CloseIdleConnections does not reach them. Close
		// both kinds until the node has stopped, as httptest.Server.Close
		// does.
		closeIdle := func() {
			e.http.CloseIdleConnections()
			http.DefaultTransport.(*http.Transport).CloseIdleConnections()
			tl.closeUnused()
		}
		closeIdle()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(30 * time.Second)
	wait:
		for {
			select {
			case <-served:
				if serveErr != nil {
					t.Errorf("serve: %v", serveErr)
				}
				break wait
			case <-tick.C:
				closeIdle()
			case <-deadline:
				t.Errorf("serve did not return 30 s after its context ended")
				break wait
			}
		}
		e.app.close()
		if t.Failed() {
			logs := e.log.String()
			if len(logs) > 16<<10 {
				logs = "…" + logs[len(logs)-16<<10:]
			}
			t.Logf("node log (%s):\n%s", kind, logs)
		}
	})

	if kind == "postgres" {
		e.checkSchema(t, schema)
	}
	e.credsA = e.merchant(t, "shop A")
	e.credsB = e.merchant(t, "shop B")
	e.a = e.client(e.credsA.AccessKey, e.credsA.SecretKey)
	e.b = e.client(e.credsB.AccessKey, e.credsB.SecretKey)
	e.idA = e.merchantID(t, e.credsA.AccessKey)
	e.idB = e.merchantID(t, e.credsB.AccessKey)
	return e
}

// e2eWechatSim writes the WeChat Pay merchant's files under dir, fills
// the wechat: section's keys that cfg leaves empty (public-key mode, the
// simulator on the node's own address) and starts the simulator with the
// merchant registered: quick payments, refunds and sweeps, as alipaysim's
// in e2e.
func e2eWechatSim(t *testing.T, dir string, cfg *config, logger *slog.Logger) *wechatpaysim.Server {
	t.Helper()
	merchantKey, wxKey := e2eWechatKeys()
	keyFile, pubFile, apiv3File := filepath.Join(dir, "apiclient_key.pem"), filepath.Join(dir, "wechatpay_public_key.pem"), filepath.Join(dir, "apiv3_key.txt")
	e2eWritePEM(t, keyFile, "PRIVATE KEY", e2eMust(x509.MarshalPKCS8PrivateKey(merchantKey)), 0o600)
	e2eWritePEM(t, pubFile, "PUBLIC KEY", e2eMust(x509.MarshalPKIXPublicKey(&wxKey.PublicKey)), 0o644)
	apiv3Text := (rand.Text() + rand.Text())[:wechatpay.APIv3KeySize] // rand.Text is 26 characters
	if err := os.WriteFile(apiv3File, []byte(apiv3Text+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	apiv3, err := wechatpay.ParseAPIv3Key([]byte(apiv3Text))
	if err != nil {
		t.Fatal(err)
	}
	keyID := e2eMust(derivedPubKeyID(&wxKey.PublicKey))
	serial := e2eMust(certSerial(&merchantKey.PublicKey))
	w := &cfg.Wechat
	for _, f := range []struct {
		v   *string
		def string
	}{
		{&w.AppID, e2eWxAppID}, {&w.SerialNo, serial}, {&w.PrivateKeyFile, keyFile}, {&w.APIv3KeyFile, apiv3File},
		{&w.PublicKeyFile, pubFile}, {&w.PublicKeyID, keyID},
	} {
		if *f.v == "" {
			*f.v = f.def
		}
	}
	if w.BaseURL == defaultConfig().Wechat.BaseURL {
		w.BaseURL = cfg.Server.PublicURL
	}
	wx, err := wechatpaysim.New(wechatpaysim.Config{
		WechatPayKey: wxKey, WechatPayID: keyID, PublicURL: cfg.Server.PublicURL, Logger: logger.With("component", "wechatpaysim"),
		PayDelay: 300 * time.Millisecond, RefundDelay: 200 * time.Millisecond, SweepInterval: 50 * time.Millisecond,
		Merchants: []wechatpaysim.Merchant{{MchID: e2eMchID, AppID: e2eWxAppID, SerialNo: serial, PublicKey: &merchantKey.PublicKey, APIv3Key: apiv3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return wx
}

// client is a merchant client on the test's own connections.
func (e *e2eEnv) client(accessKey, secretKey string, opts ...client.Option) *client.Client {
	return client.New(e.base, accessKey, secretKey, append([]client.Option{client.WithHTTPClient(e.http)}, opts...)...)
}

// checkSchema verifies that search_path in the URL put the tables in the
// test's own schema.
func (e *e2eEnv) checkSchema(t *testing.T, schema string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv("PAYGATE_TEST_POSTGRES_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name IN ('merchants', 'orders', 'refunds')`, schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("schema %s holds %d of the tables merchants, orders, refunds: search_path in the URL was not honoured", schema, n)
	}
}

func (e *e2eEnv) merchant(t *testing.T, name string) merchantCredentials {
	t.Helper()
	creds, err := createMerchant(context.Background(), e.app.store, name, "")
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

func (e *e2eEnv) merchantID(t *testing.T, accessKey string) int64 {
	t.Helper()
	m, err := e.app.store.MerchantByAccessKey(context.Background(), accessKey)
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

func e2eMust[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func e2eWritePEM(t *testing.T, path, typ string, der []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		t.Fatal(err)
	}
}

// e2eResult is one API answer as sent.
type e2eResult struct {
	status int
	body   []byte
	header http.Header
	code   string // the error code of a non-2xx answer
}

// call sends one signed request through c.Do and returns the answer,
// whatever its status.
func e2eCall(t *testing.T, c *client.Client, method, path string, query url.Values, body any, opts ...client.CallOption) e2eResult {
	t.Helper()
	resp, err := c.Do(context.Background(), method, path, query, body, nil, opts...)
	if resp == nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	raw, rerr := io.ReadAll(resp.Body)
	if rerr != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, rerr)
	}
	r := e2eResult{status: resp.StatusCode, body: raw, header: resp.Header}
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		r.code = apiErr.Code
	} else if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// wantStatus fails unless r has status and, for errors, code; an error
// answer must be the contract's JSON error with a message.
func (r e2eResult) want(t *testing.T, what string, status int, code string) {
	t.Helper()
	if r.status != status || r.code != code {
		t.Fatalf("%s: got %d %q (%s), want %d %q", what, r.status, r.code, r.body, status, code)
	}
	if status >= 400 {
		var env struct {
			Error struct {
				Code, Message string
				RequestID     string `json:"request_id"`
			} `json:"error"`
		}
		if err := json.Unmarshal(r.body, &env); err != nil || env.Error.Code != code || env.Error.Message == "" || env.Error.RequestID == "" {
			t.Fatalf("%s: error body %s is not {\"error\":{\"code\":%q,\"message\":...,\"request_id\":...}}", what, r.body, code)
		}
		if status == http.StatusNotFound && strings.Contains(env.Error.Message, "merchant") {
			t.Fatalf("%s: a 404 names internal ids: %s", what, r.body)
		}
	}
}

func (r e2eResult) order(t *testing.T) client.Order {
	t.Helper()
	var o client.Order
	if err := json.Unmarshal(r.body, &o); err != nil {
		t.Fatalf("order %s: %v", r.body, err)
	}
	return o
}

// qrOrder is a QR create request with defaults.
func e2eQR(outTradeNo, amount string) client.CreateOrderRequest {
	return client.CreateOrderRequest{OutTradeNo: outTradeNo, Subject: "coffee", TotalAmount: amount, Mode: "qr"}
}

// create creates an order and fails unless the answer is wantStatus.
func e2eCreate(t *testing.T, c *client.Client, req client.CreateOrderRequest, wantStatus int) client.Order {
	t.Helper()
	r := e2eCall(t, c, http.MethodPost, "/api/v1/orders", nil, req)
	r.want(t, "create "+req.OutTradeNo, wantStatus, "")
	return r.order(t)
}

func e2eGet(t *testing.T, c *client.Client, outTradeNo string) client.Order {
	t.Helper()
	o, err := c.GetOrder(context.Background(), outTradeNo, false)
	if err != nil {
		t.Fatalf("get %s: %v", outTradeNo, err)
	}
	return *o
}

// waitStatus polls the order until it has status (up to 10 s).
func e2eWaitStatus(t *testing.T, c *client.Client, outTradeNo, status string) client.Order {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		o := e2eGet(t, c, outTradeNo)
		if o.Status == status {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s is %s after 10 s, want %s", outTradeNo, o.Status, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventually waits up to 10 s for cond.
func e2eEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// simPost posts JSON to one of the simulator's /sim routes over HTTP.
func (e *e2eEnv) simPost(t *testing.T, path string, v any) (int, []byte) {
	t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.http.Post(e.base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// e2eBuyer is a simulator buyer: 16 digits starting 2088.
const e2eBuyer = "2088000000000042"

// pay is a buyer scanning code and paying, through POST /sim/pay.
func (e *e2eEnv) pay(t *testing.T, qrCode string) {
	t.Helper()
	if status, body := e.simPost(t, "/sim/pay", map[string]string{"qr_code": qrCode, "buyer_id": e2eBuyer}); status != http.StatusOK {
		t.Fatalf("POST /sim/pay: %d %s", status, body)
	}
}

// setFaults sets the simulator's faults through POST /sim/faults.
func (e *e2eEnv) setFaults(t *testing.T, f alipaysim.Faults) {
	t.Helper()
	if status, body := e.simPost(t, "/sim/faults", f); status != http.StatusOK {
		t.Fatalf("POST /sim/faults: %d %s", status, body)
	}
}

// stored is the order as the store holds it (for its channel number).
func (e *e2eEnv) stored(t *testing.T, merchantID int64, outTradeNo string) *paygate.Order {
	t.Helper()
	o, err := e.app.store.OrderByOutTradeNo(context.Background(), merchantID, outTradeNo)
	if err != nil {
		t.Fatalf("store: order %s: %v", outTradeNo, err)
	}
	return o
}

// trade is the simulator's truth for merchant A's order outTradeNo.
func (e *e2eEnv) trade(t *testing.T, outTradeNo string) alipaysim.TradeView {
	t.Helper()
	return e.tradeOf(t, e.idA, outTradeNo)
}

func (e *e2eEnv) tradeOf(t *testing.T, merchantID int64, outTradeNo string) alipaysim.TradeView {
	t.Helper()
	channelNo := e.stored(t, merchantID, outTradeNo).ChannelNo
	for _, tr := range e.sim.Trades() {
		if tr.OutTradeNo == channelNo {
			return tr
		}
	}
	t.Fatalf("the simulator holds no trade for %s (channel no %s)", outTradeNo, channelNo)
	return alipaysim.TradeView{}
}

// snapshot is everything a rejected request must leave unchanged: both
// merchants' orders as the API lists them and every trade the simulator
// holds.
func (e *e2eEnv) snapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, c := range []*client.Client{e.a, e.b} {
		l, err := c.ListOrders(context.Background(), client.ListOrdersParams{Limit: 100})
		if err != nil {
			t.Fatalf("list orders: %v", err)
		}
		for _, o := range l.Orders {
			refunds, err := c.ListRefunds(context.Background(), o.OutTradeNo)
			if err != nil {
				t.Fatalf("list refunds: %v", err)
			}
			fmt.Fprintf(&b, "order %+v refunds %d\n", o, len(refunds))
		}
	}
	trades, err := json.Marshal(e.sim.Trades())
	if err != nil {
		t.Fatal(err)
	}
	b.Write(trades)
	return b.String()
}

// rawRequest sends a request signed by hand, so a test controls every byte.
func (e *e2eEnv) rawRequest(t *testing.T, method, path string, body io.Reader, sign func(h http.Header)) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	sign(req.Header)
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// e2eListener remembers the connections it accepted, so that the test can
// close the ones on which no request ever came (see the cleanup in e2e).
type e2eListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[*e2eConn]struct{}
}

func (l *e2eListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	ec := &e2eConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[ec] = struct{}{}
	l.mu.Unlock()
	return ec, nil
}

// closeUnused closes every open connection that has not read a byte.
func (l *e2eListener) closeUnused() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		if !c.used.Load() {
			c.Conn.Close()
		}
	}
}

type e2eConn struct {
	net.Conn
	l    *e2eListener
	used atomic.Bool
}

func (c *e2eConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.used.Store(true)
	}
	return n, err
}

func (c *e2eConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
