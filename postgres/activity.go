package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/paygate/paygate"
)

var activityCopyColumns = []string{"id", "order_id", "at", "kind", "name", "outcome", "code", "detail", "latency_us"}

// RecordActivities inserts the batch in one transaction with COPY; see
// paygate.ActivityStore.
func (s *Store) RecordActivities(ctx context.Context, batch []*paygate.OrderActivity) error {
	if len(batch) == 0 {
		return nil
	}
	for _, a := range batch {
		a.At = orNow(a.At, s.now)
		a.Detail = paygate.ActivityDetail(a.Detail)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrapErr(err, "postgres: begin")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	ids, err := copyRows(ctx, tx, "order_activities", activityCopyColumns, len(batch), func(i int, row []any) {
		a := batch[i]
		row[1], row[2], row[3], row[4], row[5] = a.OrderID, a.At, a.Kind, a.Name, a.Outcome
		row[6], row[7], row[8] = a.Code, a.Detail, a.Latency.Microseconds()
	})
	if err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return wrapErr(err, "postgres: commit")
	}
	for i, a := range batch {
		a.ID = ids[i]
	}
	return nil
}

// ActivitiesByOrder lists the order's activities, oldest first.
func (s *Store) ActivitiesByOrder(ctx context.Context, orderID int64) ([]*paygate.OrderActivity, error) {
	what := fmt.Sprintf("activities of order %d", orderID)
	rows, err := s.pool.Query(ctx, `SELECT id, order_id, at, kind, name, outcome, code, detail, latency_us
		FROM order_activities WHERE order_id = $1 ORDER BY at, id`, orderID)
	if err != nil {
		return nil, dbError(err, what)
	}
	defer rows.Close()
	out := []*paygate.OrderActivity{}
	for rows.Next() {
		var a paygate.OrderActivity
		var latency int64
		if err := rows.Scan(&a.ID, &a.OrderID, timeCol{&a.At}, &a.Kind, &a.Name, &a.Outcome, &a.Code, &a.Detail, &latency); err != nil {
			return nil, dbError(err, what)
		}
		a.Latency = time.Duration(latency) * time.Microsecond
		out = append(out, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, what)
	}
	return out, nil
}

// DeleteActivitiesBefore deletes the activities older than before.
func (s *Store) DeleteActivitiesBefore(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM order_activities WHERE at < $1`, norm(before))
	if err != nil {
		return 0, dbError(err, "delete old activities")
	}
	return tag.RowsAffected(), nil
}
