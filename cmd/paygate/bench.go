package main

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/client"
)

// Bench scenarios.
var benchScenarios = []string{"qr", "barcode", "notify", "refund", "mixed"}

// benchMixed is the blend of `--scenario mixed`, one entry per operation in
// turn: 4 QR orders, 3 barcode payments, 2 notifications, 1 refund.
var benchMixed = []string{"qr", "barcode", "qr", "notify", "barcode", "qr", "refund", "barcode", "qr", "notify"}

// benchOptions are the flags of `paygate bench`.
type benchOptions struct {
	baseURL     string
	credsPath   string
	simURL      string
	simKeyPath  string
	sellerID    string
	scenario    string
	rate        float64
	duration    time.Duration
	maxInflight int
	concurrency int
	pay         bool
	prepare     int
	pidGateway  int
	pidSim      int
	jsonOut     bool
	crypto      bool
}

func newBenchCmd(stdout, stderr io.Writer) *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench [--scenario qr|barcode|notify|refund|mixed] [--rate N | --concurrency N] [--duration 10s]",
		Short: "Load a deployment or the demo and report throughput, latency and errors (or --crypto: RSA and HMAC rates)",
		Long: "Send signed merchant API calls (and, for notify, signed Alipay notifications) to paygate and\n" +
			"report throughput, a latency histogram (p50/p90/p99/p99.9/max), errors by status and code\n" +
			"and, given --pid-gateway/--pid-sim, CPU per operation and RSS of those processes.\n\n" +
			"Open loop (--rate N per second, the default): requests leave on schedule whatever the\n" +
			"answers, and latency counts from each one's scheduled start (no coordinated omission),\n" +
			"at most --max-inflight at once. Closed loop (--concurrency N): N callers back to back,\n" +
			"to find the maximum.\n\n" +
			"Scenarios: qr (create QR orders; --pay also pays each through the simulator's /sim/pay),\n" +
			"barcode (orders paid at once, auth_code 28…), notify (TRADE_SUCCESS notifications to\n" +
			"/notify/alipay for QR orders created and scanned beforehand, signed with the simulator's\n" +
			"key beforehand too, so that the driver's RSA signs do not cap the rate), refund (0.01\n" +
			"refunds of barcode orders paid beforehand), mixed (a blend of all).\n" +
			"notify and refund need the simulator (the demo, or paygate sim at --sim). Every order is a\n" +
			"real order of the merchant; run it against the demo or a test deployment.\n\n" +
			"  paygate bench --scenario qr --rate 100 --duration 10s\n" +
			"  paygate bench --scenario notify --concurrency 16 --duration 10s --json\n" +
			"  paygate bench --crypto",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.crypto {
				return runBenchCrypto(cmd.Context(), o.duration, cmd.Flags().Changed("duration"), o.jsonOut, stdout, stderr)
			}
			if err := o.check(cmd.Flags().Changed("rate")); err != nil {
				return err
			}
			rep, err := runBench(cmd.Context(), o, stderr)
			if err != nil {
				return err
			}
			if o.jsonOut {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			rep.print(stdout)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.baseURL, "base-url", "", "paygate's address (default: base_url from the credentials)")
	f.StringVar(&o.credsPath, "credentials", filepath.Join(defaultDataDir, demoMerchantFile), "merchant credentials JSON (access_key, secret_key, base_url)")
	f.StringVar(&o.simURL, "sim", "", "the Alipay simulator's address, for /sim/pay and /sim/scan (default: the base URL, as in the demo)")
	f.StringVar(&o.simKeyPath, "sim-key", filepath.Join(defaultDataDir, demoSimDir, simKeyFile), "the simulator's private key, to sign notifications (notify, mixed)")
	f.StringVar(&o.sellerID, "seller-id", "", "seller_id of the notifications (default: the simulator's for the trade's app)")
	f.StringVar(&o.scenario, "scenario", "qr", "qr, barcode, notify, refund or mixed")
	f.Float64Var(&o.rate, "rate", 50, "open loop: operations started per second")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send (with --crypto: per measurement, default 3s)")
	f.IntVar(&o.maxInflight, "max-inflight", 256, "open loop: most operations in flight at once (later ones wait, and their wait counts)")
	f.IntVar(&o.concurrency, "concurrency", 0, "closed loop: this many callers back to back (instead of --rate)")
	f.BoolVar(&o.pay, "pay", false, "qr: pay each order through the simulator's /sim/pay")
	f.IntVar(&o.prepare, "prepare", 0, "notify: orders to create and scan beforehand (default: enough for the run, at most 2000; more notifications repeat them); refund: paid orders (default 32)")
	f.IntVar(&o.pidGateway, "pid-gateway", 0, "the gateway's process id, for CPU per operation and RSS from /proc")
	f.IntVar(&o.pidSim, "pid-sim", 0, "the simulator's process id, for its CPU per operation and RSS")
	f.BoolVar(&o.jsonOut, "json", false, "print the report as one JSON object")
	f.BoolVar(&o.crypto, "crypto", false, "measure RSA-2048 signs/s and verifies/s and HMAC-SHA256/s on this machine instead")
	return cmd
}

// check rejects flags that cannot make a run.
func (o *benchOptions) check(rateSet bool) error {
	if !slices.Contains(benchScenarios, o.scenario) {
		return fmt.Errorf("bench: --scenario %q: want one of %s", o.scenario, strings.Join(benchScenarios, ", "))
	}
	if o.duration <= 0 {
		return errors.New("bench: --duration must be positive")
	}
	if o.concurrency < 0 {
		return errors.New("bench: --concurrency must not be negative")
	}
	if o.concurrency > 0 && rateSet {
		return errors.New("bench: --rate (open loop) and --concurrency (closed loop) exclude each other")
	}
	if o.concurrency == 0 && (o.rate <= 0 || o.rate > 1e6) {
		return errors.New("bench: --rate must be between 0 and 1000000 per second")
	}
	if o.maxInflight < 1 {
		return errors.New("bench: --max-inflight must be at least 1")
	}
	if o.prepare < 0 {
		return errors.New("bench: --prepare must not be negative")
	}
	if o.pay && o.scenario != "qr" {
		return errors.New("bench: --pay is for --scenario qr")
	}
	return nil
}

// benchRun is one run's target, prepared data and results.
type benchRun struct {
	o       benchOptions
	c       *client.Client
	http    *http.Client
	base    string
	sim     string
	simKey  *rsa.PrivateKey
	prefix  string
	seq     atomic.Int64
	scanned []alipaysim.TradeView // notify: scanned, unpaid trades
	signed  []string              // notify: each scanned trade's notification, signed during prepare
	paid    []string              // refund: paid orders' out_trade_no

	mu      sync.Mutex
	total   histogram
	steps   map[string]*histogram
	errs    map[string]int
	ops     int64
	samples []string
}

// benchError is a failure that is not the merchant API's *client.APIError.
type benchError struct {
	key string // what errors are grouped by
	msg string
}

func (e *benchError) Error() string { return e.key + ": " + e.msg }

func runBench(ctx context.Context, o benchOptions, stderr io.Writer) (*benchReport, error) {
	creds, err := readCreds(o.credsPath)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	base := o.baseURL
	if base == "" {
		base = creds.BaseURL
	}
	if base == "" {
		return nil, errors.New("bench: no base URL: pass --base-url or use credentials written by paygate demo")
	}
	if err := checkHTTPURL(base); err != nil {
		return nil, fmt.Errorf("bench: --base-url: %w", err)
	}
	base = strings.TrimRight(base, "/")
	sim := strings.TrimRight(o.simURL, "/")
	if sim == "" {
		sim = base
	} else if err := checkHTTPURL(sim); err != nil {
		return nil, fmt.Errorf("bench: --sim: %w", err)
	}
	needs := map[string]bool{o.scenario: true}
	if o.scenario == "mixed" {
		needs["notify"], needs["refund"] = true, true
	}
	r := &benchRun{o: o, base: base, sim: sim, steps: map[string]*histogram{}, errs: map[string]int{}}
	if needs["notify"] {
		if r.simKey, err = alipay.LoadPrivateKey(o.simKeyPath); err != nil {
			return nil, fmt.Errorf("bench: --sim-key: %w", err)
		}
	}
	conns := max(o.maxInflight, o.concurrency, 16)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns // keep-alive for every caller, not the default 2
	tr.MaxIdleConns = 2 * conns
	defer tr.CloseIdleConnections()
	r.http = &http.Client{Transport: tr, Timeout: time.Minute}
	r.c = client.New(base, creds.AccessKey, creds.SecretKey, client.WithHTTPClient(r.http))
	r.prefix = "BN" + strings.ToUpper(randomHex(4)) + "_"

	if needs["notify"] {
		if err := r.prepareNotify(ctx, stderr); err != nil {
			return nil, err
		}
	}
	if needs["refund"] {
		if err := r.prepareRefund(ctx, stderr); err != nil {
			return nil, err
		}
	}

	gw, sm := newProcWatch(o.pidGateway), newProcWatch(o.pidSim)
	if err := errors.Join(gw.start(), sm.start()); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	start := time.Now()
	stopProgress := r.progress(ctx, stderr, start)
	if o.concurrency > 0 {
		r.closedLoop(ctx, start)
	} else {
		r.openLoop(ctx, start)
	}
	elapsed := time.Since(start)
	stopProgress()
	rep := r.report(elapsed)
	rep.Gateway, rep.Sim = gw.finish(rep.Operations+rep.Errors), sm.finish(rep.Operations+rep.Errors)
	return rep, nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL like http://127.0.0.1:8080", s)
	}
	return nil
}

// openLoop starts operation i at start + i/rate whatever the answers, and
// measures each from that intended time: a slow answer delays nothing but
// itself, and a wait for a free slot (--max-inflight) counts as latency.
func (r *benchRun) openLoop(ctx context.Context, start time.Time) {
	interval := time.Duration(float64(time.Second) / r.o.rate)
	slots := make(chan struct{}, r.o.maxInflight)
	var wg sync.WaitGroup
	for i := int64(0); ; i++ {
		intended := start.Add(time.Duration(i) * interval)
		if intended.Sub(start) >= r.o.duration {
			break
		}
		if d := time.Until(intended); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			r.one(ctx, intended)
		})
	}
	wg.Wait()
}

// closedLoop runs --concurrency callers, each sending its next operation as
// soon as the previous one is answered, until --duration has passed.
func (r *benchRun) closedLoop(ctx context.Context, start time.Time) {
	end := start.Add(r.o.duration)
	var wg sync.WaitGroup
	for range r.o.concurrency {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(end) {
				r.one(ctx, time.Now())
			}
		})
	}
	wg.Wait()
}

// one runs the next operation and records it from since.
func (r *benchRun) one(ctx context.Context, since time.Time) {
	i := r.seq.Add(1)
	kind := r.o.scenario
	if kind == "mixed" {
		kind = benchMixed[int((i-1)%int64(len(benchMixed)))]
	}
	var steps []benchStep
	step := func(name string, t0 time.Time) { steps = append(steps, benchStep{name, time.Since(t0)}) }
	sample, err := r.op(ctx, kind, i, step)
	d := time.Since(since)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs[benchErrorKey(kind, err)]++
		return
	}
	r.ops++
	r.total.record(d)
	for _, s := range steps {
		h := r.steps[s.name]
		if h == nil {
			h = &histogram{}
			r.steps[s.name] = h
		}
		h.record(s.d)
	}
	if sample != "" && len(r.samples) < 5 {
		r.samples = append(r.samples, sample)
	}
}

type benchStep struct {
	name string
	d    time.Duration
}

// op runs one operation of kind and returns the order it touched.
func (r *benchRun) op(ctx context.Context, kind string, i int64, step func(string, time.Time)) (string, error) {
	switch kind {
	case "qr":
		no := fmt.Sprintf("%sQ%d", r.prefix, i)
		t0 := time.Now()
		o, err := r.c.CreateOrder(ctx, client.CreateOrderRequest{OutTradeNo: no, Subject: "bench", TotalAmount: "9.90", Mode: "qr"})
		if err != nil {
			return "", err
		}
		step("create_qr", t0)
		if o.QRCode == "" {
			return "", &benchError{"no_qr_code", "order " + no + " has no QR code"}
		}
		if r.o.pay {
			t0 = time.Now()
			if err := r.simPost(ctx, "/sim/pay", map[string]string{"qr_code": o.QRCode}, nil); err != nil {
				return "", err
			}
			step("sim_pay", t0)
		}
		return no, nil
	case "barcode":
		no := fmt.Sprintf("%sB%d", r.prefix, i)
		t0 := time.Now()
		o, err := r.c.CreateOrder(ctx, barcodeOrder(no, "9.90"))
		if err != nil {
			return "", err
		}
		step("create_barcode", t0)
		if o.Status != "paid" {
			return "", &benchError{"barcode_not_paid", "order " + no + " is " + o.Status}
		}
		return no, nil
	case "notify":
		k := int((i - 1) % int64(len(r.scanned)))
		t0 := time.Now()
		if err := r.notify(ctx, r.scanned[k].OutTradeNo, r.signed[k]); err != nil {
			return "", err
		}
		step("notify", t0)
		return "", nil
	case "refund":
		no := r.paid[int((i-1)%int64(len(r.paid)))]
		t0 := time.Now()
		rf, err := r.c.Refund(ctx, no, client.RefundRequest{OutRequestNo: fmt.Sprintf("%sR%d", r.prefix, i), Amount: "0.01"})
		if err != nil {
			return "", err
		}
		step("refund", t0)
		if rf.Status == "failed" {
			return "", &benchError{"refund_failed", "refund of " + no + " failed"}
		}
		return no, nil
	}
	return "", fmt.Errorf("bench: unknown operation %q", kind)
}

func barcodeOrder(no, amount string) client.CreateOrderRequest {
	// 28…: the simulator's buyer who pays at once.
	code := fmt.Sprintf("28%016d", rand.Int64N(1e16))
	return client.CreateOrderRequest{OutTradeNo: no, Subject: "bench", TotalAmount: amount, Mode: "barcode", AuthCode: code}
}

// benchErrorKey groups a failure: "qr: HTTP 429 RATE_LIMITED", "notify:
// HTTP 200 failure", "qr: transport".
func benchErrorKey(kind string, err error) string {
	var api *client.APIError
	var be *benchError
	switch {
	case errors.As(err, &api):
		if api.Code == "" {
			return fmt.Sprintf("%s: HTTP %d", kind, api.StatusCode)
		}
		return fmt.Sprintf("%s: HTTP %d %s", kind, api.StatusCode, api.Code)
	case errors.As(err, &be):
		return kind + ": " + be.key
	case errors.Is(err, context.Canceled):
		return kind + ": canceled"
	}
	return kind + ": transport"
}

// simPost POSTs v as JSON to the simulator and decodes a 200 answer into out.
func (r *benchRun) simPost(ctx context.Context, path string, v, out any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.sim+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return &benchError{fmt.Sprintf("sim %s HTTP %d", path, resp.StatusCode), strings.TrimSpace(string(data))}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// notification is a TRADE_SUCCESS notification for a scanned trade, signed
// with the simulator's key as Alipay would sign it, form-encoded. It is made
// during prepare: an RSA signature costs the driver as much as the gateway's
// whole handling of the notification, and would otherwise cap the rate it can
// send on a small machine.
func (r *benchRun) notification(tv alipaysim.TradeView) (string, error) {
	now := time.Now()
	seller := r.o.sellerID
	if seller == "" {
		seller = alipaysim.DefaultSellerID(tv.AppID)
	}
	amount := tv.TotalAmount.Yuan()
	form := url.Values{
		"notify_id": {"bench" + randomHex(12)}, "notify_type": {"trade_status_sync"},
		"notify_time": {alipay.FormatTime(now)}, "charset": {"utf-8"}, "version": {"1.0"},
		"app_id": {tv.AppID}, "auth_app_id": {tv.AppID}, "trade_no": {tv.TradeNo},
		"out_trade_no": {tv.OutTradeNo}, "buyer_id": {tv.BuyerID}, "seller_id": {seller},
		"trade_status": {alipay.TradeSuccess}, "total_amount": {amount}, "receipt_amount": {amount},
		"invoice_amount": {amount}, "buyer_pay_amount": {amount}, "point_amount": {"0.00"},
		"subject": {tv.Subject}, "gmt_create": {alipay.FormatTime(tv.CreatedAt)}, "gmt_payment": {alipay.FormatTime(now)},
	}
	for k, v := range form {
		if v[0] == "" {
			delete(form, k)
		}
	}
	sign, err := alipay.Sign(r.simKey, []byte(alipay.SignContent(form, "sign", "sign_type")))
	if err != nil {
		return "", err
	}
	form.Set("sign", sign)
	form.Set("sign_type", "RSA2")
	return form.Encode(), nil
}

// notify posts a notification made by notification and wants "success".
func (r *benchRun) notify(ctx context.Context, outTradeNo, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.base+"/notify/alipay", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK || string(data) != alipay.NotifyAck {
		ans := strings.TrimSpace(string(data))
		if len(ans) > 40 {
			ans = ans[:40]
		}
		return &benchError{fmt.Sprintf("HTTP %d %s", resp.StatusCode, ans), "notification for " + outTradeNo + " refused"}
	}
	return nil
}

// prepareNotify creates QR orders and scans each at the simulator (a trade
// waiting for the buyer's payment, with its trade_no): the notifications of
// the run announce their payment.
func (r *benchRun) prepareNotify(ctx context.Context, stderr io.Writer) error {
	n := r.o.prepare
	if n == 0 {
		n = 2000
		if r.o.concurrency == 0 {
			n = min(n, max(1, int(math.Ceil(r.o.rate*r.o.duration.Seconds()))))
		}
		if r.o.scenario == "mixed" {
			n = max(1, n/5)
		}
	}
	r.scanned = make([]alipaysim.TradeView, n)
	r.signed = make([]string, n)
	err := r.parallel(ctx, n, "notify: preparing", stderr, func(i int) error {
		no := fmt.Sprintf("%sN%d", r.prefix, i+1)
		o, err := r.c.CreateOrder(ctx, client.CreateOrderRequest{OutTradeNo: no, Subject: "bench", TotalAmount: "9.90", Mode: "qr"})
		if err != nil {
			return fmt.Errorf("order %s: %w", no, err)
		}
		if err := r.simPost(ctx, "/sim/scan", map[string]string{"qr_code": o.QRCode}, &r.scanned[i]); err != nil {
			return fmt.Errorf("scanning %s at %s: %w", no, r.sim, err)
		}
		r.signed[i], err = r.notification(r.scanned[i])
		return err
	})
	if err != nil {
		return fmt.Errorf("bench: notify: %w", err)
	}
	return nil
}

// prepareRefund makes paid barcode orders of 100.00: each takes 10,000
// refunds of 0.01.
func (r *benchRun) prepareRefund(ctx context.Context, stderr io.Writer) error {
	n := r.o.prepare
	if n == 0 || r.o.scenario == "mixed" {
		n = 32
	}
	r.paid = make([]string, n)
	err := r.parallel(ctx, n, "refund: preparing", stderr, func(i int) error {
		no := fmt.Sprintf("%sP%d", r.prefix, i+1)
		o, err := r.c.CreateOrder(ctx, barcodeOrder(no, "100.00"))
		if err != nil {
			return fmt.Errorf("order %s: %w", no, err)
		}
		if o.Status != "paid" {
			return fmt.Errorf("order %s is %s, not paid", no, o.Status)
		}
		r.paid[i] = no
		return nil
	})
	if err != nil {
		return fmt.Errorf("bench: refund: %w", err)
	}
	return nil
}

// parallel runs fn(0..n-1) on 8 callers and stops at the first error.
func (r *benchRun) parallel(ctx context.Context, n int, what string, stderr io.Writer, fn func(i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	tty := isTerminal(stderr)
	for range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					cancel(err)
					return
				}
				if d := done.Add(1); tty && d%100 == 0 {
					fmt.Fprintf(stderr, "\r%s %d/%d", what, d, n)
				}
			}
		})
	}
	wg.Wait()
	if tty {
		fmt.Fprintf(stderr, "\r%s %d/%d\n", what, done.Load(), n)
	}
	return context.Cause(ctx)
}

// progress rewrites one line on a terminal every second until stopped.
func (r *benchRun) progress(ctx context.Context, w io.Writer, start time.Time) (stop func()) {
	if !isTerminal(w) {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				fmt.Fprintln(w)
				return
			case <-ctx.Done():
				fmt.Fprintln(w)
				return
			case <-tick.C:
			}
			r.mu.Lock()
			ops, p99 := r.ops, r.total.quantile(0.99)
			var errs int
			for _, n := range r.errs {
				errs += n
			}
			r.mu.Unlock()
			el := time.Since(start).Seconds()
			fmt.Fprintf(w, "\r%5.1fs  %d ops  %.0f/s  p99 %.1f ms  errors %d   ", el, ops, float64(ops)/el, benchMs(p99), errs)
		}
	})
	return func() { close(done); wg.Wait() }
}

// benchReport is what `paygate bench` prints; --json prints it as is.
type benchReport struct {
	Scenario      string                  `json:"scenario"`
	Mode          string                  `json:"mode"` // "open" or "closed"
	Rate          float64                 `json:"rate,omitempty"`
	Concurrency   int                     `json:"concurrency,omitempty"`
	DurationS     float64                 `json:"duration_s"`
	ElapsedS      float64                 `json:"elapsed_s"`
	RunID         string                  `json:"run_id"` // the prefix of every out_trade_no of the run
	Prepared      int                     `json:"prepared,omitempty"`
	NotifyRepeats uint64                  `json:"notify_repeats,omitempty"` // notifications for orders already paid by an earlier one
	Operations    int64                   `json:"operations"`               // answered successfully
	Errors        int64                   `json:"errors"`
	Throughput    float64                 `json:"throughput_per_s"`
	Latency       benchLatency            `json:"latency_ms"`
	Steps         map[string]benchStepRep `json:"steps"`
	ErrorsBy      map[string]int          `json:"errors_by"`
	SampleOrders  []string                `json:"sample_orders"`
	Gateway       *procReport             `json:"gateway,omitempty"`
	Sim           *procReport             `json:"sim,omitempty"`
	HistogramNote string                  `json:"histogram_note"`
}

// benchLatency is a latency distribution in milliseconds.
type benchLatency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// benchStepRep is one kind of call within the operations.
type benchStepRep struct {
	Count   uint64       `json:"count"`
	Latency benchLatency `json:"latency_ms"`
}

func latencyOf(h *histogram) benchLatency {
	return benchLatency{
		P50: benchMs(h.quantile(0.5)), P90: benchMs(h.quantile(0.9)), P99: benchMs(h.quantile(0.99)),
		P999: benchMs(h.quantile(0.999)), Max: benchMs(h.max), Mean: benchMs(h.mean()),
	}
}

func (r *benchRun) report(elapsed time.Duration) *benchReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &benchReport{
		Scenario: r.o.scenario, Mode: "open", Rate: r.o.rate, DurationS: r.o.duration.Seconds(),
		ElapsedS: elapsed.Seconds(), RunID: r.prefix, Prepared: len(r.scanned) + len(r.paid),
		Operations: r.ops, Throughput: float64(r.ops) / elapsed.Seconds(), Latency: latencyOf(&r.total),
		Steps: map[string]benchStepRep{}, ErrorsBy: map[string]int{}, SampleOrders: append([]string{}, r.samples...),
		HistogramNote: "log-bucketed, values within 0.8 %; open loop measures from each operation's scheduled start",
	}
	if r.o.concurrency > 0 {
		rep.Mode, rep.Rate, rep.Concurrency = "closed", 0, r.o.concurrency
	}
	for name, h := range r.steps {
		rep.Steps[name] = benchStepRep{Count: h.n, Latency: latencyOf(h)}
	}
	if h := r.steps["notify"]; h != nil && h.n > uint64(len(r.scanned)) {
		rep.NotifyRepeats = h.n - uint64(len(r.scanned))
	}
	for k, n := range r.errs {
		rep.ErrorsBy[k] = n
		rep.Errors += int64(n)
	}
	return rep
}

func (rep *benchReport) print(w io.Writer) {
	loop := fmt.Sprintf("open loop at %g/s", rep.Rate)
	if rep.Mode == "closed" {
		loop = fmt.Sprintf("closed loop, %d callers", rep.Concurrency)
	}
	fmt.Fprintf(w, "scenario %s, %s, %.1f s (run %s)\n", rep.Scenario, loop, rep.ElapsedS, rep.RunID)
	fmt.Fprintf(w, "  operations  %d ok, %d errors, %.1f/s\n", rep.Operations, rep.Errors, rep.Throughput)
	if rep.NotifyRepeats > 0 {
		fmt.Fprintf(w, "  notify      %d of them repeat a notification of an order already paid (cheaper): raise --prepare\n", rep.NotifyRepeats)
	}
	l := rep.Latency
	fmt.Fprintf(w, "  latency ms  p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  mean %.2f\n", l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean)
	for _, name := range slices.Sorted(mapsKeys(rep.Steps)) {
		s := rep.Steps[name]
		fmt.Fprintf(w, "  %-14s %d calls, p50 %.2f  p99 %.2f  max %.2f ms\n", name, s.Count, s.Latency.P50, s.Latency.P99, s.Latency.Max)
	}
	for _, k := range slices.Sorted(mapsKeys(rep.ErrorsBy)) {
		fmt.Fprintf(w, "  error  %-40s %d\n", k, rep.ErrorsBy[k])
	}
	for _, p := range []struct {
		name string
		r    *procReport
	}{{"gateway", rep.Gateway}, {"sim", rep.Sim}} {
		if p.r != nil {
			fmt.Fprintf(w, "  %-7s pid %d: CPU %.3f ms per operation (%.0f %% of a core), RSS %.1f MB (peak %.1f MB)\n",
				p.name, p.r.PID, p.r.CPUMsPerOp, p.r.CPUCores*100, p.r.RSSMB, p.r.PeakRSSMB)
		}
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// procReport is a process's CPU and memory over the run, from /proc.
type procReport struct {
	PID        int     `json:"pid"`
	CPUMs      float64 `json:"cpu_ms"`
	CPUMsPerOp float64 `json:"cpu_ms_per_op"`
	CPUCores   float64 `json:"cpu_cores"` // CPU time ÷ wall time
	RSSMB      float64 `json:"rss_mb"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
}

// procWatch reads a process's CPU time before and after the run.
type procWatch struct {
	pid   int
	cpu0  time.Duration
	begin time.Time
}

func newProcWatch(pid int) *procWatch { return &procWatch{pid: pid} }

func (p *procWatch) start() error {
	if p.pid == 0 {
		return nil
	}
	cpu, err := procCPU(p.pid)
	if err != nil {
		return err
	}
	p.cpu0, p.begin = cpu, time.Now()
	return nil
}

func (p *procWatch) finish(ops int64) *procReport {
	if p.pid == 0 {
		return nil
	}
	cpu, err := procCPU(p.pid)
	if err != nil {
		return nil
	}
	rep := &procReport{PID: p.pid, CPUMs: benchMs(cpu - p.cpu0), CPUCores: (cpu - p.cpu0).Seconds() / time.Since(p.begin).Seconds()}
	if ops > 0 {
		rep.CPUMsPerOp = rep.CPUMs / float64(ops)
	}
	rep.RSSMB, rep.PeakRSSMB = procRSS(p.pid)
	return rep
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on Linux.
const clockTicks = 100

// procCPU is a process's user + system CPU time from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces: count from its ")".
	i := bytes.LastIndexByte(data, ')')
	f := strings.Fields(string(data[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("process %d: /proc/%d/stat is not as expected", pid, pid)
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("process %d: /proc/%d/stat is not as expected", pid, pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// procRSS is a process's resident and peak resident memory in MB
// (VmRSS, VmHWM of /proc/PID/status).
func procRSS(pid int) (rss, peak float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			rss = kb / 1024
		case "VmHWM":
			peak = kb / 1024
		}
	}
	return rss, peak
}

// benchMs is d in milliseconds.
func benchMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
