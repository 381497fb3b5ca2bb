package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/paygate/paygate"
)

// idempotent runs h at most once per (merchant, Idempotency-Key) within
// IdempotencyTTL:
//   - a repeat with the same method, path and body gets the stored status
//     and body again, with Idempotent-Replayed: true;
//   - the same key with another request is 409 IDEMPOTENCY_KEY_REUSED;
//   - a repeat while the first is still running is 409 IDEMPOTENCY_IN_FLIGHT.
//
// Only final answers are stored (2xx and 4xx, a 402 declined payment
// included: the decline is final and a repeat must not charge again). A 5xx (internal, channel
// failed or unavailable, draining) is not: the key is released so that the
// client's retry runs again, and the use cases underneath are themselves
// idempotent by out_trade_no and out_request_no, so running again is safe.
func (s *Server) idempotent(c *gin.Context, h handler) {
	key := c.GetHeader("Idempotency-Key")
	if !validIdempotencyKey(key) {
		s.writeError(c, paygate.Errorf(paygate.EInvalid, "Idempotency-Key must be 1 to 255 printable ASCII characters"))
		return
	}
	m := merchant(c)
	now := s.now()
	rec := &paygate.IdempotencyRecord{
		MerchantID:  m.ID,
		Key:         key,
		RequestHash: requestHash(c.Request.Method, c.Request.URL.Path, body(c)),
		CreatedAt:   now,
		LeaseUntil:  now.Add(s.lease),
		ExpiresAt:   now.Add(IdempotencyTTL),
	}
	prev, err := s.idem.BeginIdempotent(c.Request.Context(), rec)
	switch {
	case err != nil:
		s.writeError(c, fmt.Errorf("beginning idempotent request: %w", err))
		return
	case prev != nil && prev.RequestHash != rec.RequestHash:
		s.writeError(c, paygate.Errorf(paygate.EIdempotencyReuse,
			"Idempotency-Key %q was already used with another request", key))
		return
	case prev != nil && !prev.Done:
		s.writeError(c, paygate.Errorf(paygate.EIdempotencyBusy,
			"the first request with Idempotency-Key %q is still running; retry later", key))
		return
	case prev != nil && (prev.Status < 200 || prev.Status > 499):
		// Only 2xx and 4xx are ever stored; anything else is a corrupt row.
		s.writeError(c, fmt.Errorf("idempotency key %q holds status %d", key, prev.Status))
		return
	case prev != nil:
		c.Header("Idempotent-Replayed", "true")
		c.Data(prev.Status, jsonType, prev.Body)
		return
	}

	finished := false
	defer func() {
		if !finished { // h panicked: free the key before the panic goes on
			s.release(c, rec)
		}
	}()
	status, b := s.run(c, h)
	finished = true
	if status >= http.StatusInternalServerError {
		s.release(c, rec)
	} else {
		rec.Done, rec.Status, rec.Body = true, status, b
		// On failure the answer is still right; a repeat sees 409 in flight
		// until the lease lapses, then runs again.
		s.finish(c, rec)
	}
	c.Data(status, jsonType, b)
}

// IdempotencyLease is how long a request owns its Idempotency-Key before
// another may take it over.
func (s *Server) IdempotencyLease() time.Duration { return s.lease }

// release gives the key back without an answer, so that the client's retry
// runs again instead of waiting out the lease with 409 in flight.
func (s *Server) release(c *gin.Context, rec *paygate.IdempotencyRecord) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 5*time.Second)
	defer cancel()
	if err := s.idem.ReleaseIdempotent(ctx, rec); err != nil {
		addLogAttrs(c, slog.String("idempotency_error", err.Error()))
	}
}

// finish writes rec even when the client has gone away: the request's
// values are kept, its cancellation is not.
func (s *Server) finish(c *gin.Context, rec *paygate.IdempotencyRecord) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 5*time.Second)
	defer cancel()
	if err := s.idem.FinishIdempotent(ctx, rec); err != nil {
		addLogAttrs(c, slog.String("idempotency_error", err.Error()))
	}
}

// requestHash identifies a request for Idempotency-Key: hex SHA-256 of
// method, path and body separated by newlines.
func requestHash(method, path string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(method + "\n" + path + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func validIdempotencyKey(k string) bool {
	if len(k) == 0 || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < ' ' || k[i] > '~' {
			return false
		}
	}
	return true
}
