package chaos

// The drain test: a rolling restart under load loses no request and no
// payment. Two `paygate serve` nodes on PostgreSQL sit behind a small
// round-robin proxy that stops sending to a node once its /readyz fails and
// passes a request the node refused with 503 DRAINING (it did not process
// it) on to the other node, as the nginx example does. While a shop sends a
// steady flow of orders through the proxy, each node in turn gets SIGTERM,
// drains, exits and is started again. Then every answer the shop got and
// every order's state are checked against the simulator.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/paygate/paygate/client"
)

var (
	flagDrainOrders = flag.Int("drain.orders", 300, "orders of the drain test")
	flagDrainDelay  = flag.Duration("drain.delay", 1500*time.Millisecond, "server.drain_delay of the drain test's nodes")
	flagDrainKill   = flag.Bool("drain.kill", false, "send SIGKILL instead of SIGTERM: shows that the test sees requests lost to a node that does not drain (the test then fails)")
)

// drainLB is the proxy in front of the nodes: round robin over the nodes
// whose /readyz answered 200 at the last check (every 100 ms); a request a
// node did not take (the connection was refused: nothing was sent; or 503
// DRAINING: refused unprocessed) goes to the next node. Any other failure
// (a connection cut after the request was sent) is answered 502, as is a
// request no node took: a lost request. Like nginx without
// non_idempotent, the proxy never sends a request twice that a node may
// have processed.
type drainLB struct {
	backends []string
	ready    []atomic.Bool
	next     atomic.Uint64
	hc       *http.Client
	srv      *httptest.Server

	refused    atomic.Int64 // connections refused, the request sent to the next node
	draining   atomic.Int64 // 503 DRAINING answers, the request sent to the next node
	badGateway atomic.Int64 // 502s: a request cut, or taken by no node
}

func newDrainLB(t *testing.T, backends []string) *drainLB {
	lb := &drainLB{backends: backends, ready: make([]atomic.Bool, len(backends)),
		hc: &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	for i := range backends {
		lb.ready[i].Store(true)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // the readiness checks
		defer close(done)
		probe := &http.Client{Timeout: 500 * time.Millisecond}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			for i, b := range backends {
				resp, err := probe.Get(b + "/readyz")
				ok := err == nil && resp.StatusCode == http.StatusOK
				if err == nil {
					resp.Body.Close()
				}
				lb.ready[i].Store(ok)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	lb.srv = httptest.NewServer(http.HandlerFunc(lb.serve))
	t.Cleanup(func() { lb.srv.Close(); close(stop); <-done })
	return lb
}

// order is the nodes to try for one request: the ready ones from the next
// in turn, then the others (a check may lag a node's return).
func (lb *drainLB) order() []int {
	n := int(lb.next.Add(1))
	var first, then []int
	for k := range lb.backends {
		i := (n + k) % len(lb.backends)
		if lb.ready[i].Load() {
			first = append(first, i)
		} else {
			then = append(then, i)
		}
	}
	return append(first, then...)
}

func (lb *drainLB) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, i := range lb.order() {
		// Wrote: the transport may have written the request on a kept-alive
		// connection before its own retry failed to dial.
		var wrote atomic.Bool
		ctx := httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) }})
		req, _ := http.NewRequestWithContext(ctx, r.Method, lb.backends[i]+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := lb.hc.Do(req)
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Op == "dial" && !wrote.Load() {
			lb.refused.Add(1)
			continue // not taken: the node is gone
		}
		if err != nil {
			break // cut: the node may have processed it
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			break
		}
		if resp.StatusCode == http.StatusServiceUnavailable && bytes.Contains(data, []byte(`"DRAINING"`)) {
			lb.draining.Add(1)
			continue // refused unprocessed by a draining node
		}
		for k, vs := range resp.Header {
			if k == "Connection" {
				continue
			}
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(data)
		return
	}
	lb.badGateway.Add(1)
	http.Error(w, "no node answered the request", http.StatusBadGateway)
}

// drainOrder is one order of the drain test and what the shop saw.
type drainOrder struct {
	No, Mode, AuthCode string
	Pay                bool // a QR order the buyer pays

	mu      sync.Mutex
	Created bool   // the create answered 2xx
	Status  string // the last status the shop saw
	SimPaid bool   // /sim/pay answered 200
	Notes   []string
}

// drainShop sends the orders through the proxy and counts every answer.
type drainShop struct {
	e  *env
	c  *client.Client
	mu sync.Mutex
	// answers by "what status" (e.g. "create 200", "get 200", "create
	// error"); lost holds the requests answered by no node, a connection
	// error or a 5xx.
	answers map[string]int
	lost    []string
}

func (s *drainShop) record(what string, err error) {
	answer := "2xx"
	var apiErr *client.APIError
	switch {
	case err == nil:
	case asAPIError(err, &apiErr):
		answer = fmt.Sprintf("%d %s", apiErr.StatusCode, apiErr.Code)
	default:
		answer = "no answer"
	}
	op, _, _ := strings.Cut(what, " ")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[op+" "+answer]++
	if err != nil && (apiErr == nil || apiErr.StatusCode >= 500) {
		s.lost = append(s.lost, fmt.Sprintf("%s: %v", what, err))
	}
}

func asAPIError(err error, target **client.APIError) bool {
	e, ok := err.(*client.APIError)
	if ok {
		*target = e
	}
	return ok
}

// run plays one order: create; a QR order the buyer pays is paid at the
// simulator; the shop polls until the order is no longer pending.
func (s *drainShop) run(ctx context.Context, o *drainOrder) {
	req := client.CreateOrderRequest{OutTradeNo: o.No, Subject: "drain-" + o.No, TotalAmount: "1.00", Mode: o.Mode, AuthCode: o.AuthCode}
	got, err := s.c.CreateOrder(ctx, req, client.WithIdempotencyKey("create-"+o.No))
	s.record("create "+o.No, err)
	if err != nil {
		return
	}
	o.mu.Lock()
	o.Created, o.Status = true, got.Status
	o.mu.Unlock()
	if o.Mode == "qr" {
		if !o.Pay {
			return
		}
		body, _ := json.Marshal(map[string]string{"qr_code": got.QRCode})
		resp, err := s.e.hc.Post(s.e.simURL+"/sim/pay", "application/json", bytes.NewReader(body))
		if err != nil {
			o.note("/sim/pay: %v", err)
			return
		}
		resp.Body.Close()
		o.mu.Lock()
		o.SimPaid = resp.StatusCode == http.StatusOK
		o.mu.Unlock()
		if !o.SimPaid {
			o.note("/sim/pay: %s", resp.Status)
			return
		}
	}
	for range 100 {
		o.mu.Lock()
		st := o.Status
		o.mu.Unlock()
		if st != "pending" {
			return
		}
		time.Sleep(200 * time.Millisecond)
		got, err := s.c.GetOrder(ctx, o.No, false)
		s.record("get "+o.No, err)
		if err != nil {
			return
		}
		o.mu.Lock()
		o.Status = got.Status
		o.mu.Unlock()
	}
}

func (o *drainOrder) note(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.Notes = append(o.Notes, fmt.Sprintf(format, args...))
}

// drained is what one node's SIGTERM took.
type drained struct {
	node                 string
	unready, exit, ready time.Duration // after the SIGTERM: out of the proxy, exited, ready again
	exitErr              error
}

func (d drained) String() string {
	return fmt.Sprintf("%s: out of the proxy after %s, exited after %s (%v), ready again after %s", d.node,
		d.unready.Round(time.Millisecond), d.exit.Round(time.Millisecond), d.exitErr, d.ready.Round(time.Millisecond))
}

// drainNode sends node i SIGTERM, waits for it to leave the proxy and to
// exit, and starts it again.
func drainNode(ctx context.Context, e *env, lb *drainLB, i int) (drained, error) {
	p := e.nodes[i]
	d := drained{node: p.name}
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return d, fmt.Errorf("%s is not running", p.name)
	}
	began := time.Now()
	sig := syscall.SIGTERM
	if *flagDrainKill {
		sig = syscall.SIGKILL
	}
	if err := cmd.Process.Signal(sig); err != nil {
		return d, err
	}
	unready := make(chan time.Duration, 1)
	go func() {
		for lb.ready[i].Load() {
			time.Sleep(10 * time.Millisecond)
		}
		unready <- time.Since(began)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		return d, fmt.Errorf("%s did not exit within 60 s of SIGTERM", p.name)
	}
	d.exit = time.Since(began)
	d.exitErr = p.lastErr()
	d.unready = <-unready // at the latest, the check after the exit
	if err := p.start(ctx, 60*time.Second); err != nil {
		return d, err
	}
	for !lb.ready[i].Load() {
		time.Sleep(10 * time.Millisecond)
	}
	d.ready = time.Since(began)
	return d, nil
}

// TestDrain is the rolling restart under load: see the top of this file and
// README.md, "The drain test".
func TestDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: skipping the drain test in -short mode")
	}
	ctx := context.Background()
	began := time.Now()
	bin := buildPaygate(t, t.TempDir())
	e := newEnv(t, "postgres", bin, 1, 0)
	// No faults: every 5xx or lost request is the drain's.
	if err := e.setFaults(ctx, map[string]any{"notify_schedule": notifySchedule}); err != nil {
		t.Fatalf("drain: %v", err)
	}
	// The nodes drain for drainDelay: restarted on configurations that say
	// so (newEnv's say 0 s).
	for i, p := range e.nodes {
		p.stop()
		cfg, err := os.ReadFile(e.configs[i])
		if err != nil {
			t.Fatal(err)
		}
		cfg = bytes.Replace(cfg, []byte("drain_delay: 0s"), []byte("drain_delay: "+flagDrainDelay.String()), 1)
		if err := os.WriteFile(e.configs[i], cfg, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := p.start(ctx, 60*time.Second); err != nil {
			t.Fatalf("drain: %v", err)
		}
	}
	lb := newDrainLB(t, e.nodeURL)
	hc := &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	shop := &drainShop{e: e, c: client.New(lb.srv.URL, e.creds.AccessKey, e.creds.SecretKey, client.WithHTTPClient(hc)), answers: map[string]int{}}
	t.Logf("drain: system up in %s (logs in %s)", time.Since(began).Round(time.Millisecond), e.logDir)

	// The orders: 4 in 5 QR (2 in 3 of them paid by the buyer), 1 in 5
	// barcode (paid at once, or after the simulator's pay delay).
	n := *flagDrainOrders
	orders := make([]*drainOrder, n)
	for i := range orders {
		o := &drainOrder{No: fmt.Sprintf("D%d_%05d", began.Unix()%100000, i), Mode: "qr", Pay: i%3 != 2}
		if i%5 == 4 {
			prefix := "28"
			if i%10 == 9 {
				prefix = "29"
			}
			o.Mode, o.AuthCode = "barcode", fmt.Sprintf("%s%016d", prefix, i)
		}
		orders[i] = o
	}

	// The load: one order started every spacing, 8 at most in flight.
	const spacing = 80 * time.Millisecond
	var started atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		for _, o := range orders {
			sem <- struct{}{}
			started.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				shop.run(ctx, o)
			}()
			time.Sleep(spacing)
		}
		wg.Wait()
	}()

	// The rolling restart: node0 once a fifth of the orders started, node1
	// once both are serving again and half started.
	var drains []drained
	for k, at := range []float64{0.2, 0.5} {
		for float64(started.Load()) < at*float64(n) {
			time.Sleep(20 * time.Millisecond)
		}
		d, err := drainNode(ctx, e, lb, k)
		if err != nil {
			t.Errorf("drain: %v", err)
		}
		t.Logf("drain: signal at %d orders started: %s", started.Load(), d)
		drains = append(drains, d)
	}
	<-loadDone
	workload := time.Since(began)

	// Quiet: every paid order's webhook delivered (bounded).
	paidWant := func() []string {
		var out []string
		for _, o := range orders {
			o.mu.Lock()
			if o.Status == "paid" {
				out = append(out, o.No)
			}
			o.mu.Unlock()
		}
		return out
	}
	delivered := func() map[string]bool {
		events, _, _, _, _, _ := e.rx.snapshot()
		got := map[string]bool{}
		for _, ev := range events {
			if ev.Type == "order.paid" && ev.Acked > 0 {
				got[ev.OutTradeNo] = true
			}
		}
		return got
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		got, missing := delivered(), 0
		for _, no := range paidWant() {
			if !got[no] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
	}

	// The checks.
	var problems []string
	for _, l := range shop.lost {
		problems = append(problems, "lost request: "+l)
	}
	var trades []simTrade
	if err := e.simGet(ctx, "/sim/trades", &trades); err != nil {
		t.Fatalf("drain: %v", err)
	}
	simBySubject := map[string]simTrade{}
	for _, tr := range trades {
		simBySubject[tr.Subject] = tr
	}
	got := delivered()
	statuses := map[string]int{}
	for _, o := range orders {
		at, err := e.clients[0].GetOrder(ctx, o.No, false)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: GET from node0: %v", o.No, err))
			continue
		}
		statuses[at.Status]++
		tr, atSim := simBySubject["drain-"+o.No]
		simPaid := atSim && (tr.TradeStatus == "TRADE_SUCCESS" || tr.TradeStatus == "TRADE_FINISHED")
		switch {
		case !o.Created:
			problems = append(problems, fmt.Sprintf("%s: the create got no 2xx answer (%s at paygate)", o.No, at.Status))
		case simPaid && at.Status != "paid":
			problems = append(problems, fmt.Sprintf("%s: paid at the simulator, %s at paygate", o.No, at.Status))
		case !simPaid && at.Status == "paid":
			problems = append(problems, fmt.Sprintf("%s: paid at paygate, %q at the simulator", o.No, tr.TradeStatus))
		case at.Status != "paid" && at.Status != "pending" && at.Status != "closed":
			problems = append(problems, fmt.Sprintf("%s: %s at paygate", o.No, at.Status))
		case (o.Pay || o.Mode == "barcode") && !simPaid:
			problems = append(problems, fmt.Sprintf("%s: the buyer paid (%v), the simulator says %q; notes %v", o.No, o.SimPaid, tr.TradeStatus, o.Notes))
		case at.Status == "paid" && !got[o.No]:
			problems = append(problems, fmt.Sprintf("%s: paid, but its order.paid webhook was not delivered", o.No))
		}
	}
	for _, d := range drains {
		if d.exitErr != nil {
			problems = append(problems, fmt.Sprintf("%s: exit after SIGTERM: %v", d.node, d.exitErr))
		}
	}
	if lines := grepFiles(e.logFiles(), []string{"shutdown cut in-flight requests"}, 5); len(lines) > 0 {
		problems = append(problems, "a drain cut in-flight requests: "+strings.Join(lines, "; "))
	}

	var answers []string
	for k, v := range shop.answers {
		answers = append(answers, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(answers)
	var ds []string
	for _, d := range drains {
		ds = append(ds, d.String())
	}
	summary := fmt.Sprintf("drain: orders=%d answers={%s} lost=%d proxy{refused=%d draining=%d bad_gateway=%d} paygate=%v webhooks_delivered=%d drains=[%s] drain_delay=%s workload=%s total=%s problems=%d",
		n, strings.Join(answers, " "), len(shop.lost), lb.refused.Load(), lb.draining.Load(), lb.badGateway.Load(), statuses, len(got),
		strings.Join(ds, "; "), *flagDrainDelay, workload.Round(time.Second), time.Since(began).Round(time.Second), len(problems))
	fmt.Println(summary)
	t.Log(summary)
	if len(problems) > 0 {
		t.Errorf("drain: %d problems, the first %d:\n  %s", len(problems), min(20, len(problems)), strings.Join(problems[:min(20, len(problems))], "\n  "))
		e.dumpLogs(t)
	}
}
