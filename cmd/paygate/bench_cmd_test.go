package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchEnv is a live SQLite node with the files `paygate bench` reads: the
// merchant's credentials and the simulator's key.
type benchEnv struct {
	*e2eEnv
	creds  string
	simKey string
}

func newBenchEnv(t *testing.T) *benchEnv {
	t.Helper()
	e := e2e(t, "sqlite")
	dir := t.TempDir()
	creds := e.credsA
	creds.BaseURL = e.base
	data, err := json.Marshal(creds)
	if err != nil {
		t.Fatal(err)
	}
	b := &benchEnv{e2eEnv: e, creds: filepath.Join(dir, "merchant.json"), simKey: filepath.Join(dir, "sim_key.pem")}
	if err := os.WriteFile(b.creds, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, simKey := e2eKeys()
	e2eWritePEM(t, b.simKey, "PRIVATE KEY", e2eMust(x509.MarshalPKCS8PrivateKey(simKey)), 0o600)
	return b
}

// bench runs `paygate bench --json` in-process with args and decodes its report.
func (b *benchEnv) bench(t *testing.T, args ...string) benchReport {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"bench", "--json", "--credentials", b.creds, "--sim-key", b.simKey}, args...)
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("paygate %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var rep benchReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout.String())
	}
	return rep
}

// TestBench runs each scenario for a moment at a low rate against a real
// node and checks the report and the orders it made. Nothing is timed.
func TestBench(t *testing.T) {
	b := newBenchEnv(t)
	pid := strconv.Itoa(os.Getpid())
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, rep benchReport)
	}{
		{"qr and pay", []string{"--scenario", "qr", "--pay", "--rate", "20", "--duration", "1500ms", "--pid-gateway", pid}, func(t *testing.T, rep benchReport) {
			if rep.Steps["create_qr"].Count != uint64(rep.Operations) || rep.Steps["sim_pay"].Count != uint64(rep.Operations) {
				t.Errorf("steps %+v, want %d of each", rep.Steps, rep.Operations)
			}
			if rep.Gateway == nil || rep.Gateway.PID != os.Getpid() || rep.Gateway.RSSMB <= 0 {
				t.Errorf("gateway %+v, want this process's figures", rep.Gateway)
			}
			for _, no := range rep.SampleOrders {
				e2eWaitStatus(t, b.a, no, "paid")
			}
		}},
		{"qr closed loop", []string{"--scenario", "qr", "--concurrency", "2", "--duration", "1s"}, func(t *testing.T, rep benchReport) {
			if rep.Mode != "closed" || rep.Concurrency != 2 {
				t.Errorf("mode %s, concurrency %d", rep.Mode, rep.Concurrency)
			}
			for _, no := range rep.SampleOrders {
				if o := e2eGet(t, b.a, no); o.Status != "pending" || o.QRCode == "" {
					t.Errorf("order %s: %+v", no, o)
				}
			}
		}},
		{"barcode", []string{"--scenario", "barcode", "--rate", "20", "--duration", "1500ms"}, func(t *testing.T, rep benchReport) {
			for _, no := range rep.SampleOrders {
				if o := e2eGet(t, b.a, no); o.Status != "paid" {
					t.Errorf("order %s is %s, want paid", no, o.Status)
				}
			}
		}},
		{"notify", []string{"--scenario", "notify", "--rate", "20", "--duration", "1500ms"}, func(t *testing.T, rep benchReport) {
			if int64(rep.Prepared) != rep.Operations {
				t.Errorf("prepared %d orders, want one per notification (%d)", rep.Prepared, rep.Operations)
			}
			for i := 1; i <= rep.Prepared; i++ {
				no := rep.RunID + "N" + strconv.Itoa(i)
				if o := e2eGet(t, b.a, no); o.Status != "paid" {
					t.Errorf("order %s is %s after its notification, want paid", no, o.Status)
				}
			}
		}},
		{"refund", []string{"--scenario", "refund", "--rate", "20", "--duration", "1500ms", "--prepare", "4"}, func(t *testing.T, rep benchReport) {
			refunds := 0
			for i := 1; i <= 4; i++ {
				no := rep.RunID + "P" + strconv.Itoa(i)
				rs, err := b.a.ListRefunds(context.Background(), no)
				if err != nil {
					t.Fatal(err)
				}
				refunds += len(rs)
			}
			if int64(refunds) != rep.Operations {
				t.Errorf("%d refunds at paygate, want %d", refunds, rep.Operations)
			}
		}},
		{"mixed", []string{"--scenario", "mixed", "--rate", "20", "--duration", "1500ms"}, func(t *testing.T, rep benchReport) {
			for _, step := range []string{"create_qr", "create_barcode", "notify", "refund"} {
				if rep.Steps[step].Count == 0 {
					t.Errorf("no %s in the blend: %+v", step, rep.Steps)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := b.bench(t, tt.args...)
			if rep.Operations == 0 || rep.Errors != 0 || len(rep.ErrorsBy) != 0 {
				t.Fatalf("%d operations, %d errors %v", rep.Operations, rep.Errors, rep.ErrorsBy)
			}
			if rep.Mode == "open" && rep.Operations != 30 && rep.Operations != 31 {
				t.Errorf("%d operations, want the 30 or 31 scheduled in 1.5 s at 20/s", rep.Operations)
			}
			l := rep.Latency
			if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
				t.Errorf("percentiles out of order: %+v", l)
			}
			if rep.Scenario != "notify" && len(rep.SampleOrders) == 0 {
				t.Errorf("no sample orders")
			}
			tt.check(t, rep)
		})
	}
}

// TestBenchRefusesBadFlags checks that impossible runs stop before sending
// anything.
func TestBenchRefusesBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--scenario", "webhook"}, "--scenario"},
		{[]string{"--rate", "10", "--concurrency", "2"}, "exclude each other"},
		{[]string{"--rate", "0"}, "--rate"},
		{[]string{"--duration", "0s"}, "--duration"},
		{[]string{"--scenario", "barcode", "--pay"}, "--pay"},
		{[]string{"--max-inflight", "0"}, "--max-inflight"},
		{[]string{"--credentials", filepath.Join(t.TempDir(), "none.json")}, "credentials"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"bench"}, tt.args...), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("bench %v: error %v, want one about %s", tt.args, err, tt.want)
		}
	}
}

// TestBenchCrypto measures for a moment and checks that every rate is there.
func TestBenchCrypto(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"bench", "--crypto", "--duration", "50ms", "--json"}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var rep cryptoReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	for name, r := range map[string]cryptoRate{"sign": rep.RSASign, "verify": rep.RSAVerify, "hmac": rep.HMACSHA256} {
		if r.OneCore <= 0 || r.AllCores <= 0 {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if rep.DurationS != (50 * time.Millisecond).Seconds() {
		t.Errorf("duration %g s", rep.DurationS)
	}
}

// TestHistogram checks the buckets' bounds and the quantiles against exact
// values.
func TestHistogram(t *testing.T) {
	var h histogram
	for v := range 100_000 {
		d := time.Duration(v) * time.Microsecond
		h.record(d)
		if i := histIndex(uint64(d)); histUpper(i) < uint64(d) || (i > 0 && histUpper(i-1) >= uint64(d)) {
			t.Fatalf("%v falls in bucket %d, bounds %d..%d", d, i, histUpper(i-1)+1, histUpper(i))
		}
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := time.Duration(q*100_000-1) * time.Microsecond
		got := h.quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/128 {
			t.Errorf("q %g: %v, want %v within 1/128", q, got, exact)
		}
	}
	if h.max != 99_999*time.Microsecond || h.quantile(1) != h.max {
		t.Errorf("max %v, quantile(1) %v", h.max, h.quantile(1))
	}
}
