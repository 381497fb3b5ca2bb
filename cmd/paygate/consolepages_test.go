package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/console"
)

// formField is the value of a page's named form field.
func formField(t *testing.T, body, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no field %s in:\n%s", name, body)
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
		c := newConsoleClient(t, e)
		c.login(t, "alice", "operator password 1")

		r := c.do(t, http.MethodGet, "/dashboard/health", nil)
		status, health := r.status, r.body
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
			body := c.do(t, http.MethodGet, "/dashboard/webhooks?view=dead&merchant="+e.credsA.AccessKey, nil).body
			return strings.Contains(body, "order.paid") && strings.Contains(body, "no webhook URL configured")
		})

		// Rotate A's secret key with the default grace: both keys work.
		pathA := fmt.Sprintf("/dashboard/merchants/%d", e.idA)
		c.do(t, http.MethodGet, pathA, nil)
		csrf := c.csrf
		confirm := c.post(t, pathA+"/rotate", url.Values{"csrf": {csrf}, "secret_key": {"on"}, "grace": {"24h0m0s"}}).body
		r = c.post(t, pathA+"/rotate", url.Values{"csrf": {csrf}, "secret_key": {"on"}, "grace": {"24h0m0s"},
			"confirm": {"yes"}, "version": {formField(t, confirm, "version")}})
		status, done := r.status, r.body
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
		if r := c.post(t, pathB+"/disable", url.Values{"csrf": {csrf}, "confirm": {"yes"}}); r.status != http.StatusSeeOther {
			t.Fatalf("disable: %d\n%s", r.status, r.body)
		}
		_, err = e.b.GetOrder(ctx, "CP2", false)
		var apiErr *client.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a disabled merchant's call: %v, want 401 at once", err)
		}
		if r := c.post(t, pathB+"/enable", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther {
			t.Fatalf("enable: %d", r.status)
		}
		if _, err := e.b.GetOrder(ctx, "CP2", false); err != nil {
			t.Fatalf("an enabled merchant's call: %v", err)
		}
	})
}
