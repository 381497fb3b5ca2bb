package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paygate/paygate"
)

// Reconciliation: the books of a day of one channel, streamed in
// channel-number order, and the reports kept per day and channel
// (paygate.ReconStore).

// The payments of a day are read in channel-number order without a sort:
// orders_paid_day_<channel>_idx, partial on the channel, holds, per China
// day of paid_at, the day's paid orders of the channel in channel-number
// order (COLLATE "C": byte order, Go's, whatever the database's collation)
// with every column the scan returns, so the scan is an index-only walk of
// one slice of one index (EXPLAIN: Index Only Scan using
// orders_paid_day_alipay_idx, no Sort; see TestScanBookPlans). The channel
// is written in the query's text, not bound: a prepared statement's generic
// plan could not use a partial index for a parameter. A sort of a
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

// bookPaymentsDayQuery is the day's scan of channel ch, which must be one
// of paygate.ReconChannels (checked: it is part of the statement).
func bookPaymentsDayQuery(ch paygate.Channel) string {
	return `SELECT ` + bookPaymentsColumns + ` FROM orders
	WHERE channel = '` + string(ch) + `' AND ` + paidDay + ` = $3 AND paid_at >= $1 AND paid_at < $2 AND channel_no IS NOT NULL
	ORDER BY channel_no COLLATE "C"`
}

const bookPaymentsQuery = `SELECT ` + bookPaymentsColumns + ` FROM orders
	WHERE channel = $3 AND paid_at >= $1 AND paid_at < $2 AND channel_no IS NOT NULL
	ORDER BY channel_no COLLATE "C"`

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
		return s.scanBook(ctx, "book payments", bookPaymentsDayQuery(ch), dest, each, norm(from), norm(to), day)
	}
	return s.scanBook(ctx, "book payments", bookPaymentsQuery, dest, each, norm(from), norm(to), string(ch))
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
// byte order as bookPaymentsQuery; the order's row, joined for the number,
// tells its channel.
const bookRefundsQuery = `
	SELECT o.channel_no, r.out_request_no, r.amount, r.succeeded_at
	FROM refunds r JOIN orders o ON o.id = r.order_id
	WHERE r.status = 'succeeded' AND r.succeeded_at >= $1 AND r.succeeded_at < $2 AND o.channel = $3
		AND o.channel_no IS NOT NULL
	ORDER BY o.channel_no COLLATE "C", r.out_request_no COLLATE "C"`

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
	}, norm(from), norm(to), string(ch))
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
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrapErr(err, "postgres: begin")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// The report's row goes first: a second run of the same day and
	// channel at the same time waits on it, then fails on the report's key
	// (EConflict) instead of mixing its rows with this one's.
	for _, table := range []string{"reconciliations", "reconciliation_differences", "reconciliation_crossday"} {
		col := "bill_channel"
		if table == "reconciliations" {
			col = "channel"
		}
		if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE day = $1 AND `+col+` = $2`, r.Day, string(r.Channel)); err != nil {
			return dbError(err, what)
		}
	}
	started, finished := norm(r.StartedAt), norm(r.FinishedAt)
	_, err = tx.Exec(ctx, `
		INSERT INTO reconciliations (day, channel, status, source, channel_rows, local_rows, matched, repairs,
			difference_count, open_count, error, started_at, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		r.Day, string(r.Channel), r.Status, r.Source, r.ChannelRows, r.LocalRows, r.Matched, r.Repairs,
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
		INSERT INTO reconciliation_repairs (day, bill_channel, kind, merchant_id, order_id, out_trade_no, channel_no, trade_no, out_request_no, local, channel, repaired, action, before_state, after_state, repaired_at, created_at)
		SELECT day, bill_channel, kind, merchant_id, order_id, out_trade_no, channel_no, trade_no, out_request_no, local, channel, repaired, action, before_state, after_state, repaired_at, created_at FROM reconciliation_differences WHERE day = $1 AND bill_channel = $2 AND repaired ORDER BY id`, r.Day, string(r.Channel)); err != nil {
		return dbError(err, what)
	}
	if err := tx.Commit(ctx); err != nil {
		return wrapErr(err, "postgres: commit")
	}
	r.StartedAt, r.FinishedAt = started, finished
	for i, d := range r.Differences {
		d.ID, d.Day, d.BillChannel, d.CreatedAt, d.RepairedAt = ids[i], r.Day, r.Channel, created[i], norm(d.RepairedAt)
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
			INSERT INTO reconciliation_differences (day, bill_channel, kind, merchant_id, order_id, out_trade_no, channel_no,
				trade_no, out_request_no, local, channel, repaired, action, before_state, after_state,
				repaired_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id`,
			r.Day, string(r.Channel), d.Kind, nullID(d.MerchantID), nullID(d.OrderID), d.OutTradeNo, d.ChannelNo, d.TradeNo,
			d.OutRequestNo, nullJSON(d.Local), nullJSON(d.Channel), d.Repaired, d.Action, d.Before, d.After,
			nullTime(d.RepairedAt), created[i])
	}
	br := tx.SendBatch(ctx, &b)
	defer br.Close()
	ids := make([]int64, len(r.Differences))
	for i := range ids {
		if err := br.QueryRow().Scan(&ids[i]); err != nil {
			return nil, nil, dbError(err, fmt.Sprintf("difference %d of the %s", i, reportName(r.Day, r.Channel)))
		}
	}
	if err := br.Close(); err != nil {
		return nil, nil, dbError(err, "differences of the "+reportName(r.Day, r.Channel))
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
			INSERT INTO reconciliation_crossday (day, bill_channel, kind, channel_no, out_request_no, book_day, bill_day, carried)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			r.Day, string(r.Channel), string(c.Kind), c.ChannelNo, c.OutRequestNo, c.BookDay, c.BillDay, c.Carried)
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return dbError(err, "cross-day entries of the "+reportName(r.Day, r.Channel))
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
	// One snapshot, so that the report and its rows are of one run.
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, wrapErr(err, "postgres: begin")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	r, err := scanReconciliation(tx.QueryRow(ctx, `SELECT `+reconColumns+` FROM reconciliations WHERE day = $1 AND channel = $2`, day, string(ch)))
	if err != nil {
		return nil, dbError(err, what)
	}
	const ofReport = `day = $1 AND bill_channel = $2 ORDER BY id`
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
	// channel = $1 OR $1 = '': one statement for both; the days' subquery
	// walks the primary key's day prefix newest first. Channels' names
	// sort as ReconChannels lists them (COLLATE "C": whatever the
	// database's collation).
	rows, err := s.pool.Query(ctx, `SELECT `+reconColumns+` FROM reconciliations
		WHERE (channel = $1 OR $1 = '') AND day IN (
			SELECT DISTINCT day FROM reconciliations WHERE channel = $1 OR $1 = '' ORDER BY day DESC LIMIT $2)
		ORDER BY day DESC, channel COLLATE "C"`, string(ch), reconLimit(limit))
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
		`day = $1 AND merchant_id = $2 ORDER BY bill_channel COLLATE "C", id`, day, merchantID)
}

// ReconCrossDayOf returns channel ch's cross-day entries, of any day, of
// one payment (outRequestNo empty) or refund, by day.
func (s *Store) ReconCrossDayOf(ctx context.Context, ch paygate.Channel, kind paygate.BookKind, channelNo, outRequestNo string) ([]*paygate.ReconCrossDay, error) {
	if err := paygate.CheckReconChannel(ch); err != nil {
		return nil, err
	}
	return crossDay(ctx, s.pool, "reconciliation cross-day entries of "+channelNo,
		`bill_channel = $1 AND kind = $2 AND channel_no = $3 AND out_request_no = $4 ORDER BY day, id`, string(ch), string(kind), channelNo, outRequestNo)
}

func differences(ctx context.Context, q querier, what, table, where string, args ...any) ([]*paygate.ReconDifference, error) {
	rows, err := q.Query(ctx, `
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
		var merchantID, orderID *int64
		var local, channel []byte
		var billChannel string
		err := rows.Scan(&d.ID, &d.Day, &billChannel, &d.Kind, &merchantID, &orderID, &d.OutTradeNo, &d.ChannelNo, &d.TradeNo,
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
		d.Local, d.Channel, d.BillChannel = local, channel, paygate.Channel(billChannel)
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
