package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/paygate/paygate/redis"
	"github.com/paygate/paygate/testenv"
)

// setup connects to PAYGATE_TEST_REDIS_URL and returns a cache under a
// random prefix, whose keys it deletes at the end.
func setup(t *testing.T) (*redis.NonceCache, *goredis.Client, string) {
	t.Helper()
	url := testenv.Redis(t)
	client, err := redis.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at PAYGATE_TEST_REDIS_URL: %v", err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	prefix := "paygate-test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		keys, _ := client.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			client.Del(context.Background(), keys...)
		}
		client.Close()
	})
	return redis.NewNonceCache(client, prefix), client, prefix
}

func TestNonceSeenTwice(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t)
	ctx := context.Background()
	for i, want := range []bool{false, true, true} {
		seen, err := c.Seen(ctx, 1, "nonce-aaaa", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if seen != want {
			t.Fatalf("call %d: Seen = %v, want %v", i+1, seen, want)
		}
	}
	// Nonces are per merchant.
	if seen, err := c.Seen(ctx, 2, "nonce-aaaa", time.Minute); err != nil || seen {
		t.Fatalf("other merchant: Seen = %v, %v; want false, nil", seen, err)
	}
}

func TestNonceTTLIsSet(t *testing.T) {
	t.Parallel()
	c, client, prefix := setup(t)
	ctx := context.Background()
	if _, err := c.Seen(ctx, 7, "nonce-ttl1", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	ttl, err := client.PTTL(ctx, prefix+"7:nonce-ttl1").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 9*time.Minute || ttl > 10*time.Minute {
		t.Fatalf("PTTL = %v, want just under 10m", ttl)
	}
}

func TestNonceExpires(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t)
	ctx := context.Background()
	if seen, err := c.Seen(ctx, 1, "nonce-expire", 50*time.Millisecond); err != nil || seen {
		t.Fatalf("first Seen = %v, %v", seen, err)
	}
	// Poll rather than sleep a fixed time: Redis expires keys on its own clock.
	deadline := time.Now().Add(5 * time.Second)
	for {
		seen, err := c.Seen(ctx, 1, "nonce-expire", 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if !seen {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("nonce still seen 5 s after its 50 ms ttl")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNonceConcurrent(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t)
	ctx := context.Background()
	var fresh atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			seen, err := c.Seen(ctx, 1, "nonce-race", time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			if !seen {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	if n := fresh.Load(); n != 1 {
		t.Fatalf("%d of 50 concurrent calls saw the nonce as new, want exactly 1", n)
	}
}

func TestNonceRedisDown(t *testing.T) {
	t.Parallel()
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer client.Close()
	c := redis.NewNonceCache(client, "x:")
	if _, err := c.Seen(context.Background(), 1, "nonce-down", time.Minute); err == nil {
		t.Fatal("Seen with Redis unreachable returned no error")
	}
}

func TestOpenRejectsBadURL(t *testing.T) {
	t.Parallel()
	if _, err := redis.Open("http://127.0.0.1:6379"); err == nil {
		t.Fatal("Open accepted an http:// URL")
	}
}
