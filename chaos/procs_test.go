package chaos

// Processes: the paygate binary built once, and the processes it runs (the
// simulator, gateway nodes), each with its output captured to a log file
// under the run's directory, startable again after a SIGKILL with the same
// command line.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paygate/paygate/testenv"
)

// inCI reports whether the suite runs in CI, where a missing prerequisite
// fails instead of skipping (a skip would hide that nothing ran).
func inCI() bool { return os.Getenv("CI") == "true" }

// require skips t (outside CI) or fails it (in CI) when ok is false.
func require(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if ok {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if inCI() {
		t.Fatalf("chaos: %s (CI=true: a missing prerequisite fails the suite)", msg)
	}
	testenv.Missing(t, "a prerequisite of the chaos suite", msg) // skips, and says so after the run
}

// goTool is the go command that runs this test.
func goTool() (string, error) {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p, nil
	}
	return exec.LookPath("go")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// moduleRoot is the directory of the go.mod this package belongs to.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if fileExists(filepath.Join(d, "go.mod")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// buildPaygate builds ./cmd/paygate (without -race: the race detector is for
// the test process; the binaries under test run at their real speed).
func buildPaygate(t *testing.T, outDir string) string {
	t.Helper()
	goBin, err := goTool()
	require(t, err == nil, "no go command to build paygate: %v", err)
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("chaos: %v", err)
	}
	bin := filepath.Join(outDir, "paygate")
	start := time.Now()
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/paygate")
	cmd.Dir = root
	cmd.Env = withoutEnv(os.Environ(), "GOFLAGS") // a -race in GOFLAGS is for the tests, not the binary
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chaos: go build ./cmd/paygate: %v\n%s", err, out)
	}
	t.Logf("chaos: built %s in %s", bin, time.Since(start).Round(time.Millisecond))
	return bin
}

// withoutEnv drops the variables named (exactly) or prefixed (ending in _*).
func withoutEnv(env []string, names ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			if p, ok := strings.CutSuffix(n, "*"); ok && strings.HasPrefix(k, p) || k == n {
				drop = true
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// childEnv is the environment of every process the suite starts: the test's
// own, without PAYGATE_* (a PAYGATE_DATABASE_URL of the developer's shell
// must not redirect the gateway) and without GOFLAGS.
func childEnv(extra ...string) []string {
	return append(withoutEnv(os.Environ(), "PAYGATE_*", "GOFLAGS"), extra...)
}

// runTool runs a short paygate command and returns its stdout.
func runTool(ctx context.Context, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("paygate %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// freePort finds a TCP port on 127.0.0.1 nobody listens on (a small race
// with other programs is accepted: the suite owns the machine's test run).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("chaos: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is one long-running process, restartable with the same command line.
// Its stdout and stderr go to one log file, appended across restarts with a
// marker line per start.
type proc struct {
	name    string
	bin     string
	args    []string
	env     []string
	logPath string
	ready   string // URL answering 200 once the process serves

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	err    error // of the last exit
	starts int
	kills  int
}

func newProc(name, bin, logDir, ready string, args []string, env []string) *proc {
	return &proc{name: name, bin: bin, args: args, env: env, ready: ready, logPath: filepath.Join(logDir, name+".log")}
}

// start runs the process and waits until its ready URL answers 200.
func (p *proc) start(ctx context.Context, wait time.Duration) error {
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s: already running", p.name)
	}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	p.starts++
	fmt.Fprintf(f, "=== chaos: start #%d of %s at %s: %s %s\n", p.starts, p.name, time.Now().Format(time.RFC3339Nano), p.bin, strings.Join(p.args, " "))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = f, f
	// Die with the test process, even when it is killed without cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	onSpawner(func() { err = cmd.Start() })
	if err != nil {
		f.Close()
		p.mu.Unlock()
		return fmt.Errorf("%s: start: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(f, "=== chaos: %s exited at %s: %v\n", p.name, time.Now().Format(time.RFC3339Nano), err)
		f.Close()
		p.mu.Lock()
		p.err = err
		if p.cmd == cmd {
			p.cmd = nil
		}
		p.mu.Unlock()
		close(done)
	}()
	if p.ready == "" {
		return nil
	}
	if err := waitReady(ctx, p.ready, wait, done); err != nil {
		return fmt.Errorf("%s: %w (log %s:\n%s)", p.name, err, p.logPath, tail(p.logPath, 30))
	}
	return nil
}

// running reports whether the process is up.
func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// signal sends sig and waits up to wait for the exit; a process still
// running then is killed.
func (p *proc) signal(sig syscall.Signal, wait time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return
	case <-time.After(wait):
	}
	_ = cmd.Process.Kill()
	<-done
}

// lastErr is the exit status of the last run; killCount the SIGKILLs sent.
func (p *proc) lastErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *proc) killCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.kills
}

// kill is SIGKILL: no drain, no cleanup, in-flight work lost mid-way.
func (p *proc) kill() {
	p.mu.Lock()
	p.kills++
	p.mu.Unlock()
	p.signal(syscall.SIGKILL, 10*time.Second)
}

// stop is SIGTERM, the graceful way, for the end of the run.
func (p *proc) stop() { p.signal(syscall.SIGTERM, 15*time.Second) }

// spawner runs process starts on one OS thread that never exits: Pdeathsig
// fires when the thread that started a child ends, not only the process, and
// the Go runtime may end threads.
var spawner = sync.OnceValue(func() chan func() {
	ch := make(chan func())
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives as long as the test
		for f := range ch {
			f()
		}
	}()
	return ch
})

func onSpawner(f func()) {
	done := make(chan struct{})
	spawner() <- func() { f(); close(done) }
	<-done
}

// waitReady polls url until it answers 200, the process exits (done), or
// wait passes.
func waitReady(ctx context.Context, url string, wait time.Duration, done <-chan struct{}) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(wait)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("exited before it was ready")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not ready at %s after %s (last: %s)", url, wait, last)
}

// tail is the last n lines of a file.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// grepFiles returns up to max lines of the files that contain any of the
// needles, each prefixed by the file's base name.
func grepFiles(paths []string, needles []string, max int) []string {
	var out []string
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, `"msg":"http request"`) && strings.Contains(line, `"method":"GET"`) {
				continue // the checks' own reads
			}
			for _, n := range needles {
				if n != "" && strings.Contains(line, n) {
					if len(line) > 600 {
						line = line[:600] + "…"
					}
					out = append(out, filepath.Base(p)+": "+line)
					break
				}
			}
			if len(out) >= max {
				f.Close()
				return out
			}
		}
		f.Close()
	}
	return out
}

// pid is the running process's id, 0 when it is not running.
func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}
