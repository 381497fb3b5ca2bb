package testenv

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestSummaryLines(t *testing.T) {
	t.Parallel()
	l := &skipLog{tests: map[need]map[string]bool{}}
	pg, oss := need{"PostgreSQL", "set " + PostgresVar}, need{"openssl", "install openssl"}
	for _, name := range []string{"TestA/postgres", "TestB", "TestB"} { // a test skipped twice counts once
		l.add(pg, name)
	}
	l.add(oss, "TestKeys")
	want := []string{
		"SKIPPED: 2 tests in ./postgres need PostgreSQL (set PAYGATE_TEST_POSTGRES_URL)",
		"SKIPPED: 1 test in ./postgres needs openssl (install openssl)",
	}
	got := l.lines("./postgres")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

type bufCloser struct {
	bytes.Buffer
	closed bool
}

func (b *bufCloser) Close() error { b.closed = true; return nil }

func TestReportWritesStderrAndTerminal(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	tty := &bufCloser{}
	report(&stderr, func() io.WriteCloser { return tty }, []string{"SKIPPED: x"})
	if stderr.String() != "SKIPPED: x\n" {
		t.Errorf("stderr = %q", stderr.String())
	}
	if !testing.Verbose() && (tty.String() != "SKIPPED: x\n" || !tty.closed) {
		t.Errorf("terminal = %q (closed %v)", tty.String(), tty.closed)
	}
	// Nothing skipped: nothing said, the terminal not even opened.
	stderr.Reset()
	report(&stderr, func() io.WriteCloser { t.Error("terminal opened with nothing to say"); return nil }, nil)
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q with nothing skipped", stderr.String())
	}
	// No terminal (CI, a pipe): stderr alone.
	report(&stderr, func() io.WriteCloser { return nil }, []string{"SKIPPED: y"})
	if stderr.String() != "SKIPPED: y\n" {
		t.Errorf("stderr without a terminal = %q", stderr.String())
	}
}

func TestPackageDir(t *testing.T) {
	t.Parallel()
	if got := packageDir(); got != "./testenv" {
		t.Fatalf("packageDir() = %q, want ./testenv", got)
	}
}

// TestMissingHelper is run by TestMissing in a child process.
func TestMissingHelper(t *testing.T) {
	if os.Getenv("TESTENV_HELPER") != "1" {
		t.Skip("run by TestMissing")
	}
	Getenv(t, "TESTENV_UNSET_VARIABLE", "a service")
	t.Fatal("Getenv returned without the variable")
}

// TestMissing runs a test that lacks its service: skipped and summed up
// outside CI, failed in CI.
func TestMissing(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, ci string
		fail     bool
		want     string
	}{
		{"outside CI", "", false, "SKIPPED: 1 test in ./testenv needs a service (set TESTENV_UNSET_VARIABLE)"},
		{"in CI", "true", true, "needs a service (set TESTENV_UNSET_VARIABLE), and CI=true"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestMissingHelper$", "-test.v")
			cmd.Env = append(os.Environ(), "TESTENV_HELPER=1", "CI="+tt.ci, "TESTENV_UNSET_VARIABLE=")
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tt.fail {
				t.Fatalf("failed = %v, want %v: %v\n%s", failed, tt.fail, err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Fatalf("output lacks %q:\n%s", tt.want, out)
			}
		})
	}
}

// TestMain sums up this package's own skips, as every package's does.
func TestMain(m *testing.M) { Main(m) }
