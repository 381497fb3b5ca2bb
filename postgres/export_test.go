package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"

	"github.com/paygate/paygate"
)

// MigrateUpTo applies the migrations up to version and no further.
func MigrateUpTo(ctx context.Context, pool *pgxpool.Pool, version int64) error {
	return withProvider(pool, func(p *goose.Provider) error {
		_, err := p.UpTo(ctx, version)
		return err
	})
}

// MigrateDownTo rolls back the migrations after version.
func MigrateDownTo(ctx context.Context, pool *pgxpool.Pool, version int64) error {
	return withProvider(pool, func(p *goose.Provider) error {
		_, err := p.DownTo(ctx, version)
		return err
	})
}

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

// bookPaymentsDayQueryV10 is the day's scan as migration 10 ran it, before
// the books had channels (every order of the day, through the day index
// that led with the day): the benchmarks' and plans' "before".
const bookPaymentsDayQueryV10 = `SELECT ` + bookPaymentsColumns + ` FROM orders
	WHERE ` + paidDay + ` = $3 AND paid_at >= $1 AND paid_at < $2 AND channel_no IS NOT NULL
	ORDER BY channel_no COLLATE "C"`

// bookRefundsQueryV10 is the refunds' scan as migration 10 ran it.
const bookRefundsQueryV10 = `
	SELECT o.channel_no, r.out_request_no, r.amount, r.succeeded_at
	FROM refunds r JOIN orders o ON o.id = r.order_id
	WHERE r.status = 'succeeded' AND r.succeeded_at >= $1 AND r.succeeded_at < $2 AND o.channel_no IS NOT NULL
	ORDER BY o.channel_no COLLATE "C", r.out_request_no COLLATE "C"`

// ScanBookPaymentsV10 runs migration 10's day scan over [from, to), within
// one China day, through the store's own row reader, on a database at
// version 10.
func (s *Store) ScanBookPaymentsV10(ctx context.Context, from, to time.Time, fn func(*paygate.BookEntry) error) error {
	day, _ := oneDay(from, to)
	e := paygate.BookEntry{Kind: paygate.BookPayment}
	var total int64
	dest := []any{&e.ChannelNo, &e.TradeNo, &total, timeCol{&e.At}}
	return s.scanBook(ctx, "book payments", bookPaymentsDayQueryV10, dest, func() error {
		e.Amount = paygate.Money(total)
		return fn(&e)
	}, norm(from), norm(to), day)
}

// VacuumAnalyze vacuums and analyzes orders and refunds, as autovacuum
// would after a bulk load: fresh statistics, and a visibility map that
// lets an index-only scan skip the table.
func (s *Store) VacuumAnalyze(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `VACUUM ANALYZE orders, refunds`)
	return err
}

// BookScanPlans is EXPLAIN of the scans a reconciliation of channel ch
// runs over the day [from, to), each a prepared statement as pgx runs it:
// the custom plan of its first runs (its values known) and the generic
// plan it may settle on: "day", "margin" (a margin around midnight, its
// first 15 minutes), "refunds", each also as " generic"; with v10,
// migration 10's day scan alone, as "day".
func (s *Store) BookScanPlans(ctx context.Context, ch paygate.Channel, from, to time.Time, v10 bool) (map[string]string, error) {
	day, _ := oneDay(from, to)
	lit := func(t time.Time) string { return "'" + norm(t).Format(time.RFC3339Nano) + "'" }
	dayLit, chLit := "'"+day.Format("2006-01-02")+"'", "'"+string(ch)+"'"
	m := from.Add(15 * time.Minute)
	queries := map[string][]string{
		"day":     {bookPaymentsDayQuery(ch), lit(from), lit(to), dayLit},
		"margin":  {bookPaymentsQuery, lit(from), lit(m), chLit},
		"refunds": {bookRefundsQuery, lit(from), lit(to), chLit},
	}
	if v10 {
		queries = map[string][]string{"day": {bookPaymentsDayQueryV10, lit(from), lit(to), dayLit},
			"refunds": {bookRefundsQueryV10, lit(from), lit(to)}}
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	defer conn.Exec(context.WithoutCancel(ctx), `RESET plan_cache_mode`)
	plans := map[string]string{}
	for name, q := range queries {
		stmt := "scan_plan_" + name
		if _, err := conn.Conn().Prepare(ctx, stmt, q[0]); err != nil {
			return nil, err
		}
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			if _, err := conn.Exec(ctx, `SET plan_cache_mode = `+mode); err != nil {
				return nil, err
			}
			rows, err := conn.Query(ctx, `EXPLAIN EXECUTE `+stmt+`(`+strings.Join(q[1:], ", ")+`)`)
			if err != nil {
				return nil, err
			}
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					rows.Close()
					return nil, err
				}
				plan = append(plan, line)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, err
			}
			key := name
			if mode == "force_generic_plan" {
				key += " generic"
			}
			plans[key] = strings.Join(plan, "\n")
		}
		if err := conn.Conn().Deallocate(ctx, stmt); err != nil {
			return nil, err
		}
	}
	return plans, nil
}

// AddV10DayIndex creates migration 10's day index (every channel's orders,
// led by the day) beside migration 11's, so that a benchmark can time both
// scans on one table, loaded once.
func (s *Store) AddV10DayIndex(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `CREATE INDEX orders_paid_day_idx ON orders (((paid_at AT TIME ZONE 'UTC' + interval '8 hours')::date),
		channel_no COLLATE "C") INCLUDE (paid_at, trade_no, total_amount) WHERE paid_at IS NOT NULL AND channel_no IS NOT NULL`)
	return err
}

// IndexPages is how many 8 kB pages index holds.
func (s *Store) IndexPages(ctx context.Context, index string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT pg_relation_size($1::regclass) / 8192`, index).Scan(&n)
	return n, err
}
