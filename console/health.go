package console

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/paygate/paygate"
)

// Health is what the health page reads about the node it runs on. The
// node (cmd/paygate) wires it from the same checks as /readyz, its channel
// breakers, River's queue and its build; the console imports none of them.
// A part left nil or empty is shown as not wired, never as healthy.
type Health struct {
	// Checks are /readyz's checks, each of a store the node needs (the
	// database; Redis when configured).
	Checks []HealthCheck
	// Breakers are the channel's circuit breakers, one per account.
	Breakers []Breaker
	// Queue reads how many background jobs of each kind are in each
	// state.
	Queue func(ctx context.Context) ([]QueueDepth, error)
	// Webhooks reads how many events wait for delivery (neither delivered
	// nor dead-lettered) and how many are dead-lettered.
	Webhooks func(ctx context.Context) (backlog, dead int64, err error)
	// Draining reports whether the node is shutting down (then /readyz
	// is 503 whatever the checks say).
	Draining func() bool
	// Version is the running build; Started is when the node started.
	Version string
	Started time.Time
}

// HealthCheck is one readiness check: Check fails when the store does not
// answer.
type HealthCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Breaker is a circuit breaker: State is "closed", "half-open" or "open".
type Breaker struct {
	Name  string
	State func() string
}

// QueueDepth is how many jobs of a kind are in each unfinished state.
type QueueDepth struct {
	Kind                                                string
	Available, Running, Retryable, Scheduled, Discarded int64
}

// healthCheckTimeout bounds each check, as /readyz bounds its own.
const healthCheckTimeout = time.Second

// tookMS is a check's time in whole milliseconds, "<1 ms" below one.
func tookMS(d time.Duration) string {
	if d < time.Millisecond {
		return "<1 ms"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
}

// checkFailure says why a check failed, in words safe to show: the domain
// message of a store's error, else only that it failed (the driver's
// error, which may name addresses, goes to the log).
func checkFailure(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer within " + healthCheckTimeout.String()
	case paygate.ErrorCode(err) != paygate.EInternal:
		return paygate.ErrorMessage(err)
	}
	return "it failed (the node's log says why)"
}

// healthPage is the node's health.
func (c *Console) healthPage() page {
	return page{Nav: "Health", Path: "/dashboard/health", Routes: func(r *router) {
		r.Get("/dashboard/health", c.health)
	}}
}

// healthView is the page's data. Each part says whether it is wired and,
// when reading it failed, why.
type healthView struct {
	Ready     bool // every check passed and the node is not draining
	Draining  bool
	Checks    []checkResult
	Breakers  []breakerState
	Queue     []QueueDepth
	QueueErr  string
	HasQueue  bool
	Backlog   int64
	Dead      int64
	HookErr   string
	HasHooks  bool
	Version   string
	Started   time.Time
	Uptime    string
	CheckedAt time.Time
}

type checkResult struct {
	Name  string
	OK    bool
	Error string
	Took  string // how long it took to answer, in ms ("<1 ms")
}

type breakerState struct {
	Name, State string
}

// health runs every check now and shows the node's state.
func (c *Console) health(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	h := c.cfg.Health
	v := healthView{Ready: len(h.Checks) > 0, Version: h.Version, Started: h.Started, CheckedAt: c.now()}
	for _, chk := range h.Checks {
		cctx, cancel := context.WithTimeout(ctx, healthCheckTimeout)
		start := time.Now()
		err := chk.Check(cctx)
		cancel()
		res := checkResult{Name: chk.Name, OK: err == nil, Took: tookMS(time.Since(start))}
		if err != nil {
			res.Error, v.Ready = checkFailure(err), false
			c.log.WarnContext(ctx, "console: health check failed", "check", chk.Name, "err", err)
		}
		v.Checks = append(v.Checks, res)
	}
	if h.Draining != nil && h.Draining() {
		v.Draining, v.Ready = true, false
	}
	for _, b := range h.Breakers {
		v.Breakers = append(v.Breakers, breakerState{Name: b.Name, State: b.State()})
	}
	var err error
	if h.Queue != nil {
		v.HasQueue = true
		if v.Queue, err = h.Queue(ctx); err != nil {
			v.QueueErr = checkFailure(err)
			c.log.WarnContext(ctx, "console: reading the queue failed", "err", err)
		}
	}
	if h.Webhooks != nil {
		v.HasHooks = true
		if v.Backlog, v.Dead, err = h.Webhooks(ctx); err != nil {
			v.HookErr = checkFailure(err)
			c.log.WarnContext(ctx, "console: reading the webhook backlog failed", "err", err)
		}
	}
	if !h.Started.IsZero() {
		v.Uptime = c.now().Sub(h.Started).Round(time.Second).String()
	}
	c.render(w, r, s, http.StatusOK, "health", v)
	return nil
}
