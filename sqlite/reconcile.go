package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"time"

	"github.com/paygate/paygate"
)

// Reconciliation: the books of a day of one channel, streamed in
// channel-number order, and the reports kept per day and channel
// (paygate.ReconStore).

// The payments of a day are read in channel-number order without a sort:
// orders_paid_day_<channel>_idx, partial on the channel, holds, per China
// day of paid_at, the day's paid orders of the channel in channel-number
// (BINARY: byte, Go's) order with every column the scan returns, so the
// scan walks one slice of one index and nothing else (EXPLAIN QUERY PLAN:
// SEARCH orders USING COVERING INDEX orders_paid_day_alipay_idx, no temp
// B-tree; see TestScanBookPlans). The channel is written in the query's
// text, not bound: SQLite uses a partial index only for a query whose WHERE
// implies the index's, which a parameter never does. A sort of a million rows costs more than the whole walk, and an
// index on channel_no alone would make a run read every order ever made.
// A window that is not within one China day (the engine's are) reads
// through orders_paid_at_idx and sorts.

// paidDay is the China day (UTC+8, no daylight saving) of paid_at, as days
// since 1970-01-01; it must be spelled as in orders_paid_day_idx.
const paidDay = `(paid_at + 28800000000) / 86400000000`

// bookPaymentsColumns are only what the merge compares (see
// paygate.ReconStore): with the modernc driver each column of each row
// costs a call, and the other six doubled a million-row scan.
const bookPaymentsColumns = `channel_no, trade_no, total_amount, paid_at`

// bookPaymentsDayQuery is the day's scan of channel ch, which must be one
// of paygate.ReconChannels (checked: it is part of the statement).
func bookPaymentsDayQuery(ch paygate.Channel) string {
	return `SELECT ` + bookPaymentsColumns + ` FROM orders
	WHERE channel = '` + string(ch) + `' AND ` + paidDay + ` = ? AND paid_at >= ? AND paid_at < ? AND channel_no IS NOT NULL
	ORDER BY channel_no`
}

const bookPaymentsQuery = `SELECT ` + bookPaymentsColumns + ` FROM orders
	WHERE channel = ? AND paid_at >= ? AND paid_at < ? AND channel_no IS NOT NULL
	ORDER BY channel_no`

// ScanBookPayments calls fn for every order of channel ch paid in [from,
// to), whatever its status now, in ascending channel number (byte) order,
// one row at a time; see paygate.ReconStore. fn's entry is reused: it is
// valid only during the call. An error from fn stops the scan and is
// returned as is.
func (s *Store) ScanBookPayments(ctx context.Context, ch paygate.Channel, from, to time.Time, fn func(*paygate.BookEntry) error) error {
	if err := checkScan(ch, from, to); err != nil {
		return err
	}
	e := paygate.BookEntry{Kind: paygate.BookPayment}
	var total int64
	dest := []any{&e.ChannelNo, &e.TradeNo, &total, timeCol{&e.At}}
	each := func() error {
		e.Amount = paygate.Money(total)
		return fn(&e)
	}
	if day, ok := oneDay(from, to); ok && to.Sub(from) >= minDayWindow {
		return s.scanBook(ctx, "book payments", bookPaymentsDayQuery(ch), dest, each, day, micros(from), micros(to))
	}
	return s.scanBook(ctx, "book payments", bookPaymentsQuery, dest, each, string(ch), micros(from), micros(to))
}

// checkScan checks a scan's channel and window.
func checkScan(ch paygate.Channel, from, to time.Time) error {
	if err := paygate.CheckReconChannel(ch); err != nil {
		return err
	}
	return paygate.CheckBookWindow(from, to)
}

// minDayWindow is the shortest window read through the day index: a
// shorter one (the engine's margins around midnight) holds few payments,
// which the paid_at index finds and a small sort orders, where the day
// index would walk the whole day.
const minDayWindow = 6 * time.Hour

// oneDay is the China day of [from, to) as paidDay counts it, if the
// window is within one.
func oneDay(from, to time.Time) (int64, bool) {
	const offset, day = 8 * 60 * 60 * 1e6, 24 * 60 * 60 * 1e6
	f, l := micros(from)+offset, micros(to)-1+offset
	if f < 0 || l < f || f/day != l/day {
		return 0, false
	}
	return f / day, true
}

// bookRefundsQuery reads the refunds that succeeded in [from, to), through
// the partial index of succeeded refunds, with their orders' numbers; the
// order's row, joined for the number, tells its channel.
const bookRefundsQuery = `
	SELECT o.channel_no, r.out_request_no, r.amount, r.succeeded_at
	FROM refunds r JOIN orders o ON o.id = r.order_id
	WHERE r.status = 'succeeded' AND r.succeeded_at >= ? AND r.succeeded_at < ? AND o.channel = ?
		AND o.channel_no IS NOT NULL
	ORDER BY o.channel_no, r.out_request_no`

// ScanBookRefunds calls fn for every refund of an order of channel ch that
// succeeded in [from, to), in ascending (channel number, out_request_no)
// byte order, as ScanBookPayments does.
func (s *Store) ScanBookRefunds(ctx context.Context, ch paygate.Channel, from, to time.Time, fn func(*paygate.BookEntry) error) error {
	if err := checkScan(ch, from, to); err != nil {
		return err
	}
	e := paygate.BookEntry{Kind: paygate.BookRefund}
	var amount int64
	dest := []any{&e.ChannelNo, &e.OutRequestNo, &amount, timeCol{&e.At}}
	return s.scanBook(ctx, "book refunds", bookRefundsQuery, dest, func() error {
		e.Amount = paygate.Money(amount)
		return fn(&e)
	}, micros(from), micros(to), string(ch))
}

// scanBook runs query with args, scans each row into dest (one slice for
// all rows) and calls each. An error of each is returned unchanged. The
// rows are read from the driver itself, on a connection of the pool:
// database/sql's per-row locking and conversions cost as much as SQLite's
// own work on a million rows.
func (s *Store) scanBook(ctx context.Context, what, query string, dest []any, each func() error, args ...any) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return dbError(err, what)
	}
	defer conn.Close()
	var eachErr error
	err = conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot query", dc)
		}
		named := make([]driver.NamedValue, len(args))
		for i, a := range args {
			named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
		}
		rows, err := q.QueryContext(ctx, query, named)
		if err != nil {
			return err
		}
		defer rows.Close()
		vals := make([]driver.Value, len(rows.Columns()))
		if len(vals) != len(dest) {
			return fmt.Errorf("%d columns for %d destinations", len(vals), len(dest))
		}
		for {
			if err := rows.Next(vals); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			for i, v := range vals {
				if err := assign(dest[i], v); err != nil {
					return fmt.Errorf("column %d: %w", i, err)
				}
			}
			if eachErr = each(); eachErr != nil {
				return eachErr
			}
		}
	})
	if eachErr != nil {
		return eachErr
	}
	if err != nil {
		return dbError(err, what)
	}
	return nil
}

// assign stores a driver value in a scan destination of scanBook's.
func assign(dest any, v driver.Value) error {
	switch d := dest.(type) {
	case *string:
		switch v := v.(type) {
		case string:
			*d = v
		case []byte:
			*d = string(v)
		case nil:
			*d = ""
		default:
			return fmt.Errorf("%T for a text column", v)
		}
	case *int64:
		n, ok := v.(int64)
		if !ok {
			return fmt.Errorf("%T for an integer column", v)
		}
		*d = n
	case sql.Scanner:
		return d.Scan(v)
	default:
		return fmt.Errorf("cannot scan into %T", dest)
	}
	return nil
}

// SaveReconciliation stores r as the report of its day and channel,
// replacing that day's earlier report of the channel, its differences and
// cross-day entries, in one transaction. It sets the differences' IDs, Day
// and BillChannel, normalizes r's times, and stamps a difference whose
// CreatedAt is zero with now. An invalid report is EInvalid and changes
// nothing, in the store or in r.
func (s *Store) SaveReconciliation(ctx context.Context, r *paygate.Reconciliation) error {
	if err := paygate.CheckReconciliation(r); err != nil {
		return err
	}
	what := reportName(r.Day, r.Channel)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return wrapErr(err, "sqlite: begin")
	}
	defer tx.Rollback()
	for _, table := range []string{"reconciliation_differences", "reconciliation_crossday", "reconciliations"} {
		col := "bill_channel"
		if table == "reconciliations" {
			col = "channel"
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE day = ? AND `+col+` = ?`, r.Day, string(r.Channel)); err != nil {
			return dbError(err, what)
		}
	}
	started, finished := norm(r.StartedAt), norm(r.FinishedAt)
	_, err = tx.ExecContext(ctx, `
		INSERT INTO reconciliations (day, channel, status, source, channel_rows, local_rows, matched, repairs,
			difference_count, open_count, error, started_at, finished_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Day, string(r.Channel), r.Status, r.Source, r.ChannelRows, r.LocalRows, r.Matched, r.Repairs,
		r.DifferenceCount, r.OpenCount, r.Error, micros(started), micros(finished))
	if err != nil {
		return dbError(err, what)
	}
	ids, created, err := insertDifferences(ctx, tx, s.now, r)
	if err != nil {
		return err
	}
	if err := insertCrossDay(ctx, tx, r); err != nil {
		return err
	}
	// The run's repairs join the day's kept trail (see the migration).
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO reconciliation_repairs (day, bill_channel, kind, merchant_id, order_id, out_trade_no, channel_no, trade_no, out_request_no, local, channel, repaired, action, before_state, after_state, repaired_at, created_at)
		SELECT day, bill_channel, kind, merchant_id, order_id, out_trade_no, channel_no, trade_no, out_request_no, local, channel, repaired, action, before_state, after_state, repaired_at, created_at FROM reconciliation_differences WHERE day = ? AND bill_channel = ? AND repaired = 1 ORDER BY id`, r.Day, string(r.Channel)); err != nil {
		return dbError(err, what)
	}
	if err := tx.Commit(); err != nil {
		return wrapErr(err, "sqlite: commit")
	}
	r.StartedAt, r.FinishedAt = started, finished
	for i, d := range r.Differences {
		d.ID, d.Day, d.BillChannel, d.CreatedAt, d.RepairedAt = ids[i], r.Day, r.Channel, created[i], norm(d.RepairedAt)
	}
	return nil
}

// insertDifferences inserts r's differences in order and returns their IDs
// and creation times, to be set in r once the transaction commits.
func insertDifferences(ctx context.Context, tx *sql.Tx, now func() time.Time, r *paygate.Reconciliation) ([]int64, []time.Time, error) {
	if len(r.Differences) == 0 {
		return nil, nil, nil
	}
	stmt, err := tx.PrepareContext(ctx, `
		INSERT INTO reconciliation_differences (day, bill_channel, kind, merchant_id, order_id, out_trade_no, channel_no,
			trade_no, out_request_no, local, channel, repaired, action, before_state, after_state,
			repaired_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	if err != nil {
		return nil, nil, dbError(err, "reconciliation differences")
	}
	defer stmt.Close()
	ids := make([]int64, len(r.Differences))
	created := make([]time.Time, len(r.Differences))
	for i, d := range r.Differences {
		created[i] = orNow(d.CreatedAt, now)
		err := stmt.QueryRowContext(ctx, r.Day, string(r.Channel), d.Kind, nullID(d.MerchantID), nullID(d.OrderID), d.OutTradeNo,
			d.ChannelNo, d.TradeNo, d.OutRequestNo, nullJSON(d.Local), nullJSON(d.Channel), d.Repaired, d.Action,
			d.Before, d.After, nullMicros(norm(d.RepairedAt)), micros(created[i])).Scan(&ids[i])
		if err != nil {
			return nil, nil, dbError(err, fmt.Sprintf("difference %d of the %s", i, reportName(r.Day, r.Channel)))
		}
	}
	return ids, created, nil
}

// insertCrossDay inserts r's cross-day entries in order.
func insertCrossDay(ctx context.Context, tx *sql.Tx, r *paygate.Reconciliation) error {
	if len(r.CrossDay) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `
		INSERT INTO reconciliation_crossday (day, bill_channel, kind, channel_no, out_request_no, book_day, bill_day, carried)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return dbError(err, "reconciliation cross-day entries")
	}
	defer stmt.Close()
	for i, c := range r.CrossDay {
		_, err := stmt.ExecContext(ctx, r.Day, string(r.Channel), string(c.Kind), c.ChannelNo, c.OutRequestNo, c.BookDay, c.BillDay, c.Carried)
		if err != nil {
			return dbError(err, fmt.Sprintf("cross-day entry %d of the %s", i, reportName(r.Day, r.Channel)))
		}
	}
	return nil
}

const reconColumns = `day, channel, status, source, channel_rows, local_rows, matched, repairs,
	difference_count, open_count, error, started_at, finished_at`

func scanReconciliation(sc scanner) (*paygate.Reconciliation, error) {
	var r paygate.Reconciliation
	var ch string
	err := sc.Scan(&r.Day, &ch, &r.Status, &r.Source, &r.ChannelRows, &r.LocalRows, &r.Matched, &r.Repairs,
		&r.DifferenceCount, &r.OpenCount, &r.Error, timeCol{&r.StartedAt}, timeCol{&r.FinishedAt})
	if err != nil {
		return nil, err
	}
	r.Channel = paygate.Channel(ch)
	return &r, nil
}

// Reconciliation returns the report of day and channel ch with its
// differences (in the order found) and cross-day entries; ENotFound when
// that channel's bill of the day was never reconciled, EInvalid when day is
// not a date or ch no channel with a bill.
func (s *Store) Reconciliation(ctx context.Context, day string, ch paygate.Channel) (*paygate.Reconciliation, error) {
	if err := checkReport(day, ch); err != nil {
		return nil, err
	}
	what := reportName(day, ch)
	// One read transaction, so that the report and its rows are of one run.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, wrapErr(err, "sqlite: begin")
	}
	defer tx.Rollback()
	r, err := scanReconciliation(tx.QueryRowContext(ctx, `SELECT `+reconColumns+` FROM reconciliations WHERE day = ? AND channel = ?`, day, string(ch)))
	if err != nil {
		return nil, dbError(err, what)
	}
	const ofReport = `day = ? AND bill_channel = ? ORDER BY id`
	if r.Differences, err = differences(ctx, tx, what, "reconciliation_differences", ofReport, day, string(ch)); err != nil {
		return nil, err
	}
	if r.RepairLog, err = differences(ctx, tx, what, "reconciliation_repairs", ofReport, day, string(ch)); err != nil {
		return nil, err
	}
	if r.CrossDay, err = crossDay(ctx, tx, what, ofReport, day, string(ch)); err != nil {
		return nil, err
	}
	return r, nil
}

// checkReport checks a report's day and channel.
func checkReport(day string, ch paygate.Channel) error {
	if err := paygate.CheckReconDay(day); err != nil {
		return err
	}
	return paygate.CheckReconChannel(ch)
}

// reportName names a report in errors: "alipay reconciliation of 2026-03-04".
func reportName(day string, ch paygate.Channel) string {
	return string(ch) + " reconciliation of " + day
}

// Reconciliation page sizes.
const (
	defaultReconLimit = 31
	maxReconLimit     = 366
)

// ListReconciliations lists the reports of the newest limit days that have
// one, of channel ch (of every channel when ch is empty), newest day first
// and Alipay's before WeChat Pay's within a day, without their differences
// and cross-day entries. limit 0 means 31 days; it is clamped to [1, 366].
func (s *Store) ListReconciliations(ctx context.Context, ch paygate.Channel, limit int) ([]*paygate.Reconciliation, error) {
	if ch != "" {
		if err := paygate.CheckReconChannel(ch); err != nil {
			return nil, err
		}
	}
	// channel = ? OR ? = '': one statement for both; the days' subquery
	// walks the primary key's day prefix newest first.
	rows, err := s.db.QueryContext(ctx, `SELECT `+reconColumns+` FROM reconciliations
		WHERE (channel = ?1 OR ?1 = '') AND day IN (
			SELECT DISTINCT day FROM reconciliations WHERE channel = ?1 OR ?1 = '' ORDER BY day DESC LIMIT ?2)
		ORDER BY day DESC, channel`, string(ch), reconLimit(limit))
	if err != nil {
		return nil, dbError(err, "list reconciliations")
	}
	defer rows.Close()
	list := []*paygate.Reconciliation{}
	for rows.Next() {
		r, err := scanReconciliation(rows)
		if err != nil {
			return nil, dbError(err, "list reconciliations")
		}
		list = append(list, r)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "list reconciliations")
	}
	return list, nil
}

// ReconDifferencesOf lists day's differences that concern the merchant's
// orders, of every channel's report (Alipay's first), each in the order
// found.
func (s *Store) ReconDifferencesOf(ctx context.Context, day string, merchantID int64) ([]*paygate.ReconDifference, error) {
	if err := paygate.CheckReconDay(day); err != nil {
		return nil, err
	}
	return differences(ctx, s.db, fmt.Sprintf("reconciliation differences of %s for merchant %d", day, merchantID), "reconciliation_differences",
		`day = ? AND merchant_id = ? ORDER BY bill_channel, id`, day, merchantID)
}

// ReconCrossDayOf returns channel ch's cross-day entries, of any day, of
// one payment (outRequestNo empty) or refund, by day.
func (s *Store) ReconCrossDayOf(ctx context.Context, ch paygate.Channel, kind paygate.BookKind, channelNo, outRequestNo string) ([]*paygate.ReconCrossDay, error) {
	if err := paygate.CheckReconChannel(ch); err != nil {
		return nil, err
	}
	return crossDay(ctx, s.db, "reconciliation cross-day entries of "+channelNo,
		`bill_channel = ? AND kind = ? AND channel_no = ? AND out_request_no = ? ORDER BY day, id`, string(ch), string(kind), channelNo, outRequestNo)
}

func differences(ctx context.Context, q querier, what, table, where string, args ...any) ([]*paygate.ReconDifference, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT id, day, bill_channel, kind, merchant_id, order_id, out_trade_no, channel_no, trade_no, out_request_no,
			local, channel, repaired, action, before_state, after_state, repaired_at, created_at
		FROM `+table+` WHERE `+where, args...)
	if err != nil {
		return nil, dbError(err, what)
	}
	defer rows.Close()
	list := []*paygate.ReconDifference{}
	for rows.Next() {
		var d paygate.ReconDifference
		var merchantID, orderID sql.NullInt64
		var local, channel []byte
		var billChannel string
		err := rows.Scan(&d.ID, &d.Day, &billChannel, &d.Kind, &merchantID, &orderID, &d.OutTradeNo, &d.ChannelNo, &d.TradeNo,
			&d.OutRequestNo, &local, &channel, &d.Repaired, &d.Action, &d.Before, &d.After,
			timeCol{&d.RepairedAt}, timeCol{&d.CreatedAt})
		if err != nil {
			return nil, dbError(err, what)
		}
		d.MerchantID, d.OrderID, d.Local, d.Channel = merchantID.Int64, orderID.Int64, local, channel
		d.BillChannel = paygate.Channel(billChannel)
		list = append(list, &d)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, what)
	}
	return list, nil
}

func crossDay(ctx context.Context, q querier, what, where string, args ...any) ([]*paygate.ReconCrossDay, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT kind, channel_no, out_request_no, book_day, bill_day, carried
		FROM reconciliation_crossday WHERE `+where, args...)
	if err != nil {
		return nil, dbError(err, what)
	}
	defer rows.Close()
	list := []*paygate.ReconCrossDay{}
	for rows.Next() {
		var c paygate.ReconCrossDay
		var kind string
		if err := rows.Scan(&kind, &c.ChannelNo, &c.OutRequestNo, &c.BookDay, &c.BillDay, &c.Carried); err != nil {
			return nil, dbError(err, what)
		}
		c.Kind = paygate.BookKind(kind)
		list = append(list, &c)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, what)
	}
	return list, nil
}

// reconLimit is the page size ListReconciliations uses for a requested
// limit.
func reconLimit(limit int) int {
	switch {
	case limit == 0:
		return defaultReconLimit
	case limit < 1:
		return 1
	case limit > maxReconLimit:
		return maxReconLimit
	}
	return limit
}

// nullID stores an ID of 0 (no order of the books) as NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// nullJSON stores a nil JSON value as NULL and anything else as its bytes,
// unchanged, as TEXT.
func nullJSON(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}
