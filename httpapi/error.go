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

// statusOf maps an error code to its HTTP status: the only place that does.
// Unknown codes are internal errors.
func statusOf(code string) int {
	switch code {
	case paygate.EInvalid:
		return http.StatusBadRequest
	case paygate.EUnauthorized:
		return http.StatusUnauthorized
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
	case paygate.EChannel, paygate.EPaymentFailed:
		return http.StatusBadGateway
	case paygate.EChannelUnavailable, paygate.EDraining:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// retryAfterError tells the client when to come back (429).
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// errorResponse turns err into a status and JSON body, sets Retry-After
// where it applies, and keeps err for the request's log line, which is
// where it is logged (once). Internal errors answer only "internal error".
func (s *Server) errorResponse(c *gin.Context, err error) (int, []byte) {
	code := paygate.ErrorCode(err)
	status := statusOf(code)
	msg := paygate.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		code, msg = paygate.EInternal, "internal error"
	}
	if status == http.StatusTooManyRequests {
		after := time.Second
		var ra *retryAfterError
		if errors.As(err, &ra) && ra.after > after {
			after = ra.after
		}
		c.Header("Retry-After", strconv.Itoa(int((after+time.Second-1)/time.Second)))
	}
	c.Set(keyError, err)
	c.Set(keyCode, code)
	body, mErr := json.Marshal(errorBody{errorDetail{code, msg}})
	if mErr != nil { // cannot happen for two strings
		s.log.Error("encoding error body", slog.String("error", mErr.Error()))
		body = []byte(`{"error":{"code":"INTERNAL","message":"internal error"}}`)
	}
	return status, body
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
