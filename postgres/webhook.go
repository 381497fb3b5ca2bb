package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/paygate/paygate"
)

// Page sizes for ListEvents.
const (
	defaultEventLimit = 20
	maxEventLimit     = 500
)

// ListEvents returns the events f selects, newest first: by creation time,
// then by ID, below the cursor (f.BeforeCreatedAt, f.BeforeID) when it is
// set; or, following (f.AfterCreatedAt set), oldest first above
// (f.AfterCreatedAt, f.AfterID). f.Limit is clamped to [1, 500]; 0 means 20.
func (s *Store) ListEvents(ctx context.Context, f paygate.EventFilter) ([]*paygate.Event, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.MerchantID != 0 {
		where = append(where, "merchant_id = "+arg(f.MerchantID))
	}
	if f.Type != "" {
		where = append(where, "type = "+arg(f.Type))
	}
	if f.Undelivered || f.Delivery != "" {
		where = append(where, "delivered_at IS NULL")
	}
	switch f.Delivery {
	case paygate.DeliveryRetrying:
		where = append(where, "dead_at IS NULL")
	case paygate.DeliveryDead:
		where = append(where, "dead_at IS NOT NULL")
	}
	order := ` ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT `
	switch {
	case !f.AfterCreatedAt.IsZero():
		where = append(where, "(created_at, id COLLATE \"C\") > ("+arg(norm(f.AfterCreatedAt))+", "+arg(f.AfterID)+" COLLATE \"C\")")
		order = ` ORDER BY created_at, id COLLATE "C" LIMIT `
	case !f.BeforeCreatedAt.IsZero() || f.BeforeID != "":
		// COLLATE "C": IDs compare bytewise, as in SQLite, whatever the
		// database's collation.
		where = append(where, "(created_at, id COLLATE \"C\") < ("+arg(norm(f.BeforeCreatedAt))+", "+arg(f.BeforeID)+" COLLATE \"C\")")
	}
	q := `SELECT ` + eventColumns + ` FROM events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += order + arg(eventLimit(f.Limit))
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, dbError(err, "list events")
	}
	defer rows.Close()
	events := []*paygate.Event{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, dbError(err, "list events")
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "list events")
	}
	return events, nil
}

// eventLimit is the page size ListEvents uses for a requested limit.
func eventLimit(limit int) int {
	switch {
	case limit == 0:
		return defaultEventLimit
	case limit < 1:
		return 1
	case limit > maxEventLimit:
		return maxEventLimit
	}
	return limit
}

// RecordWebhookAttempt inserts a and updates its event's delivery state in
// one transaction; see paygate.WebhookStore.
func (s *Store) RecordWebhookAttempt(ctx context.Context, a *paygate.WebhookAttempt) error {
	a.At = orNow(a.At, s.now)
	what := "event " + a.EventID
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE events SET attempts = attempts + 1,
    delivered_at = CASE WHEN $1 THEN coalesce(delivered_at, $2) ELSE delivered_at END,
    dead_at = CASE WHEN $1 THEN NULL ELSE dead_at END
WHERE id = $3`, a.Success, a.At, a.EventID)
		if err := affected(tag, err, what); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO webhook_attempts (event_id, at, url, status_code, latency_us, excerpt, success)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			a.EventID, a.At, a.URL, a.StatusCode, a.Latency.Microseconds(), a.Excerpt, a.Success).Scan(&a.ID)
		if err != nil {
			return dbError(err, "webhook attempt of "+what)
		}
		return nil
	})
}

// MarkEventDead dead-letters an undelivered event; see paygate.WebhookStore.
func (s *Store) MarkEventDead(ctx context.Context, eventID string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE events SET dead_at = $1 WHERE id = $2 AND delivered_at IS NULL`,
		orNow(at, s.now), eventID)
	if err != nil {
		return dbError(err, "event "+eventID)
	}
	if tag.RowsAffected() == 0 {
		_, err := s.EventByID(ctx, eventID) // delivered (left alone), or missing
		return err
	}
	return nil
}

// ReviveEvent makes an event due for delivery again; see
// paygate.WebhookStore.
func (s *Store) ReviveEvent(ctx context.Context, eventID string) error {
	return reviveEvent(ctx, s.pool, eventID)
}

// ReviveEvent is Store.ReviveEvent within the transaction
// (paygate.WebhookTx).
func (t *Tx) ReviveEvent(ctx context.Context, eventID string) error {
	return reviveEvent(ctx, t.tx, eventID)
}

var _ paygate.WebhookTx = (*Tx)(nil)

func reviveEvent(ctx context.Context, q querier, eventID string) error {
	tag, err := q.Exec(ctx, `UPDATE events SET dead_at = NULL, delivered_at = NULL WHERE id = $1`, eventID)
	return affected(tag, err, "event "+eventID)
}

// WebhookAttempts lists an event's attempts, oldest first.
func (s *Store) WebhookAttempts(ctx context.Context, eventID string) ([]*paygate.WebhookAttempt, error) {
	what := "webhook attempts of event " + eventID
	rows, err := s.pool.Query(ctx, `SELECT id, event_id, at, url, status_code, latency_us, excerpt, success
FROM webhook_attempts WHERE event_id = $1 ORDER BY id`, eventID)
	if err != nil {
		return nil, dbError(err, what)
	}
	defer rows.Close()
	attempts := []*paygate.WebhookAttempt{}
	for rows.Next() {
		var a paygate.WebhookAttempt
		var latency int64
		if err := rows.Scan(&a.ID, &a.EventID, timeCol{&a.At}, &a.URL, &a.StatusCode, &latency, &a.Excerpt, &a.Success); err != nil {
			return nil, dbError(err, what)
		}
		a.Latency = time.Duration(latency) * time.Microsecond
		attempts = append(attempts, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, what)
	}
	return attempts, nil
}

// affected turns an UPDATE's result into ENotFound when it touched no row.
func affected(tag pgconn.CommandTag, err error, what string) error {
	if err != nil {
		return dbError(err, what)
	}
	if tag.RowsAffected() == 0 {
		return paygate.Errorf(paygate.ENotFound, "%s not found", what)
	}
	return nil
}
