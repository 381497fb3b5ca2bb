package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/redis"
)

// TestWrongMasterKeyRefused: a database remembers the master key it was
// first used with; serve, migrate and merchant create with another key are
// refused with a message naming the setting, never showing a key, and
// change nothing.
func TestWrongMasterKeyRefused(t *testing.T) {
	e2eStores(t, func(t *testing.T, kind string) {
		dbURL := "sqlite:" + filepath.Join(t.TempDir(), "paygate.db")
		if kind == "postgres" {
			dbURL, _ = postgresSchemaURL(t)
		}
		right, wrong := newMasterKeyHex(t), newMasterKeyHex(t)
		cfgWith := func(key string) string {
			return writeConfig(t, "database:\n  url: "+dbURL+"\nsecrets:\n  master_key: "+key+"\n"+onlyData)
		}
		if _, stderr, err := runCmd(t, "merchant", "create", "--config", cfgWith(right), "--name", "shop"); err != nil {
			t.Fatalf("merchant create: %v\nstderr: %s", err, stderr)
		}
		for _, cmd := range [][]string{
			{"serve", "--config", cfgWith(wrong)},
			{"migrate", "--config", cfgWith(wrong)},
			{"merchant", "create", "--config", cfgWith(wrong), "--name", "other"},
		} {
			stdout, stderr, err := runCmd(t, cmd...)
			if err == nil || !strings.Contains(err.Error(), "secrets.master_key does not match the key this database was sealed with (key check ") {
				t.Fatalf("%s with another key: err = %v, want the key mismatch", cmd[0], err)
			}
			for _, out := range []string{err.Error(), stdout, stderr} {
				if strings.Contains(out, wrong) || strings.Contains(out, right) {
					t.Errorf("%s printed a master key: %q", cmd[0], out)
				}
			}
		}
		// The right key still works, and the refused create left nothing.
		st, err := openData(t.Context(), e2eMust(loadConfig(cfgWith(right), nil)))
		if err != nil {
			t.Fatalf("the right key: %v", err)
		}
		defer st.Close()
		if m, err := st.MerchantByID(t.Context(), 2); err == nil {
			t.Errorf("a create with the wrong key made merchant %q", m.Name)
		}
	})
}

// TestSQLiteMissingDirectory: a sqlite: URL whose directory does not exist
// is refused by serve, migrate and merchant create, which create nothing.
func TestSQLiteMissingDirectory(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dbPath := filepath.Join(root, "typo", "dir", "paygate.db")
	cfg := writeConfig(t, "database:\n  url: sqlite:"+dbPath+"\nsecrets:\n  master_key: "+newMasterKeyHex(t)+"\n"+onlyData)
	for _, cmd := range [][]string{
		{"serve", "--config", cfg},
		{"migrate", "--config", cfg},
		{"merchant", "create", "--config", cfg, "--name", "shop"},
	} {
		_, _, err := runCmd(t, cmd...)
		if err == nil || !strings.Contains(err.Error(), "directory "+filepath.Dir(dbPath)+" does not exist") {
			t.Errorf("%s: err = %v, want the missing directory named", cmd[0], err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "typo")); err == nil {
		t.Error("a refused command created the directory")
	}
}

// TestSQLiteServedOnce: a second serving process on a SQLite file in use is
// refused; migrate and merchant create still work beside the running node.
func TestSQLiteServedOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(dir, "paygate.db")
	key := newMasterKeyHex(t)
	startLiveGateway(t, dbURL, func(c *config) { c.Secrets.MasterKey = key })
	cfg := writeConfig(t, "database:\n  url: "+dbURL+"\nsecrets:\n  master_key: "+key+"\n"+onlyData)
	_, _, err := runCmd(t, "serve", "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "is in use by another paygate serve or demo") {
		t.Fatalf("second serve: err = %v, want it refused as in use", err)
	}
	// The same file through a symbolic link is the same database.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	viaLink := writeConfig(t, "database:\n  url: sqlite:"+filepath.Join(link, "paygate.db")+"\nsecrets:\n  master_key: "+key+"\n"+onlyData)
	if _, _, err := runCmd(t, "serve", "--config", viaLink); err == nil || !strings.Contains(err.Error(), "is in use by another paygate serve or demo") {
		t.Fatalf("second serve through a symbolic link: err = %v, want it refused as in use", err)
	}
	for _, cmd := range [][]string{{"migrate", "--config", cfg}, {"merchant", "create", "--config", cfg, "--name", "beside"}} {
		if _, stderr, err := runCmd(t, cmd...); err != nil {
			t.Errorf("%s beside a running node: %v\nstderr: %s", cmd[0], err, stderr)
		}
	}
}

// TestSimDataDirLocked: a second `paygate sim` on a data directory in use is
// refused at once; without the lock it would serve until its context ends.
func TestSimDataDirLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	startSim(t, "--data", dir)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	err := run(ctx, []string{"sim", "--addr", "127.0.0.1:0", "--data", dir}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "in use by another simulator") {
		t.Fatalf("second sim: err = %v, want it refused as in use", err)
	}
}

// TestDemoLoopbackByDefault: the demo serves unauthenticated /sim routes, so
// it listens on loopback unless told otherwise.
func TestDemoLoopbackByDefault(t *testing.T) {
	t.Parallel()
	if got := newDemoCmd(nil, nil).Flags().Lookup("addr").DefValue; got != "127.0.0.1:8080" {
		t.Fatalf("demo --addr defaults to %q, want 127.0.0.1:8080", got)
	}
}

// servingSim is an Alipay simulator on its own loopback server that knows
// the live test app.
func servingSim(t *testing.T) string {
	t.Helper()
	appKey := e2eMust(alipay.LoadPrivateKey(liveAppKeyFile))
	alipayKey := e2eMust(alipay.LoadPrivateKey(liveAlipayKeyFile))
	sim, err := alipaysim.New(alipaysim.Config{AlipayKey: alipayKey, Apps: []alipaysim.App{{AppID: liveAppID, PublicKey: &appKey.PublicKey}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	return srv.URL
}

// serveConfig is a complete serve config against gatewayURL on a new
// SQLite database, with the live test keys; extra lines go at the end of
// their sections through set (section.key → value).
func serveConfig(t *testing.T, gatewayURL string, set map[string]string) string {
	t.Helper()
	v := map[string]string{
		"server.addr": "127.0.0.1:0", "server.public_url": "http://127.0.0.1:9", "server.drain_delay": "0s",
		"database.url":       "sqlite:" + filepath.Join(t.TempDir(), "paygate.db"),
		"secrets.master_key": newMasterKeyHex(t),
		"alipay.app_id":      liveAppID, "alipay.gateway_url": gatewayURL + "/gateway.do",
		"alipay.private_key_file": liveAppKeyFile, "alipay.alipay_public_key_file": liveAlipayPubFile,
		"alipay.call_timeout": "5s", "alipay.seller_id": alipaysim.DefaultSellerID(liveAppID),
	}
	maps.Copy(v, set)
	sections := map[string][]string{}
	for k, val := range v {
		sec, key, _ := strings.Cut(k, ".")
		if val != "true" && val != "false" {
			val = strconv.Quote(val)
		}
		sections[sec] = append(sections[sec], fmt.Sprintf("  %s: %s\n", key, val))
	}
	var b strings.Builder
	for sec, lines := range sections {
		b.WriteString(sec + ":\n" + strings.Join(lines, ""))
	}
	return writeConfig(t, b.String())
}

// onlyData completes a configuration that only names the data, for tests
// of what serve refuses before it reaches Alipay: serve's own checks of the
// rest (a seller id; Redis or one node) pass.
const onlyData = "alipay:\n  skip_seller_check: true\nserver:\n  single_node: true\n  addr: 127.0.0.1:0\n"

var serveListening = regexp.MustCompile(`paygate listening on (http://127\.0\.0\.1:\d+)\n`)

// startServeChecked runs `paygate serve --config cfg` in-process. serve
// listens first, then wires and checks (the database, Alipay's keys), then
// logs "paygate serving". It returns the command's error if it ends before
// that; else its stdout, stopping it when t ends.
func startServeChecked(t *testing.T, cfg string) (stdout string, stderr *syncBuffer, err error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", cfg}, out, errOut) }()
	for !serveListening.MatchString(out.String()) || !strings.Contains(errOut.String(), `"msg":"paygate serving"`) {
		select {
		case err := <-done:
			cancel()
			return out.String(), errOut, fmt.Errorf("serve ended: %w", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return out.String(), errOut, nil
}

// TestServeAlipayStartupCheck: serve queries Alipay once at start. A key
// mismatch is an ERROR naming the setting and serve exits (unless
// alipay.skip_startup_check); a channel that does not answer is a warning.
func TestServeAlipayStartupCheck(t *testing.T) {
	t.Parallel()
	gw := servingSim(t)
	dir := t.TempDir()
	otherApp, otherAlipay := e2eKeys()
	wrongPub := filepath.Join(dir, "wrong_alipay_public_key.pem")
	e2eWritePEM(t, wrongPub, "PUBLIC KEY", e2eMust(x509.MarshalPKIXPublicKey(&otherAlipay.PublicKey)), 0o644)
	wrongPriv := filepath.Join(dir, "wrong_app_private_key.pem")
	e2eWritePEM(t, wrongPriv, "PRIVATE KEY", e2eMust(x509.MarshalPKCS8PrivateKey(otherApp)), 0o600)
	tests := []struct {
		name    string
		gateway string
		set     map[string]string
		refused string // "" when serve must start
		log     string // what its log must say
	}{
		{"right keys", gw, nil, "", `"msg":"alipay keys verified"`},
		{"wrong alipay public key", gw, map[string]string{"alipay.alipay_public_key_file": wrongPub}, "alipay.alipay_public_key_file (" + wrongPub + ")", `"level":"ERROR"`},
		{"wrong app private key", gw, map[string]string{"alipay.private_key_file": wrongPriv}, "alipay.private_key_file (" + wrongPriv + ")", `"level":"ERROR"`},
		{"unknown app id", gw, map[string]string{"alipay.app_id": "2021000000009999"}, "alipay.app_id 2021000000009999", `"level":"ERROR"`},
		{"mismatch skipped", gw, map[string]string{"alipay.alipay_public_key_file": wrongPub, "alipay.skip_startup_check": "true"}, "", "alipay.skip_startup_check is true"},
		{"channel down", "http://127.0.0.1:1", nil, "", `"msg":"alipay did not answer the startup check; keys not verified"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, stderr, err := startServeChecked(t, serveConfig(t, tt.gateway, tt.set))
			switch {
			case tt.refused == "" && err != nil:
				t.Fatalf("%v\nstderr: %s", err, stderr)
			case tt.refused != "" && (err == nil || !strings.Contains(err.Error(), tt.refused)):
				t.Fatalf("err = %v, want serve refused naming %q\nstderr: %s", err, tt.refused, stderr)
			}
			if !strings.Contains(stderr.String(), tt.log) {
				t.Errorf("log does not say %s:\n%s", tt.log, stderr)
			}
		})
	}
}

// TestServeAdminListener: serve has /metrics on server.admin_addr, not on
// the public listener.
func TestServeAdminListener(t *testing.T) {
	t.Parallel()
	stdout, stderr, err := startServeChecked(t, serveConfig(t, servingSim(t), map[string]string{"server.admin_addr": "127.0.0.1:0"}))
	if err != nil {
		t.Fatalf("%v\nstderr: %s", err, stderr)
	}
	admin := regexp.MustCompile(`metrics on (http://127\.0\.0\.1:\d+/metrics)\n`).FindStringSubmatch(stdout)
	if admin == nil {
		t.Fatalf("no admin line in %q", stdout)
	}
	public := serveListening.FindStringSubmatch(stdout)[1]
	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(admin[1]); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("admin /metrics: %d %.200s", code, body)
	}
	if code, _ := get(public + "/metrics"); code != http.StatusNotFound {
		t.Errorf("public /metrics: %d, want 404", code)
	}
	adminBase := strings.TrimSuffix(admin[1], "/metrics")
	if code, _ := get(adminBase + "/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("admin /debug/pprof/ without server.pprof: %d, want 404", code)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

// TestServePprof: server.pprof adds net/http/pprof on the admin listener,
// never on the public one, and is refused without an admin listener.
func TestServePprof(t *testing.T) {
	t.Parallel()
	sim := servingSim(t)
	stdout, stderr, err := startServeChecked(t, serveConfig(t, sim, map[string]string{"server.admin_addr": "127.0.0.1:0", "server.pprof": "true"}))
	if err != nil {
		t.Fatalf("%v\nstderr: %s", err, stderr)
	}
	admin := regexp.MustCompile(`metrics on (http://127\.0\.0\.1:\d+)/metrics\n`).FindStringSubmatch(stdout)
	if admin == nil {
		t.Fatalf("no admin line in %q", stdout)
	}
	public := serveListening.FindStringSubmatch(stdout)[1]
	for u, want := range map[string]int{
		admin[1] + "/debug/pprof/":                  http.StatusOK,
		admin[1] + "/debug/pprof/goroutine?debug=1": http.StatusOK,
		public + "/debug/pprof/":                    http.StatusNotFound,
	} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", u, resp.StatusCode, want)
		}
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if _, _, err := startServeChecked(t, serveConfig(t, sim, map[string]string{"server.pprof": "true"})); err == nil || !strings.Contains(err.Error(), "server.pprof needs server.admin_addr") {
		t.Errorf("server.pprof without an admin listener: %v", err)
	}
}

// TestRedisLogsAreJSON: go-redis's own log lines go through the node's JSON
// logger, not raw onto stderr. go-redis's logger is process-wide, so this
// test does not run in parallel with others that wire Redis (none do).
func TestRedisLogsAreJSON(t *testing.T) {
	var logs syncBuffer
	logger := e2eMust(newLogger(&logs, "info"))
	cfg := defaultConfig()
	cfg.Redis.URL = "redis://127.0.0.1:1/0" // nothing listens there
	a := &app{log: logger}
	// No Redis answers there: newNonces refuses (it pings at start), but it
	// has routed go-redis's logger first, which is what this test looks at.
	if _, _, err := newNonces(t.Context(), cfg, logger, a); err == nil {
		t.Fatal("newNonces accepted a Redis that does not answer")
	}
	defer a.close()
	rc := e2eMust(redis.Open(cfg.Redis.URL))
	defer rc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond) // the dial fails; no need to wait
	defer cancel()
	rc.Set(ctx, "k", "v", 500*time.Microsecond) // go-redis logs that it truncates the expiry to 1ms
	found := false
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var line struct{ Level, Msg, Component string }
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("a log line is not JSON: %q", l)
		}
		if strings.Contains(line.Msg, "truncating to 1ms") {
			found = line.Level == "WARN" && line.Component == "redis"
		}
	}
	if !found {
		t.Fatalf("go-redis's warning is not in the JSON log as a WARN of component redis:\n%s", logs.String())
	}
}

// TestRootHelpPromisesOnlyWhatExists: the root help does not promise
// reconciliation while there is no reconcile command.
func TestRootHelpPromisesOnlyWhatExists(t *testing.T) {
	t.Parallel()
	stdout, _, err := runCmd(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	root := newRootCmd(io.Discard, io.Discard)
	if cmd, _, err := root.Find([]string{"reconcile"}); (err != nil || cmd == root) && strings.Contains(strings.ToLower(stdout), "reconcil") {
		t.Errorf("the help promises reconciliation, which has no command:\n%s", stdout)
	}
}

// TestDemoMetricsAndSecondDemo: the demo serves /metrics on its own
// (loopback) address, and a second demo on the same data directory is
// refused.
func TestDemoMetricsAndSecondDemo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := startDemo(t, dir)
	resp, err := d.http.Get(d.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("demo /metrics: %d %.200s", resp.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	err = run(ctx, []string{"demo", "--addr", "127.0.0.1:0", "--data", dir}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "data directory "+dir+" is in use by another paygate demo") {
		t.Fatalf("second demo: err = %v, want it refused as in use", err)
	}
}
