package sqlite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/paygate/paygate"
)

const eventColumns = `id, merchant_id, order_id, type, payload, created_at, delivered_at, dead_at, attempts`

func scanEvent(sc scanner) (*paygate.Event, error) {
	var e paygate.Event
	if err := sc.Scan(&e.ID, &e.MerchantID, &e.OrderID, &e.Type, &e.Payload, timeCol{&e.CreatedAt},
		timeCol{&e.DeliveredAt}, timeCol{&e.DeadAt}, &e.Attempts); err != nil {
		return nil, err
	}
	return &e, nil
}

// newEventID is "evt_" and 16 random bytes in hex, for events whose caller
// left the ID empty.
func newEventID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return "evt_" + hex.EncodeToString(b)
}

// createEvent inserts e; an empty ID is generated and a zero CreatedAt is
// now. A repeated ID is EConflict.
func createEvent(ctx context.Context, q querier, now func() time.Time, e *paygate.Event) error {
	if e.ID == "" {
		e.ID = newEventID()
	}
	e.CreatedAt = orNow(e.CreatedAt, now)
	payload := e.Payload
	if payload == nil {
		payload = []byte{}
	}
	_, err := q.ExecContext(ctx,
		`INSERT INTO events (id, merchant_id, order_id, type, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		e.ID, e.MerchantID, e.OrderID, e.Type, payload, micros(e.CreatedAt))
	return dbError(err, "event "+e.ID)
}

// EventByID returns one event with its delivery state; ENotFound if none.
func (s *Store) EventByID(ctx context.Context, id string) (*paygate.Event, error) {
	e, err := scanEvent(s.db.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ?`, id))
	if err != nil {
		return nil, dbError(err, "event "+id)
	}
	return e, nil
}

// EventsByOrder returns the order's events with their delivery state,
// oldest first.
func (s *Store) EventsByOrder(ctx context.Context, orderID int64) ([]*paygate.Event, error) {
	what := fmt.Sprintf("events of order %d", orderID)
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+eventColumns+` FROM events WHERE order_id = ? ORDER BY created_at, id`, orderID)
	if err != nil {
		return nil, dbError(err, what)
	}
	defer rows.Close()
	events := []*paygate.Event{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, dbError(err, what)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, what)
	}
	return events, nil
}
