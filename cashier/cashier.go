// Package cashier is the buyer's page of a QR order: GET /pay/{token} shows
// the shop, the subject, the amount, the order's QR codes (drawn here as
// SVG, each labelled with its wallet: Alipay's, WeChat Pay's, or both side
// by side for an order either can pay), a countdown to expiry and the
// payment's state (naming the wallet once paid), which follows the order live
// through Server-Sent Events (/pay/{token}/events) until it is paid, closed
// or expired. The token is the order's unguessable cashier token, never the
// merchant's out_trade_no; anything else is a 404 that reveals nothing.
//
// The state is in the store, so any replica can serve any page and stream:
// one watcher per token polls the store (about once a second) and fans the
// changes out to that token's streams. Streams are capped, and Drain ends
// them all when the node starts shutting down, so that long-lived streams
// never hold up a graceful shutdown.
//
// Everything the page needs is embedded (templates, CSS, JS); the page
// runs under a strict CSP with no inline script or style, and works
// without JavaScript (a meta refresh inside <noscript>).
package cashier

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paygate/paygate"
)

// Prefix is where the cashier is mounted; its links are built on it.
const Prefix = "/pay/"

// Store is what the cashier reads; paygate.Store satisfies it.
type Store interface {
	OrderByCashierToken(ctx context.Context, token string) (*paygate.Order, error)
	MerchantByID(ctx context.Context, id int64) (*paygate.Merchant, error)
}

// Config is what New needs; only Store is required.
type Config struct {
	Store  Store
	Logger *slog.Logger     // default: discard
	Now    func() time.Time // default: time.Now
	// PollInterval is how often a token's watcher reads its order; default 1 s.
	PollInterval time.Duration
	// Heartbeat is how often an idle stream gets a comment, so that proxies
	// keep it open and a dead client is noticed; default 15 s.
	Heartbeat time.Duration
	// MaxStreams bounds the event streams open at once on this node; more
	// get 503 (the page falls back to retrying). Default 512.
	MaxStreams int
	// MaxStreamAge ends a stream after this long (the browser reconnects),
	// so that no connection is held for ever; default 10 min.
	MaxStreamAge time.Duration
}

// Handler serves the cashier under Prefix. Build it with New.
type Handler struct {
	cfg      Config
	log      *slog.Logger
	page     *template.Template
	notFound []byte
	static   http.Handler
	hub      *hub
	streams  atomic.Int64
	drain    chan struct{} // closed by Drain
	once     sync.Once
}

//go:embed assets
var assets embed.FS

// New checks cfg and returns the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("cashier: Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 512
	}
	if cfg.MaxStreamAge <= 0 {
		cfg.MaxStreamAge = 10 * time.Minute
	}
	page, err := template.ParseFS(assets, "assets/page.html")
	if err != nil {
		return nil, err
	}
	notFound, err := assets.ReadFile("assets/notfound.html")
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(assets, "assets/static")
	if err != nil {
		return nil, err
	}
	h := &Handler{
		cfg: cfg, log: cfg.Logger, page: page, notFound: notFound,
		static: http.StripPrefix(Prefix+"static/", http.FileServerFS(static)),
		drain:  make(chan struct{}),
	}
	h.hub = newHub(cfg.Store, cfg.Now, cfg.PollInterval, cfg.Logger)
	return h, nil
}

// Drain ends every event stream now and answers later ones 503 (the page
// retries, reaching another replica): long-lived streams must not hold up
// the node's graceful shutdown, which waits for every handler. Pages are
// still served. Drain cannot be undone; calling it twice is harmless.
func (h *Handler) Drain() {
	h.once.Do(func() {
		close(h.drain)
		h.hub.stop()
	})
}

// Streams is how many event streams are open now.
func (h *Handler) Streams() int { return int(h.streams.Load()) }

// RedactPath is a cashier path as logs may show it: the token is replaced,
// since whoever has it can follow the order.
func RedactPath(path string) string {
	rest, ok := strings.CutPrefix(path, Prefix)
	if !ok || strings.HasPrefix(rest, "static/") {
		return path
	}
	if _, tail, found := strings.Cut(rest, "/"); found {
		return Prefix + "…/" + tail
	}
	return Prefix + "…"
}

// ServeHTTP routes GET (and HEAD) /pay/{token}, /pay/{token}/events and
// /pay/static/…; anything else under the prefix is a plain 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		h.writeNotFound(w)
		return
	}
	if strings.HasPrefix(rest, "static/") {
		h.static.ServeHTTP(w, r)
		return
	}
	token, sub, _ := strings.Cut(rest, "/")
	if !paygate.WellFormedCashierToken(token) {
		h.writeNotFound(w)
		return
	}
	switch sub {
	case "":
		h.servePage(w, r, token)
	case "events":
		h.serveEvents(w, r, token)
	default:
		h.writeNotFound(w)
	}
}

// securityHeaders are on every answer: nothing but this origin's own
// files, no inline script or style, never framed; the token in the URL is
// never sent on as a Referer; nothing is cached or sniffed.
func securityHeaders(hd http.Header) {
	hd.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "+
		"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
}

// writeNotFound answers the same plain page for every token that names no
// QR order, well-formed or not, so that nothing can be learnt by probing.
func (h *Handler) writeNotFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write(h.notFound)
}

// writeUnavailable answers a page that could not be read now (the store
// is down): try again shortly.
func (h *Handler) writeUnavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "5")
	http.Error(w, "The payment page is unavailable for a moment; please reload in a few seconds.", http.StatusServiceUnavailable)
}
