package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/testenv/browser"
)

// TestDemoStoryBrowser is issue 10's story, clicked through in real
// Chromium against `paygate demo` itself (the command a newcomer runs), on
// SQLite and on PostgreSQL (PAYGATE_DATABASE_URL, which the demo honours):
// the shop gives the demo merchant a webhook URL and makes a QR order; an
// operator logs in with the credentials the demo wrote and finds the order;
// the buyer opens its cashier page, pays it on the simulator's phone page,
// and the cashier turns "paid" by itself; the operator refunds part of it
// from the console and sees the webhook attempts (HTTP 200, with latency)
// in its timeline; the shop's receiver got both events, verified under both
// signature schemes; the operator logs out and the old session cookie is
// refused.
func TestDemoStoryBrowser(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			if kind == "postgres" {
				dbURL, _ := postgresSchemaURL(t)
				t.Setenv("PAYGATE_DATABASE_URL", dbURL)
			}
			demoStory(t)
		})
	}
}

func demoStory(t *testing.T) {
	dir := t.TempDir()
	d := startDemo(t, dir)
	accessKey, secretKey, webhookSecret := readDemoCreds(t, dir)

	// The shop's webhook receiver, verifying every delivery under both
	// header sets with the client package.
	hooks := &storyHooks{secret: webhookSecret}
	recv := httptest.NewServer(hooks)
	defer recv.Close()
	if _, stderr, err := runCmd(t, "merchant", "set-url", "--data", dir, accessKey, recv.URL+"/hooks"); err != nil {
		t.Fatalf("merchant set-url: %v\n%s", err, stderr)
	}

	var op struct{ Username, Password string }
	data, err := os.ReadFile(filepath.Join(dir, "demo-operator.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &op); err != nil || op.Username == "" || op.Password == "" {
		t.Fatalf("demo-operator.json: %v %+v", err, op.Username)
	}

	c := client.New(d.base, accessKey, secretKey)
	req := e2eQR("STORY_1", "18.80")
	req.Subject = "two flat whites"
	o, err := c.CreateOrder(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(o.CashierURL, d.base+"/pay/") || strings.Contains(o.CashierURL, "STORY_1") {
		t.Fatalf("cashier_url %q", o.CashierURL)
	}

	b := browser.New(t, browser.Options{Width: 1280, Height: 900})
	s := storyBrowser{t: t, ctx: b}

	// The operator logs in and finds the order, still pending.
	s.do("open the console", chromedp.Navigate(d.base+"/dashboard/"), chromedp.WaitVisible(chromedp.CSS("#username")))
	s.do("log in",
		chromedp.SendKeys(chromedp.CSS("#username"), op.Username),
		chromedp.SendKeys(chromedp.CSS("#password"), op.Password),
		chromedp.Submit(chromedp.CSS("#password")))
	s.until("log in", `location.pathname === "/dashboard/orders" && document.readyState === "complete"`)
	s.do("search", chromedp.SendKeys(chromedp.CSS("#f-otn"), "STORY_1"), chromedp.Submit(chromedp.CSS("#f-otn")))
	s.until("search", `location.search.includes("STORY_1") && document.readyState === "complete" && document.querySelectorAll("tbody tr").length === 1`)
	s.do("open the order", chromedp.Click(chromedp.CSS("tbody tr a")))
	s.until("open the order", `location.pathname.startsWith("/dashboard/orders/") && document.readyState === "complete" && document.querySelector("#timeline") !== null`)
	orderPage, err := chromedp.Run(s.step(), chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if h := s.text("main h1"); !strings.Contains(h, "STORY_1") || !strings.Contains(h, "pending") {
		t.Fatalf("the order page's heading is %q", h)
	}
	browser.Screenshot(t, b, "console-pending")

	// The buyer: the cashier page in one tab, the phone in another.
	cashier, cancelCashier := chromedp.NewContext(b)
	defer cancelCashier()
	cs := storyBrowser{t: t, ctx: cashier}
	cs.do("open the cashier", chromedp.Navigate(o.CashierURL), chromedp.WaitVisible(chromedp.CSS("svg.qr-code")),
		chromedp.Evaluate[chromedp.Void](`window.paygateNoReload = "still here"`))
	if a := cs.text("#amount .figure"); !strings.Contains(a, "18.80") {
		t.Fatalf("the cashier shows %q", a)
	}
	browser.Screenshot(t, cashier, "cashier-pending")
	phone, cancelPhone := chromedp.NewContext(b)
	defer cancelPhone()
	ps := storyBrowser{t: t, ctx: phone}
	pick := `input[name="pick"][value="` + o.QRCode + `"]`
	ps.do("pay on the phone", chromedp.Navigate(d.base+"/sim/"), chromedp.WaitVisible(chromedp.CSS(pick)),
		chromedp.Click(chromedp.CSS(pick)), chromedp.Click(chromedp.CSS("#pay")), chromedp.WaitVisible(chromedp.CSS("#result.ok")))
	browser.Screenshot(t, phone, "phone-paid")
	cs.do("the cashier turns paid", chromedp.Poll[chromedp.Void](`document.getElementById("cashier").dataset.state === "paid"`))
	if mark, err := chromedp.Run(cs.step(), chromedp.Evaluate[string](`window.paygateNoReload || ""`)); err != nil || mark != "still here" {
		t.Fatalf("the cashier page was reloaded (%q, %v)", mark, err)
	}
	browser.Screenshot(t, cashier, "cashier-paid")

	// The operator refunds part of it, and sees the webhook attempts.
	s.do("reload the order", chromedp.Navigate(orderPage))
	s.until("reload the order", `document.readyState === "complete" && document.querySelector("#refund-amount") !== null`)
	s.do("refund, step 1",
		chromedp.Clear(chromedp.CSS("#refund-amount")),
		chromedp.SendKeys(chromedp.CSS("#refund-amount"), "8.80"),
		chromedp.SendKeys(chromedp.CSS("#refund-reason"), "one cup spilt"),
		chromedp.Click(chromedp.CSS("#refund")))
	s.until("refund, step 1", `document.readyState === "complete" && document.querySelector("#refund-confirm-button") !== null`)
	s.do("refund, confirmed", chromedp.Click(chromedp.CSS("#refund-confirm-button")))
	s.until("refund, confirmed", `document.readyState === "complete" && document.querySelector(".flash") !== null`)
	if f := s.text(".flash"); !strings.Contains(f, "Refunded 8.80 CNY") {
		t.Fatalf("after the refund: %q", f)
	}
	hooks.wait(t, "order.paid", "refund.succeeded")
	// Deliveries are recorded as they are answered, and order activity
	// within 200 ms: reload until everything shows in the timeline.
	wants := []string{"Paid", "Refund succeeded", "one cup spilt", op.Username + ": refund", "Call alipay.trade.precreate",
		"Call alipay.trade.refund", "Notification TRADE_SUCCESS", "HTTP 200"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.do("reload the order", chromedp.Navigate(orderPage))
		s.until("reload the order", `document.readyState === "complete" && document.querySelector("#timeline") !== null`)
		tl := s.text("#timeline")
		var missing []string
		for _, want := range wants {
			if !strings.Contains(tl, want) {
				missing = append(missing, want)
			}
		}
		if strings.Count(tl, "Webhook delivered") < 2 {
			missing = append(missing, "two delivered webhooks")
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the timeline lacks %q:\n%s", missing, tl)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if h := s.text("main h1"); !strings.Contains(h, "paid") {
		t.Fatalf("the order page's heading is %q", h)
	}
	browser.Screenshot(t, b, "console-refunded")
	if got, err := c.GetOrder(context.Background(), "STORY_1", false); err != nil || got.RefundedAmount != "8.80" || got.Status != "paid" {
		t.Fatalf("the merchant API says %+v (%v)", got, err)
	}

	// Log out: the old session cookie is refused when replayed.
	session := s.sessionCookie(d.base)
	if st, _ := storyReplay(t, d, session); st != http.StatusOK {
		t.Fatalf("the live session replayed: %d", st)
	}
	s.do("log out", chromedp.Click(chromedp.CSS("header form button")))
	s.until("log out", `location.pathname === "/dashboard/login" && document.readyState === "complete"`)
	if st, loc := storyReplay(t, d, session); st != http.StatusSeeOther || !strings.HasPrefix(loc, "/dashboard/login") {
		t.Fatalf("the logged-out session replayed: %d %q", st, loc)
	}
	if strings.Contains(d.stderr.String(), op.Password) || strings.Contains(d.stderr.String(), session) {
		t.Fatal("the demo's log holds the operator's password or a session token")
	}
}

// storyBrowser is one tab and the steps the story takes in it.
type storyBrowser struct {
	t   *testing.T
	ctx context.Context
}

func (s storyBrowser) step() context.Context { return browser.Timeout(s.t, s.ctx, 30*time.Second) }

func (s storyBrowser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	if err := chromedp.Do(s.step(), actions...); err != nil {
		s.t.Fatalf("%s: %v", what, err)
	}
}

// until polls a JavaScript condition across the navigations a form
// submission causes (an evaluation during one fails and is retried).
func (s storyBrowser) until(what, expr string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := chromedp.Run(browser.Timeout(s.t, s.ctx, 5*time.Second), chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: %s is still not true (%v)", what, expr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s storyBrowser) text(sel string) string {
	s.t.Helper()
	v, err := chromedp.Run(s.step(), chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		s.t.Fatalf("text of %s: %v", sel, err)
	}
	return v
}

// sessionCookie is the console's session cookie as the browser holds it.
func (s storyBrowser) sessionCookie(base string) string {
	s.t.Helper()
	cookies, err := chromedp.Run(s.step(), chromedp.Action[[]*network.Cookie](
		func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
			res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/dashboard/"}})
			return res.Cookies, err
		}))
	if err != nil {
		s.t.Fatal(err)
	}
	for _, c := range cookies {
		if c.Name == "paygate_session" {
			return c.Value
		}
	}
	s.t.Fatal("no session cookie in the browser")
	return ""
}

// storyReplay sends GET /dashboard/orders with only the session cookie, as
// a stolen cookie would come, and returns the status and Location.
func storyReplay(t *testing.T, d *runningDemo, session string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, d.base+"/dashboard/orders", nil)
	req.AddCookie(&http.Cookie{Name: "paygate_session", Value: session})
	hc := &http.Client{Transport: d.http.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Location")
}

// storyHooks is the shop's webhook receiver: it answers 200 to a delivery
// that verifies under both Paygate-Signature and the Standard Webhooks
// headers, and 400 otherwise.
type storyHooks struct {
	secret string
	mu     sync.Mutex
	types  map[string]bool
	bad    []string
}

func (h *storyHooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	now := time.Now()
	errPaygate := client.VerifyWebhook(h.secret, r.Header.Get(client.WebhookSignatureHeader), body, 0, now)
	errAll := client.VerifyWebhookHeaders(h.secret, r.Header, body, 0, now)
	h.mu.Lock()
	defer h.mu.Unlock()
	if errPaygate != nil || errAll != nil || r.Header.Get("webhook-signature") == "" {
		h.bad = append(h.bad, "paygate: "+errString(errPaygate)+"; both: "+errString(errAll))
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	var ev struct{ Type string }
	json.Unmarshal(body, &ev)
	if h.types == nil {
		h.types = map[string]bool{}
	}
	h.types[ev.Type] = true
	w.WriteHeader(http.StatusOK)
}

// wait waits until every type was received, and fails on a delivery that
// did not verify.
func (h *storyHooks) wait(t *testing.T, types ...string) {
	t.Helper()
	e2eEventually(t, "the shop's receiver gets "+strings.Join(types, ", "), func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.bad) > 0 {
			t.Fatalf("a delivery did not verify: %v", h.bad)
		}
		for _, typ := range types {
			if !h.types[typ] {
				return false
			}
		}
		return true
	})
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
