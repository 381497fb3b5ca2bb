package sqlite

import (
	"context"
	"database/sql"
)

// WebhookCounts is how many events wait for delivery (neither delivered
// nor dead-lettered) and how many are dead-lettered, for the metrics.
func (s *Store) WebhookCounts(ctx context.Context) (backlog, dead int64, err error) {
	var b, d sql.NullInt64
	err = s.db.QueryRowContext(ctx, `SELECT
			sum(CASE WHEN dead_at IS NULL THEN 1 ELSE 0 END),
			sum(CASE WHEN dead_at IS NOT NULL THEN 1 ELSE 0 END)
		FROM events WHERE delivered_at IS NULL`).Scan(&b, &d)
	if err != nil {
		return 0, 0, wrapErr(err, "sqlite: webhook counts")
	}
	return b.Int64, d.Int64, nil
}
