package chaos

// A PostgreSQL instance of the suite's own: initdb into a temporary
// directory, its own port, its socket in that directory, trust auth, so that
// restarting it disturbs no other test. initdb and postgres refuse to run as
// root; as root they run as the postgres OS user (runuser), which owns the
// directory.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

type pgInstance struct {
	binDir  string
	dir     string // owned by the server's user; holds data/, the socket and the log
	data    string
	logPath string
	port    int
	asUser  string // run the server's commands as this OS user ("" = as ourselves)
}

// pgBinDir finds Debian's PostgreSQL binaries: $PAYGATE_CHAOS_PG_BIN, the
// newest /usr/lib/postgresql/*/bin, or pg_ctl on PATH.
func pgBinDir() (string, error) {
	if d := os.Getenv("PAYGATE_CHAOS_PG_BIN"); d != "" {
		return d, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	sort.Slice(matches, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[j]))))
		return vi < vj
	})
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("no PostgreSQL binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin or on PATH; set PAYGATE_CHAOS_PG_BIN")
}

// preparePG makes an instance's directory, owned by the server's user, and
// registers its cleanup: stopped and removed whatever happened.
func preparePG(t *testing.T) *pgInstance {
	t.Helper()
	binDir, err := pgBinDir()
	require(t, err == nil, "%v", err)
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		require(t, fileExists(filepath.Join(binDir, b)), "%s not found in %s", b, binDir)
	}
	pg := &pgInstance{binDir: binDir, port: freePort(t)}
	if os.Geteuid() == 0 {
		_, err := user.Lookup("postgres")
		require(t, err == nil, "running as root and there is no postgres OS user to run initdb as")
		_, err = exec.LookPath("runuser")
		require(t, err == nil, "running as root and runuser is missing")
		pg.asUser = "postgres"
	}
	// Not under t.TempDir(): the server's user must reach it, and the
	// test's directories are 0700 root. Short, because the socket path is
	// limited to about 100 bytes.
	sweepPG(binDir, pg.asUser)
	pg.dir, err = os.MkdirTemp("", pgDirPattern)
	if err != nil {
		t.Fatalf("chaos: %v", err)
	}
	// The owner file lets a later run stop this instance should this test
	// process die without its cleanups (killed, or a closed pipe).
	if err := os.WriteFile(filepath.Join(pg.dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatalf("chaos: %v", err)
	}
	t.Cleanup(func() {
		pg.stop("immediate")
		_ = os.RemoveAll(pg.dir)
	})
	if pg.asUser != "" {
		u, _ := user.Lookup(pg.asUser)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(pg.dir, uid, gid); err != nil {
			t.Fatalf("chaos: chown %s: %v", pg.dir, err)
		}
	}
	pg.data = filepath.Join(pg.dir, "data")
	pg.logPath = filepath.Join(pg.dir, "postgres.log")
	return pg
}

// startPG makes and starts an instance; t's cleanup stops and removes it,
// whatever happened.
func startPG(t *testing.T) *pgInstance {
	t.Helper()
	pg := preparePG(t)
	if out, err := pg.run("initdb", "-D", pg.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatalf("chaos: initdb: %v\n%s", err, out)
	}
	if err := pg.start(); err != nil {
		t.Fatalf("chaos: %v", err)
	}
	return pg
}

const (
	pgDirPattern = "pgchaos-"
	ownerFile    = "chaos-owner.pid"
)

// sweepPG stops and removes the instances of earlier runs whose test
// process is gone: only directories this suite made (named pgchaos-*, with
// its owner file) are touched.
func sweepPG(binDir, asUser string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), pgDirPattern+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) == nil || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue // its test still runs (or we cannot tell)
		}
		old := &pgInstance{binDir: binDir, dir: dir, data: filepath.Join(dir, "data"), asUser: asUser}
		old.stop("immediate")
		_ = os.RemoveAll(dir)
	}
}

// run runs one of the server's programs, as the server's user when needed.
func (pg *pgInstance) run(prog string, args ...string) (string, error) {
	path := filepath.Join(pg.binDir, prog)
	var cmd *exec.Cmd
	if pg.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", pg.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = pg.dir
	cmd.Env = append(withoutEnv(os.Environ(), "PG*"), "LC_ALL=C")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			if cmd.Process != nil {
				_ = cmd.Process.Kill()
			}
		case <-done:
		}
	}()
	out, err := cmd.CombinedOutput()
	close(done)
	return string(out), err
}

// start starts the server and waits until it accepts connections.
func (pg *pgInstance) start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200", pg.port, pg.dir)
	out, err := pg.run("pg_ctl", "-D", pg.data, "-l", pg.logPath, "-o", opts, "-w", "-t", "60", "start")
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, tail(pg.logPath, 20))
	}
	return nil
}

// stop stops the server in the given mode (fast, immediate); a server that
// is not running is fine.
func (pg *pgInstance) stop(mode string) {
	if pg.data == "" || !fileExists(filepath.Join(pg.data, "postmaster.pid")) {
		return
	}
	_, _ = pg.run("pg_ctl", "-D", pg.data, "-m", mode, "-w", "-t", "60", "stop")
}

// restart is `pg_ctl stop -m fast`, a pause, then start: every connection
// breaks, and nothing answers for the pause.
func (pg *pgInstance) restart(pause time.Duration) error {
	out, err := pg.run("pg_ctl", "-D", pg.data, "-m", "fast", "-w", "-t", "60", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	time.Sleep(pause)
	return pg.start()
}

// url is the database URL the gateway nodes use.
func (pg *pgInstance) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
}

func (pg *pgInstance) String() string {
	return strings.Join([]string{"postgres", pg.binDir, pg.dir, strconv.Itoa(pg.port)}, " ")
}

// startStandby makes a streaming replica of primary (pg_basebackup -R) on a
// port of its own, then makes it synchronous: the primary answers a commit
// only once the standby has it, so that a failover to it loses nothing a
// client was told is committed.
func startStandby(t *testing.T, primary *pgInstance) *pgInstance {
	t.Helper()
	sb := preparePG(t)
	out, err := sb.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(primary.port), "-U", "postgres",
		"-D", sb.data, "-R", "-X", "stream", "-c", "fast", "--no-sync")
	if err != nil {
		t.Fatalf("chaos: pg_basebackup: %v\n%s", err, out)
	}
	if err := sb.start(); err != nil {
		t.Fatalf("chaos: standby: %v", err)
	}
	for _, q := range []string{`ALTER SYSTEM SET synchronous_standby_names = '*'`, `SELECT pg_reload_conf()`} {
		if out, err := primary.psql(q); err != nil {
			t.Fatalf("chaos: %s: %v\n%s", q, err, out)
		}
	}
	// Wait until the standby streams synchronously.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := primary.psql(`SELECT sync_state FROM pg_stat_replication`)
		if err == nil && strings.TrimSpace(out) == "sync" {
			return sb
		}
		if time.Now().After(deadline) {
			t.Fatalf("chaos: the standby is not synchronous after 30 s: %q %v", out, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// psql runs one statement on the instance and returns its unaligned output.
func (pg *pgInstance) psql(q string) (string, error) {
	return pg.run("psql", "-X", "-At", "-h", pg.dir, "-p", strconv.Itoa(pg.port), "-U", "postgres", "-d", "postgres", "-c", q)
}

// promote makes a standby the primary and waits until it takes writes.
func (pg *pgInstance) promote() error {
	out, err := pg.run("pg_ctl", "-D", pg.data, "-w", "-t", "60", "promote")
	if err != nil {
		return fmt.Errorf("pg_ctl promote: %v\n%s", err, out)
	}
	return nil
}

// failoverURL names both instances, the gateway connecting to whichever
// takes writes (pgx's target_session_attrs).
func failoverURL(a, b *pgInstance) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/postgres?sslmode=disable&target_session_attrs=read-write&connect_timeout=2", a.port, b.port)
}
