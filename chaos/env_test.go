package chaos

// The system under test, assembled from separate processes: the simulator
// (`paygate sim`), one or two gateway nodes (`paygate serve --config FILE`),
// on SQLite or on a PostgreSQL instance of the suite's own, a merchant made
// with `paygate merchant create`, and the suite's proxy, notification load
// balancer and webhook receiver.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/client"
)

// The app id the simulator registers and the gateway signs as.
const appID = "2021000000000777"

// The WeChat Pay merchant the simulator registers and the gateway signs
// as. Its keys are made per run (see wechatKeys); nothing here is secret.
const (
	wxMchID = "1900000777"
	wxAppID = "wx0a1b2c3d4e5f0777"
	// wxKeyID is the simulator's WeChat Pay public key ID (public-key
	// mode), given to both sides.
	wxKeyID = "PUB_KEY_ID_0119000007772026000000000000000777"
)

// chaosFaults are the rates, with small delays and the channel's
// notification schedule compressed so that a lost delivery is retried
// within seconds. Both simulators take the same keys and get the same
// rates (WeChat Pay's maps each to its own form, see wechatpaysim.Faults).
// Quiescence is reached with faults off (see quiesce).
func chaosFaults() map[string]any {
	return map[string]any{
		"gateway_error_rate":    0.1,
		"unknown_rate":          0.05,
		"timeout_rate":          0.05,
		"notify_drop_rate":      0.3,
		"notify_duplicate_rate": 0.2,
		"latency_ms":            20,
		"notify_delay_ms":       200,
		"notify_schedule":       notifySchedule,
	}
}

const notifySchedule = "300ms,600ms,1s,2s,4s,8s"

// Time knobs of the gateway, compressed (see nodeConfig).
const (
	orderTimeout    = 25 * time.Second // orders.default_timeout: expiries happen during the run
	compensateAfter = 2 * time.Second
	callTimeout     = time.Second
)

// env is one store's system under test.
type env struct {
	t       *testing.T
	store   string // sqlite or postgres
	bin     string
	dir     string // configs, keys, data
	logDir  string // process logs
	sim     *proc
	simURL  string
	proxy   *faultProxy // in front of Alipay's gateway.do
	wxProxy *faultProxy // in front of WeChat Pay's /v3/
	lb      *notifyLB
	rx      *receiver
	nodes   []*proc
	nodeURL []string
	configs []string // the nodes' configuration files
	pg      *pgInstance
	standby *pgInstance // the failover drill's streaming replica, promoted mid-run
	probe   jobsProbe   // River's jobs, for the recovery measures
	redis   string      // redis.url: the suite's own Redis (PostgreSQL replicas), or ""
	creds   merchantCreds
	clients []*client.Client // one per node
	hc      *http.Client     // for /sim
}

type merchantCreds struct {
	AccessKey     string `json:"access_key"`
	SecretKey     string `json:"secret_key"`
	WebhookSecret string `json:"webhook_secret"`
}

// newEnv builds and starts everything for store; t's cleanups stop it all.
func newEnv(t *testing.T, store, bin string, seed uint64, webhookFail float64) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, store: store, bin: bin, dir: t.TempDir()}
	e.hc = &http.Client{Timeout: 30 * time.Second}
	e.logDir = filepath.Join(e.dir, "logs")
	if *flagLogs != "" {
		e.logDir = filepath.Join(*flagLogs, fmt.Sprintf("%s-%s", store, time.Now().Format("20060102-150405")))
	}
	if err := os.MkdirAll(e.logDir, 0o755); err != nil {
		t.Fatalf("chaos: %v", err)
	}

	replicas := 1
	if store == "postgres" || store == "failover" {
		replicas = 2
		e.pg = startPG(t) // cleanup registered first, so it runs after the nodes are stopped
		if store == "failover" {
			e.standby = startStandby(t, e.pg)
		}
		e.redis = startRedis(t, e.logDir) // likewise
		e.probe = &pgProbe{instances: func() []*pgInstance {
			if e.standby != nil {
				return []*pgInstance{e.standby, e.pg}
			}
			return []*pgInstance{e.pg}
		}}
	}

	// The app's key pair (the gateway signs with it) and the simulator's
	// Alipay key pair (it signs with it; the gateway verifies with its
	// public half), both made by `paygate keys gen`.
	appKeys, aliKeys := filepath.Join(e.dir, "appkeys"), filepath.Join(e.dir, "alipaykeys")
	for _, d := range []string{appKeys, aliKeys} {
		if _, err := runTool(ctx, bin, "keys", "gen", "--out", d); err != nil {
			t.Fatalf("chaos: %v", err)
		}
	}
	wx, err := newWechatKeys(ctx, bin, e.dir)
	if err != nil {
		t.Fatalf("chaos: %v", err)
	}

	// The simulator, with the faults on from the start.
	simPort := freePort(t)
	e.simURL = fmt.Sprintf("http://127.0.0.1:%d", simPort)
	faults, _ := json.Marshal(chaosFaults())
	e.sim = newProc("sim", bin, e.logDir, e.simURL+"/sim/faults", append([]string{
		"sim", "--addr", fmt.Sprintf("127.0.0.1:%d", simPort), "--data", filepath.Join(e.dir, "simdata"),
		"--alipay-private-key", filepath.Join(aliKeys, "app_private_key.pem"),
		"--app-id", appID, "--app-public-key", filepath.Join(appKeys, "app_public_key.pem"),
		"--faults", string(faults), "--pay-delay", "1s",
	}, wx.simArgs(string(faults))...), childEnv())
	if err := e.sim.start(ctx, 30*time.Second); err != nil {
		t.Fatalf("chaos: %v", err)
	}
	t.Cleanup(e.sim.stop)
	e.proxy = newFaultProxy(e.simURL, alipayCalls)
	t.Cleanup(e.proxy.srv.Close)
	e.wxProxy = newFaultProxy(e.simURL, wechatCalls)
	t.Cleanup(e.wxProxy.srv.Close)

	// The nodes' addresses are fixed before they start: the notification
	// load balancer and the restarts need them.
	ports := make([]int, replicas)
	for i := range ports {
		ports[i] = freePort(t)
		e.nodeURL = append(e.nodeURL, fmt.Sprintf("http://127.0.0.1:%d", ports[i]))
	}
	e.lb = newNotifyLB(e.nodeURL)
	t.Cleanup(e.lb.srv.Close)

	master := make([]byte, 32)
	_, _ = rand.Read(master)
	var dbURL string
	switch store {
	case "sqlite":
		dbURL = "sqlite:" + filepath.Join(e.dir, "paygate.db")
	case "postgres":
		dbURL = e.pg.url()
	case "failover":
		dbURL = failoverURL(e.pg, e.standby)
	}
	configs := make([]string, replicas)
	for i := range configs {
		configs[i] = filepath.Join(e.dir, fmt.Sprintf("node%d.yaml", i))
		cfg := nodeConfig(ports[i], dbURL, hex.EncodeToString(master), e.redis,
			e.proxy.srv.URL+"/gateway.do", e.lb.srv.URL+"/notify/alipay",
			filepath.Join(appKeys, "app_private_key.pem"), filepath.Join(aliKeys, "app_public_key.pem"),
			wx.section(e.wxProxy.srv.URL, e.lb.srv.URL+"/notify/wechat"))
		if err := os.WriteFile(configs[i], []byte(cfg), 0o600); err != nil {
			t.Fatalf("chaos: %v", err)
		}
	}

	e.configs = configs

	// The merchant and its receiver. The receiver's URL must exist before
	// the merchant is made; its secret is known only after.
	e.rx = newReceiver("", webhookFail, seed)
	t.Cleanup(e.rx.srv.Close)
	out, err := runTool(ctx, bin, "merchant", "create", "--config", configs[0], "--name", "chaos",
		"--notify-url", e.rx.srv.URL+"/hook", "--json")
	if err != nil {
		t.Fatalf("chaos: %v", err)
	}
	if err := json.Unmarshal([]byte(lastLine(out)), &e.creds); err != nil || e.creds.AccessKey == "" || e.creds.WebhookSecret == "" {
		t.Fatalf("chaos: merchant create --json printed %q: %v", out, err)
	}
	e.rx.mu.Lock()
	e.rx.secret = e.creds.WebhookSecret
	e.rx.mu.Unlock()

	// The nodes, one after the other: the first applies the migrations
	// alone.
	for i := range configs {
		n := newProc(fmt.Sprintf("node%d", i), bin, e.logDir, e.nodeURL[i]+"/readyz",
			[]string{"serve", "--config", configs[i]}, childEnv())
		e.nodes = append(e.nodes, n)
		t.Cleanup(n.stop)
		if err := n.start(ctx, 60*time.Second); err != nil {
			t.Fatalf("chaos: %v", err)
		}
		hc := &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second,
			DialContext: (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
		}}
		e.clients = append(e.clients, client.New(e.nodeURL[i], e.creds.AccessKey, e.creds.SecretKey, client.WithHTTPClient(hc)))
	}
	if store == "sqlite" {
		p, err := newSQLiteProbe(strings.TrimPrefix(dbURL, "sqlite:"))
		if err != nil {
			t.Fatalf("chaos: %v", err)
		}
		t.Cleanup(func() { p.db.Close() })
		e.probe = p
	}
	return e
}

// nodeConfig is a node's configuration file. Every time knob is compressed
// so that a run of minutes sees compensation, expiries, webhook retries and
// a circuit opening and closing again; wechat is its wechat: section (see
// wechatKeys.section), both channels on.
func nodeConfig(port int, dbURL, masterKey, redisURL, gatewayURL, notifyURL, appKey, alipayPub, wechat string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# written by the chaos suite")
	w("server:")
	w("  addr: 127.0.0.1:%d", port)
	w("  public_url: http://127.0.0.1:%d", port)
	w("  shutdown_timeout: 5s")
	w("  drain_delay: 0s")
	w("database:")
	w("  url: %q", dbURL)
	w("secrets:")
	w("  master_key: %q", masterKey)
	w("redis:")
	w("  url: %q", redisURL)
	w("alipay:")
	w("  app_id: %q", appID)
	w("  gateway_url: %q", gatewayURL)
	w("  private_key_file: %q", appKey)
	w("  alipay_public_key_file: %q", alipayPub)
	w("  notify_url: %q", notifyURL)
	w("  seller_id: %q", alipaysim.DefaultSellerID(appID)) // the simulator's seller for this app
	w("  call_timeout: %s", callTimeout)
	b.WriteString(wechat)
	w("channel:")
	w("  breaker_open: 2s") // the circuit opens under these rates; new orders then get 503 for 2 s, not 30
	w("rate_limit:")
	w("  per_second: 0")
	w("orders:")
	w("  default_timeout: %s", orderTimeout)
	w("barcode:")
	w("  poll_interval: 200ms")
	w("  poll_timeout: 2s")
	w("jobs:")
	w("  compensate_after: %s", compensateAfter)
	w("  compensate_interval: 1s")
	w("  poll_interval: 200ms")
	w("  job_timeout: 30s") // long enough for a compensation's retries and cancels
	// node_timeout is left at its default (15 s): the recovery the suite
	// measures after each kill is the one an operator gets.
	w("webhooks:")
	w("  retry_schedule: 200ms,500ms,1s,2s,4s,8s,15s")
	w("  allow_private_networks: true") // the suite's receiver is on 127.0.0.1
	w("  allow_http: true")
	w("log:")
	w("  level: info")
	return b.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// logFiles are every process's log, for grepping and tails.
func (e *env) logFiles() []string {
	files := []string{e.sim.logPath}
	for _, n := range e.nodes {
		files = append(files, n.logPath)
	}
	if e.pg != nil {
		files = append(files, e.pg.logPath)
	}
	if e.standby != nil {
		files = append(files, e.standby.logPath)
	}
	return files
}
