package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/postgres/pgtest"
	"github.com/paygate/paygate/sqlite"
)

// Test keys only: the protocol's golden-file key pairs.
const (
	liveAppID          = "2021000000000042"
	liveKeyDir         = "../../alipay/testdata"
	liveAppKeyFile     = liveKeyDir + "/app_private_key.pem"
	liveAlipayKeyFile  = liveKeyDir + "/alipay_private_key.pem"
	liveAlipayPubFile  = liveKeyDir + "/alipay_public_key.pem"
	liveMasterKeyBytes = 32
)

// liveGateway is one gateway node wired by newApp and served by a.serve on
// 127.0.0.1:0, its channel a real alipaysim.Server on its own HTTP server,
// with one merchant created in its store.
type liveGateway struct {
	base  string // http://127.0.0.1:PORT
	app   *app
	sim   *alipaysim.Server
	creds merchantCredentials
	// simConns counts the connections the simulator has accepted: how
	// well the gateway keeps its connections to Alipay alive.
	simConns *atomic.Int64
}

// startLiveGateway starts a node on dbURL (sqlite:PATH or a postgres URL).
// Logs go nowhere. tune, when not nil, adjusts the config before wiring.
// Everything stops when tb ends.
func startLiveGateway(tb testing.TB, dbURL string, tune func(*config)) *liveGateway {
	tb.Helper()
	appKey, err := alipay.LoadPrivateKey(liveAppKeyFile)
	if err != nil {
		tb.Fatal(err)
	}
	alipayKey, err := alipay.LoadPrivateKey(liveAlipayKeyFile)
	if err != nil {
		tb.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	sim, err := alipaysim.New(alipaysim.Config{
		AlipayKey: alipayKey, Logger: logger,
		Apps: []alipaysim.App{{AppID: liveAppID, PublicKey: &appKey.PublicKey}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	simConns := new(atomic.Int64)
	simSrv := httptest.NewUnstartedServer(sim)
	simSrv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			simConns.Add(1)
		}
	}
	simSrv.Start()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg := defaultConfig()
	cfg.Server.PublicURL = base
	cfg.Server.DrainDelay = 0
	cfg.Server.ShutdownTimeout = 5 * time.Second
	cfg.Database.URL = dbURL
	cfg.Secrets.MasterKey = newMasterKeyHex(tb)
	cfg.Alipay.AppID = liveAppID
	cfg.Alipay.GatewayURL = simSrv.URL + "/gateway.do"
	cfg.Alipay.PrivateKeyFile = liveAppKeyFile
	cfg.Alipay.AlipayPublicKeyFile = liveAlipayPubFile
	cfg.Server.SingleNode = true // one node, its nonces in memory, on PostgreSQL too
	if tune != nil {
		tune(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, logger, nil)
	if err != nil {
		cancel()
		ln.Close()
		simSrv.Close()
		sim.Close()
		tb.Fatalf("newApp: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- a.serve(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				tb.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			tb.Error("gateway did not stop within 10 s")
		}
		a.close()
		simSrv.Close()
		sim.Close()
	})
	creds, err := createMerchant(ctx, a.store, "live shop", "")
	if err != nil {
		tb.Fatal(err)
	}
	creds.BaseURL = base
	return &liveGateway{base: base, app: a, sim: sim, creds: creds, simConns: simConns}
}

// newMasterKeyHex is a fresh master key as config.secrets.master_key takes it.
func newMasterKeyHex(tb testing.TB) string {
	tb.Helper()
	k := make([]byte, liveMasterKeyBytes)
	if _, err := rand.Read(k); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(k)
}

// postgresSchemaURL is PAYGATE_TEST_POSTGRES_URL pointed at a fresh schema
// of tb's own through the search_path parameter, which pgx passes to the
// server as a run-time parameter (TestMigrateCommandSearchPath checks it).
// It skips tb, saying so, when the variable is unset (fails in CI).
func postgresSchemaURL(tb testing.TB) (dbURL, schema string) {
	tb.Helper()
	base, schema := pgtest.Schema(tb)
	if !strings.Contains(base, "://") { // a key=value connection string
		return base + " search_path=" + schema, schema
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("PAYGATE_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema
}

// dataDirWithKey is a data directory holding a master key, as the demo
// leaves it.
func dataDirWithKey(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := ensureMasterKey(filepath.Join(dir, masterKeyFile)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestMigrateCommandSearchPath(t *testing.T) {
	t.Parallel()
	dbURL, schema := postgresSchemaURL(t)
	stdout, stderr, err := runCmd(t, "migrate", "--config", writeConfig(t, "database:\n  url: "+dbURL+"\nsecrets:\n  master_key: "+newMasterKeyHex(t)+"\n"))
	if err != nil {
		t.Fatalf("migrate: %v\nstderr: %s", err, stderr)
	}
	if !strings.Contains(stdout, "migrations applied") {
		t.Errorf("stdout = %q", stdout)
	}
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var current string
	if err := conn.QueryRow(t.Context(), "SELECT current_schema()").Scan(&current); err != nil {
		t.Fatal(err)
	}
	if current != schema {
		t.Fatalf("current_schema() = %q through %s, want %q", current, redactURL(dbURL), schema)
	}
	var n int
	if err := conn.QueryRow(t.Context(),
		"SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'merchants'", schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("migrate did not create %s.merchants", schema)
	}
}

// writeConfig writes a YAML config file and returns its path.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "paygate.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMerchantCreate(t *testing.T) {
	t.Parallel()
	dir := dataDirWithKey(t)
	stdout, stderr, err := runCmd(t, "merchant", "create", "--data", dir, "--name", "corner shop", "--json")
	if err != nil {
		t.Fatalf("merchant create: %v\nstderr: %s", err, stderr)
	}
	creds := decodeOneCreds(t, stdout)

	cfg, err := (&dataFlags{dataDir: dir}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := loadSealer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, dbFile)
	// A store held open, as a running server holds it.
	st, err := sqlite.Open(t.Context(), dbPath, sealer)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := st.MerchantByAccessKey(t.Context(), creds.AccessKey)
	if err != nil {
		t.Fatalf("the merchant is not in the store: %v", err)
	}
	if m.Name != "corner shop" || m.SecretKey != creds.SecretKey || m.WebhookSecret != creds.WebhookSecret {
		t.Fatalf("stored merchant = %+v, want the printed secrets", m)
	}

	t.Run("secrets sealed at rest", func(t *testing.T) {
		db, err := sql.Open("sqlite", dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var secret, webhook []byte
		if err := db.QueryRowContext(t.Context(), "SELECT secret_key_sealed, webhook_secret_sealed FROM merchants WHERE access_key = ?",
			creds.AccessKey).Scan(&secret, &webhook); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{creds.SecretKey, creds.WebhookSecret, strings.TrimPrefix(creds.SecretKey, "sk_"), strings.TrimPrefix(creds.WebhookSecret, "whsec_")} {
			if bytes.Contains(secret, []byte(s)) || bytes.Contains(webhook, []byte(s)) {
				t.Errorf("a sealed column holds the secret %q in the clear", s)
			}
		}
		for _, f := range []string{dbPath, dbPath + "-wal"} {
			raw, err := os.ReadFile(f)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{creds.SecretKey, creds.WebhookSecret, creds.StandardWebhookSecret} {
				if bytes.Contains(raw, []byte(s)) {
					t.Errorf("%s holds the secret %q in the clear", filepath.Base(f), s)
				}
			}
		}
	})

	t.Run("beside a running server", func(t *testing.T) {
		stdout, stderr, err := runCmd(t, "merchant", "create", "--data", dir, "--name", "second shop", "--notify-url", "https://shop.example.com/hooks", "--json")
		if err != nil {
			t.Fatalf("second merchant create beside an open store: %v\nstderr: %s", err, stderr)
		}
		second := decodeOneCreds(t, stdout)
		if second.AccessKey == creds.AccessKey || second.SecretKey == creds.SecretKey {
			t.Fatal("the second merchant reuses the first one's credentials")
		}
		m, err := st.MerchantByAccessKey(t.Context(), second.AccessKey)
		if err != nil {
			t.Fatalf("the open store does not see the second merchant: %v", err)
		}
		if m.SecretKey != second.SecretKey || m.NotifyURL != "https://shop.example.com/hooks" {
			t.Fatalf("second merchant = %+v", m)
		}
	})

	t.Run("text output", func(t *testing.T) {
		stdout, _, err := runCmd(t, "merchant", "create", "--data", dir, "--name", "third shop")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"access_key:", "secret_key:", "webhook_secret:", "standard_webhook_secret:", "shown once"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
			}
		}
	})
}

// decodeOneCreds checks that out is exactly one JSON object with the three
// credentials and returns it.
func decodeOneCreds(t *testing.T, out string) merchantCredentials {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", out)
	}
	var creds merchantCredentials
	if err := json.Unmarshal([]byte(out), &creds); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(creds.AccessKey, "ak_") || !strings.HasPrefix(creds.SecretKey, "sk_") || !strings.HasPrefix(creds.WebhookSecret, "whsec_") {
		t.Fatalf("credentials = %s, want access_key, secret_key and webhook_secret", out)
	}
	if creds.StandardWebhookSecret != client.StandardWebhookSecret(creds.WebhookSecret) {
		t.Fatalf("standard_webhook_secret = %q; want the webhook secret's whsec_ base64 form", creds.StandardWebhookSecret)
	}
	return creds
}

func TestMerchantCreateErrors(t *testing.T) {
	t.Parallel()
	dir := dataDirWithKey(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"--data", dir}, "--name is required"},
		{"notify url too long", []string{"--data", dir, "--name", "x", "--notify-url", "https://shop.example.com/" + strings.Repeat("h", 256)}, "--notify-url: the webhook URL must be at most 256 bytes"},
		{"notify url not http", []string{"--data", dir, "--name", "x", "--notify-url", "ftp://shop.example.com/hook"}, "--notify-url"},
		{"notify url with a password", []string{"--data", dir, "--name", "x", "--notify-url", "https://shop:hunter2@shop.example.com/hook?a=b"}, "--notify-url: the webhook URL must not carry user information"},
		{"notify url host a number", []string{"--data", dir, "--name", "x", "--notify-url", "https://0x7f000001/hook"}, "is a number but not an IP address"},
		{"no master key", []string{"--data", t.TempDir(), "--name", "x"}, "master.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, _, err := runCmd(t, append([]string{"merchant", "create"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the URL's password: %v", err)
			}
			if stdout != "" {
				t.Errorf("a failed create printed %q", stdout)
			}
		})
	}
}

func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	dir := dataDirWithKey(t)
	for i := range 2 { // idempotent
		stdout, stderr, err := runCmd(t, "migrate", "--data", dir)
		if err != nil {
			t.Fatalf("migrate #%d: %v\nstderr: %s", i+1, err, stderr)
		}
		if !strings.Contains(stdout, "migrations applied to sqlite:") {
			t.Errorf("migrate #%d printed %q", i+1, stdout)
		}
	}
}

func TestServeCommandErrors(t *testing.T) {
	t.Parallel()
	const password = "hunter2-s3cret" // no test URL may let it out, whole or in part
	// A seller id, and a loopback port of the system's choosing: serve
	// listens before it opens the database, and tests run side by side.
	const withSeller = "alipay:\n  seller_id: \"2088000000000001\"\nserver:\n  addr: 127.0.0.1:0\n"
	key := newMasterKeyHex(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no config", nil, "--config FILE is required"},
		{"missing file", []string{"--config", filepath.Join(t.TempDir(), "nope.yaml")}, "no such file"},
		{"unknown scheme", []string{"--config", writeConfig(t, "database:\n  url: mysql://paygate:"+password+"@db:3306/paygate\nsecrets:\n  master_key: "+key+"\n"+withSeller)},
			"database.url must be sqlite:PATH or postgres://"},
		{"password with @", []string{"--config", writeConfig(t, "database:\n  url: mysql://paygate:p@ss-"+password+"@db:3306/paygate\nsecrets:\n  master_key: "+key+"\n"+withSeller)},
			"database.url must be"},
		{"key=value string", []string{"--config", writeConfig(t, "database:\n  url: host=db user=paygate password="+password+"\nsecrets:\n  master_key: "+key+"\n"+withSeller)},
			"database.url must be"},
		{"unparsable postgres url", []string{"--config", writeConfig(t, "database:\n  url: postgres://paygate:"+password+"@db:notaport/paygate\nsecrets:\n  master_key: "+key+"\n"+withSeller)},
			"invalid database URL"},
		{"no seller id", []string{"--config", writeConfig(t, "secrets:\n  master_key: "+key+"\n")},
			"alipay.seller_id"},
		{"seller id and skip", []string{"--config", writeConfig(t, "secrets:\n  master_key: "+key+"\nalipay:\n  seller_id: \"2088000000000001\"\n  skip_seller_check: true\n")},
			"contradict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, err := runCmd(t, append([]string{"serve"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the URL's password: %v", err)
			}
			for _, out := range []string{err.Error(), stdout, stderr} {
				if strings.Contains(out, "s3cret") {
					t.Errorf("the password leaked: %q", out)
				}
			}
		})
	}
	t.Run("no config hint", func(t *testing.T) {
		_, _, err := runCmd(t, "serve")
		if err == nil || !strings.Contains(err.Error(), "paygate.example.yaml") {
			t.Fatalf("err = %v, want a pointer to paygate.example.yaml", err)
		}
	})
}

func TestAPICommand(t *testing.T) {
	t.Parallel()
	t.Run("missing credentials", func(t *testing.T) {
		t.Parallel()
		_, _, err := runCmd(t, "api", "--credentials", filepath.Join(t.TempDir(), demoMerchantFile), "GET", "/api/v1/orders")
		if err == nil || !strings.Contains(err.Error(), "run paygate demo first") {
			t.Fatalf("err = %v, want a hint to run the demo", err)
		}
	})

	g := startLiveGateway(t, "sqlite:"+filepath.Join(t.TempDir(), dbFile), nil)
	credsFile := filepath.Join(t.TempDir(), demoMerchantFile)
	if err := writeCreds(credsFile, g.creds); err != nil {
		t.Fatal(err)
	}

	t.Run("creates an order", func(t *testing.T) {
		stdout, stderr, err := runCmd(t, "api", "--credentials", credsFile, "--idempotency-key", "k1",
			"POST", "/api/v1/orders", `{"out_trade_no":"CMD_1","subject":"coffee","total_amount":"9.90","mode":"qr"}`)
		if err != nil {
			t.Fatalf("api: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
		}
		var o struct {
			OutTradeNo  string `json:"out_trade_no"`
			Status      string `json:"status"`
			QRCode      string `json:"qr_code"`
			TotalAmount string `json:"total_amount"`
		}
		if err := json.Unmarshal([]byte(stdout), &o); err != nil {
			t.Fatalf("stdout is not the order: %v\n%s", err, stdout)
		}
		if o.OutTradeNo != "CMD_1" || o.Status != "pending" || o.QRCode == "" || o.TotalAmount != "9.90" {
			t.Fatalf("order = %+v", o)
		}
		if !strings.Contains(stderr, "HTTP 201") {
			t.Errorf("stderr = %q, want the status", stderr)
		}

		// The same key and body again: the first answer, marked replayed.
		_, stderr, err = runCmd(t, "api", "--credentials", credsFile, "--idempotency-key", "k1",
			"POST", "/api/v1/orders", `{"out_trade_no":"CMD_1","subject":"coffee","total_amount":"9.90","mode":"qr"}`)
		if err != nil || !strings.Contains(stderr, "Idempotent-Replayed: true") {
			t.Fatalf("replay: err = %v, stderr = %q", err, stderr)
		}

		stdout, _, err = runCmd(t, "api", "--credentials", credsFile, "GET", "/api/v1/orders/CMD_1")
		if err != nil || !strings.Contains(stdout, `"out_trade_no": "CMD_1"`) {
			t.Fatalf("get: err = %v, stdout = %s", err, stdout)
		}
	})

	t.Run("4xx prints the error body", func(t *testing.T) {
		stdout, stderr, err := runCmd(t, "api", "--credentials", credsFile,
			"POST", "/api/v1/orders", `{"out_trade_no":"CMD_2","subject":"coffee","total_amount":"9.999","mode":"qr"}`)
		if err == nil || !strings.Contains(err.Error(), "400") {
			t.Fatalf("err = %v, want the 400 as an error", err)
		}
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal([]byte(stdout), &body); err != nil || body.Error.Code == "" || body.Error.Message == "" {
			t.Fatalf("stdout = %q (%v), want the JSON error body", stdout, err)
		}
		if !strings.Contains(stderr, "HTTP 400") {
			t.Errorf("stderr = %q", stderr)
		}
		stdout, _, err = runCmd(t, "api", "--credentials", credsFile, "GET", "/api/v1/orders/NOPE")
		if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(stdout, `"error"`) {
			t.Fatalf("unknown order: err = %v, stdout = %s", err, stdout)
		}
	})

	t.Run("bad arguments", func(t *testing.T) {
		for _, args := range [][]string{
			{"POST", "/api/v1/orders", `{not json`},
			{"GET", "api/v1/orders"},
		} {
			if _, _, err := runCmd(t, append([]string{"api", "--credentials", credsFile}, args...)...); err == nil {
				t.Errorf("api %q succeeded", args)
			}
		}
	})
}
