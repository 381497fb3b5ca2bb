package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runningSim is `paygate sim` running in-process.
type runningSim struct {
	base   string // http://127.0.0.1:PORT
	pubKey string // the printed bare base64 line
	stdout *syncBuffer
	stderr *syncBuffer
	stop   func() error
}

var listenLine = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)\n`)

// startSim runs the sim command with args on 127.0.0.1:0 until stop.
func startSim(t *testing.T, args ...string) *runningSim {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"sim", "--addr", "127.0.0.1:0"}, args...), stdout, stderr)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), "支付宝公钥") || len(strings.Split(stdout.String(), "\n")) < 5 {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("sim exited: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("sim did not start\nstdout: %s\nstderr: %s", stdout, stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := stdout.String()
	m := listenLine.FindStringSubmatch(out)
	if m == nil {
		cancel()
		t.Fatalf("no listening line in %q", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	r := &runningSim{base: m[1], pubKey: lines[len(lines)-1], stdout: stdout, stderr: stderr}
	var once sync.Once
	var stopErr error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("sim did not stop within 10 s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = r.stop() })
	return r
}

func TestSimCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	appKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(dir, "app_public_key.txt")
	if err := os.WriteFile(pubFile, []byte(alipay.PublicKeyBase64(&appKey.PublicKey)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "simdata")
	args := []string{"--data", data, "--app-id", "2021000000000001", "--app-public-key", pubFile, "--faults", `{"latency_ms":1}`, "--pay-delay", "1s"}
	sim := startSim(t, args...)

	resp, err := http.Get(sim.base + "/sim/alipay_public_key")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(b)) != sim.pubKey {
		t.Fatalf("printed key %q, served %q", sim.pubKey, b)
	}
	// Standalone, the simulator serves the buyer's phone page too.
	resp, err = http.Get(sim.base + "/sim/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "Buyer's phone") {
		t.Fatalf("GET /sim/: %d %.200s", resp.StatusCode, b)
	}
	alipayPub, err := alipay.ParsePublicKey([]byte(sim.pubKey))
	if err != nil {
		t.Fatal(err)
	}
	client, err := alipay.New(alipay.Config{AppID: "2021000000000001", GatewayURL: sim.base + "/gateway.do", PrivateKey: appKey, AlipayPublicKey: alipayPub})
	if err != nil {
		t.Fatal(err)
	}
	pay, err := client.Pay(t.Context(), alipay.PayRequest{OutTradeNo: "CMD1", AuthCode: "280000000000000001", Subject: "s", TotalAmount: 100})
	if err != nil || pay.Outcome() != alipay.OutcomeSuccess {
		t.Fatalf("pay through the command: %v", err)
	}
	resp, err = http.Get(sim.base + "/sim/faults")
	if err != nil {
		t.Fatal(err)
	}
	var faults map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&faults)
	resp.Body.Close()
	if faults["latency_ms"] != 1.0 {
		t.Fatalf("faults %v", faults)
	}
	if err := sim.stop(); err != nil {
		t.Fatalf("sim returned %v", err)
	}
	fi, err := os.Stat(filepath.Join(data, simKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", err, fi)
	}
	sc := bufio.NewScanner(strings.NewReader(sim.stderr.String()))
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
	}

	// Restarted on the same data: the same key and the same trades.
	again := startSim(t, args...)
	if again.pubKey != sim.pubKey {
		t.Fatal("the Alipay key changed across a restart")
	}
	client, _ = alipay.New(alipay.Config{AppID: "2021000000000001", GatewayURL: again.base + "/gateway.do", PrivateKey: appKey, AlipayPublicKey: alipayPub})
	q, err := client.Query(t.Context(), alipay.TradeRef{OutTradeNo: "CMD1"})
	if err != nil || q.TradeStatus != alipay.TradeSuccess || q.TradeNo != pay.TradeNo {
		t.Fatalf("trade after restart: %v %+v", err, q)
	}
}

func TestSimFlagErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(badKey, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := [][]string{
		{"--app-id", "2021000000000001"},
		{"--app-public-key", badKey},
		{"--alipay-private-key", badKey},
		{"--alipay-private-key", badKey, "--faults", "{}"},
		{"--faults", `{"unknown_rate":2}`, "--alipay-private-key", filepath.Join(dir, "missing.pem")},
		{"--pay-delay", "0s"},
		{"--addr", "127.0.0.1:notaport"},
	}
	for _, args := range cases {
		_, stderr, err := runCmd(t, append([]string{"sim"}, args...)...)
		if err == nil {
			t.Errorf("sim %v succeeded", args)
		} else if !strings.Contains(stderr, "Error") {
			t.Errorf("sim %v: stderr %q", args, stderr)
		}
	}
}

// TestSimBill: `paygate sim bill` writes a synthetic bill the client reads
// back whole, and refuses to overwrite a file or a bad date.
func TestSimBill(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "bill.zip")
	stdout, stderr, err := runCmd(t, "sim", "bill", "--date", "2026-11-29", "--rows", "1234", "--out", out)
	if err != nil {
		t.Fatalf("sim bill: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "1234 payments") {
		t.Errorf("stdout %q", stdout)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	bill, err := alipay.ParseBillZip(data)
	if err != nil {
		t.Fatal(err)
	}
	if bill.TradeCount != 1234 || bill.Rows[0].OutTradeNo != "PG20261129"+"0000000000000000" || bill.Summary == nil {
		t.Fatalf("bill: %d payments, first %+v, summary %v", bill.TradeCount, bill.Rows[0], bill.Summary)
	}
	for _, args := range [][]string{
		{"sim", "bill", "--date", "2026-11-29", "--rows", "1", "--out", out},       // exists
		{"sim", "bill", "--date", "29.11.2026", "--rows", "1", "--out", out + "2"}, // bad date
	} {
		if _, _, err := runCmd(t, args...); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}
