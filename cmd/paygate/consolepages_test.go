package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/console"
)

// consoleClient is a browser-like HTTP client of a node's console: a
// cookie jar, its own Origin on forms, no redirects followed.
type consoleClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newConsoleClient(t *testing.T, base string) *consoleClient {
	jar, _ := cookiejar.New(nil)
	return &consoleClient{t: t, base: base, c: &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *consoleClient) do(method, path string, form url.Values) (int, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", c.base)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

var consoleField = func(name string) *regexp.Regexp {
	return regexp.MustCompile(`name="` + name + `" value="([^"]*)"`)
}

func (c *consoleClient) field(body, name string) string {
	c.t.Helper()
	m := consoleField(name).FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no field %s in:\n%s", name, body)
	}
	return m[1]
}

// TestE2EConsolePages: the node wires the console's remaining pages to
// itself. Health runs /readyz's checks and reads the node's breaker, queue
// and backlog; a rotation made in the console is accepted by the node's API
// at once (old secret in its grace too); a merchant disabled in the console
// is refused by this node at once, its merchant cache told; the webhook
// backlog lists the node's events.
func TestE2EConsolePages(t *testing.T) {
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind)
		ctx := context.Background()
		hash, err := console.HashPassword("operator password 1", console.TestPasswordParams)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.app.store.CreateOperator(ctx, &paygate.Operator{Username: "alice", PasswordHash: hash, Role: paygate.RoleAdmin,
			CreatedAt: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		c := newConsoleClient(t, e.base)
		_, login := c.do(http.MethodGet, "/dashboard/login", nil)
		if status, body := c.do(http.MethodPost, "/dashboard/login", url.Values{"csrf": {c.field(login, "csrf")},
			"username": {"alice"}, "password": {"operator password 1"}, "next": {"/dashboard/health"}}); status != http.StatusSeeOther {
			t.Fatalf("login: %d\n%s", status, body)
		}

		status, health := c.do(http.MethodGet, "/dashboard/health", nil)
		for _, want := range []string{`id="ready">Ready`, ">database</th>", "reachable", e2eAppID, "status-breaker-closed",
			">deliver_event</code>", `id="hook-backlog">`, `id="version">`} {
			if status != http.StatusOK || !strings.Contains(health, want) {
				t.Errorf("the node's health page (%d) lacks %q", status, want)
			}
		}
		if t.Failed() {
			t.Fatalf("health:\n%s", health)
		}

		// An order paid: its event goes to merchant A, which has no URL:
		// dead-lettered by the node's worker, listed with its reason.
		e2eCreate(t, e.a, e2eQR("CP1", "1.00"), http.StatusCreated)
		e.pay(t, e2eGet(t, e.a, "CP1").QRCode)
		e2eWaitStatus(t, e.a, "CP1", "paid")
		e2eEventually(t, "the event dead-lettered", func() bool {
			_, body := c.do(http.MethodGet, "/dashboard/webhooks?view=dead&merchant="+e.credsA.AccessKey, nil)
			return strings.Contains(body, "order.paid") && strings.Contains(body, "no webhook URL configured")
		})

		// Rotate A's secret key with the default grace: both keys work.
		pathA := fmt.Sprintf("/dashboard/merchants/%d", e.idA)
		_, page := c.do(http.MethodGet, pathA, nil)
		csrf := c.field(page, "csrf")
		_, confirm := c.do(http.MethodPost, pathA+"/rotate", url.Values{"csrf": {csrf}, "secret_key": {"on"}, "grace": {"24h0m0s"}})
		status, done := c.do(http.MethodPost, pathA+"/rotate", url.Values{"csrf": {csrf}, "secret_key": {"on"}, "grace": {"24h0m0s"},
			"confirm": {"yes"}, "version": {c.field(confirm, "version")}})
		m := regexp.MustCompile(`id="secret-key"[^>]*value="(sk_[0-9a-f]{64})"`).FindStringSubmatch(done)
		if status != http.StatusOK || m == nil {
			t.Fatalf("rotate: %d\n%s", status, done)
		}
		for name, cl := range map[string]*client.Client{"new": e.client(e.credsA.AccessKey, m[1]), "old": e.a} {
			if _, err := cl.GetOrder(ctx, "CP1", false); err != nil {
				t.Errorf("the %s secret key after the rotation: %v", name, err)
			}
		}

		// B is cached by this node; disabling it in the console refuses it
		// here at once, well within the cache's lifetime.
		e2eCreate(t, e.b, e2eQR("CP2", "1.00"), http.StatusCreated)
		pathB := fmt.Sprintf("/dashboard/merchants/%d", e.idB)
		if status, body := c.do(http.MethodPost, pathB+"/disable", url.Values{"csrf": {csrf}, "confirm": {"yes"}}); status != http.StatusSeeOther {
			t.Fatalf("disable: %d\n%s", status, body)
		}
		_, err = e.b.GetOrder(ctx, "CP2", false)
		var apiErr *client.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a disabled merchant's call: %v, want 401 at once", err)
		}
		if status, _ := c.do(http.MethodPost, pathB+"/enable", url.Values{"csrf": {csrf}}); status != http.StatusSeeOther {
			t.Fatalf("enable: %d", status)
		}
		if _, err := e.b.GetOrder(ctx, "CP2", false); err != nil {
			t.Fatalf("an enabled merchant's call: %v", err)
		}
	})
}
