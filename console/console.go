// Package console is the operator's web console under /dashboard/: login
// with operator accounts, sessions as short-lived JWTs in a cookie, CSRF
// protection, and the pages (orders, an order's timeline and its money
// actions). Plain HTML forms that work without JavaScript; templates, CSS
// and the little script there is are embedded.
//
// Adding a page: write a file with a method returning a page (its nav
// label, path and routes, see orders.go), a template templates/NAME.html
// defining "title" and "main", and list the method in (*Console).pages.
package console

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/paygate/paygate"
)

// Orders is the part of the gateway the order page's actions use;
// *gateway.Service implements it. Calls are scoped to the order's merchant.
type Orders interface {
	GetOrder(ctx context.Context, m *paygate.Merchant, outTradeNo string, refresh bool) (*paygate.Order, error)
	CloseOrder(ctx context.Context, m *paygate.Merchant, outTradeNo string) (*paygate.Order, error)
	Refund(ctx context.Context, m *paygate.Merchant, outTradeNo string, req paygate.CreateRefund) (*paygate.Refund, bool, error)
}

// Events re-sends webhook events; *jobs.EventService implements it.
type Events interface {
	ResendEvent(ctx context.Context, merchantID int64, id string) (*paygate.Event, error)
}

// Config is what New needs. Store, Orders, Events and SessionKey are
// required.
type Config struct {
	Store  paygate.Store
	Orders Orders
	Events Events
	// Revocations is the list of sessions ended by logout: Redis when
	// replicas share one, else StoreRevocations over Store (the default).
	Revocations paygate.SessionRevocations
	// SessionKey signs session tokens (see SessionKey); at least 32 bytes.
	SessionKey []byte
	// SessionTTL is a token's lifetime (default 15 min); a token used past
	// half of it is replaced by a fresh one.
	SessionTTL time.Duration
	// InsecureCookie drops the cookie's Secure attribute, for the demo on
	// plain http://127.0.0.1 only.
	InsecureCookie bool
	// Passwords are the argon2id parameters of new hashes (default
	// DefaultPasswordParams); verifying uses each hash's own.
	Passwords PasswordParams
	// LoginRate bounds login attempts per client address (default 10 a
	// minute, bursts of 10).
	LoginRate RateLimit
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client address; none by default.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger     // default: discard
	Now            func() time.Time // default: time.Now
}

// RateLimit is a token bucket: PerSecond tokens a second, Burst at most.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// Lockout: after LockoutFailures consecutive failed logins, an operator's
// logins are refused for LockoutDuration.
const (
	LockoutFailures = 5
	LockoutDuration = 15 * time.Minute
)

// DefaultSessionTTL is a session token's lifetime unless configured.
const DefaultSessionTTL = 15 * time.Minute

// Console serves /dashboard/. Build it with New.
type Console struct {
	cfg     Config
	store   paygate.Store
	log     *slog.Logger
	now     func() time.Time
	tokens  *tokens
	csrfKey []byte
	revoked paygate.SessionRevocations
	logins  *addrLimiter
	hashing chan struct{} // bounds concurrent password hashes (64 MiB each)
	dummy   string        // a hash verified for unknown users, so timing tells nothing
	views   *views
	mux     *http.ServeMux
	nav     []navItem
}

// New builds the console. It fails on a missing dependency or a short key.
func New(cfg Config) (*Console, error) {
	if cfg.Store == nil || cfg.Orders == nil || cfg.Events == nil {
		return nil, errors.New("console: Store, Orders and Events are required")
	}
	if len(cfg.SessionKey) < 32 {
		return nil, errors.New("console: the session key must be at least 32 bytes")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.Passwords == (PasswordParams{}) {
		cfg.Passwords = DefaultPasswordParams
	}
	if cfg.LoginRate.PerSecond <= 0 {
		cfg.LoginRate = RateLimit{PerSecond: 10.0 / 60, Burst: 10}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Revocations == nil {
		cfg.Revocations = StoreRevocations{Store: cfg.Store, Now: cfg.Now}
	}
	dummy, err := HashPassword(RandomPassword(), cfg.Passwords)
	if err != nil {
		return nil, err
	}
	v, err := loadViews()
	if err != nil {
		return nil, err
	}
	c := &Console{
		cfg: cfg, store: cfg.Store, log: cfg.Logger.With("component", "console"), now: cfg.Now,
		tokens:  &tokens{key: cfg.SessionKey, ttl: cfg.SessionTTL, now: cfg.Now},
		csrfKey: csrfKey(cfg.SessionKey), revoked: cfg.Revocations,
		logins:  newAddrLimiter(cfg.LoginRate),
		hashing: make(chan struct{}, 2), dummy: dummy, views: v, mux: http.NewServeMux(),
	}
	c.routes()
	return c, nil
}

// ServeHTTP serves every /dashboard/ route with the security headers.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	c.mux.ServeHTTP(w, r)
}

// page is one section of the console: its nav label (empty: not in the
// nav), the path the nav links to, and its routes.
type page struct {
	Nav    string
	Path   string
	Routes func(r *router)
}

// pages lists the console's sections in nav order. A new page adds its
// method here (merchants, webhooks, reconciliation, health come next).
func (c *Console) pages() []page {
	return []page{
		c.ordersPage(),
	}
}

// navItem is a link of the nav.
type navItem struct {
	Label, Path string
}

func (c *Console) routes() {
	c.mux.Handle("GET /dashboard/static/", http.StripPrefix("/dashboard/static/", staticFiles()))
	c.mux.HandleFunc("GET /dashboard/login", c.loginForm)
	c.mux.HandleFunc("POST /dashboard/login", c.login)
	c.mux.HandleFunc("POST /dashboard/logout", c.logout)
	rt := &router{c: c}
	for _, p := range c.pages() {
		if p.Nav != "" {
			c.nav = append(c.nav, navItem{Label: p.Nav, Path: p.Path})
		}
		p.Routes(rt)
	}
	first := "/dashboard/login"
	if len(c.nav) > 0 {
		first = c.nav[0].Path
	}
	c.mux.HandleFunc("GET /dashboard/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, first, http.StatusSeeOther)
	})
	c.mux.HandleFunc("/dashboard/", func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, nil, http.StatusNotFound, "There is no such page.")
	})
}

// handler serves one page for a logged-in operator.
type handler func(w http.ResponseWriter, r *http.Request, s *Session) error

// router registers a page's routes behind the session check.
type router struct{ c *Console }

// Get serves pattern (a ServeMux pattern without the method) to every
// logged-in operator, viewer or admin.
func (rt *router) Get(pattern string, h handler) {
	rt.c.mux.HandleFunc("GET "+pattern, rt.c.authenticated(func(w http.ResponseWriter, r *http.Request, s *Session) error {
		return h(w, r, s)
	}))
}

// Post serves a state-changing form to admins only: the request must come
// from the console's own page (same origin) and carry the session's CSRF
// token, else 403, whoever sends it.
func (rt *router) Post(pattern string, h handler) {
	rt.c.mux.HandleFunc("POST "+pattern, rt.c.authenticated(func(w http.ResponseWriter, r *http.Request, s *Session) error {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if !sameOrigin(r) || !rt.c.validCSRF(r, s) {
			rt.c.log.WarnContext(r.Context(), "console: form refused: cross-site or no CSRF token",
				"operator", s.Username, "path", r.URL.Path)
			rt.c.renderError(w, r, s, http.StatusForbidden, "This form was refused: it did not come from this console's own page. Reload the page and try again.")
			return nil
		}
		if !s.Admin() {
			rt.c.log.WarnContext(r.Context(), "console: action refused to a viewer", "operator", s.Username, "path", r.URL.Path)
			rt.c.renderError(w, r, s, http.StatusForbidden, "Your role ("+string(s.Role)+") may look but not act: money actions need an admin.")
			return nil
		}
		return h(w, r, s)
	}))
}

// maxForm bounds a form's body.
const maxForm = 64 << 10
