package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate/testenv"
)

// nginxDir copies deploy/nginx into a temporary directory (the switch
// rewrites active.conf), with a prefix for nginx's logs and temp files, and
// applies the replacements to its files. It returns the copy's directory.
func nginxDir(t *testing.T, replace map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir("nginx")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		src := filepath.Join("nginx", e.Name())
		if e.Type()&os.ModeSymlink != 0 {
			target, err := os.Readlink(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b := readFile(t, src)
		for old, repl := range replace {
			b = bytes.ReplaceAll(b, []byte(old), []byte(repl))
		}
		info, _ := e.Info()
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"logs", "temp"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// nginxArgs are the arguments that run nginx on the copy in dir.
func nginxArgs(dir string, args ...string) []string {
	return append([]string{"-e", "stderr", "-p", dir + "/", "-c", filepath.Join(dir, "nginx.conf")}, args...)
}

// TestNginxConfig: nginx -t accepts the example as shipped, blue active and
// green active, and the compose setup's load balancer (its hosts made
// loopback: nginx -t resolves upstream names).
func TestNginxConfig(t *testing.T) {
	dir := nginxDir(t, nil)
	t.Log(run(t, dir, "nginx", nginxArgs(dir, "-t")...))
	if err := os.Remove(filepath.Join(dir, "active.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("active-green.conf", filepath.Join(dir, "active.conf")); err != nil {
		t.Fatal(err)
	}
	t.Log(run(t, dir, "nginx", nginxArgs(dir, "-t")...))

	lb := t.TempDir()
	conf := strings.NewReplacer("paygate-1:", "127.0.0.1:", "paygate-2:", "127.0.0.2:").Replace(string(readFile(t, "compose/nginx-lb.conf")))
	main := "pid logs/nginx.pid;\nevents {}\nhttp {\n" + conf + "\n}\n"
	for _, d := range []string{"logs", "temp"} {
		if err := os.Mkdir(filepath.Join(lb, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(lb, "nginx.conf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Log(run(t, lb, "nginx", nginxArgs(lb, "-t")...))
}

// colour is a fake paygate node: it names its colour, answers /readyz 200
// for its first readyFor checks (negative: always), 503 after, and serves
// /metrics whose HTTP totals grow by 100 API requests at each scrape, shaped
// by its health.
type colour struct {
	name     string
	readyFor atomic.Int64
	checks   atomic.Int64
	health   atomic.Int32 // healthy, failing or slow
	scrapes  atomic.Int64
	srv      *httptest.Server

	mu  sync.Mutex
	ok  float64            // GET /api/v1/orders/:out_trade_no answered 200
	bad float64            // answered 500
	le  map[string]float64 // its duration buckets, not cumulative
	// Requests the gate must leave out: /readyz answering 503 and slow
	// POST /api/v1/orders (barcode payments), growing at every scrape.
	probes, barcodes float64
}

// The health of a fake colour's requests between two scrapes.
const (
	healthy = iota // 100 fast 200s
	failing        // 90 fast 200s, 10 500s
	slow           // 100 200s taking 1-2.5 s
)

var fakeBuckets = []string{"0.05", "1", "2.5", "+Inf"}

func newColour(t *testing.T, name string) *colour {
	c := &colour{name: name, le: map[string]float64{}}
	c.readyFor.Store(-1)
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			c.scrapes.Add(1)
			io.WriteString(w, c.metrics())
			return
		case "/readyz":
			n := c.checks.Add(1)
			if rf := c.readyFor.Load(); rf >= 0 && n > rf {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
		}
		io.WriteString(w, c.name)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// metrics advances the totals by one scrape's requests and writes them in
// Prometheus' text format, as paygate's registry does.
func (c *colour) metrics() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.health.Load() {
	case healthy:
		c.ok += 100
		c.le["0.05"] += 100
	case failing:
		c.ok += 90
		c.bad += 10
		c.le["0.05"] += 100
	case slow:
		c.ok += 100
		c.le["2.5"] += 100
	}
	c.probes += 50
	c.barcodes += 50
	var b strings.Builder
	const get = `method="GET",route="/api/v1/orders/:out_trade_no"`
	b.WriteString("# TYPE paygate_http_requests_total counter\n")
	fmt.Fprintf(&b, "paygate_http_requests_total{code=\"200\",%s} %g\n", get, c.ok)
	fmt.Fprintf(&b, "paygate_http_requests_total{code=\"500\",%s} %g\n", get, c.bad)
	fmt.Fprintf(&b, "paygate_http_requests_total{code=\"503\",method=\"GET\",route=\"/readyz\"} %g\n", c.probes)
	fmt.Fprintf(&b, "paygate_http_requests_total{code=\"200\",method=\"POST\",route=\"/api/v1/orders\"} %g\n", c.barcodes)
	b.WriteString("# TYPE paygate_http_request_duration_seconds histogram\n")
	var cum float64
	for _, le := range fakeBuckets {
		cum += c.le[le]
		fmt.Fprintf(&b, "paygate_http_request_duration_seconds_bucket{%s,le=%q} %g\n", get, le, cum)
		barcodes := 0.0
		if le == "+Inf" {
			barcodes = c.barcodes // all beyond the last bucket
		}
		fmt.Fprintf(&b, "paygate_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/orders\",le=%q} %g\n", le, barcodes)
	}
	fmt.Fprintf(&b, "paygate_http_request_duration_seconds_sum{%s} %g\n", get, cum/10)
	fmt.Fprintf(&b, "paygate_http_request_duration_seconds_count{%s} %g\n", get, cum)
	return b.String()
}

func (c *colour) addr() string { return strings.TrimPrefix(c.srv.URL, "http://") }

// TestBlueGreenSwitch runs nginx on the example with two fake colours and
// switch.sh between them: a ready, healthy colour takes the traffic and
// keeps it; an unready one does not; a config nginx -t refuses is rolled
// back; a colour whose /readyz fails, whose 5xx share jumps or whose p99
// jumps while watched hands the traffic back.
func TestBlueGreenSwitch(t *testing.T) {
	nginx := testenv.LookPath(t, "nginx")
	testenv.LookPath(t, "curl")
	blue, green := newColour(t, "blue"), newColour(t, "green")
	port := freePort(t)
	dir := nginxDir(t, map[string]string{
		"127.0.0.1:8081": blue.addr(), "127.0.0.1:8082": green.addr(),
		"127.0.0.1:9181": blue.addr(), "127.0.0.1:9182": green.addr(),
		"listen 8080;": "listen " + port + ";",
	})
	start := exec.Command(nginx, nginxArgs(dir)...)
	if out, err := start.CombinedOutput(); err != nil {
		t.Fatalf("start nginx: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(nginx, nginxArgs(dir, "-s", "quit")...).Run() })

	switchTo := func(c string) (int, string) {
		cmd := exec.Command("bash", filepath.Join(dir, "switch.sh"), c)
		cmd.Env = append(os.Environ(), "NGINX="+nginx, "NGINX_PREFIX="+dir+"/",
			"READY_OK=2", "READY_TRIES=3", "WATCH_SECONDS=3", "WATCH_INTERVAL=1", "WATCH_FAILS=2",
			"WATCH_MIN_REQUESTS=50", "MAX_ERROR_RATE=0.05", "MAX_P99=1")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	serving := func(want string) {
		t.Helper()
		// nginx reloads asynchronously: old workers finish before new ones
		// take every connection. Wait for the answer, then require it.
		var got string
		for range 100 {
			got = get(t, "http://"+port+"/")
			if got == want {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("nginx serves %q, want %q", got, want)
	}

	serving("blue")
	if code, out := switchTo("green"); code != 0 {
		t.Fatalf("switch to a ready green: exit %d\n%s", code, out)
	}
	serving("green")
	assertActive(t, dir, "green")

	if n := green.scrapes.Load(); n < 3 {
		t.Fatalf("green's /metrics was scraped %d times while watched, want 3 or more", n)
	}

	blue.readyFor.Store(0) // never ready
	if code, out := switchTo("blue"); code != 1 {
		t.Fatalf("switch to an unready blue: exit %d, want 1\n%s", code, out)
	}
	assertActive(t, dir, "green")
	serving("green")

	blue.readyFor.Store(-1)
	good := readFile(t, filepath.Join(dir, "active-blue.conf"))
	if err := os.WriteFile(filepath.Join(dir, "active-blue.conf"), []byte("map {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := switchTo("blue"); code != 1 || !strings.Contains(out, "restoring green") {
		t.Fatalf("switch with a config nginx -t refuses: exit %d, want 1 and a restore\n%s", code, out)
	}
	assertActive(t, dir, "green")
	if err := os.WriteFile(filepath.Join(dir, "active-blue.conf"), good, 0o644); err != nil {
		t.Fatal(err)
	}

	blue.checks.Store(0)
	blue.readyFor.Store(2) // ready for the gate (READY_OK), then failing while watched
	if code, out := switchTo("blue"); code != 2 || !strings.Contains(out, "moving traffic back to green") {
		t.Fatalf("switch to a blue that fails after: exit %d, want 2\n%s", code, out)
	}
	assertActive(t, dir, "green")
	serving("green")

	// The metrics: each scrape brings 100 requests of the colour's health
	// (and probes and barcode payments the gate leaves out).
	blue.readyFor.Store(-1)
	for _, tc := range []struct {
		health int32
		why    string
	}{
		{failing, "5xx share 0.0667 > MAX_ERROR_RATE 0.05"}, // 10 of 150: the probes left out
		{slow, "> MAX_P99 1s"},
	} {
		blue.health.Store(tc.health)
		code, out := switchTo("blue")
		if code != 2 || !strings.Contains(out, tc.why) || !strings.Contains(out, "moving traffic back to green") {
			t.Fatalf("switch to a blue whose requests turn %d: exit %d, want 2 and %q\n%s", tc.health, code, tc.why, out)
		}
		t.Logf("health %d: %s", tc.health, out)
		assertActive(t, dir, "green")
		serving("green")
	}

	blue.health.Store(healthy)
	if code, out := switchTo("blue"); code != 0 || !strings.Contains(out, "share 0.0000") {
		t.Fatalf("switch to a healthy blue: exit %d, want 0\n%s", code, out)
	} else {
		t.Logf("healthy: %s", out)
	}
	serving("blue")
	assertActive(t, dir, "blue")
}

func assertActive(t *testing.T, dir, want string) {
	t.Helper()
	target, err := os.Readlink(filepath.Join(dir, "active.conf"))
	if err != nil || target != "active-"+want+".conf" {
		t.Fatalf("active.conf -> %q (%v), want active-%s.conf", target, err, want)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// freePort is a loopback address free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
