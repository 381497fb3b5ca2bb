package console

import (
	"context"
	"time"

	"github.com/paygate/paygate"
)

// StoreRevocations keeps the revocation list in the store: shared by every
// node on the same database. It is the default when Redis is not
// configured.
type StoreRevocations struct {
	Store paygate.OperatorStore
	Now   func() time.Time // default time.Now
}

var _ paygate.SessionRevocations = StoreRevocations{}

// Revoke records the session as revoked until until, and forgets the
// revocations whose sessions have expired meanwhile (logouts are rare, so
// this is where the list is kept short).
func (s StoreRevocations) Revoke(ctx context.Context, jti string, until time.Time) error {
	if err := s.Store.RevokeSession(ctx, jti, until); err != nil {
		return err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	_, err := s.Store.PurgeRevokedSessions(ctx, now())
	return err
}

// Revoked reports whether the session was revoked.
func (s StoreRevocations) Revoked(ctx context.Context, jti string) (bool, error) {
	return s.Store.SessionRevoked(ctx, jti)
}
