package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/console"
)

const pw = "correct horse battery staple"

// TestLoginLogout: the login form logs in (cookie HttpOnly, SameSite
// Strict, under /dashboard/, Secure unless insecure), every page carries
// the security headers, and after logout the old cookie, replayed, is
// refused at once.
func TestLoginLogout(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		for _, insecure := range []bool{false, true} {
			e := setup(t, st, func(c *console.Config) { c.InsecureCookie = insecure })
			if !insecure {
				e.operator(t, "alice", paygate.RoleAdmin, pw)
			}
			b := e.browser(t)
			if p := b.get("/dashboard/orders"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/dashboard/login?next=") {
				t.Fatalf("orders without a session: %d %q", p.status, p.location)
			}
			form := b.get("/dashboard/login")
			for k, want := range map[string]string{
				"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
				"X-Frame-Options":         "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
			} {
				if got := form.header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			p := b.post("/dashboard/login", url.Values{"csrf": {form.csrf(t)}, "username": {"Alice"}, "password": {pw}, "next": {"/dashboard/orders"}})
			if p.status != http.StatusSeeOther || p.location != "/dashboard/orders" {
				t.Fatalf("login: %d %q %s", p.status, p.location, p.body)
			}
			var set string
			for _, c := range p.header.Values("Set-Cookie") {
				if strings.HasPrefix(c, "paygate_session=") {
					set = c
				}
			}
			for _, attr := range []string{"Path=/dashboard/", "HttpOnly", "SameSite=Strict"} {
				if !strings.Contains(set, attr) {
					t.Errorf("session cookie %q lacks %s", set, attr)
				}
			}
			if strings.Contains(set, "Secure") == insecure {
				t.Errorf("insecure=%v but the cookie is %q", insecure, set)
			}
			if insecure {
				break // the jar would not send a Secure cookie over http; the rest needs it sent
			}
		}
	})
}

// TestSessionLifecycle: logout revokes at once; a password change or a
// disable ends every session; a session past half its life is re-issued
// with the same session (its CSRF token still valid).
func TestSessionLifecycle(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		now := time.Now()
		clock := func() time.Time { return now }
		var mu = make(chan struct{}, 1)
		mu <- struct{}{}
		tick := func(d time.Duration) { <-mu; now = now.Add(d); mu <- struct{}{} }
		e := setup(t, st, func(c *console.Config) {
			c.Now = func() time.Time { <-mu; defer func() { mu <- struct{}{} }(); return clock() }
		})
		op := e.operator(t, "alice", paygate.RoleAdmin, pw)

		b := e.browser(t)
		b.login("alice", pw)
		orders := b.get("/dashboard/orders")
		if orders.status != http.StatusOK || !strings.Contains(orders.body, "alice") {
			t.Fatalf("orders: %d", orders.status)
		}
		old := b.cookie("paygate_session")
		csrf := orders.csrf(t)

		// Past half-life: a new token, same session.
		tick(8 * time.Minute)
		if p := b.get("/dashboard/orders"); p.status != http.StatusOK {
			t.Fatalf("orders at 8 min: %d", p.status)
		}
		renewed := b.cookie("paygate_session")
		if renewed == old || renewed == "" {
			t.Fatal("the token was not re-issued past its half-life")
		}
		// Logout with the CSRF token of the page rendered before the renewal.
		if p := b.post("/dashboard/logout", url.Values{"csrf": {csrf}}); p.status != http.StatusSeeOther || p.location != "/dashboard/login" {
			t.Fatalf("logout: %d %q", p.status, p.location)
		}
		// Both tokens of the session are refused now, whatever the cookie jar does.
		for _, tok := range []string{old, renewed} {
			if p := replay(t, e, tok, "/dashboard/orders"); p.status != http.StatusSeeOther {
				t.Fatalf("a logged-out token replayed: %d", p.status)
			}
		}

		// passwd (SessionsValidAfter) ends a session at once.
		b2 := e.browser(t)
		b2.login("alice", pw)
		tick(time.Second)
		cur, _ := st.OperatorByUsername(context.Background(), "alice")
		cur.SessionsValidAfter = now
		if err := st.UpdateOperator(context.Background(), cur); err != nil {
			t.Fatal(err)
		}
		if p := b2.get("/dashboard/orders"); p.status != http.StatusSeeOther {
			t.Fatalf("a session older than SessionsValidAfter: %d", p.status)
		}
		b2.login("alice", pw) // a new login right after is fine
		if p := b2.get("/dashboard/orders"); p.status != http.StatusOK {
			t.Fatalf("a login after SessionsValidAfter: %d", p.status)
		}
		// Disabled: refused at once, and cannot log in.
		cur, _ = st.OperatorByUsername(context.Background(), "alice")
		cur.DisabledAt = now
		if err := st.UpdateOperator(context.Background(), cur); err != nil {
			t.Fatal(err)
		}
		if p := b2.get("/dashboard/orders"); p.status != http.StatusSeeOther {
			t.Fatalf("a disabled operator's session: %d", p.status)
		}
		if p := b2.tryLogin("alice", pw); p.status != http.StatusUnauthorized {
			t.Fatalf("a disabled operator's login: %d", p.status)
		}
		// Expired: refused.
		_ = op
		b3 := e.browser(t)
		e.operator(t, "bob", paygate.RoleViewer, pw)
		b3.login("bob", pw)
		tick(16 * time.Minute)
		if p := b3.get("/dashboard/orders"); p.status != http.StatusSeeOther {
			t.Fatalf("an expired session: %d", p.status)
		}
	})
}

// replay sends one GET with the given session token only, as a plain HTTP
// client would replay a stolen cookie.
func replay(t *testing.T, e *env, token, path string) page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	req.AddCookie(&http.Cookie{Name: "paygate_session", Value: token})
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return page{status: resp.StatusCode, location: resp.Header.Get("Location")}
}

// TestLoginRefusals: unknown user, wrong password and a locked account get
// the same answer; the fifth failure locks the account for 15 minutes even
// for the right password; a form without its CSRF token or from another
// site is refused; the per-address limit answers 429.
func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		now := time.Now()
		var mu = make(chan struct{}, 1)
		mu <- struct{}{}
		e := setup(t, st, func(c *console.Config) {
			c.Now = func() time.Time { <-mu; defer func() { mu <- struct{}{} }(); return now }
			c.LoginRate = console.RateLimit{PerSecond: 0.001, Burst: 7}
		})
		e.operator(t, "alice", paygate.RoleAdmin, pw)
		b := e.browser(t)

		unknown := b.tryLogin("mallory", pw)
		if unknown.status != http.StatusUnauthorized {
			t.Fatalf("unknown user: %d", unknown.status)
		}
		message := errorText(t, unknown.body)
		for i := 1; i <= 5; i++ {
			p := b.tryLogin("alice", "wrong password number")
			if p.status != http.StatusUnauthorized || errorText(t, p.body) != message {
				t.Fatalf("failure %d: %d %q, want the unknown user's %q", i, p.status, errorText(t, p.body), message)
			}
		}
		op, _ := st.OperatorByUsername(context.Background(), "alice")
		if !op.Locked(now) || !op.LockedUntil.Equal(now.UTC().Truncate(time.Microsecond).Add(console.LockoutDuration)) {
			t.Fatalf("after 5 failures: locked until %v", op.LockedUntil)
		}
		if p := b.tryLogin("alice", pw); p.status != http.StatusUnauthorized || errorText(t, p.body) != message {
			t.Fatalf("right password while locked: %d %q", p.status, errorText(t, p.body))
		}

		// Forms that did not come from the login page.
		form := b.get("/dashboard/login")
		noToken := b.post("/dashboard/login", url.Values{"username": {"alice"}, "password": {pw}})
		crossSite := b.do(http.MethodPost, "/dashboard/login", url.Values{"csrf": {form.csrf(t)}, "username": {"alice"}, "password": {pw}},
			http.Header{"Origin": {"https://evil.example"}})
		fetchSite := b.do(http.MethodPost, "/dashboard/login", url.Values{"csrf": {form.csrf(t)}, "username": {"alice"}, "password": {pw}},
			http.Header{"Sec-Fetch-Site": {"cross-site"}})
		for name, p := range map[string]page{"no token": noToken, "cross-site Origin": crossSite, "cross-site fetch": fetchSite} {
			if p.status != http.StatusForbidden {
				t.Errorf("login %s: %d", name, p.status)
			}
		}
		// The address's bucket (7) is spent by now: 429 with Retry-After.
		p := b.tryLogin("alice", pw)
		if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
			t.Fatalf("login past the address's limit: %d %q", p.status, p.header.Get("Retry-After"))
		}
	})
}

// errorText is the page's error paragraph.
func errorText(t *testing.T, body string) string {
	t.Helper()
	i := strings.Index(body, `class="error"`)
	if i < 0 {
		t.Fatalf("no error on the page:\n%s", body)
	}
	rest := body[i:]
	return rest[strings.Index(rest, ">")+1 : strings.Index(rest, "</p>")]
}

// TestSafeNext: the login's destination stays in the console.
func TestSafeNext(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		e := setup(t, st, nil)
		e.operator(t, "alice", paygate.RoleViewer, pw)
		for next, want := range map[string]string{
			"/dashboard/orders?status=paid": "/dashboard/orders?status=paid",
			"https://evil.example/":         "/dashboard/",
			"//evil.example/dashboard/":     "/dashboard/",
			"/dashboard//evil.example":      "/dashboard/",
			"/api/v1/orders":                "/dashboard/",
		} {
			b := e.browser(t)
			form := b.get("/dashboard/login")
			p := b.post("/dashboard/login", url.Values{"csrf": {form.csrf(t)}, "username": {"alice"}, "password": {pw}, "next": {next}})
			if p.status != http.StatusSeeOther || p.location != want {
				t.Errorf("next %q: %d %q, want %q", next, p.status, p.location, want)
			}
		}
	})
}
