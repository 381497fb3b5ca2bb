package httpapi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestNonces() (*MemoryNonces, *testClock) {
	clk := &testClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	return NewMemoryNonces(clk.Now), clk
}

func TestMemoryNoncesSeenTwice(t *testing.T) {
	t.Parallel()
	n, _ := newTestNonces()
	ctx := context.Background()
	for i, want := range []bool{false, true, true} {
		if seen, err := n.Seen(ctx, 1, "nonce-aaaa", time.Minute); err != nil || seen != want {
			t.Fatalf("call %d: Seen = %v, %v; want %v", i+1, seen, err, want)
		}
	}
	if seen, _ := n.Seen(ctx, 2, "nonce-aaaa", time.Minute); seen {
		t.Fatal("a nonce of merchant 1 was seen for merchant 2")
	}
}

func TestMemoryNoncesExpiry(t *testing.T) {
	t.Parallel()
	n, clk := newTestNonces()
	ctx := context.Background()
	n.Seen(ctx, 1, "nonce-a", time.Minute)
	clk.Add(59 * time.Second)
	if seen, _ := n.Seen(ctx, 1, "nonce-a", time.Minute); !seen {
		t.Fatal("forgotten before its ttl")
	}
	clk.Add(time.Second)
	if seen, _ := n.Seen(ctx, 1, "nonce-a", time.Minute); seen {
		t.Fatal("still seen at its ttl")
	}
	// Seen again, it lives another ttl from now.
	clk.Add(59 * time.Second)
	if seen, _ := n.Seen(ctx, 1, "nonce-a", time.Minute); !seen {
		t.Fatal("re-recorded nonce forgotten early")
	}
}

func TestMemoryNoncesPrunes(t *testing.T) {
	t.Parallel()
	n, clk := newTestNonces()
	ctx := context.Background()
	for i := range 5000 {
		n.Seen(ctx, 1, fmt.Sprintf("nonce-%d", i), time.Minute)
	}
	if n.Len() != 5000 {
		t.Fatalf("Len = %d, want 5000", n.Len())
	}
	clk.Add(time.Minute)
	n.Seen(ctx, 1, "nonce-new", time.Minute)
	if n.Len() != 1 {
		t.Fatalf("Len after expiry = %d, want 1", n.Len())
	}
	if len(n.order)-n.head != 1 {
		t.Fatalf("queue holds %d entries, want 1", len(n.order)-n.head)
	}
}

func TestMemoryNoncesFullRefuses(t *testing.T) {
	t.Parallel()
	n, clk := newTestNonces()
	n.limit = 3
	ctx := context.Background()
	for _, k := range []string{"nonce-1", "nonce-2", "nonce-3"} {
		if seen, err := n.Seen(ctx, 1, k, time.Minute); seen || err != nil {
			t.Fatalf("%s: %v, %v", k, seen, err)
		}
	}
	clk.Add(10 * time.Second)
	// Full: a new nonce is refused, and no older one is forgotten for it.
	_, err := n.Seen(ctx, 2, "nonce-4", time.Minute)
	if paygate.ErrorCode(err) != paygate.ERateLimited {
		t.Fatalf("at the limit: err = %v, want RATE_LIMITED", err)
	}
	var ra *retryAfterError
	if !errors.As(err, &ra) || ra.after != 50*time.Second {
		t.Fatalf("retry after = %+v, want 50s (when the oldest expires)", ra)
	}
	for _, k := range []string{"nonce-1", "nonce-2", "nonce-3"} {
		if seen, err := n.Seen(ctx, 1, k, time.Minute); !seen || err != nil {
			t.Fatalf("%s was forgotten at the limit: %v, %v", k, seen, err)
		}
	}
	if n.Len() != 3 {
		t.Fatalf("Len = %d, want the limit 3", n.Len())
	}
	// Once the old ones expire, there is room again.
	clk.Add(50 * time.Second)
	if seen, err := n.Seen(ctx, 2, "nonce-4", time.Minute); seen || err != nil {
		t.Fatalf("after expiry: %v, %v", seen, err)
	}
}

func TestMemoryNoncesConcurrent(t *testing.T) {
	t.Parallel()
	n, _ := newTestNonces()
	var fresh atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if seen, _ := n.Seen(context.Background(), 1, "nonce-race", time.Minute); !seen {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	if got := fresh.Load(); got != 1 {
		t.Fatalf("%d of 50 concurrent calls saw the nonce as new, want exactly 1", got)
	}
}

func BenchmarkMemoryNonces(b *testing.B) {
	n := NewMemoryNonces(nil)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		n.Seen(ctx, 1, fmt.Sprintf("nonce-%d", i), 10*time.Minute)
	}
}
