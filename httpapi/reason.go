package httpapi

import (
	"errors"
	"log/slog"

	"github.com/gin-gonic/gin"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/gateway"
)

// keyWarn marks a request whose log line is a warning whatever its status
// (a refused notification answers 200 "failure").
const keyWarn = "paygate.warn"

// Reason codes of refused requests, in their log line's reason attribute.
const (
	// Authentication failures (401), forged or replayed requests, have the
	// reasons of metrics.go (ReasonMissingHeader … ReasonOther), one set
	// for the log line and paygate_auth_failures_total.
	ReasonNotAllowlisted = "not_allowlisted"   // notification from outside the allowlist
	ReasonNotifyLimited  = "rate_limited"      // notifications of the address over its limit
	ReasonRefusedSig     = "refused_signature" // notification signature does not verify
	ReasonRefusedMatch   = "refused_mismatch"  // notification does not match the order (amount, app, seller)
	ReasonMalformed      = "refused_malformed" // notification form malformed
	ReasonUnknownOrder   = "unknown_order"     // notification for an order paygate does not have
	ReasonDeferred       = "deferred"          // not refused: the order is being decided; Alipay sends it again
	ReasonError          = "error"             // not applied for an internal error (database…)
)

// warnRefused makes the request's log line a warning with a reason code.
func warnRefused(c *gin.Context, reason string, attrs ...slog.Attr) {
	c.Set(keyWarn, true)
	addLogAttrs(c, append([]slog.Attr{slog.String("reason", reason)}, attrs...)...)
}

// notifyReason is the reason code of a notification HandleNotification
// did not apply.
func notifyReason(err error) string {
	switch {
	case errors.Is(err, paygate.ErrNotifyLater):
		return ReasonDeferred
	case errors.Is(err, gateway.ErrNotifySignature), errors.Is(err, alipay.ErrNotifySignature):
		return ReasonRefusedSig
	case errors.Is(err, gateway.ErrNotifyMismatch), errors.Is(err, alipay.ErrNotifyMismatch):
		return ReasonRefusedMatch
	case errors.Is(err, gateway.ErrNotifyMalformed), errors.Is(err, alipay.ErrNotifyMalformed):
		return ReasonMalformed
	case paygate.ErrorCode(err) == paygate.ENotFound:
		return ReasonUnknownOrder
	}
	return ReasonError
}
