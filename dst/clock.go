package dst

import (
	"context"
	"sync"
	"time"
)

// Clock is virtual time shared by the gateway, the simulator and the store:
// it moves only when Advance or Sleep moves it, so a run does not depend on
// how fast the machine is.
type Clock struct {
	mu      sync.Mutex
	t       time.Time
	onSleep func(d time.Duration)
}

// NewClock starts at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the virtual time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// OnSleep sets fn to run at every Sleep, after the clock moved: the point
// where "concurrent" work gets its turn while a caller waits.
func (c *Clock) OnSleep(fn func(d time.Duration)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onSleep = fn
}

// Sleep is gateway.Config.Sleep on virtual time: it advances the clock by d
// at once, runs the OnSleep hook, and fails only if ctx has ended.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	c.mu.Lock()
	fn := c.onSleep
	c.mu.Unlock()
	if fn != nil {
		fn(d)
	}
	return ctx.Err()
}
