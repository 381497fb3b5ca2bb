// Package redis keeps paygate's shared, short-lived state in Redis: the
// request nonce cache that every replica consults, so a request captured on
// its way to one replica cannot be replayed against another.
package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/paygate/paygate"
)

// Open returns a client for a redis:// or rediss:// URL (for example
// "redis://:password@127.0.0.1:6379/0"). It does not connect: the first
// command does, so a caller that wants to fail fast should Ping.
func Open(url string) (*goredis.Client, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		// The URL may carry a password: say what is wrong, not what it was.
		return nil, fmt.Errorf("redis: parsing URL: %w", err)
	}
	return goredis.NewClient(opt), nil
}

// NonceCache is a paygate.NonceCache in Redis. One key per (merchant, nonce),
// written with SET NX and an expiry, so exactly one of any number of
// concurrent requests on any number of replicas sees a nonce as new.
type NonceCache struct {
	client *goredis.Client
	prefix string
}

var _ paygate.NonceCache = (*NonceCache)(nil)

// NewNonceCache returns a nonce cache whose keys are prefix + "<merchant
// id>:<nonce>" (for example prefix "paygate:nonce:").
func NewNonceCache(client *goredis.Client, prefix string) *NonceCache {
	return &NonceCache{client: client, prefix: prefix}
}

// Seen records nonce for ttl and reports whether it was already recorded.
// It is one SET key 1 NX PX ttl, atomic across replicas. An error means
// nothing is known; the caller must refuse the request.
func (c *NonceCache) Seen(ctx context.Context, merchantID int64, nonce string, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		return false, fmt.Errorf("redis: nonce ttl %v is below Redis's millisecond resolution", ttl)
	}
	key := c.prefix + strconv.FormatInt(merchantID, 10) + ":" + nonce
	err := c.client.Do(ctx, "SET", key, "1", "NX", "PX", ttl.Milliseconds()).Err()
	switch {
	case err == goredis.Nil: // NX refused: the key exists
		return true, nil
	case err != nil:
		return false, fmt.Errorf("redis: recording nonce: %w", err)
	}
	return false, nil
}
