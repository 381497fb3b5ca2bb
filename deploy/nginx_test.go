package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// colour is a fake paygate node: it names its colour and answers /readyz
// 200 for its first readyFor checks (negative: always), 503 after.
type colour struct {
	name     string
	readyFor atomic.Int64
	checks   atomic.Int64
	srv      *httptest.Server
}

func newColour(t *testing.T, name string) *colour {
	c := &colour{name: name}
	c.readyFor.Store(-1)
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
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

func (c *colour) addr() string { return strings.TrimPrefix(c.srv.URL, "http://") }

// TestBlueGreenSwitch runs nginx on the example with two fake colours and
// switch.sh between them: a ready colour takes the traffic; an unready one
// does not; a config nginx -t refuses is rolled back; a colour that fails
// while watched hands the traffic back.
func TestBlueGreenSwitch(t *testing.T) {
	nginx := testenv.LookPath(t, "nginx")
	testenv.LookPath(t, "curl")
	blue, green := newColour(t, "blue"), newColour(t, "green")
	port := freePort(t)
	dir := nginxDir(t, map[string]string{
		"127.0.0.1:8081": blue.addr(), "127.0.0.1:8082": green.addr(),
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
			"READY_TRIES=2", "WATCH_SECONDS=3", "WATCH_INTERVAL=1", "WATCH_FAILS=2")
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
	blue.readyFor.Store(1) // ready for the gate, then failing while watched
	if code, out := switchTo("blue"); code != 2 || !strings.Contains(out, "moving traffic back to green") {
		t.Fatalf("switch to a blue that fails after: exit %d, want 2\n%s", code, out)
	}
	assertActive(t, dir, "green")
	serving("green")
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
