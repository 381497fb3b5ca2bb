package httpapi

import (
	"sync"
	"time"

	"github.com/paygate/paygate"
)

// DefaultMerchantCacheTTL is how long a merchant looked up by access key is
// reused, found or not: a merchant disabled, deleted or given a new secret
// by another process is seen within this long. A change made through this
// process's Server.ForgetMerchant is seen at once, and a new secret as soon
// as a request signed with it comes (see Server.refreshMerchant). Without
// the cache every request, forged or not, costs a database lookup and the
// decryption of the secrets.
const DefaultMerchantCacheTTL = 10 * time.Second

// merchantCacheMax bounds each of the cache's two maps (found and unknown
// keys); past it, expired entries are dropped, and if none has expired the
// new one is not kept.
const merchantCacheMax = 10_000

// merchantCache keeps merchants by access key for a short ttl, and keys
// that name no merchant likewise. The secrets live only in this process's
// memory, as they do during a request; nothing here is logged.
type merchantCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	known   map[string]cachedMerchant
	unknown map[string]time.Time // access key → expiry
	swept   time.Time            // the last sweep of expired entries
}

type cachedMerchant struct {
	m       paygate.Merchant
	expires time.Time
	fetched time.Time // when it was read, or last claimed for a refresh
}

// merchantRefreshAfter is how long a cached merchant is trusted before a
// request it refuses (a signature under another secret) may look it up
// again: at most one lookup a second per key.
const merchantRefreshAfter = time.Second

// newMerchantCache returns a cache, or nil (no caching) when ttl < 0.
func newMerchantCache(ttl time.Duration) *merchantCache {
	if ttl < 0 {
		return nil
	}
	if ttl == 0 {
		ttl = DefaultMerchantCacheTTL
	}
	return &merchantCache{ttl: ttl, known: map[string]cachedMerchant{}, unknown: map[string]time.Time{}}
}

// get reports what the cache knows of key at now: cached is false when it
// knows nothing; otherwise m is the merchant, or nil for an unknown key.
// The merchant is a copy the caller may keep.
func (c *merchantCache) get(key string, now time.Time) (m *paygate.Merchant, cached bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.known[key]; ok && now.Before(e.expires) {
		cp := e.m
		return &cp, true
	}
	if exp, ok := c.unknown[key]; ok && now.Before(exp) {
		return nil, true
	}
	return nil, false
}

// put records the merchant found for key, or (m nil) that there is none.
func (c *merchantCache) put(key string, m *paygate.Merchant, now time.Time) {
	if c == nil {
		return
	}
	exp := now.Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if m == nil {
		delete(c.known, key)
		if room(c, c.unknown, now, func(e time.Time) time.Time { return e }) {
			c.unknown[key] = exp
		}
		return
	}
	delete(c.unknown, key)
	if room(c, c.known, now, func(e cachedMerchant) time.Time { return e.expires }) {
		c.known[key] = cachedMerchant{m: *m, expires: exp, fetched: now}
	}
}

// claimRefresh reports whether the merchant cached for key may be looked up
// again at now (cached at least merchantRefreshAfter ago), and if so marks
// it fetched now, so that concurrent requests make one lookup between them.
func (c *merchantCache) claimRefresh(key string, now time.Time) bool {
	if c == nil {
		return false // without a cache every request reads the store
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.known[key]
	if !ok || now.Sub(e.fetched) < merchantRefreshAfter {
		return false
	}
	e.fetched = now
	c.known[key] = e
	return true
}

// forget drops whatever the cache holds for key.
func (c *merchantCache) forget(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.known, key)
	delete(c.unknown, key)
}

// room makes room in m for one more entry by dropping expired ones (one
// sweep a second at most, so a flood of new keys cannot make every request
// walk the map), and reports whether there is room.
func room[V any](c *merchantCache, m map[string]V, now time.Time, expires func(V) time.Time) bool {
	if len(m) < merchantCacheMax {
		return true
	}
	if now.Sub(c.swept) >= time.Second {
		c.swept = now
		for k, v := range m {
			if !now.Before(expires(v)) {
				delete(m, k)
			}
		}
	}
	return len(m) < merchantCacheMax
}
