package sqlite

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
// conditional upsert, so of several racers exactly one wins. A zero
// CreatedAt is now; LeaseUntil and ExpiresAt must be set.
func (s *Store) BeginIdempotent(ctx context.Context, rec *paygate.IdempotencyRecord) (*paygate.IdempotencyRecord, error) {
	if err := prepareIdempotent(rec, s.now); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("idempotency key %q of merchant %d", rec.Key, rec.MerchantID)
	// A record deleted between the upsert and the read is retried; more than
	// a few rounds would mean a bug, not bad luck.
	for range 3 {
		res, err := s.db.ExecContext(ctx, `
			INSERT INTO idempotency_keys (merchant_id, key, request_hash, done, status, body, created_at, lease_until, expires_at)
			VALUES (?, ?, ?, 0, 0, NULL, ?, ?, ?)
			ON CONFLICT (merchant_id, key) DO UPDATE SET
				request_hash = excluded.request_hash, done = 0, status = 0, body = NULL,
				created_at = excluded.created_at, lease_until = excluded.lease_until, expires_at = excluded.expires_at
			WHERE (idempotency_keys.done = 0 AND idempotency_keys.lease_until <= excluded.created_at)
			   OR (idempotency_keys.done = 1 AND idempotency_keys.expires_at <= excluded.created_at)`,
			rec.MerchantID, rec.Key, rec.RequestHash,
			micros(rec.CreatedAt), micros(rec.LeaseUntil), micros(rec.ExpiresAt))
		if err != nil {
			return nil, dbError(err, what)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, dbError(err, what)
		}
		if n == 1 {
			return nil, nil
		}
		cur, err := s.idempotencyRecord(ctx, rec.MerchantID, rec.Key)
		if paygate.ErrorCode(err) == paygate.ENotFound {
			continue
		}
		return cur, err
	}
	return nil, fmt.Errorf("sqlite: %s: record keeps vanishing", what)
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
	err := s.db.QueryRowContext(ctx, `
		SELECT request_hash, done, status, body, created_at, lease_until, expires_at
		FROM idempotency_keys WHERE merchant_id = ? AND key = ?`, merchantID, key).
		Scan(&r.RequestHash, &r.Done, &r.Status, &r.Body,
			timeCol{&r.CreatedAt}, timeCol{&r.LeaseUntil}, timeCol{&r.ExpiresAt})
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("idempotency key %q of merchant %d", key, merchantID))
	}
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
	res, err := s.db.ExecContext(ctx, `
		UPDATE idempotency_keys SET done = 1, status = ?, body = ?, expires_at = COALESCE(?, expires_at)
		WHERE merchant_id = ? AND key = ? AND done = 0 AND request_hash = ?`,
		rec.Status, body, nullMicros(rec.ExpiresAt), rec.MerchantID, rec.Key, rec.RequestHash)
	if err != nil {
		return dbError(err, what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbError(err, what)
	}
	if n == 0 {
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
	res, err := s.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE expires_at < ?`, micros(before))
	if err != nil {
		return 0, dbError(err, "expired idempotency keys")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, dbError(err, "expired idempotency keys")
	}
	return n, nil
}

// ReleaseIdempotent deletes rec's record while it is still in flight under
// rec's own lease.
func (s *Store) ReleaseIdempotent(ctx context.Context, rec *paygate.IdempotencyRecord) error {
	_, err := s.db.ExecContext(ctx, `
		DELETE FROM idempotency_keys
		WHERE merchant_id = ? AND key = ? AND done = 0 AND request_hash = ? AND lease_until = ?`,
		rec.MerchantID, rec.Key, rec.RequestHash, micros(rec.LeaseUntil))
	if err != nil {
		return dbError(err, fmt.Sprintf("idempotency key %q of merchant %d", rec.Key, rec.MerchantID))
	}
	return nil
}
