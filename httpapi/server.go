// Package httpapi is paygate's HTTP edge: the signed merchant API under
// /api/v1, Alipay's notification endpoint, health and readiness. It turns
// requests into calls on paygate.OrderService and domain errors into HTTP
// answers; *gin.Context never leaves this package.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"

	"github.com/paygate/paygate"
)

// MerchantLookup finds the merchant that signs a request; paygate.Store
// satisfies it. A missing merchant is an ENotFound error.
type MerchantLookup interface {
	MerchantByAccessKey(ctx context.Context, accessKey string) (*paygate.Merchant, error)
}

// IdempotencyStore keeps Idempotency-Key records with the lease semantics
// documented on paygate.IdempotencyRecord; paygate.Store satisfies it.
type IdempotencyStore interface {
	BeginIdempotent(ctx context.Context, rec *paygate.IdempotencyRecord) (*paygate.IdempotencyRecord, error)
	FinishIdempotent(ctx context.Context, rec *paygate.IdempotencyRecord) error
	ReleaseIdempotent(ctx context.Context, rec *paygate.IdempotencyRecord) error
}

// RateLimit bounds each merchant's authenticated requests, in this process's
// memory (a token bucket per merchant). PerSecond 0 turns it off.
type RateLimit struct {
	PerSecond float64
	Burst     int // 0: PerSecond rounded up, at least 1
}

// Mount serves another handler on the same address, outside the merchant
// API (for example the simulator's /gateway.do and /sim/ in paygate demo).
// A Path ending in "/" serves everything under it.
type Mount struct {
	Path    string
	Handler http.Handler
	// RedactPath, when set, is how the request log shows a path under the
	// mount, and the mount's requests are not traced (a span records the raw
	// path): for paths that carry a secret, such as the cashier's tokens.
	RedactPath func(path string) string
}

// Config is what New needs. Orders, Merchants, Idempotency and Nonces are
// required; everything else has a default.
type Config struct {
	Orders      paygate.OrderService
	Merchants   MerchantLookup
	Idempotency IdempotencyStore
	Nonces      paygate.NonceCache
	Logger      *slog.Logger     // default: discard
	Now         func() time.Time // default: time.Now
	// Tolerance is how far X-Timestamp may be from Now, either way
	// (default 300 s). A nonce is remembered until its timestamp is that
	// far in the past (up to twice as long after it arrives).
	Tolerance time.Duration
	RateLimit RateLimit
	// IPRateLimit bounds the API requests of one client address (an IPv6
	// client's /64), counted before authentication. Zero turns it off.
	IPRateLimit RateLimit
	// AuthFailureLimit bounds failed authentications per client address:
	// once its bucket is empty, the address gets 429 before anything is
	// looked up or read. Zero turns it off.
	AuthFailureLimit RateLimit
	// UnknownKeyLimit bounds the store lookups per claimed access key that
	// find no merchant; once its bucket is empty, requests claiming the key
	// get 429 before any lookup. Zero turns it off.
	UnknownKeyLimit RateLimit
	// MerchantCacheTTL is how long a merchant (or the absence of one) found
	// by access key is reused; 0 means DefaultMerchantCacheTTL, negative
	// turns the cache off.
	MerchantCacheTTL time.Duration
	// TrustedProxies are the proxies whose X-Forwarded-For / X-Real-IP name
	// the client address; by default none is trusted and the address is the
	// TCP peer's.
	TrustedProxies []netip.Prefix
	// NotifyRateLimit bounds /notify/alipay per client address. Zero turns
	// it off.
	NotifyRateLimit RateLimit
	// NotifyAllowlist, when not empty, is the only addresses /notify/alipay
	// accepts (Alipay's published ranges, the design's 白名单); others get
	// 403 "failure" without the body being read.
	NotifyAllowlist []netip.Prefix
	// IdempotencyLease is how long a request owns its Idempotency-Key before
	// another may take it over (default 2 min, longer than a barcode
	// payment's wait).
	IdempotencyLease time.Duration
	// Ready reports whether the node can serve (database reachable...);
	// nil counts as ready. /readyz also fails once Drain was called.
	Ready  func(ctx context.Context) error
	Mounts []Mount
	// PublicURL is how buyers reach this node (server.public_url): a QR
	// order's JSON carries cashier_url = PublicURL + "/pay/" + its token.
	// Empty: cashier_url is null.
	PublicURL string
	// Reconciliations serves /api/v1/reconciliations/{date}; nil leaves it
	// out.
	Reconciliations Reconciliations
	// Events serves /api/v1/events (list, get, resend); nil leaves those
	// routes out.
	Events Events
	// Observer receives the requests', authentication failures' and rate
	// limits' counts (metrics.go); nil counts nothing.
	Observer Observer
	// TracerProvider makes a server span per request (see trace.go); nil:
	// no tracing.
	TracerProvider trace.TracerProvider
}

// Defaults.
const (
	DefaultTolerance        = 300 * time.Second
	DefaultIdempotencyLease = 2 * time.Minute
	// IdempotencyTTL is how long a finished response is replayed.
	IdempotencyTTL = 24 * time.Hour
	// MaxBody is the largest request body the API reads.
	MaxBody = 1 << 20
)

// Server is the HTTP edge. Build it with New; serve Handler.
type Server struct {
	orders    paygate.OrderService
	merchants MerchantLookup
	idem      IdempotencyStore
	nonces    paygate.NonceCache
	log       *slog.Logger
	now       func() time.Time
	tolerance time.Duration
	lease     time.Duration
	ready     func(ctx context.Context) error
	limiter   *limiter // nil: no rate limit
	// Limits before authentication, and of notifications; nil: off.
	ipLimit, authFailures, unknownKeys, notifyLimit *keyedLimiter
	mcache                                          *merchantCache // nil: no cache
	notifyAllowlist                                 []netip.Prefix
	trusted                                         []netip.Prefix
	events                                          Events // nil: no events routes
	recons                                          Reconciliations
	draining                                        atomic.Bool
	engine                                          *gin.Engine
	obs                                             Observer
	handler                                         http.Handler // engine, traced
	publicURL                                       string
}

// New builds the server and its routes. It panics if a required dependency
// is missing, a wiring mistake that must not reach production.
func New(cfg Config) *Server {
	if cfg.Orders == nil || cfg.Merchants == nil || cfg.Idempotency == nil || cfg.Nonces == nil {
		panic("httpapi.New: Orders, Merchants, Idempotency and Nonces are required")
	}
	s := &Server{
		orders:    cfg.Orders,
		merchants: cfg.Merchants,
		idem:      cfg.Idempotency,
		nonces:    cfg.Nonces,
		log:       cfg.Logger,
		now:       cfg.Now,
		tolerance: cfg.Tolerance,
		lease:     cfg.IdempotencyLease,
		ready:     cfg.Ready,
		events:    cfg.Events,
		recons:    cfg.Reconciliations,
		limiter:   newLimiter(cfg.RateLimit),

		ipLimit:         newKeyedLimiter(cfg.IPRateLimit),
		authFailures:    newKeyedLimiter(cfg.AuthFailureLimit),
		unknownKeys:     newKeyedLimiter(cfg.UnknownKeyLimit),
		notifyLimit:     newKeyedLimiter(cfg.NotifyRateLimit),
		mcache:          newMerchantCache(cfg.MerchantCacheTTL),
		notifyAllowlist: cfg.NotifyAllowlist,
		trusted:         cfg.TrustedProxies,
		obs:             cfg.Observer,
		publicURL:       cfg.PublicURL,
	}
	if s.obs == nil {
		s.obs = noObserver{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.tolerance <= 0 {
		s.tolerance = DefaultTolerance
	}
	if s.lease <= 0 {
		s.lease = DefaultIdempotencyLease
	}
	s.engine = s.routes(cfg.Mounts)
	var untraced []string
	for _, m := range cfg.Mounts {
		if m.RedactPath != nil {
			untraced = append(untraced, m.Path)
		}
	}
	s.handler = traced(cfg.TracerProvider, s.engine, untraced)
	return s
}

// Handler serves every route.
func (s *Server) Handler() http.Handler { return s.handler }

// Drain turns readiness false and answers new API requests 503 DRAINING so
// a load balancer moves traffic away; requests already running finish (the
// caller then shuts the http.Server down). Notifications and health checks
// keep being served. Drain cannot be undone.
func (s *Server) Drain() { s.draining.Store(true) }

// Draining reports whether Drain was called: the node is shutting down.
func (s *Server) Draining() bool { return s.draining.Load() }

func (s *Server) routes(mounts []Mount) *gin.Engine {
	// gin's mode is process-wide; release mode only silences its debug
	// printing, and setting it is atomic.
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	// gin trusts every proxy's X-Forwarded-For by default, which would let
	// any client pick the address its limits are counted under.
	var trusted []string // nil: the TCP peer's address, always
	for _, p := range s.trusted {
		trusted = append(trusted, p.String())
	}
	if err := e.SetTrustedProxies(trusted); err != nil {
		panic("httpapi.New: TrustedProxies: " + err.Error()) // netip.Prefix strings always parse
	}
	e.Use(routeSpan, s.observe, s.edge)
	e.NoRoute(func(c *gin.Context) {
		s.writeError(c, paygate.Errorf(paygate.ENotFound, "no route %s %s", c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		s.writeError(c, paygate.Errorf(codeMethodNotAllowed, "%s is not allowed on %s", c.Request.Method, c.Request.URL.Path))
	})

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.POST("/notify/alipay", s.notifyAlipay)
	e.POST("/notify/wechat", s.notifyWechat)

	v1 := e.Group("/api/v1", s.refuseWhenDraining, s.authenticate)
	v1.POST("/orders", s.api(s.createOrder))
	v1.GET("/orders", s.api(s.listOrders))
	v1.GET("/orders/:out_trade_no", s.api(s.getOrder))
	v1.POST("/orders/:out_trade_no/close", s.api(s.closeOrder))
	v1.POST("/orders/:out_trade_no/refunds", s.api(s.createRefund))
	v1.GET("/orders/:out_trade_no/refunds", s.api(s.listRefunds))
	if s.events != nil {
		v1.GET("/events", s.api(s.listEvents))
		v1.GET("/events/:id", s.api(s.getEvent))
		v1.POST("/events/:id/resend", s.api(s.resendEvent))
	}
	if s.recons != nil {
		v1.GET("/reconciliations/:date", s.api(s.getReconciliation))
	}

	for _, m := range mounts {
		path := m.Path
		if strings.HasSuffix(path, "/") {
			path += "*rest"
		}
		h := gin.WrapH(m.Handler)
		if redact := m.RedactPath; redact != nil {
			h = func(c *gin.Context) {
				c.Set(keyLogPath, redact(c.Request.URL.Path))
				m.Handler.ServeHTTP(c.Writer, c.Request)
			}
		}
		e.Any(path, h)
	}
	return e
}

// refuseWhenDraining answers 503 DRAINING once Drain was called, and asks
// the client to open its next connection elsewhere.
func (s *Server) refuseWhenDraining(c *gin.Context) {
	if s.draining.Load() {
		c.Header("Connection", "close")
		s.abort(c, paygate.Errorf(paygate.EDraining, "this node is shutting down; retry the request"))
		return
	}
	c.Next()
}
