package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// readyTimeout bounds one readiness check, below a load balancer's usual
// probe timeout.
const readyTimeout = 2 * time.Second

type healthJSON struct {
	Status string `json:"status"`           // "ok", or "unavailable"
	Reason string `json:"reason,omitempty"` // why not ready
}

// healthz: the process is alive and serving HTTP.
func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, healthJSON{Status: "ok"})
}

// readyz: 200 when the node can serve (Ready passes and it is not draining),
// otherwise 503 with the reason.
func (s *Server) readyz(c *gin.Context) {
	if s.draining.Load() {
		c.JSON(http.StatusServiceUnavailable, healthJSON{Status: "unavailable", Reason: "draining"})
		return
	}
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			c.JSON(http.StatusServiceUnavailable, healthJSON{Status: "unavailable", Reason: err.Error()})
			return
		}
	}
	c.JSON(http.StatusOK, healthJSON{Status: "ok"})
}
