package jobs_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/jobs"
)

func TestEndpointKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		merchant int64
		url      string
		want     string
	}{
		{1, "https://Shop.Example/hooks/paygate?x=1", "1 https://shop.example:443"},
		{1, "https://shop.example:443/other/path", "1 https://shop.example:443"},
		{2, "https://shop.example/hooks/paygate", "2 https://shop.example:443"},
		{1, "https://shop.example:8443/a", "1 https://shop.example:8443"},
		{1, "http://shop.example/a", "1 http://shop.example:80"},
		{7, "http://[2001:DB8::1]/a", "7 http://[2001:db8::1]:80"},
		{1, "http://127.1.2.3:9000/", "1 http://127.1.2.3:9000"},
	} {
		if got := jobs.EndpointKey(c.merchant, c.url); got != c.want {
			t.Errorf("EndpointKey(%d, %q) = %q, want %q", c.merchant, c.url, got, c.want)
		}
	}
}

// fakeNow is a settable clock for idleness.
type fakeNow struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeNow) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeNow) Add(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func mustAcquire(t *testing.T, b *jobs.Breakers, key string) func(jobs.Outcome) {
	t.Helper()
	done, err := b.Acquire(context.Background(), key)
	if err != nil {
		t.Fatalf("Acquire(%s): %v", key, err)
	}
	return done
}

func wantErr(t *testing.T, b *jobs.Breakers, key string, want error) {
	t.Helper()
	if _, err := b.Acquire(context.Background(), key); !errors.Is(err, want) {
		t.Fatalf("Acquire(%s) = %v, want %v", key, err, want)
	}
}

func TestBreakerOpensAndHalfOpens(t *testing.T) {
	t.Parallel()
	const key = "https://shop.example"
	// Wait is long: an open circuit must refuse at once, without waiting
	// for a slot, which the deadline of 10 s below shows (no timed bound).
	b := jobs.NewBreakers(jobs.BreakerConfig{Failures: 3, OpenFor: 100 * time.Millisecond, Wait: time.Minute})
	for range 2 {
		mustAcquire(t, b, key)(jobs.Failed)
	}
	mustAcquire(t, b, key)(jobs.Succeeded) // a success resets the count
	for range 3 {
		if st := b.State(key); st != "closed" {
			t.Fatalf("state %s before the third failure in a row", st)
		}
		mustAcquire(t, b, key)(jobs.Failed)
	}
	if st := b.State(key); st != "open" {
		t.Fatalf("state after 3 failures in a row = %s, want open", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.Acquire(ctx, key); !errors.Is(err, jobs.ErrCircuitOpen) {
		t.Fatalf("Acquire on an open circuit = %v, want %v at once", err, jobs.ErrCircuitOpen)
	}
	// Other endpoints are not affected.
	mustAcquire(t, b, "https://other.example")(jobs.Succeeded)

	time.Sleep(120 * time.Millisecond)
	if st := b.State(key); st != "half-open" {
		t.Fatalf("state after OpenFor = %s, want half-open", st)
	}
	probe := mustAcquire(t, b, key)
	wantErr(t, b, key, jobs.ErrCircuitOpen) // one probe at a time
	probe(jobs.Failed)
	if st := b.State(key); st != "open" {
		t.Fatalf("state after a failed probe = %s, want open", st)
	}
	time.Sleep(120 * time.Millisecond)
	mustAcquire(t, b, key)(jobs.Succeeded)
	if st := b.State(key); st != "closed" {
		t.Fatalf("state after a good probe = %s, want closed", st)
	}
}

func TestBreakerBoundsInFlight(t *testing.T) {
	t.Parallel()
	const key = "https://shop.example"
	b := jobs.NewBreakers(jobs.BreakerConfig{Failures: 3, MaxInFlight: 5, Wait: 50 * time.Millisecond})

	// An endpoint not yet proven healthy: Failures at once.
	var dones []func(jobs.Outcome)
	for range 3 {
		dones = append(dones, mustAcquire(t, b, key))
	}
	start := time.Now()
	wantErr(t, b, key, jobs.ErrEndpointBusy)
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("a busy endpoint refused after %v, before waiting for a slot", d)
	}
	// A waiter gets the next free slot.
	got := make(chan error, 1)
	go func() {
		done, err := b.Acquire(context.Background(), key)
		if err == nil {
			done(jobs.Succeeded)
		}
		got <- err
	}()
	time.Sleep(10 * time.Millisecond)
	dones[0](jobs.Succeeded)
	dones[0](jobs.Failed) // a second call is ignored
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("waiter: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter did not get the freed slot within 10 s")
	}
	// A failure leaves one slot fewer: with 1 failure, 2 at once.
	dones[1](jobs.Failed)
	more := mustAcquire(t, b, key)
	wantErr(t, b, key, jobs.ErrEndpointBusy)
	dones[2](jobs.Abandoned) // not counted either way
	more(jobs.Succeeded)

	// Proven healthy (Failures successes in a row): MaxInFlight at once.
	for range 3 {
		mustAcquire(t, b, key)(jobs.Succeeded)
	}
	dones = dones[:0]
	for range 5 {
		dones = append(dones, mustAcquire(t, b, key))
	}
	wantErr(t, b, key, jobs.ErrEndpointBusy)
	for _, d := range dones {
		d(jobs.Succeeded)
	}

	// A cancelled waiter stops waiting.
	for range 5 {
		dones = append(dones, mustAcquire(t, b, key))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Acquire(ctx, key); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Acquire = %v", err)
	}
}

func TestBreakerAbandonedNotCounted(t *testing.T) {
	t.Parallel()
	const key = "https://shop.example"
	b := jobs.NewBreakers(jobs.BreakerConfig{Failures: 2})
	for range 5 {
		mustAcquire(t, b, key)(jobs.Abandoned)
	}
	mustAcquire(t, b, key)(jobs.Failed)
	if st := b.State(key); st != "closed" {
		t.Fatalf("state = %s after abandoned attempts and one failure, want closed", st)
	}
}

func TestBreakerForgetsIdleEndpoints(t *testing.T) {
	t.Parallel()
	clk := &fakeNow{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := jobs.NewBreakers(jobs.BreakerConfig{Failures: 1, MaxEndpoints: 2, IdleAfter: time.Minute, OpenFor: 10 * time.Second, Now: clk.Now})
	mustAcquire(t, b, "https://a.example")(jobs.Failed) // opens a's circuit
	clk.Add(time.Second)
	held := mustAcquire(t, b, "https://b.example")
	clk.Add(time.Second)
	// Full: the least recently used endpoint not in use (a) goes.
	mustAcquire(t, b, "https://c.example")(jobs.Succeeded)
	if n := b.Len(); n != 2 {
		t.Fatalf("%d endpoints tracked, want at most 2", n)
	}
	if st := b.State("https://a.example"); st != "closed" {
		t.Fatalf("a's circuit is %s: a was not the one forgotten", st)
	}
	// b is in use: c goes instead.
	mustAcquire(t, b, "https://d.example")(jobs.Succeeded)
	if n := b.Len(); n != 2 {
		t.Fatalf("%d endpoints tracked, want 2", n)
	}
	held(jobs.Succeeded)
	// Idle past IdleAfter: forgotten at the next sweep.
	clk.Add(2 * time.Minute)
	mustAcquire(t, b, "https://e.example")(jobs.Succeeded)
	if n := b.Len(); n != 1 {
		t.Fatalf("%d endpoints tracked after they went idle, want 1", n)
	}
}

func TestBreakerSaysWhenItHalfOpens(t *testing.T) {
	t.Parallel()
	const key = "1 https://shop.example:443"
	b := jobs.NewBreakers(jobs.BreakerConfig{Failures: 1, OpenFor: time.Minute})
	before := time.Now()
	mustAcquire(t, b, key)(jobs.Failed)
	_, err := b.Acquire(context.Background(), key)
	var open *jobs.CircuitOpenError
	if !errors.As(err, &open) || !errors.Is(err, jobs.ErrCircuitOpen) {
		t.Fatalf("Acquire on an open circuit = %v, want a *CircuitOpenError", err)
	}
	if open.Until.Before(before.Add(time.Minute)) || open.Until.After(time.Now().Add(time.Minute)) {
		t.Fatalf("the circuit half-opens at %v, want OpenFor after it opened (%v)", open.Until, before.Add(time.Minute))
	}
}
