package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Breaker errors: why Acquire let no request through.
var (
	// ErrCircuitOpen: the endpoint failed too often lately; nothing is sent
	// to it until its circuit half-opens.
	ErrCircuitOpen = errors.New("circuit open")
	// ErrEndpointBusy: the endpoint already has as many requests in flight
	// as it may; try again shortly.
	ErrEndpointBusy = errors.New("endpoint busy")
)

// BreakerConfig tunes Breakers. Zero fields take the defaults.
type BreakerConfig struct {
	// Failures is how many failures in a row open an endpoint's circuit;
	// default 5. It also bounds the requests in flight to an endpoint that
	// has not proven healthy, so an endpoint that is dead from the start gets
	// at most Failures requests before its circuit opens.
	Failures int
	// OpenFor is how long a circuit stays open before one probe is let
	// through (half-open); default 30 s.
	OpenFor time.Duration
	// MaxInFlight bounds the requests in flight to an endpoint that has
	// proven healthy (Failures successes in a row); default 8, so that one
	// slow endpoint cannot hold every worker.
	MaxInFlight int
	// Wait is how long Acquire waits for a slot of a busy endpoint before
	// giving up with ErrEndpointBusy; default 1 s.
	Wait time.Duration
	// MaxEndpoints bounds how many endpoints are tracked; default 10,000.
	// Beyond it, idle endpoints are forgotten, least recently used first.
	MaxEndpoints int
	// IdleAfter is how long an endpoint must go unused before it is
	// forgotten; default 10 min (longer than OpenFor).
	IdleAfter time.Duration
	Logger    *slog.Logger
	Now       func() time.Time // for idleness; gobreaker keeps its own clock
}

func (c *BreakerConfig) defaults() {
	if c.Failures <= 0 {
		c.Failures = 5
	}
	if c.OpenFor <= 0 {
		c.OpenFor = 30 * time.Second
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 8
	}
	if c.Wait <= 0 {
		c.Wait = time.Second
	}
	if c.MaxEndpoints <= 0 {
		c.MaxEndpoints = 10_000
	}
	if c.IdleAfter <= 0 {
		c.IdleAfter = 10 * time.Minute
	}
	c.IdleAfter = max(c.IdleAfter, 2*c.OpenFor)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Breakers is a circuit breaker (sony/gobreaker) per webhook endpoint of a
// merchant (EndpointKey), so that one dead merchant endpoint costs a few
// requests and no waiting workers, whatever the number of its events, and
// one merchant's failures never stop another's deliveries. It is safe for
// concurrent use.
type Breakers struct {
	cfg       BreakerConfig
	mu        sync.Mutex
	endpoints map[string]*endpoint
	lastSweep time.Time
}

// endpoint is one endpoint's breaker and its load; guarded by Breakers.mu.
type endpoint struct {
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]
	inFlight int
	waiters  int
	lastUsed time.Time
	freed    chan struct{} // closed (and replaced) whenever a request ends
	// openUntil is when the circuit, opened last, half-opens (gobreaker's
	// clock: time.Now).
	openUntil time.Time
}

// NewBreakers makes an empty set of breakers.
func NewBreakers(cfg BreakerConfig) *Breakers {
	cfg.defaults()
	return &Breakers{cfg: cfg, endpoints: map[string]*endpoint{}, lastSweep: cfg.Now()}
}

// EndpointKey is the breaker key of a merchant's webhook URL: the merchant
// and the URL's scheme, host and port (the default port written out),
// lower-case. The merchant is part of it so that a merchant whose URLs fail
// (on purpose or not) opens only its own circuit, even on a host that
// another merchant's deliveries share. The path is not: a merchant whose
// orders each name another path on a dead host still opens one circuit.
func EndpointKey(merchantID int64, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("%d %s", merchantID, strings.ToLower(rawURL))
	}
	host := u.Host
	if u.Port() == "" {
		switch strings.ToLower(u.Scheme) {
		case "https":
			host = net.JoinHostPort(u.Hostname(), "443")
		case "http":
			host = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	return fmt.Sprintf("%d %s", merchantID, strings.ToLower(u.Scheme+"://"+host))
}

// CircuitOpenError is ErrCircuitOpen with when the circuit half-opens
// (zero when it is half-open already, its one probe in flight).
type CircuitOpenError struct{ Until time.Time }

func (e *CircuitOpenError) Error() string { return ErrCircuitOpen.Error() }

// Is makes a *CircuitOpenError match ErrCircuitOpen.
func (e *CircuitOpenError) Is(target error) bool { return target == ErrCircuitOpen }

// Outcome is how a request to an endpoint went, as its breaker counts it.
type Outcome int

// Outcomes.
const (
	// Succeeded: the endpoint answered well; it closes a half-open circuit.
	Succeeded Outcome = iota
	// Failed: no answer, or a bad one; Failures in a row open the circuit.
	Failed
	// Abandoned: the sender gave up (its node is stopping), which says
	// nothing about the endpoint; it only frees the slot.
	Abandoned
)

// Acquire asks to send one request to the endpoint key. On success the
// caller sends and then calls done exactly once with the outcome. Otherwise
// it fails at once with a *CircuitOpenError (errors.Is ErrCircuitOpen), or with ErrEndpointBusy after
// waiting up to Wait for a slot, or with ctx's error.
func (b *Breakers) Acquire(ctx context.Context, key string) (done func(Outcome), err error) {
	var timer <-chan time.Time
	b.mu.Lock()
	ep := b.endpoint(key)
	for {
		done, err := b.admit(ep)
		if !errors.Is(err, ErrEndpointBusy) {
			b.mu.Unlock()
			return done, err
		}
		if timer == nil {
			t := time.NewTimer(b.cfg.Wait)
			defer t.Stop()
			timer = t.C
		}
		freed := ep.freed
		ep.waiters++
		b.mu.Unlock()
		var stop error
		select {
		case <-freed:
		case <-timer:
			stop = ErrEndpointBusy
		case <-ctx.Done():
			stop = ctx.Err()
		}
		b.mu.Lock()
		ep.waiters--
		if stop != nil {
			b.mu.Unlock()
			return nil, stop
		}
	}
}

// admit lets one request through ep if its circuit and its load allow;
// b.mu is held.
func (b *Breakers) admit(ep *endpoint) (func(Outcome), error) {
	if ep.cb.State() == gobreaker.StateOpen {
		return nil, &CircuitOpenError{Until: ep.openUntil}
	}
	counts := ep.cb.Counts()
	// An endpoint that has not proven healthy gets no more requests at once
	// than failures it may still have before its circuit opens; a healthy
	// one gets MaxInFlight.
	limit := b.cfg.Failures - int(counts.ConsecutiveFailures)
	if int(counts.ConsecutiveSuccesses) >= b.cfg.Failures {
		limit = b.cfg.MaxInFlight
	}
	if ep.inFlight >= limit {
		return nil, ErrEndpointBusy
	}
	cbDone, err := ep.cb.Allow()
	if err != nil { // open, or half-open with its probe in flight
		return nil, &CircuitOpenError{}
	}
	ep.inFlight++
	ep.lastUsed = b.cfg.Now()
	var once sync.Once
	return func(o Outcome) {
		once.Do(func() {
			var err error
			switch o {
			case Failed:
				err = errFailed
			case Abandoned:
				err = errAbandoned
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			cbDone(err)
			ep.inFlight--
			ep.lastUsed = b.cfg.Now()
			close(ep.freed)
			ep.freed = make(chan struct{})
		})
	}, nil
}

var (
	errFailed    = errors.New("webhook attempt failed")
	errAbandoned = errors.New("webhook attempt abandoned")
)

// State is the circuit state of the endpoint key: "closed", "half-open" or
// "open" (an unknown endpoint is closed).
func (b *Breakers) State(key string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ep, ok := b.endpoints[key]; ok {
		return ep.cb.State().String()
	}
	return gobreaker.StateClosed.String()
}

// Len is how many endpoints are tracked.
func (b *Breakers) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.endpoints)
}

// endpoint returns key's endpoint, making it (and making room for it) if
// needed; b.mu is held.
func (b *Breakers) endpoint(key string) *endpoint {
	now := b.cfg.Now()
	if now.Sub(b.lastSweep) >= b.cfg.IdleAfter {
		b.sweep(now)
	}
	if ep, ok := b.endpoints[key]; ok {
		return ep
	}
	if len(b.endpoints) >= b.cfg.MaxEndpoints {
		b.sweep(now)
		b.evictOldest(len(b.endpoints) - b.cfg.MaxEndpoints + 1)
	}
	ep := &endpoint{lastUsed: now, freed: make(chan struct{})}
	ep.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        key,
		MaxRequests: 1,
		Timeout:     b.cfg.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(b.cfg.Failures) },
		IsExcluded:  func(err error) bool { return errors.Is(err, errAbandoned) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			// gobreaker calls this under b.mu: from admit, State and done.
			if to == gobreaker.StateOpen {
				ep.openUntil = time.Now().Add(b.cfg.OpenFor)
			}
			b.cfg.Logger.Warn("webhook endpoint circuit "+to.String(), "endpoint", name, "from", from.String())
		},
	})
	b.endpoints[key] = ep
	return ep
}

// sweep forgets the endpoints unused for IdleAfter.
func (b *Breakers) sweep(now time.Time) {
	b.lastSweep = now
	for key, ep := range b.endpoints {
		if ep.inFlight == 0 && ep.waiters == 0 && now.Sub(ep.lastUsed) >= b.cfg.IdleAfter {
			delete(b.endpoints, key)
		}
	}
}

// evictOldest forgets up to n unused endpoints, least recently used first.
// It is linear in the number of endpoints, and runs only when the map is
// full of endpoints that are not idle.
func (b *Breakers) evictOldest(n int) {
	for ; n > 0; n-- {
		var oldest string
		var at time.Time
		for key, ep := range b.endpoints {
			if ep.inFlight == 0 && ep.waiters == 0 && (oldest == "" || ep.lastUsed.Before(at)) {
				oldest, at = key, ep.lastUsed
			}
		}
		if oldest == "" {
			return // all busy: grow rather than forget a breaker in use
		}
		delete(b.endpoints, oldest)
	}
}
