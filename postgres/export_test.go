package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/paygate/paygate"
)

// CloneOrder inserts n copies of order id, each with its own out_trade_no,
// channel_no and trade_no (and no cashier token), then analyzes orders:
// enough rows for the planner to choose as it would on a real table.
func (s *Store) CloneOrder(ctx context.Context, id int64, n int) error {
	cols := strings.ReplaceAll(strings.TrimPrefix(orderColumns, "id, "), "\n\t", " ")
	sel := strings.NewReplacer("out_trade_no,", "out_trade_no || '_' || g,", "channel_no,", "channel_no || '_' || g,",
		"trade_no,", "'T' || g,", "cashier_token,", "NULL,").Replace(cols)
	if _, err := s.pool.Exec(ctx, `INSERT INTO orders (`+cols+`) SELECT `+sel+
		` FROM orders, generate_series(1, $2) g WHERE id = $1`, id, n); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `ANALYZE orders`)
	return err
}

// SearchOrdersGenericPlan is PostgreSQL's generic plan (the one a prepared
// statement settles on after its first runs) of the statement
// SearchOrders runs for q.
func (s *Store) SearchOrdersGenericPlan(ctx context.Context, q paygate.OrderSearch) (string, error) {
	query, args := searchOrdersQuery(q)
	return s.GenericPlan(ctx, query, args...)
}

// The statements of a paid notification's path, as the store runs them.
const (
	OrderByChannelNoSQL = orderByChannelNoSQL
	OrderForUpdateSQL   = orderForUpdateSQL
	UpdateOrderSQL      = updateOrderSQL
)

// GenericPlan is PostgreSQL's generic plan (the one a prepared statement
// settles on after its first runs) of query for args: EXPLAIN, which runs
// nothing.
func (s *Store) GenericPlan(ctx context.Context, query string, args ...any) (string, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		return "", err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `RESET plan_cache_mode`)
	if _, err := conn.Conn().Prepare(ctx, "generic_plan", query); err != nil {
		return "", err
	}
	defer conn.Conn().Deallocate(context.WithoutCancel(ctx), "generic_plan")
	// EXECUTE takes its parameters as literals.
	params := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case nil:
			params[i] = "NULL"
		case string:
			params[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		case time.Time:
			params[i] = "'" + v.Format(time.RFC3339Nano) + "'::timestamptz"
		default:
			params[i] = fmt.Sprint(v)
		}
	}
	rows, err := conn.Query(ctx, `EXPLAIN EXECUTE generic_plan(`+strings.Join(params, ", ")+`)`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		plan = append(plan, line)
	}
	return strings.Join(plan, "\n"), rows.Err()
}
