package sqlite

import (
	"context"
	"strings"

	"github.com/paygate/paygate"
)

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
