package console

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// addrLimiter holds one token bucket per client address (an IPv6 client's
// /64), in this process's memory: with N replicas an address gets up to N
// times the rate, which the per-account lockout (in the store, shared)
// backs up. Past maxAddrs buckets, full (idle) ones are dropped.
type addrLimiter struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	per   map[string]*rate.Limiter
}

const maxAddrs = 10_000

func newAddrLimiter(rl RateLimit) *addrLimiter {
	return &addrLimiter{rate: rate.Limit(rl.PerSecond), burst: max(rl.Burst, 1), per: map[string]*rate.Limiter{}}
}

// take is how long addr must wait; 0 means allowed now (a token taken).
func (l *addrLimiter) take(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	lim, ok := l.per[addr]
	if !ok {
		if len(l.per) >= maxAddrs {
			for k, b := range l.per {
				if b.TokensAt(now) >= float64(l.burst) {
					delete(l.per, k)
				}
			}
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.per[addr] = lim
	}
	l.mu.Unlock()
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

// clientAddr is the client's address: the TCP peer's, or, when the peer
// is a trusted proxy, the rightmost X-Forwarded-For entry that is not a
// trusted proxy itself. IPv6 addresses count by /64.
func (c *Console) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if c.trusted(addr) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			addr = a.Unmap()
			if !c.trusted(addr) {
				break
			}
		}
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

func (c *Console) trusted(a netip.Addr) bool {
	for _, p := range c.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
