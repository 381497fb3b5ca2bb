package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/paygate/paygate"
)

// codeMethodNotAllowed is the one code of this layer's own: the domain has
// no notion of HTTP methods.
const codeMethodNotAllowed = "METHOD_NOT_ALLOWED"

// databaseRetryAfter is what a 503 DATABASE_UNAVAILABLE asks the client to
// wait: long enough for a database failover or a restart to be under way,
// short enough that a shop's checkout is not given up.
const databaseRetryAfter = 5 * time.Second

// statusOf maps an error code to its HTTP status: the only place that does.
// Unknown codes are internal errors.
func statusOf(code string) int {
	switch code {
	case paygate.EInvalid:
		return http.StatusBadRequest
	case paygate.EUnauthorized:
		return http.StatusUnauthorized
	case paygate.EPaymentFailed:
		// A refusal is final, not a fault: shops retry 5xx, and must not
		// retry a decline (Stripe answers a declined card the same way).
		return http.StatusPaymentRequired
	case paygate.EForbidden:
		return http.StatusForbidden
	case paygate.ENotFound:
		return http.StatusNotFound
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case paygate.EConflict, paygate.EIdempotencyReuse, paygate.EIdempotencyBusy,
		paygate.EOutTradeNoReused, paygate.ERefundExceeds:
		return http.StatusConflict
	case paygate.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case paygate.ERateLimited:
		return http.StatusTooManyRequests
	case paygate.EChannel:
		return http.StatusBadGateway
	case paygate.EChannelUnavailable, paygate.EDraining, paygate.EDatabaseDown:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// retryAfterError tells the client when to come back (429).
type retryAfterError struct {
	err   error
	after time.Duration
	scope string // the limit's, for its metric (metrics.go)
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// declinedError is a PAYMENT_FAILED that carries the order the decline
// closed, for the answer's body.
type declinedError struct {
	err   error
	order *paygate.Order
}

func (e *declinedError) Error() string { return e.err.Error() }
func (e *declinedError) Unwrap() error { return e.err }

// errorBody is every error answer: {"error":{"code","message","request_id"}},
// and for a declined payment the order too.
type errorBody struct {
	Error errorDetail `json:"error"`
	Order *orderJSON  `json:"order,omitempty"`
}

type errorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

// errorResponse turns err into a status and JSON body, sets Retry-After
// where it applies, and keeps err for the request's log line, which is
// where it is logged (once). Internal errors answer only "internal error";
// a 404 names only what the caller asked for, never an internal id.
func (s *Server) errorResponse(c *gin.Context, err error) (int, []byte) {
	code := paygate.ErrorCode(err)
	status := statusOf(code)
	msg := paygate.ErrorMessage(err)
	switch status {
	case http.StatusInternalServerError:
		code, msg = paygate.EInternal, "internal error"
	case http.StatusNotFound:
		msg = notFoundMessage(c, msg)
	case http.StatusTooManyRequests:
		after := time.Second
		var ra *retryAfterError
		if errors.As(err, &ra) && ra.after > after {
			after = ra.after
		}
		setRetryAfter(c, after)
	}
	if code == paygate.EDatabaseDown {
		setRetryAfter(c, databaseRetryAfter)
	}
	c.Set(keyError, err)
	c.Set(keyCode, code)
	eb := errorBody{Error: errorDetail{code, msg, c.Writer.Header().Get("X-Request-Id")}}
	var de *declinedError
	if errors.As(err, &de) && de.order != nil {
		o := newOrderJSON(de.order, s.publicURL)
		eb.Order = &o
	}
	body, mErr := json.Marshal(eb)
	if mErr != nil { // cannot happen for strings and an order
		s.log.Error("encoding error body", slog.String("error", mErr.Error()))
		body = []byte(`{"error":{"code":"INTERNAL","message":"internal error"}}`)
	}
	return status, body
}

func setRetryAfter(c *gin.Context, after time.Duration) {
	c.Header("Retry-After", strconv.Itoa(int((after+time.Second-1)/time.Second)))
}

// notFoundMessage names the resource the request's path asked for, in the
// merchant's own terms: the store's message may name internal ids (the
// merchant's number, an order's row id), which are nobody's business.
func notFoundMessage(c *gin.Context, msg string) string {
	switch {
	case c.Param("id") != "":
		return "event " + c.Param("id") + " not found"
	case c.Param("out_trade_no") != "":
		return "order " + c.Param("out_trade_no") + " not found"
	case c.FullPath() == "":
		return msg // no route: the message names the method and path asked for
	}
	return "not found"
}

// writeError answers err.
func (s *Server) writeError(c *gin.Context, err error) {
	status, body := s.errorResponse(c, err)
	c.Data(status, jsonType, body)
}

// abort answers err and stops the handler chain.
func (s *Server) abort(c *gin.Context, err error) {
	s.writeError(c, err)
	c.Abort()
}
