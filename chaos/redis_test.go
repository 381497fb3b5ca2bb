package chaos

// A Redis of the suite's own, as it has its own PostgreSQL: redis-server on
// a free loopback port, without persistence, in a directory of the test's,
// killed when the test ends. The replicas share it for their nonce cache;
// whatever else answers on 6379 is left alone.

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startRedis starts the suite's Redis and returns its URL. Without
// redis-server the test is skipped (failed in CI).
func startRedis(t *testing.T, logDir string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	require(t, err == nil, "redis-server is not on PATH: the PostgreSQL replicas share a Redis of the suite's own")
	dir := t.TempDir()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	_, port, _ := net.SplitHostPort(addr)
	logPath := filepath.Join(logDir, "redis.log")
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", logPath, "--daemonize", "no")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatalf("chaos: start redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := redisPing(addr)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chaos: redis-server on %s not ready after 30 s: %v\n%s", addr, err, tail(logPath, 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("chaos: Redis of the suite's own on %s", addr)
	return "redis://" + addr + "/0"
}

// redisPing sends PING to the Redis at addr and expects PONG.
func redisPing(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// TestOwnRedis: the suite's Redis answers on a port of its own while the
// test runs, and is gone after.
func TestOwnRedis(t *testing.T) {
	var addr string
	t.Run("running", func(t *testing.T) {
		url := startRedis(t, t.TempDir())
		addr = strings.TrimSuffix(strings.TrimPrefix(url, "redis://"), "/0")
		if _, port, _ := net.SplitHostPort(addr); port == "6379" {
			t.Fatalf("the suite's Redis is on %s, the shared port", addr)
		}
		if err := redisPing(addr); err != nil {
			t.Fatalf("PING %s: %v", addr, err)
		}
	})
	if addr == "" {
		return // skipped: no redis-server
	}
	if err := redisPing(addr); err == nil {
		t.Fatalf("the suite's Redis on %s still answers after its test ended", addr)
	}
}
