package postgres

import "context"

// WebhookCounts is how many events wait for delivery (neither delivered
// nor dead-lettered) and how many are dead-lettered, for the metrics.
func (s *Store) WebhookCounts(ctx context.Context) (backlog, dead int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE dead_at IS NULL),
			count(*) FILTER (WHERE dead_at IS NOT NULL)
		FROM events WHERE delivered_at IS NULL`).Scan(&backlog, &dead)
	if err != nil {
		return 0, 0, wrapErr(err, "postgres: webhook counts")
	}
	return backlog, dead, nil
}
