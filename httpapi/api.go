package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/paygate/paygate"
)

// handler is one merchant API endpoint: it returns the status and the value
// to encode as JSON, or an error that errorResponse turns into the answer.
// It never writes to c itself, so the answer can be stored for idempotency.
type handler func(c *gin.Context, m *paygate.Merchant) (status int, v any, err error)

// api adapts h to gin: it runs h (through the Idempotency-Key machinery for
// a POST that carries the header) and writes the answer.
func (s *Server) api(h handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, ok := c.Request.Header["Idempotency-Key"]; ok && c.Request.Method == http.MethodPost {
			s.idempotent(c, h)
			return
		}
		status, b := s.run(c, h)
		c.Data(status, jsonType, b)
	}
}

// run calls h and encodes its answer.
func (s *Server) run(c *gin.Context, h handler) (int, []byte) {
	status, v, err := h(c, merchant(c))
	if err != nil {
		return s.errorResponse(c, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return s.errorResponse(c, fmt.Errorf("encoding response: %w", err))
	}
	return status, b
}

// merchant is the authenticated caller.
func merchant(c *gin.Context) *paygate.Merchant {
	return c.MustGet(keyMerchant).(*paygate.Merchant)
}

// body is the raw request body read by authenticate.
func body(c *gin.Context) []byte {
	return c.MustGet(keyBody).([]byte)
}
