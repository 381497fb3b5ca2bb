package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

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

// bookPaymentsDayQueryV10 is the day's scan as migration 10 ran it, before
// the books had channels (every order of the day, through the day index
// that led with the day): the benchmarks' and plans' "before".
const bookPaymentsDayQueryV10 = `SELECT ` + bookPaymentsColumns + ` FROM orders
	WHERE ` + paidDay + ` = ? AND paid_at >= ? AND paid_at < ? AND channel_no IS NOT NULL
	ORDER BY channel_no`

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
	}, day, micros(from), micros(to))
}

// BookScanPlans is EXPLAIN QUERY PLAN of the scans a reconciliation of
// channel ch runs over the day [from, to): "day" (the day's payments),
// "margin" (the payments of a margin around midnight, its first 15
// minutes) and "refunds"; with v10, migration 10's day scan alone, as
// "day".
func (s *Store) BookScanPlans(ctx context.Context, ch paygate.Channel, from, to time.Time, v10 bool) (map[string]string, error) {
	day, _ := oneDay(from, to)
	m := from.Add(15 * time.Minute)
	queries := map[string][]any{
		"day":     {bookPaymentsDayQuery(ch), day, micros(from), micros(to)},
		"margin":  {bookPaymentsQuery, string(ch), micros(from), micros(m)},
		"refunds": {bookRefundsQuery, micros(from), micros(to), string(ch)},
	}
	if v10 {
		queries = map[string][]any{"day": {bookPaymentsDayQueryV10, day, micros(from), micros(to)}}
	}
	plans := map[string]string{}
	for name, q := range queries {
		rows, err := s.db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q[0].(string), q[1:]...)
		if err != nil {
			return nil, err
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				rows.Close()
				return nil, err
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		plans[name] = strings.Join(plan, "\n")
	}
	return plans, nil
}

// AddV10DayIndex creates migration 10's day index (every channel's orders,
// led by the day) beside migration 11's, so that a benchmark can time both
// scans on one table, loaded once.
func (s *Store) AddV10DayIndex(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `CREATE INDEX orders_paid_day_idx ON orders ((paid_at + 28800000000) / 86400000000, channel_no,
		trade_no, total_amount, paid_at) WHERE paid_at IS NOT NULL AND channel_no IS NOT NULL`)
	return err
}

// IndexPages is how many pages index holds.
func (s *Store) IndexPages(ctx context.Context, index string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM dbstat WHERE name = ?`, index).Scan(&n)
	return n, err
}
