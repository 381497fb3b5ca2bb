// Package testenv is what the tests need from outside Go: the PostgreSQL and
// Redis servers named by PAYGATE_TEST_POSTGRES_URL and PAYGATE_TEST_REDIS_URL,
// and programs such as openssl. A test that lacks one fails in CI (CI=true),
// where a skip would hide that nothing ran, and is skipped elsewhere; Main
// then says so where `go test ./...` shows it, since go test prints nothing
// of a passing package but its "ok" line.
package testenv

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The variables that name the tests' servers.
const (
	PostgresVar = "PAYGATE_TEST_POSTGRES_URL"
	RedisVar    = "PAYGATE_TEST_REDIS_URL"
)

// InCI reports whether the tests run in CI, where nothing may be skipped for
// want of a service.
func InCI() bool { return os.Getenv("CI") == "true" }

// Postgres is the PostgreSQL test database's URL; without one t is skipped
// (failed in CI).
func Postgres(t testing.TB) string {
	t.Helper()
	return Getenv(t, PostgresVar, "PostgreSQL")
}

// Redis is the Redis test server's URL; without one t is skipped (failed in
// CI).
func Redis(t testing.TB) string {
	t.Helper()
	return Getenv(t, RedisVar, "Redis")
}

// Getenv returns the variable name, which names the service what; when it is
// empty t is skipped (failed in CI) and counted for Main's summary.
func Getenv(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		Missing(t, what, "set "+name)
	}
	return v
}

// LookPath returns the path of program; when it is not on PATH t is skipped
// (failed in CI) and counted for Main's summary.
func LookPath(t testing.TB, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		Missing(t, program, "install "+program)
	}
	return p
}

// Missing fails t in CI and skips it elsewhere, for want of what; hint says
// how to provide it. Main counts the skips.
func Missing(t testing.TB, what, hint string) {
	t.Helper()
	if InCI() {
		t.Fatalf("needs %s (%s), and CI=true: a skipped test would hide that nothing ran", what, hint)
	}
	skips.add(need{what, hint}, t.Name())
	t.Skipf("skipped: needs %s (%s)", what, hint)
}

// need is one missing service and how to provide it.
type need struct{ what, hint string }

// skips are the tests skipped in this test binary, by need. A test binary
// is one package, so this is the package's count.
var skips = &skipLog{tests: map[need]map[string]bool{}}

type skipLog struct {
	mu    sync.Mutex
	tests map[need]map[string]bool
}

func (l *skipLog) add(n need, test string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tests[n] == nil {
		l.tests[n] = map[string]bool{}
	}
	l.tests[n][test] = true
}

// lines is the summary: one line per need, most skipped first.
func (l *skipLog) lines(pkg string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	type row struct {
		n     need
		count int
	}
	var rows []row
	for n, tests := range l.tests {
		rows = append(rows, row{n, len(tests)})
	}
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(b.count-a.count, strings.Compare(a.n.what, b.n.what))
	})
	var out []string
	for _, r := range rows {
		noun, verb := "tests", "need"
		if r.count == 1 {
			noun, verb = "test", "needs"
		}
		out = append(out, fmt.Sprintf("SKIPPED: %d %s in %s %s %s (%s)", r.count, noun, pkg, verb, r.n.what, r.n.hint))
	}
	return out
}

// Main runs the package's tests (call it from TestMain) and then reports
// what was skipped for want of a service: on stderr, which go test shows with
// -v or on failure, and, since `go test ./...` shows nothing else of a
// passing package, on the terminal (/dev/tty) when there is one.
func Main(m *testing.M) {
	code := m.Run()
	report(os.Stderr, openTTY, skips.lines(packageDir()))
	os.Exit(code)
}

// report writes lines to stderr and, unless go test already shows stderr
// (-v), to the terminal.
func report(stderr io.Writer, tty func() io.WriteCloser, lines []string) {
	if len(lines) == 0 {
		return
	}
	text := strings.Join(lines, "\n") + "\n"
	fmt.Fprint(stderr, text)
	if testing.Verbose() {
		return
	}
	if w := tty(); w != nil {
		fmt.Fprint(w, text)
		w.Close()
	}
}

// openTTY opens the controlling terminal for writing, or returns nil (no
// terminal: a pipe, a CI runner, a detached job).
func openTTY() io.WriteCloser {
	f, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return nil
	}
	return f
}

// packageDir is the test's package as a path from the module root, like
// ./postgres (go test runs a test binary in its package's directory).
func packageDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return "this package"
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			rel, err := filepath.Rel(d, dir)
			if err != nil || rel == "." {
				return "."
			}
			return "./" + filepath.ToSlash(rel)
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}
