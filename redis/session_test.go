package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/paygate/paygate/redis"
)

// TestSessionRevocations: a revoked session is known to every client of
// the same Redis until its expiry, then forgotten by Redis itself.
func TestSessionRevocations(t *testing.T) {
	t.Parallel()
	_, client, prefix := setup(t)
	ctx := context.Background()
	a := redis.NewSessionRevocations(client, prefix+"revoked:")
	b := redis.NewSessionRevocations(client, prefix+"revoked:") // another replica
	if r, err := b.Revoked(ctx, "sid-1"); err != nil || r {
		t.Fatalf("fresh session: %v, %v", r, err)
	}
	if err := a.Revoke(ctx, "sid-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(ctx, "sid-short", time.Now().Add(1500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"sid-1", "sid-short"} {
		if r, err := b.Revoked(ctx, id); err != nil || !r {
			t.Fatalf("%s on the other replica: %v, %v", id, r, err)
		}
	}
	if r, _ := b.Revoked(ctx, "sid-2"); r {
		t.Fatal("an unrelated session is revoked")
	}
	ttl, err := client.PTTL(ctx, prefix+"revoked:sid-1").Result()
	if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("the key expires in %v (%v), want about an hour: with the session", ttl, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if r, _ := b.Revoked(ctx, "sid-short"); !r {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the revocation outlived its session by seconds")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// An error is an error, never "not revoked".
	closed := redis.NewSessionRevocations(client, prefix)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := closed.Revoked(cctx, "sid-1"); err == nil {
		t.Fatal("Revoked on a cancelled context returned no error")
	}
}
