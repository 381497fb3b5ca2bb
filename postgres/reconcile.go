package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paygate/paygate"
)

// Reconciliation: the books of a day, streamed in channel-number order, and
// the reports kept per day (paygate.ReconStore).

// The payments of a day are read in channel-number order without a sort:
// orders_paid_day_idx holds, per China day of paid_at, the day's paid
// orders in channel-number order (COLLATE "C": byte order, Go's, whatever
// the database's collation) with every column the scan returns, so the
// scan is an index-only walk of one slice of one index. A sort of a
// million rows takes longer than the whole walk, and an index on
// channel_no alone would make a run read every order ever made. A window
// that is not within one China day (the engine's are) reads through
// orders_paid_at_idx and sorts.

// paidDay is the China day (UTC+8, no daylight saving) of paid_at; it
// must be spelled as in orders_paid_day_idx.
const paidDay = `((paid_at AT TIME ZONE 'UTC' + interval '8 hours')::date)`

// bookPaymentsColumns are only what the merge compares (see
// paygate.ReconStore): a narrower index and fewer bytes per row.
const bookPaymentsColumns = `channel_no, trade_no, total_amount, paid_at`

const bookPaymentsDayQuery = `SELECT ` + bookPaymentsColumns + ` FROM orders
	WHERE ` + paidDay + ` = $3 AND paid_at >= $1 AND paid_at < $2 AND channel_no IS NOT NULL
	ORDER BY channel_no COLLATE "C"`

const bookPaymentsQuery = `SELECT ` + bookPaymentsColumns + ` FROM orders
	WHERE paid_at >= $1 AND paid_at < $2 AND channel_no IS NOT NULL
	ORDER BY channel_no COLLATE "C"`

// ScanBookPayments calls fn for every order paid in [from, to), whatever
// its status now, in ascending channel number (byte) order, one row at a
// time; see paygate.ReconStore. fn's entry is reused: it is valid only
// during the call. An error from fn stops the scan and is returned as is.
func (s *Store) ScanBookPayments(ctx context.Context, from, to time.Time, fn func(*paygate.BookEntry) error) error {
	if err := paygate.CheckBookWindow(from, to); err != nil {
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
		return s.scanBook(ctx, "book payments", bookPaymentsDayQuery, dest, each, norm(from), norm(to), day)
	}
	return s.scanBook(ctx, "book payments", bookPaymentsQuery, dest, each, norm(from), norm(to))
}

// minDayWindow is the shortest window read through the day index: a
// shorter one (the engine's margins around midnight) holds few payments,
// which the paid_at index finds and a small sort orders, where the day
// index would walk the whole day.
const minDayWindow = 6 * time.Hour

// chinaTime is UTC+8, the bills' time.
var chinaTime = time.FixedZone("UTC+8", 8*60*60)

// oneDay is the China day of [from, to), as a date for paidDay, if the
// window is within one.
func oneDay(from, to time.Time) (time.Time, bool) {
	f, l := norm(from).In(chinaTime), norm(to).Add(-time.Microsecond).In(chinaTime)
	if l.Before(f) || f.Year() != l.Year() || f.YearDay() != l.YearDay() {
		return time.Time{}, false
	}
	return time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, time.UTC), true
}

// bookRefundsQuery reads the refunds that succeeded in [from, to), through
// the partial index of succeeded refunds, with their orders' numbers, in
// byte order as bookPaymentsQuery.
const bookRefundsQuery = `
	SELECT o.channel_no, r.out_request_no, r.amount, r.succeeded_at
	FROM refunds r JOIN orders o ON o.id = r.order_id
	WHERE r.status = 'succeeded' AND r.succeeded_at >= $1 AND r.succeeded_at < $2 AND o.channel_no IS NOT NULL
	ORDER BY o.channel_no COLLATE "C", r.out_request_no COLLATE "C"`

// ScanBookRefunds calls fn for every refund that succeeded in [from, to),
// in ascending (channel number, out_request_no) byte order, as
// ScanBookPayments does.
func (s *Store) ScanBookRefunds(ctx context.Context, from, to time.Time, fn func(*paygate.BookEntry) error) error {
	if err := paygate.CheckBookWindow(from, to); err != nil {
		return err
	}
	e := paygate.BookEntry{Kind: paygate.BookRefund}
	var amount int64
	dest := []any{&e.ChannelNo, &e.OutRequestNo, &amount, timeCol{&e.At}}
	return s.scanBook(ctx, "book refunds", bookRefundsQuery, dest, func() error {
		e.Amount = paygate.Money(amount)
		return fn(&e)
	}, norm(from), norm(to))
}

// scanBook runs query with args, scans each row into dest (one slice for
// all rows) and calls each. An error of each is returned unchanged.
func (s *Store) scanBook(ctx context.Context, what, query string, dest []any, each func() error, args ...any) error {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return dbError(err, what)
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return dbError(err, what)
		}
		if err := each(); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return dbError(err, what)
	}
	return nil
}

// SaveReconciliation stores r as its day's report, replacing the day's
// earlier report, differences and cross-day entries, in one transaction.
// It sets the differences' IDs and Day, normalizes r's times, and stamps a
// difference whose CreatedAt is zero with now. An invalid report is
// EInvalid and changes nothing, in the store or in r.
func (s *Store) SaveReconciliation(ctx context.Context, r *paygate.Reconciliation) error {
	if err := paygate.CheckReconciliation(r); err != nil {
		return err
	}
	what := "reconciliation of " + r.Day
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrapErr(err, "postgres: begin")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// The report's row goes first: a second run of the same day at the same
	// time waits on it, then fails on the day's key (EConflict) instead of
	// mixing its rows with this one's.
	for _, table := range []string{"reconciliations", "reconciliation_differences", "reconciliation_crossday"} {
		if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE day = $1`, r.Day); err != nil {
			return dbError(err, what)
		}
	}
	started, finished := norm(r.StartedAt), norm(r.FinishedAt)
	_, err = tx.Exec(ctx, `
		INSERT INTO reconciliations (day, status, source, channel_rows, local_rows, matched, repairs,
			difference_count, open_count, error, started_at, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		r.Day, r.Status, r.Source, r.ChannelRows, r.LocalRows, r.Matched, r.Repairs,
		r.DifferenceCount, r.OpenCount, r.Error, started, finished)
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
	if _, err := tx.Exec(ctx, `
		INSERT INTO reconciliation_repairs (day, kind, merchant_id, order_id, out_trade_no, channel_no, trade_no, out_request_no, local, channel, repaired, action, before_state, after_state, repaired_at, created_at)
		SELECT day, kind, merchant_id, order_id, out_trade_no, channel_no, trade_no, out_request_no, local, channel, repaired, action, before_state, after_state, repaired_at, created_at FROM reconciliation_differences WHERE day = $1 AND repaired ORDER BY id`, r.Day); err != nil {
		return dbError(err, what)
	}
	if err := tx.Commit(ctx); err != nil {
		return wrapErr(err, "postgres: commit")
	}
	r.StartedAt, r.FinishedAt = started, finished
	for i, d := range r.Differences {
		d.ID, d.Day, d.CreatedAt, d.RepairedAt = ids[i], r.Day, created[i], norm(d.RepairedAt)
	}
	return nil
}

// insertDifferences inserts r's differences in order, in one round trip,
// and returns their IDs and creation times, to be set in r once the
// transaction commits.
func insertDifferences(ctx context.Context, tx pgx.Tx, now func() time.Time, r *paygate.Reconciliation) ([]int64, []time.Time, error) {
	if len(r.Differences) == 0 {
		return nil, nil, nil
	}
	created := make([]time.Time, len(r.Differences))
	var b pgx.Batch
	for i, d := range r.Differences {
		created[i] = orNow(d.CreatedAt, now)
		b.Queue(`
			INSERT INTO reconciliation_differences (day, kind, merchant_id, order_id, out_trade_no, channel_no,
				trade_no, out_request_no, local, channel, repaired, action, before_state, after_state,
				repaired_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id`,
			r.Day, d.Kind, nullID(d.MerchantID), nullID(d.OrderID), d.OutTradeNo, d.ChannelNo, d.TradeNo,
			d.OutRequestNo, nullJSON(d.Local), nullJSON(d.Channel), d.Repaired, d.Action, d.Before, d.After,
			nullTime(d.RepairedAt), created[i])
	}
	br := tx.SendBatch(ctx, &b)
	defer br.Close()
	ids := make([]int64, len(r.Differences))
	for i := range ids {
		if err := br.QueryRow().Scan(&ids[i]); err != nil {
			return nil, nil, dbError(err, fmt.Sprintf("reconciliation difference %d of %s", i, r.Day))
		}
	}
	if err := br.Close(); err != nil {
		return nil, nil, dbError(err, "reconciliation differences of "+r.Day)
	}
	return ids, created, nil
}

// insertCrossDay inserts r's cross-day entries in order.
func insertCrossDay(ctx context.Context, tx pgx.Tx, r *paygate.Reconciliation) error {
	if len(r.CrossDay) == 0 {
		return nil
	}
	var b pgx.Batch
	for _, c := range r.CrossDay {
		b.Queue(`
			INSERT INTO reconciliation_crossday (day, kind, channel_no, out_request_no, book_day, bill_day, carried)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			r.Day, string(c.Kind), c.ChannelNo, c.OutRequestNo, c.BookDay, c.BillDay, c.Carried)
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return dbError(err, "reconciliation cross-day entries of "+r.Day)
	}
	return nil
}

const reconColumns = `day, status, source, channel_rows, local_rows, matched, repairs,
	difference_count, open_count, error, started_at, finished_at`

func scanReconciliation(sc scanner) (*paygate.Reconciliation, error) {
	var r paygate.Reconciliation
	err := sc.Scan(&r.Day, &r.Status, &r.Source, &r.ChannelRows, &r.LocalRows, &r.Matched, &r.Repairs,
		&r.DifferenceCount, &r.OpenCount, &r.Error, timeCol{&r.StartedAt}, timeCol{&r.FinishedAt})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// Reconciliation returns day's report with its differences (in the order
// found) and cross-day entries; ENotFound when the day was never
// reconciled, EInvalid when day is not a date.
func (s *Store) Reconciliation(ctx context.Context, day string) (*paygate.Reconciliation, error) {
	if err := paygate.CheckReconDay(day); err != nil {
		return nil, err
	}
	what := "reconciliation of " + day
	// One snapshot, so that the report and its rows are of one run.
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, wrapErr(err, "postgres: begin")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	r, err := scanReconciliation(tx.QueryRow(ctx, `SELECT `+reconColumns+` FROM reconciliations WHERE day = $1`, day))
	if err != nil {
		return nil, dbError(err, what)
	}
	if r.Differences, err = differences(ctx, tx, what, "reconciliation_differences", `day = $1 ORDER BY id`, day); err != nil {
		return nil, err
	}
	if r.RepairLog, err = differences(ctx, tx, what, "reconciliation_repairs", `day = $1 ORDER BY id`, day); err != nil {
		return nil, err
	}
	if r.CrossDay, err = crossDay(ctx, tx, what, `day = $1 ORDER BY id`, day); err != nil {
		return nil, err
	}
	return r, nil
}

// Reconciliation page sizes.
const (
	defaultReconLimit = 31
	maxReconLimit     = 366
)

// ListReconciliations lists reports newest day first, without their
// differences and cross-day entries. limit 0 means 31; it is clamped to
// [1, 366].
func (s *Store) ListReconciliations(ctx context.Context, limit int) ([]*paygate.Reconciliation, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+reconColumns+` FROM reconciliations ORDER BY day DESC LIMIT $1`,
		reconLimit(limit))
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
// orders, in the order found.
func (s *Store) ReconDifferencesOf(ctx context.Context, day string, merchantID int64) ([]*paygate.ReconDifference, error) {
	if err := paygate.CheckReconDay(day); err != nil {
		return nil, err
	}
	return differences(ctx, s.pool, fmt.Sprintf("reconciliation differences of %s for merchant %d", day, merchantID), "reconciliation_differences",
		`day = $1 AND merchant_id = $2 ORDER BY id`, day, merchantID)
}

// ReconCrossDayOf returns the cross-day entries, of any day, of one payment
// (outRequestNo empty) or refund, by day.
func (s *Store) ReconCrossDayOf(ctx context.Context, kind paygate.BookKind, channelNo, outRequestNo string) ([]*paygate.ReconCrossDay, error) {
	return crossDay(ctx, s.pool, "reconciliation cross-day entries of "+channelNo,
		`kind = $1 AND channel_no = $2 AND out_request_no = $3 ORDER BY day, id`, string(kind), channelNo, outRequestNo)
}

func differences(ctx context.Context, q querier, what, table, where string, args ...any) ([]*paygate.ReconDifference, error) {
	rows, err := q.Query(ctx, `
		SELECT id, day, kind, merchant_id, order_id, out_trade_no, channel_no, trade_no, out_request_no,
			local, channel, repaired, action, before_state, after_state, repaired_at, created_at
		FROM `+table+` WHERE `+where, args...)
	if err != nil {
		return nil, dbError(err, what)
	}
	defer rows.Close()
	list := []*paygate.ReconDifference{}
	for rows.Next() {
		var d paygate.ReconDifference
		var merchantID, orderID *int64
		var local, channel []byte
		err := rows.Scan(&d.ID, &d.Day, &d.Kind, &merchantID, &orderID, &d.OutTradeNo, &d.ChannelNo, &d.TradeNo,
			&d.OutRequestNo, &local, &channel, &d.Repaired, &d.Action, &d.Before, &d.After,
			timeCol{&d.RepairedAt}, timeCol{&d.CreatedAt})
		if err != nil {
			return nil, dbError(err, what)
		}
		if merchantID != nil {
			d.MerchantID = *merchantID
		}
		if orderID != nil {
			d.OrderID = *orderID
		}
		d.Local, d.Channel = local, channel
		list = append(list, &d)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, what)
	}
	return list, nil
}

func crossDay(ctx context.Context, q querier, what, where string, args ...any) ([]*paygate.ReconCrossDay, error) {
	rows, err := q.Query(ctx, `
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
// unchanged, as text.
func nullJSON(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}
