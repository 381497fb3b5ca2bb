package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/paygate/paygate"
)

// Page sizes of ListMerchants and DeadLetterReasons.
const (
	defaultMerchantLimit = 100
	maxMerchantLimit     = 500
	defaultReasonLimit   = 10
)

// summaryColumns are a merchant's row without its secrets, and its webhook
// backlog, counted on the partial index of undelivered events.
const summaryColumns = `m.id, m.name, m.access_key, m.notify_url, m.created_at, m.updated_at, m.disabled_at,
	m.previous_secret_key_until, m.previous_webhook_secret_until,
	(SELECT count(*) FROM events e WHERE e.merchant_id = m.id AND e.delivered_at IS NULL AND e.dead_at IS NULL),
	(SELECT count(*) FROM events e WHERE e.merchant_id = m.id AND e.delivered_at IS NULL AND e.dead_at IS NOT NULL)`

func scanSummary(row scanner) (*paygate.MerchantSummary, error) {
	m := &paygate.Merchant{}
	s := &paygate.MerchantSummary{Merchant: m}
	err := row.Scan(&m.ID, &m.Name, &m.AccessKey, &m.NotifyURL, timeCol{&m.CreatedAt}, timeCol{&m.UpdatedAt}, timeCol{&m.DisabledAt},
		timeCol{&m.PreviousSecretUntil}, timeCol{&m.PreviousWebhookSecretUntil}, &s.PendingEvents, &s.DeadEvents)
	return s, err
}

// ListMerchants pages merchants newest first, without their secrets; see
// paygate.MerchantAdmin. f.Limit is clamped to [1, 500]; 0 means 100.
func (s *Store) ListMerchants(ctx context.Context, f paygate.MerchantFilter) ([]*paygate.MerchantSummary, error) {
	q, args := `SELECT `+summaryColumns+` FROM merchants m`, []any{}
	if f.BeforeID > 0 {
		q += ` WHERE m.id < ?`
		args = append(args, f.BeforeID)
	}
	args = append(args, clampLimit(f.Limit, defaultMerchantLimit, maxMerchantLimit))
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY m.id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, dbError(err, "list merchants")
	}
	defer rows.Close()
	list := []*paygate.MerchantSummary{}
	for rows.Next() {
		sum, err := scanSummary(rows)
		if err != nil {
			return nil, dbError(err, "list merchants")
		}
		list = append(list, sum)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "list merchants")
	}
	return list, nil
}

// MerchantSummary is one merchant as ListMerchants shows it; ENotFound if
// there is none.
func (s *Store) MerchantSummary(ctx context.Context, merchantID int64) (*paygate.MerchantSummary, error) {
	sum, err := scanSummary(s.db.QueryRowContext(ctx, `SELECT `+summaryColumns+` FROM merchants m WHERE m.id = ?`, merchantID))
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("merchant %d", merchantID))
	}
	return sum, nil
}

// clampLimit is a page size: def for 0, else limit within [1, hi].
func clampLimit(limit, def, hi int) int {
	switch {
	case limit == 0:
		return def
	case limit < 1:
		return 1
	case limit > hi:
		return hi
	}
	return limit
}

// lastAttempt joins each event to its latest webhook attempt.
const lastAttempt = `JOIN webhook_attempts a ON a.id = (SELECT max(w.id) FROM webhook_attempts w WHERE w.event_id = e.id)`

// DeadLetterReasons groups the merchant's dead-lettered events by their
// last attempt; see paygate.MerchantAdmin.
func (s *Store) DeadLetterReasons(ctx context.Context, merchantID int64, limit int) ([]*paygate.DeadLetterReason, error) {
	what := fmt.Sprintf("dead letters of merchant %d", merchantID)
	rows, err := s.db.QueryContext(ctx, `SELECT a.excerpt, a.status_code, a.url = '', count(*), max(e.created_at)
FROM events e `+lastAttempt+`
WHERE e.merchant_id = ? AND e.delivered_at IS NULL AND e.dead_at IS NOT NULL
GROUP BY a.excerpt, a.status_code, a.url = ''
ORDER BY count(*) DESC, max(e.created_at) DESC LIMIT ?`, merchantID, clampLimit(limit, defaultReasonLimit, maxMerchantLimit))
	if err != nil {
		return nil, dbError(err, what)
	}
	defer rows.Close()
	reasons := []*paygate.DeadLetterReason{}
	for rows.Next() {
		var r paygate.DeadLetterReason
		if err := rows.Scan(&r.Excerpt, &r.StatusCode, &r.NoURL, &r.Count, timeCol{&r.Latest}); err != nil {
			return nil, dbError(err, what)
		}
		reasons = append(reasons, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, what)
	}
	return reasons, nil
}

// UnroutedDeadEvents lists dead-lettered events whose last attempt had no
// URL; see paygate.MerchantAdmin.
func (s *Store) UnroutedDeadEvents(ctx context.Context, merchantID int64, since time.Time, limit int) ([]string, error) {
	what := fmt.Sprintf("dead letters of merchant %d", merchantID)
	rows, err := s.db.QueryContext(ctx, `SELECT e.id FROM events e `+lastAttempt+`
WHERE e.merchant_id = ? AND e.delivered_at IS NULL AND e.dead_at IS NOT NULL AND e.created_at >= ? AND a.url = ''
ORDER BY e.created_at, e.id LIMIT ?`, merchantID, micros(since), clampLimit(limit, maxMerchantLimit, 10_000))
	if err != nil {
		return nil, dbError(err, what)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, dbError(err, what)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, what)
	}
	return ids, nil
}

// RotateMerchantSecrets replaces the secrets r names in one transaction
// (BEGIN IMMEDIATE: no other rotation runs between the read of the current
// secrets and their move to the previous columns); see
// paygate.SecretRotation.
func (s *Store) RotateMerchantSecrets(ctx context.Context, merchantID int64, r paygate.SecretRotation) (*paygate.Merchant, error) {
	at := orNow(r.At, s.now)
	return s.updateMerchant(ctx, merchantID, func(m *paygate.Merchant) (string, []any, error) {
		if !r.IfUpdatedAt.IsZero() && !m.UpdatedAt.Equal(norm(r.IfUpdatedAt)) {
			return "", nil, errRotationStale
		}
		sets, args := []string{}, []any{}
		for _, c := range []struct {
			secret, current, column string
			until                   time.Time
			context, prevCtx        func(string) string
		}{
			{r.SecretKey, m.SecretKey, "secret_key", r.SecretKeyGraceUntil, secretKeyContext, previousSecretKeyContext},
			{r.WebhookSecret, m.WebhookSecret, "webhook_secret", r.WebhookSecretGraceUntil, webhookSecretContext, previousWebhookSecretContext},
		} {
			if c.secret == "" {
				continue
			}
			sealed, err := s.sealer.Seal(c.secret, c.context(m.AccessKey))
			if err != nil {
				return "", nil, fmt.Errorf("seal %s: %w", c.column, err)
			}
			prev, until := "", any(nil)
			if norm(c.until).After(at) { // as stored: a grace ending at the rotation is none
				if prev, err = s.sealer.Seal(c.current, c.prevCtx(m.AccessKey)); err != nil {
					return "", nil, fmt.Errorf("seal previous %s: %w", c.column, err)
				}
				until = micros(c.until)
			}
			sets = append(sets, c.column+"_sealed = ?", "previous_"+c.column+"_sealed = ?", "previous_"+c.column+"_until = ?")
			args = append(args, sealed, prev, until)
		}
		return strings.Join(append(sets, "updated_at = ?"), ", "), append(args, micros(at)), nil
	})
}

// SetMerchantDisabled disables or enables the merchant; see
// paygate.MerchantAdmin.
func (s *Store) SetMerchantDisabled(ctx context.Context, merchantID int64, disabled bool, at time.Time) (*paygate.Merchant, error) {
	at = orNow(at, s.now)
	return s.updateMerchant(ctx, merchantID, func(*paygate.Merchant) (string, []any, error) {
		if disabled {
			return "disabled_at = coalesce(disabled_at, ?), updated_at = ?", []any{micros(at), micros(at)}, nil
		}
		return "disabled_at = NULL, updated_at = ?", []any{micros(at)}, nil
	})
}

// SetMerchantNotifyURL sets (or, "", clears) the merchant's webhook URL.
func (s *Store) SetMerchantNotifyURL(ctx context.Context, merchantID int64, url string, at time.Time) (*paygate.Merchant, error) {
	at = orNow(at, s.now)
	return s.updateMerchant(ctx, merchantID, func(*paygate.Merchant) (string, []any, error) {
		return "notify_url = ?, updated_at = ?", []any{url, micros(at)}, nil
	})
}

// updateMerchant reads the merchant, lets set say what to write (a SET
// clause and its arguments), writes it and reads it back, in one
// transaction.
func (s *Store) updateMerchant(ctx context.Context, id int64, set func(m *paygate.Merchant) (string, []any, error)) (*paygate.Merchant, error) {
	what := fmt.Sprintf("merchant %d", id)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrapErr(err, "sqlite: begin")
	}
	defer tx.Rollback()
	m, err := s.merchant(ctx, tx, "id = ?", id, what)
	if err != nil {
		return nil, err
	}
	clause, args, err := set(m)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE merchants SET `+clause+` WHERE id = ?`, append(args, id)...)
	if err := affected(res, err, what); err != nil {
		return nil, err
	}
	if m, err = s.merchant(ctx, tx, "id = ?", id, what); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, wrapErr(err, "sqlite: commit")
	}
	return m, nil
}

// errRotationStale refuses a conditional rotation of a merchant changed
// since (paygate.SecretRotation.IfUpdatedAt).
var errRotationStale = paygate.Errorf(paygate.EConflict,
	"the merchant changed since this rotation was asked for (another rotation, or the same one sent twice): nothing was rotated")
