package httpapi

import (
	"math"
	"net/netip"
	"sync"
	"time"

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
// allowed; 0 means it is allowed now (and its token is taken). A nil
// *limiter allows everything.
func (l *limiter) wait(merchantID int64, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
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

// keyedLimiterMax bounds the buckets a keyedLimiter holds (addresses,
// claimed access keys): past it, idle buckets are dropped, and if none is
// idle, new keys share one overflow bucket, so a flood from many addresses
// cannot grow memory without bound.
const keyedLimiterMax = 100_000

// keyedLimiter holds one token bucket per string key (a client address, a
// claimed access key), in this process's memory. A nil *keyedLimiter allows
// everything.
type keyedLimiter struct {
	rate     rate.Limit
	burst    int
	max      int
	mu       sync.Mutex
	per      map[string]*rate.Limiter
	overflow *rate.Limiter
	swept    time.Time // the last sweep of idle buckets
}

func newKeyedLimiter(rl RateLimit) *keyedLimiter {
	if rl.PerSecond <= 0 {
		return nil
	}
	burst := rl.Burst
	if burst <= 0 {
		burst = max(1, int(math.Ceil(rl.PerSecond)))
	}
	return &keyedLimiter{
		rate: rate.Limit(rl.PerSecond), burst: burst, max: keyedLimiterMax,
		per: make(map[string]*rate.Limiter), overflow: rate.NewLimiter(rate.Limit(rl.PerSecond), burst),
	}
}

// bucket is key's bucket, made when missing.
func (l *keyedLimiter) bucket(key string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lim, ok := l.per[key]; ok {
		return lim
	}
	if len(l.per) >= l.max {
		// A full bucket is one nobody has used for a while: forgetting it
		// changes nothing, since a new one starts full too. One sweep a
		// second at most, so a flood of new keys cannot make every request
		// walk the map.
		if now.Sub(l.swept) >= time.Second {
			l.swept = now
			for k, lim := range l.per {
				if lim.TokensAt(now) >= float64(l.burst) {
					delete(l.per, k)
				}
			}
		}
		if len(l.per) >= l.max {
			return l.overflow
		}
	}
	lim := rate.NewLimiter(l.rate, l.burst)
	l.per[key] = lim
	return lim
}

// take is how long key must wait before its next request; 0 means it is
// allowed now and its token is taken. Refused requests take nothing.
func (l *keyedLimiter) take(key string, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	r := l.bucket(key, now).ReserveN(now, 1)
	if !r.OK() {
		return time.Second
	}
	d := r.DelayFrom(now)
	if d > 0 {
		r.CancelAt(now)
	}
	return d
}

// empty is how long until key's bucket holds a whole token again; 0 when it
// does now. It takes nothing.
func (l *keyedLimiter) empty(key string, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	tokens := l.bucket(key, now).TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(l.rate) * float64(time.Second))
}

// spend takes a token from key's bucket if it has one.
func (l *keyedLimiter) spend(key string, now time.Time) {
	if l == nil {
		return
	}
	l.bucket(key, now).AllowN(now, 1)
}

// rateLimited is the 429 every limit answers; scope names the limit.
func rateLimited(scope string, after time.Duration) error {
	return &retryAfterError{
		err:   paygate.Errorf(paygate.ERateLimited, "too many requests; retry after the time in Retry-After"),
		after: after,
		scope: scope,
	}
}

// ipKey is the bucket key of a client address: the address itself, or for
// IPv6 its /64, since one host commonly holds a whole /64.
func ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
