package main

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/postgres/pgtest"
)

// runningServe is `paygate serve` running in-process.
type runningServe struct {
	base   string
	stderr *syncBuffer
	stop   func() error
}

var serveListenLine = regexp.MustCompile(`paygate listening on (http://127\.0\.0\.1:\d+)\n`)

// startServe runs `serve --config path` until stop (or t's end).
func startServe(t *testing.T, path string) *runningServe {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", path}, stdout, stderr) }()
	deadline := time.Now().Add(30 * time.Second)
	var m []string
	for m = serveListenLine.FindStringSubmatch(stdout.String()); m == nil; m = serveListenLine.FindStringSubmatch(stdout.String()) {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve exited: %v\nstderr: %s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not listen\nstdout: %s\nstderr: %s", stdout, stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	r := &runningServe{base: m[1], stderr: stderr}
	var once sync.Once
	var stopErr error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(30 * time.Second):
				stopErr = fmt.Errorf("serve did not stop within 30 s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("serve's log:\n%s", stderr)
		}
	})
	return r
}

// httpGet answers GET u: status, headers, body.
func httpGet(t *testing.T, u string) (int, http.Header, string) {
	t.Helper()
	// A new connection each time: the interim server that answers while
	// serve waits closes its connections when the node takes over.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// waitFor polls cond for up to 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// serveKeys writes the e2e app key and the simulator's public key; it
// returns their files.
func serveKeys(t *testing.T, dir string) (appKeyFile, alipayPubFile string) {
	t.Helper()
	appKey, simKey := e2eKeys()
	appKeyFile = filepath.Join(dir, "app_private_key.pem")
	alipayPubFile = filepath.Join(dir, "alipay_public_key.pem")
	e2eWritePEM(t, appKeyFile, "PRIVATE KEY", e2eMust(x509.MarshalPKCS8PrivateKey(appKey)), 0o600)
	e2eWritePEM(t, alipayPubFile, "PUBLIC KEY", e2eMust(x509.MarshalPKIXPublicKey(&simKey.PublicKey)), 0o644)
	return appKeyFile, alipayPubFile
}

// freePort is a loopback port nothing listens on (just now).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestServeWaitsForDatabase: serve started before its database is
// reachable listens, alive but unready, answers the API 503
// DATABASE_UNAVAILABLE with Retry-After, says so in its log, and starts once
// the database answers; a database lost later is 503 DATABASE_UNAVAILABLE
// again, not 500. The database comes and goes through a loopback proxy.
func TestServeWaitsForDatabase(t *testing.T) {
	t.Parallel()
	dbURL, _ := postgresSchemaURL(t)
	proxy := pgtest.NewProxy(t)
	dir := t.TempDir()
	appKeyFile, alipayPubFile := serveKeys(t, dir)
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`server:
  addr: 127.0.0.1:%d
  public_url: http://127.0.0.1:%d
  drain_delay: 0s
  single_node: true
database:
  url: %q
secrets:
  master_key: %s
alipay:
  app_id: %q
  gateway_url: http://127.0.0.1:%d/gateway.do
  private_key_file: %q
  alipay_public_key_file: %q
  seller_id: %q
log:
  level: debug
`, port, port, proxy.URL(dbURL), newMasterKeyHex(t), e2eAppID, port, appKeyFile, alipayPubFile, alipaysim.DefaultSellerID(e2eAppID)))
	s := startServe(t, cfg)
	waitFor(t, "the log to say it waits for the database", func() bool {
		return strings.Contains(s.stderr.String(), "waiting for the database")
	})
	if status, _, body := httpGet(t, s.base+"/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, "waiting for the database") {
		t.Fatalf("/readyz while waiting: %d %s", status, body)
	}
	if status, _, body := httpGet(t, s.base+"/healthz"); status != http.StatusOK {
		t.Fatalf("/healthz while waiting: %d %s", status, body)
	}
	c := client.New(s.base, "ak_nobody", "sk_nobody")
	wantUnavailable := func(when string) {
		t.Helper()
		_, err := c.GetOrder(context.Background(), "T1", false)
		e, ok := err.(*client.APIError)
		if !ok || e.StatusCode != http.StatusServiceUnavailable || e.Code != paygate.EDatabaseDown || e.RetryAfter <= 0 || e.RequestID == "" {
			t.Fatalf("API %s: %#v; want 503 %s with Retry-After and a request id", when, err, paygate.EDatabaseDown)
		}
	}
	wantUnavailable("while waiting")

	proxy.Start()
	waitFor(t, "/readyz 200 once the database answers", func() bool { return readyStatus(s.base) == http.StatusOK })
	if !strings.Contains(s.stderr.String(), "the database answers") {
		t.Errorf("the log does not say the database answered:\n%s", s.stderr)
	}

	proxy.Stop()
	waitFor(t, "/readyz 503 with the database gone", func() bool { return readyStatus(s.base) == http.StatusServiceUnavailable })
	wantUnavailable("with the database gone")
	proxy.Start() // so serve's shutdown finds it
}

// TestServeSellerCheck: `paygate serve` with alipay.seller_id configured, in
// front of `paygate sim`, refuses a notification signed with Alipay's key
// but naming another seller, and changes nothing; the buyer's real payment,
// whose notification names the right seller, is applied.
func TestServeSellerCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	appKeyFile, alipayPubFile := serveKeys(t, dir)
	appKey, simKey := e2eKeys()
	appPubFile := filepath.Join(dir, "app_public_key.pem")
	simKeyPath := filepath.Join(dir, "sim_private_key.pem")
	e2eWritePEM(t, appPubFile, "PUBLIC KEY", e2eMust(x509.MarshalPKIXPublicKey(&appKey.PublicKey)), 0o644)
	e2eWritePEM(t, simKeyPath, "PRIVATE KEY", e2eMust(x509.MarshalPKCS8PrivateKey(simKey)), 0o600)
	sim := startSim(t, "--app-id", e2eAppID, "--app-public-key", appPubFile, "--alipay-private-key", simKeyPath, "--pay-delay", "100ms")

	port := freePort(t)
	seller := alipaysim.DefaultSellerID(e2eAppID)
	cfg := writeConfig(t, fmt.Sprintf(`server:
  addr: 127.0.0.1:%d
  public_url: http://127.0.0.1:%d
  drain_delay: 0s
database:
  url: sqlite:%s
secrets:
  master_key: %s
alipay:
  app_id: %q
  gateway_url: %s/gateway.do
  private_key_file: %q
  alipay_public_key_file: %q
  seller_id: %q
`, port, port, filepath.Join(dir, "paygate.db"), newMasterKeyHex(t), e2eAppID, sim.base, appKeyFile, alipayPubFile, seller))
	out, stderr, err := runCmd(t, "merchant", "create", "--config", cfg, "--name", "shop", "--json")
	if err != nil {
		t.Fatalf("merchant create: %v\n%s", err, stderr)
	}
	var creds merchantCredentials
	if err := json.Unmarshal([]byte(out), &creds); err != nil {
		t.Fatalf("merchant create printed %q: %v", out, err)
	}
	s := startServe(t, cfg)
	waitFor(t, "serve ready", func() bool { return readyStatus(s.base) == http.StatusOK })
	c := client.New(s.base, creds.AccessKey, creds.SecretKey)
	o, err := c.CreateOrder(context.Background(), client.CreateOrderRequest{OutTradeNo: "SEL1", Subject: "tea", TotalAmount: "3.00", Mode: "qr"})
	if err != nil {
		t.Fatal(err)
	}
	simPostJSON(t, sim.base+"/sim/scan", map[string]string{"qr_code": o.QRCode, "buyer_id": e2eBuyer})
	tr := simTrade(t, sim.base)
	now := time.Now()
	form := url.Values{
		"notify_time": {alipay.FormatTime(now)}, "notify_type": {"trade_status_sync"}, "notify_id": {"foreignseller01"},
		"app_id": {e2eAppID}, "charset": {"utf-8"}, "version": {"1.0"}, "sign_type": {"RSA2"},
		"trade_no": {tr.TradeNo}, "out_trade_no": {tr.OutTradeNo}, "trade_status": {alipay.TradeSuccess},
		"total_amount": {"3.00"}, "receipt_amount": {"3.00"}, "buyer_id": {e2eBuyer}, "seller_id": {"2088000000009999"},
		"gmt_create": {alipay.FormatTime(now)}, "gmt_payment": {alipay.FormatTime(now)},
	}
	signForm(t, form, simKey)
	resp, err := http.PostForm(s.base+"/notify/alipay", form)
	if err != nil {
		t.Fatal(err)
	}
	ack, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(ack) != "failure" {
		t.Fatalf("a notification for another seller answered %d %q, want failure", resp.StatusCode, ack)
	}
	if got, err := c.GetOrder(context.Background(), "SEL1", false); err != nil || got.Status != "pending" || got.PaidAt != nil {
		t.Fatalf("after the foreign seller's notification: %+v, %v; want pending", got, err)
	}
	if !strings.Contains(s.stderr.String(), "seller_id") {
		t.Errorf("the log does not say why the notification was refused:\n%s", s.stderr)
	}

	// The control: the buyer pays; Alipay's own notification names the
	// configured seller and is applied.
	simPostJSON(t, sim.base+"/sim/pay", map[string]string{"qr_code": o.QRCode, "buyer_id": e2eBuyer})
	waitFor(t, "the order paid by the real notification", func() bool {
		got, err := c.GetOrder(context.Background(), "SEL1", false)
		return err == nil && got.Status == "paid"
	})
}

func signForm(t *testing.T, f url.Values, key *rsa.PrivateKey) {
	t.Helper()
	sig, err := alipay.Sign(key, []byte(alipay.SignContent(f, "sign", "sign_type")))
	if err != nil {
		t.Fatal(err)
	}
	f.Set("sign", sig)
}

func simPostJSON(t *testing.T, u string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	resp, err := http.Post(u, "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %d %s", u, resp.StatusCode, body)
	}
}

// simTrade is the one trade the simulator at base holds.
func simTrade(t *testing.T, base string) alipaysim.TradeView {
	t.Helper()
	_, _, body := httpGet(t, base+"/sim/trades")
	var trades []alipaysim.TradeView
	if err := json.Unmarshal([]byte(body), &trades); err != nil || len(trades) != 1 || trades[0].TradeNo == "" {
		t.Fatalf("/sim/trades: %s (%v)", body, err)
	}
	return trades[0]
}

// TestServeWaitingKeepsPasswordSecret: while serve waits for an unreachable
// database, what it prints and logs never shows the URL's password. It runs
// without a seller id, as alipay.skip_seller_check allows, warning so.
func TestServeWaitingKeepsPasswordSecret(t *testing.T) {
	t.Parallel()
	const password = "hunter2-s3cret"
	cfg := writeConfig(t, fmt.Sprintf(`server:
  addr: 127.0.0.1:0
  public_url: http://127.0.0.1:1
database:
  url: postgres://paygate:%s@127.0.0.1:%d/paygate?connect_timeout=5
secrets:
  master_key: %s
alipay:
  skip_seller_check: true
`, password, freePort(t), newMasterKeyHex(t)))
	s := startServe(t, cfg)
	if !strings.Contains(s.stderr.String(), "skip_seller_check is set") {
		t.Errorf("no warning that notifications go unchecked for the seller:\n%s", s.stderr)
	}
	waitFor(t, "the log to say it waits for the database", func() bool {
		return strings.Count(s.stderr.String(), "waiting for the database") >= 2
	})
	if err := s.stop(); err != nil {
		t.Fatalf("serve stopped while waiting: %v", err)
	}
	if !strings.Contains(s.stderr.String(), "stopped while waiting for the database") {
		t.Errorf("the log does not say it stopped while waiting:\n%s", s.stderr)
	}
	for _, out := range []string{s.stderr.String()} {
		if strings.Contains(out, "s3cret") {
			t.Errorf("the password leaked: %q", out)
		}
	}
}

// TestIdempotencyLeaseOutlastsBarcode: with the default timeouts an
// Idempotency-Key is held longer than a barcode payment can take to decide
// (178 s with the defaults), not the fixed 2 minutes.
func TestIdempotencyLeaseOutlastsBarcode(t *testing.T) {
	t.Parallel()
	e := e2e(t, "sqlite", func(cfg *config, _ *alipaysim.Config) {
		d := defaultConfig()
		cfg.Alipay.CallTimeout, cfg.Barcode.PollInterval, cfg.Barcode.PollTimeout =
			d.Alipay.CallTimeout, d.Barcode.PollInterval, d.Barcode.PollTimeout
	})
	window, lease := e.app.service.BarcodeWindow(), e.app.api.IdempotencyLease()
	if window < 145*time.Second || lease < window+idempotencyLeaseMargin {
		t.Fatalf("barcode window %v, idempotency lease %v; want the lease at least %v past the window", window, lease, idempotencyLeaseMargin)
	}
}

// readyStatus is /readyz's status, 0 when no answer came (a node switching
// from its starting answers to serving may drop a kept-alive connection).
func readyStatus(base string) int {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(base + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
