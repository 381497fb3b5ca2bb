package httpapi

import (
	"context"
	"sync"
	"time"

	"github.com/paygate/paygate"
)

// DefaultNonceLimit bounds MemoryNonces: at the default tolerance a nonce
// is kept about 5 minutes (10 at most), so this allows some 3,000 requests a
// second per node; past it requests are refused until nonces expire.
const DefaultNonceLimit = 1_000_000

// MemoryNonces is a paygate.NonceCache in this process's memory, for a
// single node (replicas share the Redis one instead). Expired nonces are
// pruned as new ones arrive, with no goroutine to stop. When the limit is
// reached, new nonces are refused (429 with Retry-After) rather than older
// ones forgotten early: forgetting would reopen another merchant's request
// to replay.
type MemoryNonces struct {
	now   func() time.Time
	limit int

	mu    sync.Mutex
	seen  map[nonceKey]time.Time // nonce → expiry
	order []nonceEntry           // insertion order, oldest first from head
	head  int
}

type nonceKey struct {
	merchantID int64
	nonce      string
}

type nonceEntry struct {
	key     nonceKey
	expires time.Time
}

var _ paygate.NonceCache = (*MemoryNonces)(nil)

// NewMemoryNonces returns an empty cache on the given clock (nil: time.Now)
// holding at most DefaultNonceLimit nonces.
func NewMemoryNonces(now func() time.Time) *MemoryNonces {
	return NewMemoryNoncesLimit(now, DefaultNonceLimit)
}

// NewMemoryNoncesLimit is NewMemoryNonces holding at most limit nonces
// (limit <= 0: DefaultNonceLimit).
func NewMemoryNoncesLimit(now func() time.Time, limit int) *MemoryNonces {
	if now == nil {
		now = time.Now
	}
	if limit <= 0 {
		limit = DefaultNonceLimit
	}
	return &MemoryNonces{now: now, limit: limit, seen: make(map[nonceKey]time.Time)}
}

// Seen records nonce for ttl and reports whether it was already recorded and
// not yet expired. It is atomic: of concurrent calls with the same nonce
// exactly one reports false. When the cache holds its limit it records
// nothing and returns a RATE_LIMITED error.
func (m *MemoryNonces) Seen(_ context.Context, merchantID int64, nonce string, ttl time.Duration) (bool, error) {
	now := m.now()
	k := nonceKey{merchantID, nonce}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prune(now)
	if exp, ok := m.seen[k]; ok && now.Before(exp) {
		return true, nil
	}
	if len(m.seen) >= m.limit {
		after := time.Second
		if m.head < len(m.order) {
			after = max(after, m.order[m.head].expires.Sub(now))
		}
		return false, &retryAfterError{
			err:   paygate.Errorf(paygate.ERateLimited, "this node holds as many recent requests as it can; retry after the time in Retry-After"),
			after: after,
		}
	}
	exp := now.Add(ttl)
	m.seen[k] = exp
	m.order = append(m.order, nonceEntry{k, exp})
	return false, nil
}

// Len is the number of nonces held, expired ones not yet pruned included.
func (m *MemoryNonces) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}

// prune forgets nonces from the oldest on while they have expired. With one
// ttl for every nonce (the server's), insertion order is expiry order.
func (m *MemoryNonces) prune(now time.Time) {
	for m.head < len(m.order) && !now.Before(m.order[m.head].expires) {
		m.popOldest()
	}
}

// popOldest forgets the oldest entry, if it is still current (a nonce seen
// again after it expired has a newer entry). It reports whether any entry
// was left to pop.
func (m *MemoryNonces) popOldest() bool {
	if m.head >= len(m.order) {
		return false
	}
	e := m.order[m.head]
	m.order[m.head] = nonceEntry{}
	m.head++
	if exp, ok := m.seen[e.key]; ok && exp.Equal(e.expires) {
		delete(m.seen, e.key)
	}
	// Reclaim the consumed front once it is most of the slice.
	if m.head > 1024 && m.head*2 > len(m.order) {
		m.order = append(m.order[:0:0], m.order[m.head:]...)
		m.head = 0
	}
	return true
}
