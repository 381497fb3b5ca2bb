package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/paygate/paygate"
)

// BeginIdempotent claims (rec.MerchantID, rec.Key) for a request, as
// paygate.IdempotencyRecord describes: it returns (nil, nil) when rec was
// inserted in flight, or took over a record whose lease lapsed at
// rec.CreatedAt, or replaced a done record expired at rec.CreatedAt; else it
// returns the live record unchanged. The insert-or-take-over is one
// conditional upsert: racers queue on the row and each re-checks the
// condition against the winner's row, so exactly one wins. A zero CreatedAt
// is now; LeaseUntil and ExpiresAt must be set.
func (s *Store) BeginIdempotent(ctx context.Context, rec *paygate.IdempotencyRecord) (*paygate.IdempotencyRecord, error) {
	if err := prepareIdempotent(rec, s.now); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("idempotency key %q of merchant %d", rec.Key, rec.MerchantID)
	// A record deleted between the upsert and the read is retried; more than
	// a few rounds would mean a bug, not bad luck.
	for range 3 {
		tag, err := s.pool.Exec(ctx, `
			INSERT INTO idempotency_keys AS k (merchant_id, key, request_hash, done, status, body, created_at, lease_until, expires_at)
			VALUES ($1, $2, $3, false, 0, NULL, $4, $5, $6)
			ON CONFLICT (merchant_id, key) DO UPDATE SET
				request_hash = excluded.request_hash, done = false, status = 0, body = NULL,
				created_at = excluded.created_at, lease_until = excluded.lease_until, expires_at = excluded.expires_at
			WHERE (NOT k.done AND k.lease_until <= excluded.created_at)
			   OR (k.done AND k.expires_at <= excluded.created_at)`,
			rec.MerchantID, rec.Key, rec.RequestHash, rec.CreatedAt, rec.LeaseUntil, rec.ExpiresAt)
		if err != nil {
			return nil, dbError(err, what)
		}
		if tag.RowsAffected() == 1 {
			return nil, nil
		}
		cur, err := s.idempotencyRecord(ctx, rec.MerchantID, rec.Key)
		if paygate.ErrorCode(err) == paygate.ENotFound {
			continue
		}
		return cur, err
	}
	return nil, fmt.Errorf("postgres: %s: record keeps vanishing", what)
}

// prepareIdempotent checks and normalizes a record about to be begun.
func prepareIdempotent(rec *paygate.IdempotencyRecord, now func() time.Time) error {
	if rec.LeaseUntil.IsZero() || rec.ExpiresAt.IsZero() {
		return paygate.Errorf(paygate.EInvalid, "idempotency record needs a lease and an expiry")
	}
	rec.CreatedAt = orNow(rec.CreatedAt, now)
	rec.LeaseUntil, rec.ExpiresAt = norm(rec.LeaseUntil), norm(rec.ExpiresAt)
	rec.Done, rec.Status, rec.Body = false, 0, nil
	return nil
}

func (s *Store) idempotencyRecord(ctx context.Context, merchantID int64, key string) (*paygate.IdempotencyRecord, error) {
	r := paygate.IdempotencyRecord{MerchantID: merchantID, Key: key}
	var status int32
	err := s.pool.QueryRow(ctx, `
		SELECT request_hash, done, status, body, created_at, lease_until, expires_at
		FROM idempotency_keys WHERE merchant_id = $1 AND key = $2`, merchantID, key).
		Scan(&r.RequestHash, &r.Done, &status, &r.Body,
			timeCol{&r.CreatedAt}, timeCol{&r.LeaseUntil}, timeCol{&r.ExpiresAt})
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("idempotency key %q of merchant %d", key, merchantID))
	}
	r.Status = int(status)
	return &r, nil
}

// FinishIdempotent records the first response (rec.Status, rec.Body) on the
// in-flight record with rec's request hash and marks it done; a non-zero
// rec.ExpiresAt replaces the expiry. ENotFound if the record is gone;
// EConflict if it is already done or now belongs to another request (its
// lease lapsed and it was taken over).
func (s *Store) FinishIdempotent(ctx context.Context, rec *paygate.IdempotencyRecord) error {
	what := fmt.Sprintf("idempotency key %q of merchant %d", rec.Key, rec.MerchantID)
	body := rec.Body
	if body == nil {
		body = []byte{}
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE idempotency_keys SET done = true, status = $1, body = $2, expires_at = COALESCE($3, expires_at)
		WHERE merchant_id = $4 AND key = $5 AND NOT done AND request_hash = $6`,
		int32(rec.Status), body, nullTime(rec.ExpiresAt), rec.MerchantID, rec.Key, rec.RequestHash)
	if err != nil {
		return dbError(err, what)
	}
	if tag.RowsAffected() == 0 {
		if _, err := s.idempotencyRecord(ctx, rec.MerchantID, rec.Key); err != nil {
			return err
		}
		return paygate.Errorf(paygate.EConflict, "%s is not in flight for this request", what)
	}
	rec.Done = true
	if !rec.ExpiresAt.IsZero() {
		rec.ExpiresAt = norm(rec.ExpiresAt)
	}
	return nil
}

// DeleteExpiredIdempotency deletes the records, done or not, that expired
// before the given time and returns how many.
func (s *Store) DeleteExpiredIdempotency(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE expires_at < $1`, before)
	if err != nil {
		return 0, dbError(err, "expired idempotency keys")
	}
	return tag.RowsAffected(), nil
}

// ReleaseIdempotent deletes rec's record while it is still in flight under
// rec's own lease.
func (s *Store) ReleaseIdempotent(ctx context.Context, rec *paygate.IdempotencyRecord) error {
	_, err := s.pool.Exec(ctx, `
		DELETE FROM idempotency_keys
		WHERE merchant_id = $1 AND key = $2 AND NOT done AND request_hash = $3 AND lease_until = $4`,
		rec.MerchantID, rec.Key, rec.RequestHash, norm(rec.LeaseUntil))
	if err != nil {
		return dbError(err, fmt.Sprintf("idempotency key %q of merchant %d", rec.Key, rec.MerchantID))
	}
	return nil
}
