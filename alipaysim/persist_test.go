package alipaysim_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

// restart closes e's simulator and serves a new one on the same DataDir
// and clock.
func (e *env) restart(t *testing.T) *env {
	t.Helper()
	e.srv.Close()
	if err := e.sim.Close(); err != nil {
		t.Fatal(err)
	}
	return start(t, e.cfg, e.clock)
}

func journal(t *testing.T, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.journal"))
	if err != nil || len(m) != 1 {
		t.Fatalf("journal files %v %v", m, err)
	}
	return m[0]
}

// TestPersistence: trades, codes, refunds, cancelled out_trade_nos, pending
// notifications and apps registered at run time survive a restart.
func TestPersistence(t *testing.T) {
	t.Parallel()
	var ok atomicBool
	rcv := newReceiver(t, func(int) (int, string) {
		if ok.get() {
			return 200, "success"
		}
		return 500, "down"
	})
	dir := t.TempDir()
	e := setup(t, func(c *alipaysim.Config) { c.DataDir = dir })
	paid := e.paidTrade("S1", "10.00", rcv.url())
	if _, err := e.refund("S1", "R1", "4.00"); err != nil {
		t.Fatal(err)
	}
	code := e.precreate("S2", "2.00", "")
	if _, err := e.client.Cancel(ctx(t), alipay.TradeRef{OutTradeNo: "S3"}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.RegisterApp(alipaysim.App{AppID: otherAppID, PublicKey: &otherKey().PublicKey}); err != nil {
		t.Fatal(err)
	}
	first := map[string]bool{rcv.next(t).Get("notify_id"): true, rcv.next(t).Get("notify_id"): true}
	eventually(t, "two failed deliveries", func() bool { return len(e.sim.Notifications()) == 2 })
	before, _ := json.Marshal(e.sim.Trades())

	e2 := e.restart(t)
	after, _ := json.Marshal(e2.sim.Trades())
	if string(before) != string(after) {
		t.Fatalf("trades changed across a restart:\n%s\n%s", before, after)
	}
	q := e2.mustStatus("S1", alipay.TradeSuccess)
	if q.TradeNo != paid.TradeNo {
		t.Fatalf("trade_no %s, want %s", q.TradeNo, paid.TradeNo)
	}
	if r, err := e2.refund("S1", "R1", "4.00"); err != nil || r.FundChange != "N" || r.RefundFee != yuan("4.00") {
		t.Fatalf("refund after restart: %v %+v", err, r)
	}
	_, err := e2.pay("S3", "280000000000000001", "1.00", "", "")
	wantSub(t, err, alipay.OutcomeFailed, alipay.SubTradeHasClose)
	if _, err := e2.newClient(otherAppID, otherKey(), nil).Query(ctx(t), alipay.TradeRef{OutTradeNo: "X"}); !alipay.IsSubCode(err, alipay.SubTradeNotExist) {
		t.Fatalf("app registered at run time: %v", err)
	}
	if err := e2.sim.PayQR(ctx(t), code, ""); err != nil {
		t.Fatalf("code after restart: %v", err)
	}

	// Pending notifications resume on their schedule with their notify_id.
	ok.set(true)
	e2.clock.Advance(4 * time.Minute)
	again := map[string]bool{rcv.next(t).Get("notify_id"): true, rcv.next(t).Get("notify_id"): true}
	if len(first) != 2 || len(again) != 2 || !again[keys(first)[0]] || !again[keys(first)[1]] {
		t.Fatalf("resumed deliveries %v, want %v", again, first)
	}
	rcv.none(t, 100*time.Millisecond)
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestTornJournal: a half-written last line is ignored; a corrupt line in
// the middle is an error.
func TestTornJournal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := setup(t, func(c *alipaysim.Config) { c.DataDir = dir })
	e.paidTrade("T1", "1.00", "")
	e.srv.Close()
	if err := e.sim.Close(); err != nil {
		t.Fatal(err)
	}
	path := journal(t, dir)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"kind":"trade","key":"x","val":{"app_id":"20`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	e2 := start(t, e.cfg, e.clock)
	e2.mustStatus("T1", alipay.TradeSuccess)
	e2.srv.Close()
	if err := e2.sim.Close(); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append([]byte("{not json\n"), data...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := alipaysim.New(e.cfg); err == nil {
		t.Fatal("a corrupt journal line was accepted")
	}
}

// TestCloseStopsEverything: Close is idempotent and the journal refuses
// writes afterwards without panicking.
func TestCloseStopsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := setup(t, func(c *alipaysim.Config) { c.DataDir = dir })
	if err := e.sim.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := e.pay("AC1", "280000000000000001", "1.00", "", "")
	if alipay.OutcomeOf(err) != alipay.OutcomeUnknown {
		t.Fatalf("pay after Close: %v", err)
	}
}

// TestJournalLocked: a second simulator on a data directory in use is
// refused, saying why, and leaves the first one's journal alone; once the
// first has closed, the directory is free again.
func TestJournalLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := alipaysim.Config{AlipayKey: alipayKey(), DataDir: dir}
	first, err := alipaysim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.RegisterApp(alipaysim.App{AppID: otherAppID, PublicKey: &otherKey().PublicKey}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(journal(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	second, err := alipaysim.New(cfg)
	if err == nil {
		second.Close()
		t.Fatal("a second simulator opened a journal in use")
	}
	if !errors.Is(err, alipaysim.ErrInUse) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("err = %v, want one saying the directory is in use", err)
	}
	if after, _ := os.ReadFile(journal(t, dir)); string(after) != string(before) {
		t.Fatal("the refused simulator changed the journal")
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := alipaysim.New(cfg)
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	again.Close()
}
