package chaos

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/recon"
)

var (
	flagOrders      = flag.Int("chaos.orders", 200, "orders per store (the big run: 10000)")
	flagStore       = flag.String("chaos.store", "all", "what to run: sqlite, postgres, failover (PostgreSQL primary killed, its synchronous standby promoted), both (sqlite and postgres) or all")
	flagSeed        = flag.Uint64("chaos.seed", 0, "seed of the workload's and the disturbances' choices (0: from the clock; the summary prints it)")
	flagSeeds       = flag.Int("chaos.seeds", 2, "runs per store, one after the other, with seeds seed, seed+1, ...")
	flagWorkers     = flag.Int("chaos.workers", 12, "API requests in flight at most")
	flagWebhookFail = flag.Float64("chaos.webhook-fail", 0.1, "share of valid webhook deliveries the receiver fails on purpose (HTTP 500)")
	flagQuiet       = flag.Duration("chaos.quiet", 3*time.Minute, "how long to wait for quiet after the workload")
	flagLogs        = flag.String("chaos.logs", "", "keep the processes' logs under this directory (default: the test's temporary directory, removed)")
)

// launchSpan is how long the orders' starts are spread over at least.
const launchSpan = 30 * time.Second

// TestChaos is the chaos suite: see doc.go and README.md.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: skipping the chaos suite in -short mode")
	}
	var stores []string
	switch *flagStore {
	case "all":
		stores = []string{"sqlite", "postgres", "failover"}
	case "both":
		stores = []string{"sqlite", "postgres"}
	case "sqlite", "postgres", "failover":
		stores = []string{*flagStore}
	default:
		t.Fatalf("chaos: -chaos.store %q: want sqlite, postgres, failover, both or all", *flagStore)
	}
	seed := *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano()) % 1_000_000_000
	}
	bin := buildPaygate(t, t.TempDir())
	// The stores run side by side: each has its own processes, ports,
	// directories and database; together they take half the time.
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			for i := range max(*flagSeeds, 1) {
				s := seed + uint64(i)
				t.Run(fmt.Sprintf("seed%d", s), func(t *testing.T) { runChaos(t, store, bin, s) })
			}
		})
	}
}

// step is one disturbance, done once the given share of orders has started.
type step struct {
	at   float64
	name string
	do   func() error
}

func runChaos(t *testing.T, store, bin string, seed uint64) {
	ctx := context.Background()
	began := time.Now()
	e := newEnv(t, store, bin, seed, *flagWebhookFail)
	t.Logf("chaos: %s: system up in %s (logs in %s)", store, time.Since(began).Round(time.Millisecond), e.logDir)
	n := *flagOrders
	d := newDriver(e, n, seed, *flagWorkers)

	// The timeline of disturbances, recorded for the report.
	var tlMu sync.Mutex
	var timeline []string
	mark := func(format string, args ...any) {
		tlMu.Lock()
		defer tlMu.Unlock()
		line := fmt.Sprintf("%6.1fs ", time.Since(began).Seconds()) + fmt.Sprintf(format, args...)
		timeline = append(timeline, line)
		t.Log("chaos: " + line)
	}

	// A node that dies without being killed is a finding: it is reported
	// and restarted so that the run goes on.
	var (
		downMu     sync.Mutex
		expectDown = map[int]bool{}
		unexpected []string
	)
	// The disturbances' moments and lengths come from the seed too, so that
	// a failing seed replays its timeline.
	dist := rand.New(rand.NewPCG(seed, 0xd157))
	restartPause := func() time.Duration { return 500*time.Millisecond + rand.N(1500*time.Millisecond) }
	var (
		recMu      sync.Mutex
		recoveries []recovery
		recWG      sync.WaitGroup
	)
	killNode := func(i int) func() error {
		return func() error {
			downMu.Lock()
			expectDown[i] = true
			downMu.Unlock()
			defer func() {
				downMu.Lock()
				expectDown[i] = false
				downMu.Unlock()
			}()
			mark("SIGKILL node%d (%d orders started, %d done)", i, d.started.Load(), d.done.Load())
			pid := e.nodes[i].pid()
			e.nodes[i].kill()
			died := time.Now()
			held, herr := e.probe.held(ctx, pid)
			if herr != nil {
				mark("node%d: could not list the jobs it held: %v", i, herr)
			}
			var backMu sync.Mutex
			var back time.Time
			returned := func() time.Time { backMu.Lock(); defer backMu.Unlock(); return back }
			if herr == nil {
				recWG.Add(1)
				go func() {
					defer recWG.Done()
					r := watchRecovery(ctx, e.probe, fmt.Sprintf("node%d", i), pid, held, died, returned, 3*time.Minute)
					mark("recovery %s", r)
					recMu.Lock()
					recoveries = append(recoveries, r)
					recMu.Unlock()
				}()
			}
			time.Sleep(restartPause())
			if err := e.nodes[i].start(ctx, 60*time.Second); err != nil {
				return err
			}
			backMu.Lock()
			back = time.Now()
			backMu.Unlock()
			mark("node%d back (%d running jobs were held by the killed process)", i, len(held))
			return nil
		}
	}
	var steps []step
	pgRestarts := 0
	var failoverOutage time.Duration
	restartPG := func() error {
		pause := 300*time.Millisecond + time.Duration(dist.IntN(3000))*time.Millisecond
		mark("PostgreSQL stop -m fast for %s (%d orders started, %d done)", pause, d.started.Load(), d.done.Load())
		if err := e.pg.restart(pause); err != nil {
			return err
		}
		pgRestarts++
		mark("PostgreSQL back")
		return nil
	}
	at := func() float64 { return 0.1 + 0.8*dist.Float64() }
	switch store {
	case "sqlite":
		steps = []step{{at(), "kill node0", killNode(0)}, {at(), "kill node0", killNode(0)}}
	case "postgres":
		// Several database outages at moments of the seed's choosing: the
		// class of failure the barcode and cancel paths must survive.
		steps = []step{{at(), "kill node1", killNode(1)}, {at(), "kill node0", killNode(0)}}
		for range 3 {
			steps = append(steps, step{at(), "restart postgres", restartPG})
		}
	case "failover":
		steps = []step{{at(), "kill node1", killNode(1)}, {0.5, "failover", func() error {
			mark("PostgreSQL primary killed (stop -m immediate) (%d orders started, %d done)", d.started.Load(), d.done.Load())
			began := time.Now()
			e.pg.stop("immediate")
			if err := e.standby.promote(); err != nil {
				return err
			}
			mark("standby promoted in %s", time.Since(began).Round(time.Millisecond))
			// Accepted again: the first create sent after the primary died
			// and answered with an order.
			deadline := time.Now().Add(2 * time.Minute)
			for d.firstCreateSentAfter(began).IsZero() {
				if time.Now().After(deadline) {
					return fmt.Errorf("no order accepted within 2 min of the failover")
				}
				time.Sleep(50 * time.Millisecond)
			}
			failoverOutage = d.firstCreateSentAfter(began).Sub(began)
			mark("orders accepted again %s after the primary died (the first create sent after it answered then)", failoverOutage.Round(time.Millisecond))
			return nil
		}}}
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].at < steps[j].at })
	progress := make(chan struct{}, 1)
	monkeyDone := make(chan struct{})
	var monkeyErrs []string
	stopSupervisor := make(chan struct{})
	go func() { // the monkey
		defer close(monkeyDone)
		for _, s := range steps {
			for float64(d.started.Load()) < s.at*float64(n) {
				<-progress
			}
			if err := s.do(); err != nil {
				monkeyErrs = append(monkeyErrs, s.name+": "+err.Error())
				mark("%s failed: %v", s.name, err)
			}
		}
	}()
	supervisorDone := make(chan struct{})
	go func() { // the supervisor
		defer close(supervisorDone)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSupervisor:
				return
			case <-tick.C:
			}
			for i, node := range e.nodes {
				downMu.Lock()
				expected := expectDown[i]
				downMu.Unlock()
				if expected || node.running() {
					continue
				}
				msg := fmt.Sprintf("node%d exited on its own (%v); log tail:\n%s", i, node.lastErr(), tail(node.logPath, 15))
				mark("node%d exited on its own; restarting it", i)
				downMu.Lock()
				unexpected = append(unexpected, msg)
				downMu.Unlock()
				if err := node.start(ctx, 60*time.Second); err != nil {
					mark("node%d did not come back: %v", i, err)
				}
			}
		}
	}()

	mark("workload: %d orders, seed %d, %d requests in flight at most", n, seed, *flagWorkers)
	// Orders start spread over about launchSpan (longer when the system is
	// slower than that), so that the disturbances fall among orders in
	// every phase: being created, waiting for the buyer, being refunded,
	// expiring.
	spacing := min(max(launchSpan/time.Duration(n), 2*time.Millisecond), 300*time.Millisecond)
	tenth := max(n/10, 1)
	d.run(ctx, 6**flagWorkers, spacing, func() {
		if s := int(d.started.Load()); n >= 1000 && s%tenth == 0 {
			retries, _ := d.retryTotals()
			mark("%d orders started, %d done, %d retries so far", s, d.done.Load(), retries)
		}
		select {
		case progress <- struct{}{}:
		default:
		}
	})
	for {
		select {
		case progress <- struct{}{}: // let the monkey see the end
			continue
		case <-monkeyDone:
		}
		break
	}
	workload := time.Since(began)
	mark("workload done; faults off; waiting for quiet")
	injected := fmt.Sprintf("alipay{calls:%d gateway_errors:%d unknown:%d timeouts:%d} wechat{calls:%d system_errors:%d timeouts:%d}",
		e.proxy.calls.Load(), e.proxy.gatewayErrors.Load(), e.proxy.unknown.Load(), e.proxy.timeouts.Load(),
		e.wxProxy.calls.Load(), e.wxProxy.gatewayErrors.Load(), e.wxProxy.timeouts.Load())
	quietIn, notQuiet := e.quiesce(ctx, d, *flagQuiet, mark)
	if notQuiet != "" {
		mark("not quiet after %s: %s", quietIn.Round(time.Millisecond), notQuiet)
	} else {
		mark("quiet after %s", quietIn.Round(time.Millisecond))
	}
	close(stopSupervisor)
	<-supervisorDone
	recWG.Wait()

	tr, err := e.gather(ctx, d)
	if err != nil {
		e.dumpLogs(t)
		t.Fatalf("chaos: gathering the truth: %v", err)
	}
	ms, oc := check(d, tr, time.Now())
	reconciled := e.reconcile(ctx, began, tr)
	if reconciled.mismatch != "" {
		ms = append(ms, mismatch{Msg: reconciled.mismatch})
	}
	mark("reconciliation: %s", reconciled.summary)
	if notQuiet != "" {
		ms = append([]mismatch{{Msg: fmt.Sprintf("no quiet within %s: %s", *flagQuiet, notQuiet)}}, ms...)
	}
	downMu.Lock()
	for _, u := range unexpected {
		ms = append(ms, mismatch{Msg: u})
	}
	downMu.Unlock()
	for _, m := range monkeyErrs {
		ms = append(ms, mismatch{Msg: "disturbance failed: " + m})
	}
	// Recovery: a dead node's work is taken over within the goal, from its
	// return on SQLite (one node), from its death with replicas.
	var recs []string
	recMu.Lock()
	for _, r := range recoveries {
		recs = append(recs, r.String())
		took := r.afterDeath
		if store == "sqlite" {
			took = r.afterReturn
		}
		if !r.done || took > recoveryGoal {
			ms = append(ms, mismatch{Msg: fmt.Sprintf("recovery slower than %s: %s", recoveryGoal, r)})
		}
	}
	recMu.Unlock()
	if store == "failover" && failoverOutage > 0 {
		recs = append(recs, fmt.Sprintf("failover: orders accepted again after %.1fs", failoverOutage.Seconds()))
	}
	_, rxDeliveries, rxFailed, rxInvalid, rxInvalidEx, _ := e.rx.snapshot()
	if rxInvalid > 0 {
		ms = append(ms, mismatch{Msg: fmt.Sprintf("the receiver rejected %d deliveries (bad signature or body): %v", rxInvalid, rxInvalidEx)})
	}
	byKind := sortMismatches(ms)
	retries, retryDetail := d.retryTotals()
	kills := 0
	for _, node := range e.nodes {
		kills += node.killCount()
	}
	faults, _ := json.Marshal(chaosFaults())
	eventSrc := "api"
	if !oc.eventsAPI {
		eventSrc = "receiver-only"
	}
	var notified []string
	for _, ch := range []string{"alipay", "wechat"} {
		n := oc.notify[ch]
		notified = append(notified, fmt.Sprintf("%s{dropped:%d duplicated:%d gave_up:%d}", ch, n.dropped, n.duplicated, n.gaveUp))
	}
	summary := fmt.Sprintf("chaos: store=%s orders=%d qr=%d barcode=%d paid=%d (partially_refunded=%d) refunded=%d closed=%d pending=%d "+
		"buyer_paid=%d cancel_refunds=%d late_payments=%d refunds_succeeded=%d channels={%s} events=%d (%s) deliveries=%d (failed_on_purpose=%d) "+
		"faults=%s (both channels) injected≈{%s} notifications={%s} "+
		"kills=%d pg_restarts=%d recovery=[%s] retries=%d {%s} reconciliation={%s} seed=%d workload=%s quiet=%s total=%s mismatches=%d %s",
		store, n, oc.qr, oc.barcode, oc.paid, oc.partial, oc.refunded, oc.closed, oc.pending,
		oc.simPaid, oc.cancelRefunds, oc.latePayments, oc.refundsOK, oc.channels(), oc.eventCount, eventSrc, rxDeliveries, rxFailed,
		faults, injected, strings.Join(notified, " "),
		kills, pgRestarts, strings.Join(recs, "; "), retries, retryDetail, reconciled.summary, seed, workload.Round(time.Second), quietIn.Round(time.Second),
		time.Since(began).Round(time.Second), len(ms), byKind)
	fmt.Println(summary)
	t.Log(summary)
	if len(ms) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "chaos: %d mismatches on %s; the first %d:\n", len(ms), store, min(20, len(ms)))
	for i, m := range ms[:min(20, len(ms))] {
		fmt.Fprintf(&b, "%2d. [%s] %s: %s\n", i+1, m.Kind, firstNonEmpty(m.Order, "-"), m.Msg)
		if m.Detail != "" {
			fmt.Fprintf(&b, "%s\n", m.Detail)
		}
	}
	fmt.Fprintf(&b, "timeline:\n  %s\n", strings.Join(timeline, "\n  "))
	shown := 0
	seen := map[string]bool{}
	for _, m := range ms {
		if m.Order == "" || seen[m.Order] || len(m.Needles) == 0 || shown >= 5 {
			continue
		}
		seen[m.Order] = true
		shown++
		lines := grepFiles(e.logFiles(), m.Needles, 40)
		fmt.Fprintf(&b, "log lines of %s (%v):\n  %s\n", m.Order, m.Needles, strings.Join(lines, "\n  "))
	}
	t.Error(b.String())
	e.dumpLogs(t)
}

// dumpLogs prints the tail of every process's log.
func (e *env) dumpLogs(t *testing.T) {
	for _, f := range e.logFiles() {
		t.Logf("chaos: tail of %s:\n%s", f, tail(f, 40))
	}
	if *flagLogs == "" {
		t.Logf("chaos: rerun with -chaos.logs DIR to keep the full logs")
	} else if _, err := os.Stat(e.logDir); err == nil {
		t.Logf("chaos: full logs kept in %s", e.logDir)
	}
}

// reconciled is what reconciling the run's day against the simulators'
// bills found.
type reconciled struct {
	summary  string
	mismatch string // "" when the books equal the bills
}

// reconReport is one channel's report as `paygate reconcile --json`
// prints it: one line per channel, named by "channel" (a build that
// reconciles Alipay's bill alone prints one line without it).
type reconReport struct {
	paygate.ReconciliationView
	Channel string `json:"channel"`
}

// reconcile runs `paygate reconcile` for the day the run began (China
// time) against the simulators' bills of it so far (bill_same_day): after
// every disturbance, the books must equal each channel's bill, every
// payment and refund, with nothing to repair. A run that crossed midnight
// (China time) is not reconciled: its payments are on two bills.
//
// A build whose reconciliation reads Alipay's bill alone (a report without
// a channel) holds it against the books of every channel: the differences
// of orders WeChat Pay took part in (an order of WeChat Pay's, an auto
// order with a WeChat Pay trade) are set aside and counted, not taken for
// mismatches; all the others must still be none.
func (e *env) reconcile(ctx context.Context, began time.Time, tr *truth) reconciled {
	day := recon.DayOf(began)
	if day != recon.DayOf(time.Now()) {
		return reconciled{summary: "skipped: the run crossed midnight, China time"}
	}
	if err := e.setFaults(ctx, map[string]any{"bill_same_day": true}); err != nil {
		return reconciled{summary: "failed", mismatch: "reconciliation: " + err.Error()}
	}
	out, err := runTool(ctx, e.bin, "reconcile", "--date", day, "--config", e.configs[0], "--json")
	var reps []reconReport
	for _, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); !strings.HasPrefix(line, "{") {
			continue
		}
		var rep reconReport
		if jerr := json.Unmarshal([]byte(line), &rep); jerr != nil {
			return reconciled{summary: "failed", mismatch: fmt.Sprintf("reconciliation printed %q: %v (%v)", truncate(line, 200), jerr, err)}
		}
		reps = append(reps, rep)
	}
	if len(reps) == 0 {
		return reconciled{summary: "failed", mismatch: fmt.Sprintf("reconciliation did not run: %v", err)}
	}
	wechatOrders := map[string]bool{} // channel numbers of orders WeChat Pay took part in
	for no, ts := range tr.trades {
		took := tr.orders[no].Channel == "wechat"
		for _, t := range ts {
			took = took || t.Channel == "wechat"
		}
		for _, t := range ts {
			wechatOrders[t.OutTradeNo] = wechatOrders[t.OutTradeNo] || took
		}
	}
	var parts, kinds []string
	open := 0
	for _, rep := range reps {
		ch, setAside := rep.Channel, 0
		if ch == "" {
			ch = "alipay (books of both channels)"
		}
		for _, diff := range rep.Differences {
			if rep.Channel == "" && wechatOrders[diff.ChannelOutTradeNo] {
				setAside++
				continue
			}
			open++
			if len(kinds) < 10 {
				kinds = append(kinds, fmt.Sprintf("%s: %s %s/%s %s", ch, diff.Kind, diff.OutTradeNo, diff.ChannelOutTradeNo, diff.OutRequestNo))
			}
		}
		part := fmt.Sprintf("%s: bill rows %d, book rows %d, matched %d, differences %d", ch, rep.ChannelRows, rep.LocalRows, rep.Matched, rep.DifferenceCount)
		if setAside > 0 {
			part += fmt.Sprintf(" (%d of WeChat Pay orders set aside: this build reconciles Alipay's bill alone)", setAside)
		}
		parts = append(parts, part)
	}
	summary := strings.Join(parts, "; ")
	switch {
	case open > 0:
		return reconciled{summary: summary, mismatch: fmt.Sprintf("reconciliation against the bills: %s: %v", summary, kinds)}
	case err != nil && !strings.Contains(err.Error(), "exit status 3"): // 3: differences remain, all set aside
		return reconciled{summary: summary, mismatch: fmt.Sprintf("reconciliation failed: %v", err)}
	}
	return reconciled{summary: summary}
}
