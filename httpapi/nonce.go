package httpapi

import (
	"context"
	"sync"
	"time"

	"github.com/paygate/paygate"
)

// DefaultNonceLimit bounds MemoryNonces: at the default tolerance nonces are
// kept 10 minutes, so this allows about 1,600 requests a second per node
// before the oldest are forgotten early.
const DefaultNonceLimit = 1_000_000

// MemoryNonces is a paygate.NonceCache in this process's memory, for a
// single node (replicas share the Redis one instead). Expired nonces are
// pruned as new ones arrive, with no goroutine to stop; when the limit is
// reached the oldest nonce is forgotten before its time, which reopens its
// request to replay only if the request is also within the timestamp
// tolerance.
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
	if now == nil {
		now = time.Now
	}
	return &MemoryNonces{now: now, limit: DefaultNonceLimit, seen: make(map[nonceKey]time.Time)}
}

// Seen records nonce for ttl and reports whether it was already recorded and
// not yet expired. It is atomic: of concurrent calls with the same nonce
// exactly one reports false.
func (m *MemoryNonces) Seen(_ context.Context, merchantID int64, nonce string, ttl time.Duration) (bool, error) {
	now := m.now()
	k := nonceKey{merchantID, nonce}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prune(now)
	if exp, ok := m.seen[k]; ok && now.Before(exp) {
		return true, nil
	}
	for len(m.seen) >= m.limit && m.popOldest() {
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
