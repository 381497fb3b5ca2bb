package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/paygate/paygate"
)

// MigrateUpTo applies the migrations up to version and no further.
func MigrateUpTo(ctx context.Context, db *sql.DB, version int64) error {
	p, err := newProvider(db)
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// MigrateDownTo rolls back the migrations after version.
func MigrateDownTo(ctx context.Context, db *sql.DB, version int64) error {
	p, err := newProvider(db)
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, version)
	return err
}

// SearchOrdersPlan is SQLite's query plan (EXPLAIN QUERY PLAN's details)
// of the statement SearchOrders runs for q.
func (s *Store) SearchOrdersPlan(ctx context.Context, q paygate.OrderSearch) (string, error) {
	query, args := searchOrdersQuery(q)
	rows, err := s.db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			return "", err
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "\n"), rows.Err()
}
