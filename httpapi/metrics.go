package httpapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/paygate/paygate"
)

// Observer receives the counts of the HTTP edge an operator alerts on; cmd
// backs it with Prometheus. Every label it is given is bounded: a route
// pattern (never a raw path), a method, a reason or scope from the lists
// below.
type Observer interface {
	// Request: one request ended with code after d. route is the pattern
	// that matched (/api/v1/orders/:out_trade_no), or RouteUnmatched.
	Request(route, method string, code int, d time.Duration)
	// AuthFailure: a request was refused 401 for reason (AuthReasons).
	AuthFailure(reason string)
	// RateLimited: a request was refused 429 by the limit of scope
	// (RateLimitScopes).
	RateLimited(scope string)
}

// RouteUnmatched is the route label of a request no route matched (404,
// 405): its raw path would make the label unbounded.
const RouteUnmatched = "unmatched"

// The scopes of the rate limits.
const (
	ScopeIP           = "ip"            // API requests per client address, before authentication
	ScopeMerchant     = "merchant"      // authenticated requests per merchant
	ScopeAuthFailures = "auth_failures" // an address that failed authentication too often
	ScopeUnknownKey   = "unknown_key"   // lookups of a claimed access key that names no merchant
	ScopeNotify       = "notify"        // /notify/alipay per client address
)

// RateLimitScopes lists every scope, for metrics to start at zero.
var RateLimitScopes = []string{ScopeIP, ScopeMerchant, ScopeAuthFailures, ScopeUnknownKey, ScopeNotify}

// The reasons of an authentication failure (the operator's side of the one
// 401 message every caller gets).
const (
	ReasonMissingHeader   = "missing_header"   // an X-Access-Key, X-Timestamp, X-Nonce or X-Signature missing
	ReasonMalformedHeader = "malformed_header" // one of them repeated or not of its form
	ReasonTimestamp       = "timestamp_skew"   // X-Timestamp outside the tolerance
	ReasonUnknownKey      = "unknown_key"      // no merchant has the access key, or its merchant is disabled
	ReasonBadSignature    = "bad_signature"    // the signature does not match the request
	ReasonReplayedNonce   = "replayed_nonce"   // the nonce was already used
	ReasonOther           = "other"
)

// AuthReasons lists every reason, for metrics to start at zero.
var AuthReasons = []string{ReasonMissingHeader, ReasonMalformedHeader, ReasonTimestamp, ReasonUnknownKey,
	ReasonBadSignature, ReasonReplayedNonce, ReasonOther}

// authReason is the reason code of a 401 error made by authenticate.
func authReason(err error) string {
	msg := paygate.ErrorMessage(err)
	switch {
	case strings.HasPrefix(msg, "missing header"):
		return ReasonMissingHeader
	case strings.HasPrefix(msg, "X-Timestamp is more than"):
		return ReasonTimestamp
	case strings.HasPrefix(msg, "unknown access key"), strings.HasPrefix(msg, "access key of a disabled merchant"):
		return ReasonUnknownKey
	case strings.HasPrefix(msg, "signature does not match"):
		return ReasonBadSignature
	case strings.HasPrefix(msg, "X-Nonce was already used"):
		return ReasonReplayedNonce
	case strings.Contains(msg, "appears more than once"), strings.Contains(msg, " must be "):
		return ReasonMalformedHeader
	}
	return ReasonOther
}

// Route is one route the server answers: its method and pattern.
type Route struct {
	Method, Path string
}

// Routes lists every route of the server (the API's, the health checks,
// the notifications, the mounts), the label values of its requests'
// metrics besides RouteUnmatched.
func (s *Server) Routes() []Route {
	var out []Route
	for _, r := range s.engine.Routes() {
		out = append(out, Route{Method: r.Method, Path: r.Path})
	}
	return out
}

// observe reports every request to the observer: its route pattern, its
// status and how long it took, and a 429's scope. It runs outside edge,
// so a panic turned into a 500 counts as one.
//
// An event stream (text/event-stream, such as the cashier's) lasts as long
// as its client watches: its duration would be no latency at all, and would
// set off the latency alerts. It is reported up to its first byte.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	fw := &firstWrite{ResponseWriter: c.Writer}
	c.Writer = fw
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = RouteUnmatched
	}
	took := time.Since(start)
	if !fw.at.IsZero() && strings.HasPrefix(fw.Header().Get("Content-Type"), "text/event-stream") {
		took = fw.at.Sub(start)
	}
	s.obs.Request(route, methodLabel(c.Request.Method), c.Writer.Status(), took)
	if err, ok := c.Get(keyError); ok {
		var ra *retryAfterError
		if errors.As(err.(error), &ra) && ra.scope != "" {
			s.obs.RateLimited(ra.scope)
		}
	}
}

// firstWrite notes when the answer's first byte (or its header) was
// written. Everything else is the writer it wraps.
type firstWrite struct {
	gin.ResponseWriter
	at time.Time
}

func (w *firstWrite) mark() {
	if w.at.IsZero() {
		w.at = time.Now()
	}
}

func (w *firstWrite) WriteHeader(code int) { w.ResponseWriter.WriteHeader(code); w.mark() }
func (w *firstWrite) WriteHeaderNow()      { w.ResponseWriter.WriteHeaderNow(); w.mark() }

func (w *firstWrite) Write(b []byte) (int, error) { w.mark(); return w.ResponseWriter.Write(b) }

func (w *firstWrite) WriteString(s string) (int, error) {
	w.mark()
	return w.ResponseWriter.WriteString(s)
}

// Unwrap lets http.ResponseController reach the connection (a stream's
// write deadlines, flushes).
func (w *firstWrite) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// methodLabel is method, or "other" for a method outside the standard
// ones: a client may send any token there.
func methodLabel(method string) string {
	switch method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE":
		return method
	}
	return "other"
}

// noObserver counts nothing.
type noObserver struct{}

func (noObserver) Request(string, string, int, time.Duration) {}
func (noObserver) AuthFailure(string)                         {}
func (noObserver) RateLimited(string)                         {}
