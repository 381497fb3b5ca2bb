// Package simfault holds what the payment simulators' fault injection
// shares: seeded dice, notification retry schedules and range checks of
// fault values. alipaysim and wechatpaysim each map the common fault keys to
// their own protocol's forms.
package simfault

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// MaxLatency bounds latency and notification delay faults, so a typo cannot
// stall a test run for hours.
const MaxLatency = 10 * time.Minute

// Dice rolls fault probabilities from a seeded source, so a run with a fixed
// seed injects the same faults in the same order. It is safe for concurrent
// use.
type Dice struct {
	mu  sync.Mutex
	rng *rand.Rand
}

// NewDice seeds dice with seed; 0 picks a random seed.
func NewDice(seed int64) *Dice {
	if seed == 0 {
		return &Dice{rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	}
	return &Dice{rng: rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))}
}

// Roll reports true with probability p: never for p <= 0, always for p >= 1.
func (d *Dice) Roll(p float64) bool {
	if p <= 0 {
		return false
	}
	if p >= 1 {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rng.Float64() < p
}

// UpTo returns a random duration in [0, ms] milliseconds.
func (d *Dice) UpTo(ms int) time.Duration {
	if ms <= 0 {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return time.Duration(d.rng.Int64N(int64(ms)*int64(time.Millisecond) + 1))
}

// ParseSchedule reads a notify_schedule such as "1s,2s,4s": the delays
// between deliveries, each between 1ns and 48h. An empty s is def.
func ParseSchedule(s string, def []time.Duration) ([]time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return def, nil
	}
	var out []time.Duration
	for part := range strings.SplitSeq(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 || d > 48*time.Hour {
			return nil, fmt.Errorf("faults: notify_schedule %q: %q is not a duration between 1ns and 48h (like \"1s,2s,4s\")", s, part)
		}
		out = append(out, d)
	}
	return out, nil
}

// Rate is a named probability fault value.
type Rate struct {
	Name  string
	Value float64
}

// Delay is a named millisecond fault value.
type Delay struct {
	Name string
	MS   int
}

// Check refuses a rate outside [0, 1] (or NaN) and a delay outside 0 to
// MaxLatency, naming the key.
func Check(rates []Rate, delays []Delay) error {
	for _, r := range rates {
		if !(r.Value >= 0 && r.Value <= 1) { // also rejects NaN
			return fmt.Errorf("faults: %s is %v; want a probability in [0, 1]", r.Name, r.Value)
		}
	}
	for _, d := range delays {
		if d.MS < 0 || time.Duration(d.MS)*time.Millisecond > MaxLatency {
			return fmt.Errorf("faults: %s is %d; want 0 to %d", d.Name, d.MS, MaxLatency.Milliseconds())
		}
	}
	return nil
}
