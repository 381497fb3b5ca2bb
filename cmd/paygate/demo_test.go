package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/recon"
)

// runningDemo is `paygate demo` running in-process.
type runningDemo struct {
	base   string
	stdout *e2eLog
	stderr *e2eLog
	http   *http.Client
	stop   func() // graceful stop; fails the test unless the command returns nil
}

var demoFirstLine = regexp.MustCompile(`^paygate demo listening on (http://127\.0\.0\.1:\d+)\n`)

// startDemo runs `paygate demo --addr 127.0.0.1:0 --data dir` until stop
// (or the end of the test) and waits for its first line.
func startDemo(t *testing.T, dir string) *runningDemo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &runningDemo{stdout: &e2eLog{}, stderr: &e2eLog{},
		http: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: time.Minute}}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"demo", "--addr", "127.0.0.1:0", "--data", dir}, d.stdout, d.stderr) }()
	stopped := false
	d.stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		// The demo's gateway calls its own simulator through the default
		// transport; unused connections would hold Shutdown for 5 s.
		d.http.CloseIdleConnections()
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("demo ended with %v\nstderr: %s", err, d.stderr)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("demo did not stop 30 s after its context ended")
		}
	}
	t.Cleanup(d.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := demoFirstLine.FindStringSubmatch(d.stdout.String()); m != nil {
			d.base = m[1]
			return d
		}
		select {
		case err := <-done:
			stopped = true
			cancel()
			t.Fatalf("demo exited: %v\nstdout: %s\nstderr: %s", err, d.stdout, d.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo printed no listening line in 30 s\nstdout: %s\nstderr: %s", d.stdout, d.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readDemoCreds reads DIR/demo-merchant.json, checking its mode and fields.
func readDemoCreds(t *testing.T, dir string) (accessKey, secretKey, webhookSecret string) {
	t.Helper()
	path := filepath.Join(dir, "demo-merchant.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var creds map[string]any
	if err := json.Unmarshal(data, &creds); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	str := func(k, prefix string) string {
		v, _ := creds[k].(string)
		if !strings.HasPrefix(v, prefix) || len(v) <= len(prefix) {
			t.Fatalf("%s: %s = %q", path, k, creds[k])
		}
		return v
	}
	webhookSecret = str("webhook_secret", "whsec_")
	if got := str("standard_webhook_secret", "whsec_"); got != client.StandardWebhookSecret(webhookSecret) {
		t.Fatalf("%s: standard_webhook_secret = %q; want the webhook secret's whsec_ base64 form", path, got)
	}
	return str("access_key", "ak_"), str("secret_key", "sk_"), webhookSecret
}

func TestDemoRestartKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data") // the demo makes it
	d := startDemo(t, dir)
	ak, sk, wh := readDemoCreds(t, dir)
	out := d.stdout.String()
	if !strings.Contains(out, ak) || !strings.Contains(out, d.base+"/sim/pay") || !strings.Contains(out, filepath.Join(dir, "demo-merchant.json")) {
		t.Fatalf("the demo's banner lacks the access key, the simulator or the credentials file:\n%s", out)
	}
	c := client.New(d.base, ak, sk, client.WithHTTPClient(d.http))

	o, err := c.CreateOrder(ctx, client.CreateOrderRequest{OutTradeNo: "DEMO1", Subject: "coffee", TotalAmount: "9.90", Mode: "qr"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != "pending" || o.QRCode == "" {
		t.Fatalf("order = %+v", o)
	}
	// The banner says where the cashier and the phone page are, and the
	// order's cashier_url is a page of this demo.
	if !strings.Contains(out, "cashier_url") || !strings.Contains(out, d.base+"/sim/ ") {
		t.Fatalf("the demo's banner does not say where the cashier and the phone page are:\n%s", out)
	}
	if !strings.HasPrefix(o.CashierURL, d.base+"/pay/") {
		t.Fatalf("cashier_url = %q, want one under %s/pay/", o.CashierURL, d.base)
	}
	page, err := d.http.Get(o.CashierURL)
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	if page.StatusCode != http.StatusOK {
		t.Fatalf("GET cashier_url: %d", page.StatusCode)
	}
	body := `{"qr_code":"` + o.QRCode + `","buyer_id":"2088000000000042"}`
	resp, err := d.http.Post(d.base+"/sim/pay", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /sim/pay: %d", resp.StatusCode)
	}
	paid := demoWaitStatus(t, c, "DEMO1", "paid")
	if _, err := c.Refund(ctx, "DEMO1", client.RefundRequest{OutRequestNo: "R1", Amount: "2.00"}); err != nil {
		t.Fatal(err)
	}
	d.stop()
	if t.Failed() {
		return
	}
	for _, secret := range []string{sk, wh} {
		if strings.Contains(d.stderr.String(), secret) || strings.Contains(d.stdout.String(), secret) {
			t.Fatal("the demo printed or logged a merchant secret")
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "master.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master.key: %v, %v; want mode 0600", fi, err)
	}

	// Again on the same data: the same merchant, the order with its refund,
	// and the simulator's trade.
	d2 := startDemo(t, dir)
	ak2, sk2, wh2 := readDemoCreds(t, dir)
	if ak2 != ak || sk2 != sk || wh2 != wh {
		t.Fatal("the restarted demo made another merchant")
	}
	c2 := client.New(d2.base, ak, sk, client.WithHTTPClient(d2.http))
	got, err := c2.GetOrder(ctx, "DEMO1", false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "paid" || got.RefundedAmount != "2.00" || got.TradeNo != paid.TradeNo || got.QRCode != paid.QRCode ||
		got.PaidAt == nil || !got.PaidAt.Equal(*paid.PaidAt) {
		t.Fatalf("after restart: %+v, before %+v", got, paid)
	}
	refunds, err := c2.ListRefunds(ctx, "DEMO1")
	if err != nil || len(refunds) != 1 || refunds[0].OutRequestNo != "R1" || refunds[0].Status != "succeeded" {
		t.Fatalf("refunds after restart = %+v, %v", refunds, err)
	}
	resp, err = d2.http.Get(d2.base + "/sim/trades")
	if err != nil {
		t.Fatal(err)
	}
	var trades []alipaysim.TradeView
	err = json.NewDecoder(resp.Body).Decode(&trades)
	resp.Body.Close()
	if err != nil || len(trades) != 1 || trades[0].TradeNo != paid.TradeNo || trades[0].RefundFee != 200 {
		t.Fatalf("simulator trades after restart = %+v, %v", trades, err)
	}
	// The rest can still be refunded: the channel knows the trade too.
	if r, err := c2.Refund(ctx, "DEMO1", client.RefundRequest{OutRequestNo: "R2", Amount: "7.90"}); err != nil || r.Status != "succeeded" {
		t.Fatalf("refund after restart = %+v, %v", r, err)
	}
	if got, err := c2.GetOrder(ctx, "DEMO1", false); err != nil || got.Status != "refunded" || got.RefundedAmount != "9.90" {
		t.Fatalf("after the second refund: %+v, %v", got, err)
	}
	d2.stop()
	if fi, err := os.Stat(filepath.Join(dir, "master.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master.key after restart: %v, %v; want mode 0600", fi, err)
	}
}

func demoWaitStatus(t *testing.T, c *client.Client, outTradeNo, status string) *client.Order {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, err := c.GetOrder(context.Background(), outTradeNo, false)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status == status {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s is %s after 10 s, want %s", outTradeNo, o.Status, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDemoReconcile: `paygate reconcile --data DIR` beside a running demo
// uses the demo's configuration and reaches its simulators (the demo
// records their address under DIR): today's bill of each channel the demo
// configures, Alipay's and WeChat Pay's (bill_same_day), matches the books,
// a report each.
func TestDemoReconcile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	d := startDemo(t, dir)
	ak, sk, _ := readDemoCreds(t, dir)
	c := client.New(d.base, ak, sk, client.WithHTTPClient(d.http))
	day := recon.DayOf(time.Now())
	o, err := c.CreateOrder(ctx, client.CreateOrderRequest{OutTradeNo: "RECON1", Subject: "coffee", TotalAmount: "9.90", Mode: "qr"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.CreateOrder(ctx, client.CreateOrderRequest{OutTradeNo: "RECON2", Subject: "tea", TotalAmount: "6.60", Mode: "qr", Channel: "wechat"})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range [][2]string{
		{"/sim/pay", `{"qr_code":"` + o.QRCode + `","buyer_id":"2088000000000042"}`},
		{"/sim/pay", `{"qr_code":"` + w.QRCode + `"}`},
		{"/sim/faults", `{"bill_same_day":true}`},
		{"/sim/wechat/faults", `{"bill_same_day":true}`},
	} {
		path, body := step[0], step[1]
		resp, err := d.http.Post(d.base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	demoWaitStatus(t, c, "RECON1", "paid")
	demoWaitStatus(t, c, "RECON2", "paid")
	var stdout, stderr bytes.Buffer
	if err := run(ctx, []string{"reconcile", "--date", "today", "--data", dir, "--json"}, &stdout, &stderr); err != nil {
		t.Fatalf("reconcile beside the demo: %v\n%s", err, stderr.String())
	}
	if recon.DayOf(time.Now()) != day {
		t.Skip("the day (China time) ended during the test")
	}
	dec := json.NewDecoder(&stdout)
	for _, ch := range []string{"alipay", "wechat"} {
		var rep paygate.ReconciliationView
		if err := dec.Decode(&rep); err != nil {
			t.Fatalf("%s's report: %v: %s", ch, err, stdout.String())
		}
		if rep.Channel != ch || rep.Date != day || rep.ChannelRows != 1 || rep.LocalRows != 1 || rep.Matched != 1 || len(rep.Differences) != 0 {
			t.Fatalf("%s's report %+v", ch, rep)
		}
	}
}
