package httpapi

import (
	"testing"
	"time"
)

func TestKeyedLimiterBounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := newKeyedLimiter(RateLimit{PerSecond: 1, Burst: 1})
	l.max = 2
	for _, k := range []string{"a", "b"} {
		if d := l.take(k, now); d != 0 {
			t.Fatalf("%s: first request waits %v", k, d)
		}
	}
	// Full of busy buckets: new keys share the overflow bucket.
	if d := l.take("c", now); d != 0 {
		t.Fatalf("c: %v", d)
	}
	if d := l.take("d", now); d == 0 {
		t.Fatal("d did not share c's overflow bucket")
	}
	if len(l.per) != 2 {
		t.Fatalf("buckets = %d, want 2", len(l.per))
	}
	// Once a and b are idle (full again), they are forgotten for new keys.
	now = now.Add(2 * time.Second)
	if d := l.take("e", now); d != 0 {
		t.Fatalf("e: %v", d)
	}
	if _, ok := l.per["e"]; !ok || len(l.per) != 1 {
		t.Fatalf("buckets = %v, want e's alone", l.per)
	}
}

func TestMerchantCacheBounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newMerchantCache(time.Second)
	for i := range merchantCacheMax + 10 {
		c.put(string(rune('a'+i%26))+time.Duration(i).String(), nil, now)
	}
	if len(c.unknown) != merchantCacheMax {
		t.Fatalf("unknown keys held = %d, want the limit %d", len(c.unknown), merchantCacheMax)
	}
	now = now.Add(time.Second)
	c.put("late", nil, now)
	if len(c.unknown) != 1 {
		t.Fatalf("after expiry: %d held, want 1", len(c.unknown))
	}
}

func TestIPKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"203.0.113.7":          "203.0.113.7",
		"::ffff:203.0.113.7":   "203.0.113.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"not an address":       "not an address",
	} {
		if got := ipKey(in); got != want {
			t.Errorf("ipKey(%q) = %q, want %q", in, got, want)
		}
	}
}
