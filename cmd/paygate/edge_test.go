package main

// The HTTP edge of `paygate serve` (and demo) and `paygate sim`: timeouts,
// the connection cap, and the nonce cache's wiring (Redis or one node).

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/client"
)

// edgeDeadline bounds every blocking step of these tests, so that a
// missing timeout fails the test instead of hanging it.
const edgeDeadline = 30 * time.Second

// dialHost opens a TCP connection to base's host, closed when t ends.
func dialHost(t *testing.T, base string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// getOn sends GET path on conn (keep-alive) and reads the answer.
func getOn(t *testing.T, conn net.Conn, r *bufio.Reader, path string) int {
	t.Helper()
	conn.SetDeadline(time.Now().Add(edgeDeadline))
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: paygate\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// wantClosedWhenIdle checks that the server closes a keep-alive connection
// left idle after one request.
func wantClosedWhenIdle(t *testing.T, base, path string) {
	t.Helper()
	conn := dialHost(t, base)
	r := bufio.NewReader(conn)
	if status := getOn(t, conn, r, path); status != http.StatusOK {
		t.Fatalf("GET %s: %d", path, status)
	}
	conn.SetReadDeadline(time.Now().Add(edgeDeadline))
	_, err := r.ReadByte()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("an idle connection was still open after %v", edgeDeadline)
	}
	if err == nil {
		t.Fatal("the server sent bytes on an idle connection")
	}
}

// wantConnectionCap checks that with n connections open (and idle), the
// next one is not served until one of them closes.
func wantConnectionCap(t *testing.T, base string, n int) {
	t.Helper()
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dialHost(t, base)
		if status := getOn(t, conns[i], bufio.NewReader(conns[i]), "/healthz"); status != http.StatusOK {
			t.Fatalf("connection %d: %d", i+1, status)
		}
	}
	extra := dialHost(t, base) // the kernel completes the handshake; the server does not accept it yet
	r := bufio.NewReader(extra)
	if _, err := io.WriteString(extra, "GET /healthz HTTP/1.1\r\nHost: paygate\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	extra.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := r.Peek(1); err == nil {
		t.Fatalf("connection %d was served while %d were open", n+1, n)
	}
	conns[0].Close()
	extra.SetReadDeadline(time.Now().Add(edgeDeadline))
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("connection %d once one closed: %v", n+1, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("connection %d: %d", n+1, resp.StatusCode)
	}
}

// wantSlowBodyCut sends a signed request's body one byte at a time, slower
// than the server's read timeout allows, and checks that the server ends
// the connection before the body is complete.
func wantSlowBodyCut(t *testing.T, base string, header http.Header, path string, body []byte) {
	t.Helper()
	conn := dialHost(t, base)
	head := "POST " + path + " HTTP/1.1\r\nHost: paygate\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	for k, vs := range header {
		for _, v := range vs {
			head += k + ": " + v + "\r\n"
		}
	}
	conn.SetDeadline(time.Now().Add(2 * edgeDeadline))
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		io.Copy(io.Discard, conn) // ends when the server closes (an answer may come first)
	}()
	for i := range body {
		select {
		case <-closed:
			return
		default:
		}
		if _, err := conn.Write(body[i : i+1]); err != nil {
			return // closed
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the server took a %d-byte body sent over %v", len(body), time.Duration(len(body))*100*time.Millisecond)
}

func TestServeTimeoutsAndConnectionCap(t *testing.T) {
	t.Parallel()
	t.Run("slow body", func(t *testing.T) {
		t.Parallel()
		g := startLiveGateway(t, "sqlite:"+filepath.Join(t.TempDir(), dbFile), func(c *config) {
			c.Server.ReadHeaderTimeout, c.Server.ReadTimeout = 500*time.Millisecond, 500*time.Millisecond
		})
		body := []byte(`{"out_trade_no":"SLOW1","subject":"slow","total_amount":"1.00","mode":"qr","x":"` + strings.Repeat("a", 150) + `"}`)
		ts, nonce := strconv.FormatInt(time.Now().UnixMilli(), 10), "slow-nonce-1"
		h := http.Header{}
		h.Set("X-Access-Key", g.creds.AccessKey)
		h.Set("X-Timestamp", ts)
		h.Set("X-Nonce", nonce)
		h.Set("X-Signature", client.Sign(g.creds.SecretKey, "POST", "/api/v1/orders", nil, g.creds.AccessKey, ts, nonce, body))
		wantSlowBodyCut(t, g.base, h, "/api/v1/orders", body)
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		t.Parallel()
		g := startLiveGateway(t, "sqlite:"+filepath.Join(t.TempDir(), dbFile), func(c *config) {
			c.Server.IdleTimeout = 300 * time.Millisecond
		})
		wantClosedWhenIdle(t, g.base, "/healthz")
	})
	t.Run("connection cap", func(t *testing.T) {
		t.Parallel()
		g := startLiveGateway(t, "sqlite:"+filepath.Join(t.TempDir(), dbFile), func(c *config) {
			c.Server.MaxConnections = 2
		})
		wantConnectionCap(t, g.base, 2)
	})
}

func TestSimTimeoutsAndConnectionCap(t *testing.T) {
	t.Parallel()
	t.Run("slow body", func(t *testing.T) {
		t.Parallel()
		s := startSim(t, "--read-timeout", "500ms")
		wantSlowBodyCut(t, s.base, http.Header{}, "/gateway.do", []byte("app_id=2021000000000001&method=alipay.trade.query&"+strings.Repeat("a", 150)))
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		t.Parallel()
		wantClosedWhenIdle(t, startSim(t, "--idle-timeout", "300ms").base, "/sim/trades")
	})
	t.Run("connection cap", func(t *testing.T) {
		t.Parallel()
		s := startSim(t, "--max-connections", "1")
		conn := dialHost(t, s.base)
		r := bufio.NewReader(conn)
		if status := getOn(t, conn, r, "/sim/trades"); status != http.StatusOK {
			t.Fatalf("first: %d", status)
		}
		extra := dialHost(t, s.base)
		er := bufio.NewReader(extra)
		io.WriteString(extra, "GET /sim/trades HTTP/1.1\r\nHost: sim\r\n\r\n")
		extra.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := er.Peek(1); err == nil {
			t.Fatal("a second connection was served at --max-connections 1")
		}
		conn.Close()
		extra.SetReadDeadline(time.Now().Add(edgeDeadline))
		if resp, err := http.ReadResponse(er, nil); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("second once the first closed: %v", err)
		}
	})
}

func TestServerLimitsConfig(t *testing.T) {
	t.Parallel()
	const longest = 2 * time.Minute
	tests := []struct {
		name  string
		edit  func(c *config)
		write time.Duration // want, when no error
		err   string
	}{
		{"derived", func(c *config) {}, 30*time.Second + longest + writeMargin, ""},
		{"set above", func(c *config) { c.Server.WriteTimeout = 10 * time.Minute }, 10 * time.Minute, ""},
		{"set below the barcode wait", func(c *config) { c.Server.WriteTimeout = time.Minute }, 0, "barcode answers would be cut"},
		{"no cap", func(c *config) { c.Server.MaxConnections = 0 }, 0, "max_connections must be positive"},
		{"no idle timeout", func(c *config) { c.Server.IdleTimeout = 0 }, 0, "must be positive"},
		{"header timeout above read", func(c *config) { c.Server.ReadHeaderTimeout = time.Minute }, 0, "must not exceed"},
		{"tiny headers", func(c *config) { c.Server.MaxHeaderBytes = 100 }, 0, "max_header_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaultConfig()
			tt.edit(&c)
			l, err := serverLimits(c, longest)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.WriteTimeout != tt.write {
				t.Fatalf("write timeout = %v, want %v", l.WriteTimeout, tt.write)
			}
			srv := newHTTPServer(http.NotFoundHandler(), l)
			if srv.ReadTimeout != 30*time.Second || srv.IdleTimeout != c.Server.IdleTimeout || srv.MaxHeaderBytes != 64<<10 || srv.WriteTimeout != tt.write {
				t.Fatalf("server = read %v idle %v headers %d write %v", srv.ReadTimeout, srv.IdleTimeout, srv.MaxHeaderBytes, srv.WriteTimeout)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	t.Parallel()
	got, err := parsePrefixes("k", " 10.0.0.0/8, 192.168.1.5 ,::1,2001:db8::/32,,")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.5/32", "::1/128", "2001:db8::/32"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i, p := range got {
		if p.String() != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0"} {
		if _, err := parsePrefixes("alipay.notify_allowlist", bad); err == nil || !strings.Contains(err.Error(), "alipay.notify_allowlist") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

// With PostgreSQL, replicas must share nonces: a node starts only with
// Redis (which must answer) or when declared the only node.
func TestNoncesNeedRedisOrSingleNode(t *testing.T) {
	t.Parallel()
	if os.Getenv("PAYGATE_TEST_POSTGRES_URL") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PAYGATE_TEST_POSTGRES_URL is not set in CI")
		}
		t.Skip("skipping: PAYGATE_TEST_POSTGRES_URL not set")
	}
	redisURL := os.Getenv("PAYGATE_TEST_REDIS_URL")
	tests := []struct {
		name  string
		edit  func(c *config)
		err   string
		redis bool
	}{
		{"neither", func(c *config) {}, "set redis.url", false},
		{"single node", func(c *config) { c.Server.SingleNode = true }, "", false},
		{"redis not answering", func(c *config) { c.Redis.URL = "redis://:pw-s3cret@127.0.0.1:1/0" }, "redis: no answer at start", false},
		{"redis", func(c *config) { c.Redis.URL = redisURL }, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.redis && redisURL == "" {
				t.Skip("skipping: PAYGATE_TEST_REDIS_URL not set")
			}
			dbURL, _ := postgresSchemaURL(t)
			c := liveConfig(t, dbURL)
			tt.edit(&c)
			a, err := newApp(t.Context(), c, slog.New(slog.DiscardHandler), nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("the Redis password leaked: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer a.close()
			rec := httptestGet(t, a, "/readyz")
			if rec != http.StatusOK {
				t.Fatalf("/readyz = %d", rec)
			}
		})
	}
}

// liveConfig is startLiveGateway's config without its simulator: enough
// to wire a node.
func liveConfig(t *testing.T, dbURL string) config {
	t.Helper()
	cfg := defaultConfig()
	cfg.Server.PublicURL = "http://127.0.0.1:1"
	cfg.Database.URL = dbURL
	cfg.Secrets.MasterKey = newMasterKeyHex(t)
	cfg.Alipay.AppID = liveAppID
	cfg.Alipay.GatewayURL = "http://127.0.0.1:1/gateway.do"
	cfg.Alipay.PrivateKeyFile = liveAppKeyFile
	cfg.Alipay.AlipayPublicKeyFile = liveAlipayPubFile
	return cfg
}

// httptestGet serves one GET through the node's handler.
func httptestGet(t *testing.T, a *app, path string) int {
	t.Helper()
	srv := newHTTPServer(a.api.Handler(), a.limits)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), edgeDeadline)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+ln.Addr().String()+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// tcpProxy forwards loopback connections to target until closed: a Redis
// that can be taken away.
type tcpProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func TestReadinessFollowsRedis(t *testing.T) {
	t.Parallel()
	raw := os.Getenv("PAYGATE_TEST_REDIS_URL")
	if raw == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PAYGATE_TEST_REDIS_URL is not set in CI")
		}
		t.Skip("skipping: PAYGATE_TEST_REDIS_URL not set")
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startTCPProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	c := liveConfig(t, "sqlite:"+filepath.Join(t.TempDir(), dbFile))
	c.Redis.URL = u.String()
	a, err := newApp(t.Context(), c, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if status := httptestGet(t, a, "/readyz"); status != http.StatusOK {
		t.Fatalf("/readyz with Redis = %d", status)
	}
	proxy.close()
	if status := httptestGet(t, a, "/readyz"); status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz without Redis = %d, want 503", status)
	}
}

// Two replicas on one PostgreSQL share nonces through Redis: a request
// replayed to the other replica is refused.
func TestReplayToAnotherReplicaRefused(t *testing.T) {
	t.Parallel()
	redisURL := os.Getenv("PAYGATE_TEST_REDIS_URL")
	if redisURL == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PAYGATE_TEST_REDIS_URL is not set in CI")
		}
		t.Skip("skipping: PAYGATE_TEST_REDIS_URL not set")
	}
	dbURL, _ := postgresSchemaURL(t) // skips, saying so, without PostgreSQL
	key := newMasterKeyHex(t)        // the replicas share the merchants' secrets
	withRedis := func(c *config) { c.Server.SingleNode, c.Redis.URL, c.Secrets.MasterKey = false, redisURL, key }
	a := startLiveGateway(t, dbURL, withRedis)
	b := startLiveGateway(t, dbURL, withRedis)
	ts, nonce := strconv.FormatInt(time.Now().UnixMilli(), 10), "replica-"+randomHex(8)
	send := func(base string) int {
		req, _ := http.NewRequest("GET", base+"/api/v1/orders", nil)
		req.Header.Set("X-Access-Key", a.creds.AccessKey)
		req.Header.Set("X-Timestamp", ts)
		req.Header.Set("X-Nonce", nonce)
		req.Header.Set("X-Signature", client.Sign(a.creds.SecretKey, "GET", "/api/v1/orders", nil, a.creds.AccessKey, ts, nonce, nil))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 500 {
			b, _ := io.ReadAll(resp.Body)
			t.Logf("%s: %s", base, b)
		}
		return resp.StatusCode
	}
	if status := send(a.base); status != http.StatusOK {
		t.Fatalf("first, on replica A: %d", status)
	}
	if status := send(b.base); status != http.StatusUnauthorized {
		t.Fatalf("replayed on replica B: %d, want 401", status)
	}
}
