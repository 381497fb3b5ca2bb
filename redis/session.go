package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/paygate/paygate"
)

// SessionRevocations is the console's list of ended sessions in Redis,
// shared by every replica: one key per session, expiring when the session
// would have, so the list never needs purging.
type SessionRevocations struct {
	client *goredis.Client
	prefix string
}

var _ paygate.SessionRevocations = (*SessionRevocations)(nil)

// NewSessionRevocations returns a revocation list whose keys are prefix +
// the session id (for example prefix "paygate:session:revoked:").
func NewSessionRevocations(client *goredis.Client, prefix string) *SessionRevocations {
	return &SessionRevocations{client: client, prefix: prefix}
}

// Revoke refuses session id until until: SET with an absolute expiry
// (PXAT). A revocation that would already have ended is still written for
// a moment, so a session revoked at its last second is refused too.
func (s *SessionRevocations) Revoke(ctx context.Context, id string, until time.Time) error {
	at := max(until.UnixMilli(), time.Now().Add(time.Second).UnixMilli())
	if err := s.client.Do(ctx, "SET", s.prefix+id, "1", "PXAT", at).Err(); err != nil {
		return fmt.Errorf("redis: revoking a session: %w", err)
	}
	return nil
}

// Revoked reports whether session id was revoked. An error means nothing
// is known: the caller refuses the session.
func (s *SessionRevocations) Revoked(ctx context.Context, id string) (bool, error) {
	n, err := s.client.Exists(ctx, s.prefix+id).Result()
	if err != nil {
		return false, fmt.Errorf("redis: reading the session revocation list: %w", err)
	}
	return n > 0, nil
}
