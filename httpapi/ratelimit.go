package httpapi

import (
	"math"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/paygate/paygate"
)

// limiter holds one token bucket per merchant, in this process's memory: with
// N replicas a merchant may get up to N times the rate, which is the price of
// not making every request wait on shared state. Buckets are never dropped;
// there is one per merchant that ever called, a number the database bounds.
type limiter struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	per   map[int64]*rate.Limiter
}

func newLimiter(rl RateLimit) *limiter {
	if rl.PerSecond <= 0 {
		return nil
	}
	burst := rl.Burst
	if burst <= 0 {
		burst = max(1, int(math.Ceil(rl.PerSecond)))
	}
	return &limiter{rate: rate.Limit(rl.PerSecond), burst: burst, per: make(map[int64]*rate.Limiter)}
}

// wait reports how long merchant must wait before its next request is
// allowed; 0 means it is allowed now (and its token is taken).
func (l *limiter) wait(merchantID int64, now time.Time) time.Duration {
	l.mu.Lock()
	lim, ok := l.per[merchantID]
	if !ok {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.per[merchantID] = lim
	}
	l.mu.Unlock()
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Second
	}
	d := r.DelayFrom(now)
	if d > 0 {
		r.CancelAt(now) // refused requests do not use up the future
	}
	return d
}

// rateLimit answers 429 with Retry-After once an authenticated merchant goes
// over its rate. It runs after authentication, so replays and forgeries,
// already refused, cost the merchant nothing.
func (s *Server) rateLimit(c *gin.Context) {
	if s.limiter == nil {
		c.Next()
		return
	}
	m := merchant(c)
	if d := s.limiter.wait(m.ID, s.now()); d > 0 {
		s.abort(c, &retryAfterError{
			err:   paygate.Errorf(paygate.ERateLimited, "too many requests; retry after the time in Retry-After"),
			after: d,
		})
		return
	}
	c.Next()
}
