package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/paygate/paygate"
)

const activityColumns = `id, order_id, at, kind, name, outcome, code, detail, latency_us`

// RecordActivities inserts the batch in one transaction with one multi-row
// INSERT per 256 rows; see paygate.ActivityStore.
func (s *Store) RecordActivities(ctx context.Context, batch []*paygate.OrderActivity) error {
	if len(batch) == 0 {
		return nil
	}
	for _, a := range batch {
		a.At = orNow(a.At, s.now)
		a.Detail = paygate.ActivityDetail(a.Detail)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return wrapErr(err, "sqlite: begin")
	}
	defer tx.Rollback()
	first, err := bulkInsert(ctx, tx, "order_activities", activityColumns, len(batch), func(i int, args []any) []any {
		a := batch[i]
		return append(args, a.OrderID, micros(a.At), a.Kind, a.Name, a.Outcome, a.Code, a.Detail, a.Latency.Microseconds())
	})
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return wrapErr(err, "sqlite: commit")
	}
	for i, a := range batch {
		a.ID = first + int64(i)
	}
	return nil
}

// ActivitiesByOrder lists the order's activities, oldest first.
func (s *Store) ActivitiesByOrder(ctx context.Context, orderID int64) ([]*paygate.OrderActivity, error) {
	what := fmt.Sprintf("activities of order %d", orderID)
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+activityColumns+` FROM order_activities WHERE order_id = ? ORDER BY at, id`, orderID)
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
	res, err := s.db.ExecContext(ctx, `DELETE FROM order_activities WHERE at < ?`, micros(before))
	if err != nil {
		return 0, dbError(err, "delete old activities")
	}
	return res.RowsAffected()
}
