package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/console"
	"github.com/paygate/paygate/recon"
	"github.com/paygate/paygate/sqlite"
)

// TestReconciliationPages: a real reconciliation of today against the
// simulator's bill (a payment whose notification was lost, repaired; a
// trade made outside paygate, left open) is listed, and its day shows the
// differences with each side in words, the repair and the repair log.
// WeChat Pay's bill of the day, reconciled too (a payment paygate does not
// know), is listed beside it and shown on the day's page with Alipay's;
// each channel's report has its own page, and the list takes a channel.
func TestReconciliationPages(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		p := setupPages(t, st)
		p.operator(t, "vera", paygate.RoleViewer, pw)
		b := p.browser(t)
		b.login("vera", pw)
		if pg := b.get("/dashboard/reconciliation"); pg.status != http.StatusOK || !strings.Contains(pg.body, `id="no-reports"`) {
			t.Fatalf("the list before any run (%d):\n%s", pg.status, pg.body)
		}

		day := p.reconcileToday(t)

		list := b.get("/dashboard/reconciliation")
		if !strings.Contains(list.body, `href="/dashboard/reconciliation/`+day+`"`) || !strings.Contains(list.body, "1 open") {
			t.Fatalf("the list lacks today's report:\n%s", list.body)
		}
		pg := b.get("/dashboard/reconciliation/" + day)
		if pg.status != http.StatusOK {
			t.Fatalf("the day's page: %d\n%s", pg.status, pg.body)
		}
		for _, want := range []string{"status_mismatch", "missing_local", "T_LOST", "OUTSIDE_1", "pending 5.00", "not in the books",
			`id="repair-log"`, "yes: now paid", "Tea House", `id="report-alipay"`, "bill of " + day + " was not reconciled"} {
			if !strings.Contains(pg.body, want) {
				t.Errorf("the day's page lacks %q", want)
			}
		}

		// WeChat Pay's bill of the day: one payment paygate never made.
		p.reconcileWechat(t, day)
		list = b.get("/dashboard/reconciliation")
		for _, want := range []string{`<tr data-channel="alipay">`, `<tr data-channel="wechat">`,
			`href="/dashboard/reconciliation/` + day + `/wechat">WeChat Pay</a>`, `href="/dashboard/reconciliation/` + day + `/alipay">Alipay</a>`} {
			if !strings.Contains(list.body, want) {
				t.Errorf("the list of both channels lacks %q", want)
			}
		}
		wxList := b.get("/dashboard/reconciliation?channel=wechat")
		if !strings.Contains(wxList.body, `<tr data-channel="wechat">`) || strings.Contains(wxList.body, `<tr data-channel="alipay">`) {
			t.Errorf("the list of WeChat Pay's reports:\n%s", wxList.body)
		}
		both := b.get("/dashboard/reconciliation/" + day)
		for _, want := range []string{`id="report-alipay"`, `id="report-wechat"`, "PGWXOUTSIDE1", "T_LOST", `<tr data-channel="wechat">`,
			`<td data-label="Bill of">WeChat Pay</td>`, `<td data-label="Bill of">Alipay</td>`} {
			if !strings.Contains(both.body, want) {
				t.Errorf("the day's page of both channels lacks %q", want)
			}
		}
		wx := b.get("/dashboard/reconciliation/" + day + "/wechat")
		if wx.status != http.StatusOK || !strings.Contains(wx.body, "PGWXOUTSIDE1") || strings.Contains(wx.body, "T_LOST") ||
			strings.Contains(wx.body, `id="report-alipay"`) || !strings.Contains(wx.body, "file ") {
			t.Errorf("WeChat Pay's report of the day (%d):\n%s", wx.status, wx.body)
		}
		if ali := b.get("/dashboard/reconciliation/" + day + "/alipay"); strings.Contains(ali.body, "PGWXOUTSIDE1") || !strings.Contains(ali.body, "T_LOST") {
			t.Errorf("Alipay's report of the day:\n%s", ali.body)
		}
		if !regexp.MustCompile(`<td[^>]*data-label="Bill">success 12\.34</td>`).MatchString(pg.body) {
			t.Errorf("the outside trade's bill side is not said in words:\n%s", pg.body)
		}
		for path, status := range map[string]int{
			"/dashboard/reconciliation/2001-01-01":        http.StatusNotFound,
			"/dashboard/reconciliation/yesterday":         http.StatusNotFound,
			"/dashboard/reconciliation/2001-01-01/wechat": http.StatusNotFound,
			"/dashboard/reconciliation/" + day + "/auto":  http.StatusNotFound,
			"/dashboard/reconciliation?channel=unionpay":  http.StatusNotFound,
		} {
			if got := b.get(path); got.status != status {
				t.Errorf("%s: %d, want %d", path, got.status, status)
			}
		}
	})
}

// TestHealthPage: every part read from the real thing: the database
// check, a second store that is closed (unreachable), the channel breaker
// before and after failed calls open it, River's jobs by state, the
// webhook backlog, the version and uptime; draining.
func TestHealthPage(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		p := setupPages(t, st)
		p.operator(t, "vera", paygate.RoleViewer, pw)
		ctx := context.Background()
		b := p.browser(t)
		b.login("vera", pw)

		pg := b.get("/dashboard/health")
		for _, want := range []string{`id="ready">Ready`, ">database</th>", "reachable", "2021000000000099", "status-breaker-closed",
			">deliver_event</code>", ">compensate_order</code>", `id="hook-backlog">0<`, `id="version">v1.2.3-test<`, `id="uptime">1h0m`} {
			if !strings.Contains(pg.body, want) {
				t.Errorf("the health page lacks %q", want)
			}
		}
		if t.Failed() {
			t.Fatalf("the page:\n%s", pg.body)
		}

		// A paid order's event in the backlog; a compensation due in an
		// hour (the order's); the channel's breaker opened by two failed
		// calls to an Alipay that is not there.
		p.paid(t, "T_HEALTH", 100)
		for range 2 {
			p.breaker.Query(ctx, "nowhere")
		}
		pg = b.get("/dashboard/health")
		if !strings.Contains(pg.body, `id="hook-backlog">1<`) || !strings.Contains(pg.body, "status-breaker-open") {
			t.Fatalf("after a paid order and failed channel calls:\n%s", pg.body)
		}

		// A store that does not answer makes the node not ready; the page
		// says which and why, and nothing of the driver's error text.
		sealer, _ := paygate.NewSealer(make([]byte, 32))
		closed, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gone.db"), sealer, sqlite.WithMigrate())
		if err != nil {
			t.Fatal(err)
		}
		closed.Close()
		p2 := setup(t, st, func(cfg *console.Config) {
			cfg.Health = console.Health{Checks: []console.HealthCheck{{Name: "database", Check: st.Ping}, {Name: "redis", Check: closed.Ping}}}
		})
		p2.operator(t, "vic", paygate.RoleViewer, pw)
		b2 := p2.browser(t)
		b2.login("vic", pw)
		pg = b2.get("/dashboard/health")
		if !strings.Contains(pg.body, "Not ready") || !strings.Contains(pg.body, ">redis</th>") || !strings.Contains(pg.body, "unreachable") ||
			strings.Contains(pg.body, "sql: database is closed") {
			t.Fatalf("with an unreachable store:\n%s", pg.body)
		}
		for _, part := range []string{"breakers-h", "queue-h", "hooks-h"} {
			if !regexp.MustCompile(`id="` + part + `"[^<]*</h2>\s*<p class="muted">Not wired`).MatchString(pg.body) {
				t.Errorf("the part %s is not said to be unwired", part)
			}
		}

		p.mu.Lock()
		p.draining = true
		p.mu.Unlock()
		if pg := b.get("/dashboard/health"); !strings.Contains(pg.body, "Draining") {
			t.Fatalf("a draining node:\n%s", pg.body)
		}
	})
}

// reconcileToday runs a real reconciliation of today against the
// simulator's bill (its same-day fault): a payment whose notification is
// lost (repaired), and a trade made outside paygate (left open). It
// returns the day; the test is skipped if the day ended meanwhile.
func (p *pagesEnv) reconcileToday(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	day := recon.DayOf(time.Now())
	p.paid(t, "T_BOOKED", 990)
	if err := p.sim.SetFaults(alipaysim.Faults{NotifyDropRate: 1, BillSameDay: true}); err != nil {
		t.Fatal(err)
	}
	lost := p.order(t, "T_LOST", 500)
	if err := p.sim.PayQR(ctx, lost.QRCode, "2088000000000042"); err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(p.sim)
	t.Cleanup(simSrv.Close)
	app, ali := keys()
	ch, err := alipay.New(alipay.Config{AppID: "2021000000000001", GatewayURL: simSrv.URL + "/gateway.do",
		PrivateKey: app, AlipayPublicKey: &ali.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	outside, err := ch.Precreate(ctx, alipay.PrecreateRequest{OutTradeNo: "OUTSIDE_1", TotalAmount: 1234, Subject: "counter sale"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.sim.PayQR(ctx, outside.QRCode, "2088000000000043"); err != nil {
		t.Fatal(err)
	}
	rc, err := recon.New(recon.Config{Store: p.st, Bills: recon.Alipay(ch), Repairer: p.svc, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := rc.Run(ctx, day, recon.Options{Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	if recon.DayOf(time.Now()) != day {
		t.Skip("the day (China time) ended during the test")
	}
	if rep.DifferenceCount != 2 || rep.Repairs != 1 {
		t.Fatalf("the run found %d differences and repaired %d; the test wants 2 and 1", rep.DifferenceCount, rep.Repairs)
	}

	return day
}

// reconcileWechat runs a real reconciliation of WeChat Pay's bill of day,
// from a bill file with one payment paygate does not know (made at the
// merchant's counter with WeChat Pay, say): a missing_local difference.
func (p *pagesEnv) reconcileWechat(t *testing.T, day string) {
	t.Helper()
	start, _, err := recon.DayBounds(day)
	if err != nil {
		t.Fatal(err)
	}
	at := start.Add(time.Hour).Format("2006-01-02 15:04:05")
	bill := "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额," +
		"微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n" +
		"`" + at + ",`wxd678efh567hg6787,`1900000001,`0,`,`4200000925202601012345678901,`PGWXOUTSIDE1,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o," +
		"`NATIVE,`SUCCESS,`OTHERS,`CNY,`8.80,`0.00,`0,`0,`0.00,`0.00,`,`,`counter sale,`,`0.05280,`0.60%,`8.80,`0.00,`\r\n" +
		"总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n`1,`8.80,`0.00,`0.00,`0.05280,`8.80,`0.00\r\n"
	path := filepath.Join(t.TempDir(), "tradebill.csv")
	if err := os.WriteFile(path, []byte(bill), 0o600); err != nil {
		t.Fatal(err)
	}
	rc, err := recon.New(recon.Config{Store: p.st, Bills: recon.Wechat(nil), TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := rc.Run(context.Background(), day, recon.Options{BillFile: path})
	if err != nil {
		t.Fatal(err)
	}
	if rep.DifferenceCount != 1 || rep.Differences[0].Kind != recon.MissingLocal {
		t.Fatalf("WeChat Pay's run: %d differences %+v; the test wants one missing_local", rep.DifferenceCount, rep.Differences)
	}
}
