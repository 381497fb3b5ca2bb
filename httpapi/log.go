package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/telemetry"
)

// Keys of values a request carries through gin's context.
const (
	keyMerchant = "paygate.merchant" // *paygate.Merchant, once authenticated
	keyBody     = "paygate.body"     // []byte, the raw body read by authenticate
	keyError    = "paygate.error"    // error, the cause of an error answer
	keyCode     = "paygate.code"     // string, its code
	keyLogAttrs = "paygate.log"      // []slog.Attr, more for the log line
	keyLogPath  = "paygate.logpath"  // string, the path as logged when a mount redacts it
)

const jsonType = "application/json; charset=utf-8"

// edge wraps every request: it assigns a request id (also in every error
// body), sets the headers every answer carries, turns a panic into a 500,
// and writes the request's one log line. It never logs bodies,
// signatures, secrets or query strings.
func (s *Server) edge(c *gin.Context) {
	start := s.now()
	rid := requestID(c.GetHeader("X-Request-Id"))
	c.Header("X-Request-Id", rid)
	// Domain lines logged with the request's context name it too.
	c.Request = c.Request.WithContext(telemetry.WithRequestID(c.Request.Context(), rid))
	// Answers hold orders and payment state: no cache (browser, proxy or
	// CDN) may keep or replay them, and none is to be sniffed as HTML.
	c.Header("Cache-Control", "no-store")
	c.Header("X-Content-Type-Options", "nosniff")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			if !c.Writer.Written() {
				s.writeError(c, fmt.Errorf("panic: %v", v))
			} else {
				c.Set(keyError, fmt.Errorf("panic after the answer began: %v", v))
			}
			c.Abort()
		}
		s.logRequest(c, rid, start)
	}()
	c.Next()
}

func (s *Server) logRequest(c *gin.Context, rid string, start time.Time) {
	status := c.Writer.Status()
	attrs := []slog.Attr{
		slog.String("method", c.Request.Method),
		slog.String("path", logPath(c)),
		slog.Int("status", status),
		slog.Float64("latency_ms", float64(s.now().Sub(start).Microseconds())/1000),
		slog.String("request_id", rid),
	}
	if m, ok := c.Get(keyMerchant); ok {
		attrs = append(attrs, slog.String("access_key", m.(*paygate.Merchant).AccessKey))
	} else if ak := c.GetHeader("X-Access-Key"); ak != "" && wellFormedAccessKey(ak) {
		// Not authenticated: the key as claimed, which helps a merchant
		// debugging a 401 and is no secret.
		attrs = append(attrs, slog.String("access_key", ak))
	}
	if code := c.GetString(keyCode); code != "" {
		attrs = append(attrs, slog.String("code", code))
	}
	level := slog.LevelInfo
	switch {
	case status >= 500:
		// Internal errors are bugs or outages here; 502 and 503 are the
		// channel's or a drain, worth a look but expected.
		level = slog.LevelWarn
		if status == http.StatusInternalServerError {
			level = slog.LevelError
		}
		if err, ok := c.Get(keyError); ok {
			attrs = append(attrs, slog.String("error", err.(error).Error()))
		}
	case c.Request.URL.Path == "/healthz" || c.Request.URL.Path == "/readyz":
		level = slog.LevelDebug // probes every few seconds would drown the log
	}
	if c.GetBool(keyWarn) && level < slog.LevelWarn {
		level = slog.LevelWarn // refused: forged, replayed, a notification not applied
	}
	if extra, ok := c.Get(keyLogAttrs); ok {
		attrs = append(attrs, extra.([]slog.Attr)...)
	}
	s.log.LogAttrs(c.Request.Context(), level, "http request", attrs...)
}

// logPath is the request's path as the log shows it: redacted by its
// mount (Mount.RedactPath) when it carries a secret.
func logPath(c *gin.Context) string {
	if p := c.GetString(keyLogPath); p != "" {
		return p
	}
	return c.Request.URL.Path
}

// addLogAttrs adds attributes to the request's log line.
func addLogAttrs(c *gin.Context, attrs ...slog.Attr) {
	if prev, ok := c.Get(keyLogAttrs); ok {
		attrs = append(prev.([]slog.Attr), attrs...)
	}
	c.Set(keyLogAttrs, attrs)
}

// requestID keeps a caller's well-formed X-Request-Id (so a merchant can
// correlate) and otherwise makes one.
func requestID(h string) string {
	if len(h) >= 8 && len(h) <= 64 && isToken(h) {
		return h
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// isToken reports whether s is all of [A-Za-z0-9_-].
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
