package paygate

import (
	"errors"
	"fmt"
)

// Error codes: stable, upper snake case, part of the API contract. Each maps
// to one HTTP status in httpapi.
const (
	EInvalid            = "INVALID_REQUEST"        // 400: malformed or invalid input
	EUnauthorized       = "UNAUTHORIZED"           // 401: authentication failed
	EForbidden          = "FORBIDDEN"              // 403: another merchant's resource
	ENotFound           = "NOT_FOUND"              // 404
	EConflict           = "CONFLICT"               // 409: a state that forbids the request
	EIdempotencyReuse   = "IDEMPOTENCY_KEY_REUSED" // 409: same key, another body
	EIdempotencyBusy    = "IDEMPOTENCY_IN_FLIGHT"  // 409: the first request with this key is still running
	EOutTradeNoReused   = "OUT_TRADE_NO_REUSED"    // 409: same out_trade_no, other parameters
	ERefundExceeds      = "REFUND_EXCEEDS_BALANCE" // 409: refund beyond what is refundable
	ETooLarge           = "BODY_TOO_LARGE"         // 413
	ERateLimited        = "RATE_LIMITED"           // 429
	EChannel            = "CHANNEL_ERROR"          // 502: the channel failed; the outcome is settled later
	EPaymentFailed      = "PAYMENT_FAILED"         // 402: the channel refused the payment or refund (sub_code in the message); final
	EChannelUnavailable = "CHANNEL_UNAVAILABLE"    // 503: the channel's circuit is open
	EDraining           = "DRAINING"               // 503: the node is shutting down
	EDatabaseDown       = "DATABASE_UNAVAILABLE"   // 503: the database cannot be reached; retry later
	EInternal           = "INTERNAL"               // 500
)

// Error is the domain's one error type: a stable code and a human sentence
// safe to show the caller. Wrap it with %w and lower-case context on the way up.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or EInternal
// for any other non-nil error, or "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the caller-safe message of err: the *Error's message,
// or a generic sentence for internal errors, whose details belong in logs.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
