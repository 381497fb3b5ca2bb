package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/console"
	"github.com/paygate/paygate/testenv/browser"
)

// TestConsoleBrowser drives the console in real Chromium against a real
// node and the simulator, on both stores: log in, search an order, open
// it, refund it through the confirmation, see the refund and the action in
// the timeline, log out, and find the old session cookie refused when
// replayed; a viewer sees no action and a forged POST is 403; a POST
// without the CSRF token is 403; five bad passwords lock the account.
// Screenshots go to $PAYGATE_SCREENSHOTS.
func TestConsoleBrowser(t *testing.T) {
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind)
		ctx := context.Background()
		const adminPW, viewerPW = "alice's long passphrase", "vera's long passphrase"
		for _, op := range []struct {
			name, pw string
			role     paygate.Role
		}{{"alice", adminPW, paygate.RoleAdmin}, {"vera", viewerPW, paygate.RoleViewer}, {"lockme", viewerPW, paygate.RoleViewer}} {
			hash, err := console.HashPassword(op.pw, console.DefaultPasswordParams)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.app.store.CreateOperator(ctx, &paygate.Operator{Username: op.name, PasswordHash: hash, Role: op.role,
				CreatedAt: time.Now().Add(-time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
		// A paid order and a pending one, so the search has something to find.
		o := e2eCreate(t, e.a, e2eQR("CONSOLE_1", "12.00"), http.StatusCreated)
		e.pay(t, o.QRCode)
		e2eWaitStatus(t, e.a, "CONSOLE_1", "paid")
		e2eCreate(t, e.a, e2eQR("CONSOLE_2", "3.00"), http.StatusCreated)

		b := browser.New(t, browser.Options{Width: 1280, Height: 900})
		step := func(d time.Duration) context.Context { return browser.Timeout(t, b, d) }
		do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
			t.Helper()
			if err := chromedp.Do(step(30*time.Second), actions...); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		// until polls a JavaScript condition, across the navigations a form
		// submission causes (an evaluation during one fails; it is retried).
		until := func(what, expr string) {
			t.Helper()
			deadline := time.Now().Add(30 * time.Second)
			for {
				ok, err := chromedp.Run(step(5*time.Second), chromedp.Evaluate[bool](expr))
				if err == nil && ok {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: %s is still not true (%v)", what, expr, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		text := func(sel string) string {
			t.Helper()
			s, err := chromedp.Run(step(10*time.Second), chromedp.Text(chromedp.CSS(sel)))
			if err != nil {
				t.Fatalf("text of %s: %v", sel, err)
			}
			return s
		}

		do("open the console", chromedp.Navigate(e.base+"/dashboard/"), chromedp.WaitVisible(chromedp.CSS("#username")))
		browser.Screenshot(t, b, "login")
		do("log in",
			chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
			chromedp.SendKeys(chromedp.CSS("#password"), adminPW),
			chromedp.Submit(chromedp.CSS("#password")))
		until("log in", `location.pathname === "/dashboard/orders" && document.readyState === "complete"`)
		if h := text("main h1"); h != "Orders" {
			t.Fatalf("after login the page is %q", h)
		}
		do("search", chromedp.SendKeys(chromedp.CSS("#f-otn"), "CONSOLE_1"), chromedp.Submit(chromedp.CSS("#f-otn")))
		until("search", `location.search.includes("CONSOLE_1") && document.readyState === "complete" && document.querySelectorAll("tbody tr").length === 1`)
		browser.Screenshot(t, b, "orders")
		do("open the order", chromedp.Click(chromedp.CSS("tbody a")))
		until("open the order", `document.readyState === "complete" && document.querySelector("#refund-amount") !== null`)
		browser.Screenshot(t, b, "order")

		do("refund, step 1",
			chromedp.Clear(chromedp.CSS("#refund-amount")),
			chromedp.SendKeys(chromedp.CSS("#refund-amount"), "2.50"),
			chromedp.SendKeys(chromedp.CSS("#refund-reason"), "cold coffee"),
			chromedp.Click(chromedp.CSS("#refund")))
		until("refund, step 1", `document.readyState === "complete" && document.querySelector("#refund-confirm") !== null`)
		if c := text("#refund-confirm"); !strings.Contains(c, "2.50 CNY") {
			t.Fatalf("the confirmation says %q", c)
		}
		browser.Screenshot(t, b, "refund-confirm")
		do("refund, confirmed", chromedp.Click(chromedp.CSS("#refund-confirm-button")))
		until("refund, confirmed", `document.readyState === "complete" && document.querySelector(".flash") !== null`)
		if f := text(".flash"); !strings.Contains(f, "Refunded 2.50 CNY") {
			t.Fatalf("after the refund: %q", f)
		}
		timeline := text("#timeline")
		// "Call alipay.trade.": the order's own channel call, from its
		// activity (written within 200 ms of the call, long before this).
		for _, want := range []string{"Refund succeeded", "alice: refund", "Event refund.succeeded", "cold coffee", "Paid", "Call alipay.trade."} {
			if !strings.Contains(timeline, want) {
				t.Errorf("the timeline lacks %q:\n%s", want, timeline)
			}
		}
		browser.Screenshot(t, b, "order-refunded")
		if got := e2eGet(t, e.a, "CONSOLE_1"); got.RefundedAmount != "2.50" {
			t.Fatalf("the merchant API says refunded %s", got.RefundedAmount)
		}
		do("phone width", chromedp.EmulateViewport(390, 844), chromedp.Navigate(e.base+"/dashboard/orders/"+orderID(t, e)))
		until("phone width", `document.readyState === "complete" && document.querySelector("#timeline") !== null`)
		browser.Screenshot(t, b, "order-phone")
		do("desktop width", chromedp.EmulateViewport(1280, 900))

		cookies, err := chromedp.Run(step(10*time.Second), chromedp.Action[[]*network.Cookie](
			func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
				res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{e.base + "/dashboard/"}})
				return res.Cookies, err
			}))
		if err != nil {
			t.Fatal(err)
		}
		var session string
		for _, c := range cookies {
			if c.Name == "paygate_session" {
				session = c.Value
				if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/dashboard/" {
					t.Errorf("session cookie %+v", c)
				}
			}
		}
		if session == "" {
			t.Fatal("no session cookie in the browser")
		}
		if r := consoleGet(t, e, session, "/dashboard/orders"); r.status != http.StatusOK {
			t.Fatalf("the live cookie replayed: %d", r.status)
		}
		do("log out", chromedp.Click(chromedp.CSS("header form button")))
		until("log out", `location.pathname === "/dashboard/login" && document.readyState === "complete"`)
		if r := consoleGet(t, e, session, "/dashboard/orders"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/dashboard/login") {
			t.Fatalf("the logged-out cookie replayed: %d %q", r.status, r.location)
		}

		// The viewer, in the same browser: no actions on the order.
		do("log in as the viewer",
			chromedp.SendKeys(chromedp.CSS("#username"), "vera"),
			chromedp.SendKeys(chromedp.CSS("#password"), viewerPW),
			chromedp.Submit(chromedp.CSS("#password")))
		until("log in as the viewer", `location.pathname === "/dashboard/orders" && document.readyState === "complete"`)
		do("open the order as the viewer", chromedp.Navigate(e.base+"/dashboard/orders/"+orderID(t, e)))
		until("open the order as the viewer", `document.readyState === "complete" && document.querySelector("#viewer-note") !== null`)
		if n, err := chromedp.Run(step(10*time.Second), chromedp.Evaluate[int](`document.querySelectorAll("#actions, main form").length`)); err != nil || n != 0 {
			t.Fatalf("the viewer sees %d forms (%v)", n, err)
		}
		browser.Screenshot(t, b, "order-viewer")

		// Plain HTTP: a viewer's forged POST, an admin's POST without CSRF.
		orderPath, err := chromedp.Run(step(10*time.Second), chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		orderPath = strings.TrimPrefix(orderPath, e.base)
		viewer := newConsoleClient(t, e)
		viewer.login(t, "vera", viewerPW)
		if r := viewer.post(t, orderPath+"/close", url.Values{"csrf": {viewer.csrf}}); r.status != http.StatusForbidden {
			t.Fatalf("the viewer's forged POST: %d", r.status)
		}
		admin := newConsoleClient(t, e)
		admin.login(t, "alice", adminPW)
		if r := admin.post(t, orderPath+"/refund", url.Values{"amount": {"1.00"}, "out_request_no": {"x1"}, "confirm": {"yes"}}); r.status != http.StatusForbidden {
			t.Fatalf("the admin's POST without CSRF: %d", r.status)
		}
		if got := e2eGet(t, e.a, "CONSOLE_1"); got.RefundedAmount != "2.50" {
			t.Fatalf("refused POSTs changed the order: refunded %s", got.RefundedAmount)
		}

		// Five bad passwords lock the account, even against the right one.
		locker := newConsoleClient(t, e)
		for i := range 5 {
			if r := locker.tryLogin(t, "lockme", "not the password"); r.status != http.StatusUnauthorized {
				t.Fatalf("bad password %d: %d", i+1, r.status)
			}
		}
		if r := locker.tryLogin(t, "lockme", viewerPW); r.status != http.StatusUnauthorized {
			t.Fatalf("the right password on a locked account: %d", r.status)
		}
		op, err := e.app.store.OperatorByUsername(ctx, "lockme")
		if err != nil || !op.Locked(time.Now()) {
			t.Fatalf("lockme is not locked: %+v %v", op, err)
		}
		if strings.Contains(e.log.String(), adminPW) || strings.Contains(e.log.String(), session) {
			t.Fatal("the node's log holds a password or a session token")
		}
	})
}

// orderID is CONSOLE_1's ID, the number in its page's path.
func orderID(t *testing.T, e *e2eEnv) string {
	t.Helper()
	return strconv.FormatInt(e.stored(t, e.idA, "CONSOLE_1").ID, 10)
}

// consoleResult is one answer of the console.
type consoleResult struct {
	status   int
	location string
	body     string
}

// consoleGet sends a GET carrying only the given session cookie, as a
// replayed, stolen cookie would come.
func consoleGet(t *testing.T, e *e2eEnv, session, path string) consoleResult {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.base+path, nil)
	req.AddCookie(&http.Cookie{Name: "paygate_session", Value: session})
	c := &http.Client{Transport: e.http.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return consoleResult{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body)}
}

// consoleClient is a plain HTTP client of the console with a cookie jar
// that sends the Origin a same-origin form has.
type consoleClient struct {
	e    *e2eEnv
	c    *http.Client
	csrf string // the last page's CSRF token
}

func newConsoleClient(t *testing.T, e *e2eEnv) *consoleClient {
	jar, _ := cookiejar.New(nil)
	return &consoleClient{e: e, c: &http.Client{Jar: jar, Transport: e.http.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var consoleCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *consoleClient) do(t *testing.T, method, path string, form url.Values) consoleResult {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.e.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", c.e.base)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if m := consoleCSRF.FindStringSubmatch(string(raw)); m != nil {
		c.csrf = m[1]
	}
	return consoleResult{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(raw)}
}

func (c *consoleClient) post(t *testing.T, path string, form url.Values) consoleResult {
	t.Helper()
	return c.do(t, http.MethodPost, path, form)
}

func (c *consoleClient) tryLogin(t *testing.T, username, pw string) consoleResult {
	t.Helper()
	c.do(t, http.MethodGet, "/dashboard/login", nil)
	return c.post(t, "/dashboard/login", url.Values{"csrf": {c.csrf}, "username": {username}, "password": {pw}})
}

func (c *consoleClient) login(t *testing.T, username, pw string) {
	t.Helper()
	if r := c.tryLogin(t, username, pw); r.status != http.StatusSeeOther {
		t.Fatalf("login %s: %d", username, r.status)
	}
	c.do(t, http.MethodGet, "/dashboard/orders", nil) // for its CSRF token
}
