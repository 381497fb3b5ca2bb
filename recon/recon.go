// Package recon reconciles a day's books with a channel's trade bill of
// that day (对账): the daily proof that paygate's books equal the
// channel's. Each channel is reconciled on its own: Alipay's bill against
// the Alipay orders of the books, WeChat Pay's against the WeChat Pay
// orders (an auto order is in the books of the channel that was paid), each
// run keeping its own report of the day (see Bills, Alipay, Wechat).
//
// One pass, in constant memory: the bill (Alipay: a zip of GBK CSV;
// WeChat Pay: UTF-8 CSV; both in completion order) is streamed and sorted
// by channel number through spilled runs, the store streams the channel's
// payments and refunds of the day in the same order, and the sorted
// streams are merged entry by entry. Each channel number's entries on both
// sides are compared; what differs is one of five kinds:
//
//   - missing_local: the bill has a payment or refund the books do not know
//     (a trade made outside paygate, on the same account): the worst kind;
//   - missing_channel: the books count a payment or refund the bill lacks;
//   - status_mismatch: paid at the channel, pending or closed here (or paid
//     at the channel for an order taken on the other one);
//   - amount_mismatch: both have the payment, the amounts differ;
//   - refund_mismatch: a refund differs: made at the channel and not
//     recorded here, pending or failed here, or of another amount.
//
// Midnight: the books date a payment by the channel's own payment time when
// it gave one, so both sides nearly always agree on the day. Entries
// within Margin of midnight are still looked for on both days: the books
// are scanned from Margin before the day to Margin after it; an entry of the
// books dated just after midnight that this day's bill has is kept as a
// cross-day match (so the next day does not call it missing), and one dated
// just before midnight that the bill lacks is carried to the next day, and
// only a difference if that day's bill lacks it too.
//
// Repair goes only forward and only by the channel's word: a pending order
// the bill says was paid is queried and settled through the gateway's state
// machine (events and webhooks follow as for a notification), and a refund
// the channel made is asked of its refund query and recorded; the gateway
// asks the order's own channel. Nothing else is changed: missing_channel,
// amount_mismatch, trades unknown here and closed orders that the channel
// says were paid stay open for an operator.
package recon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/gateway"
)

// The kinds of difference.
const (
	MissingLocal   = paygate.ReconMissingLocal
	MissingChannel = paygate.ReconMissingChannel
	StatusMismatch = paygate.ReconStatusMismatch
	AmountMismatch = paygate.ReconAmountMismatch
	RefundMismatch = paygate.ReconRefundMismatch
)

// Kinds lists the kinds of difference, worst first.
var Kinds = []string{MissingLocal, MissingChannel, StatusMismatch, AmountMismatch, RefundMismatch}

// ErrBillNotReady means the channel has not published the day's bill
// (yet): the daily job tries again later.
var ErrBillNotReady = errors.New("reconcile: the channel has no bill for that day (yet)")

// Repairer applies the channel's word to an order: the gateway.
type Repairer interface {
	RepairPayment(ctx context.Context, orderID int64) (gateway.Repair, error)
	RepairRefund(ctx context.Context, orderID int64, outRequestNo string) (gateway.Repair, error)
}

// Observer receives each finished report (for metrics); may be nil.
type Observer interface {
	Reconciled(r *paygate.Reconciliation)
}

// Config wires a Reconciler.
type Config struct {
	Store paygate.Store
	// Bills is the channel whose bills are reconciled, and where they come
	// from: Alipay(client) or Wechat(client). nil is Alipay(nil): Alipay's
	// bill files only.
	Bills    Bills
	Repairer Repairer // nil: no repair
	Logger   *slog.Logger
	Now      func() time.Time
	Observer Observer
	// TempDir holds the downloaded bill and the sorted runs; default the
	// system's.
	TempDir string
	// ChunkRows is how many bill entries are sorted in memory at once;
	// default 250,000 (about 40 MB).
	ChunkRows int
	// Margin is how close to midnight an entry may be dated on either side
	// and still be sought on the neighbouring day's bill; default 15 min.
	Margin time.Duration
	// MaxDifferences is how many differences a report keeps in detail (all
	// are counted); default 10,000.
	MaxDifferences int
	// DownloadTimeout bounds a bill's download; default 5 min.
	DownloadTimeout time.Duration
}

// Reconciler runs reconciliations of one channel's bills.
type Reconciler struct {
	cfg Config
	log *slog.Logger
	ch  paygate.Channel
}

// New returns a Reconciler with cfg's defaults filled.
func New(cfg Config) (*Reconciler, error) {
	if cfg.Store == nil {
		return nil, errors.New("recon: a store is required")
	}
	if cfg.Bills == nil {
		cfg.Bills = Alipay(nil)
	}
	if err := paygate.CheckReconChannel(cfg.Bills.Channel()); err != nil {
		return nil, fmt.Errorf("recon: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ChunkRows <= 0 {
		cfg.ChunkRows = 250_000
	}
	if cfg.Margin <= 0 {
		cfg.Margin = 15 * time.Minute
	}
	if cfg.MaxDifferences <= 0 {
		cfg.MaxDifferences = 10_000
	}
	if cfg.DownloadTimeout <= 0 {
		cfg.DownloadTimeout = 5 * time.Minute
	}
	ch := cfg.Bills.Channel()
	return &Reconciler{cfg: cfg, log: cfg.Logger.With("channel", string(ch)), ch: ch}, nil
}

// Channel is the channel whose bills r reconciles.
func (r *Reconciler) Channel() paygate.Channel { return r.ch }

// Options are one run's.
type Options struct {
	// Repair re-queries each forward difference at the channel and applies
	// the answer through the state machine.
	Repair bool
	// BillFile reconciles a bill already downloaded (Alipay: the zip
	// archive; WeChat Pay: the CSV, plain or gzipped) instead of asking the
	// channel.
	BillFile string
	// Progress, when set, is called with the bill rows read so far, every
	// 65,536 rows and at the end.
	Progress func(rows int)
}

// DayBounds returns the day's start and end (exclusive) in China time, as
// the channels' bills count days, from "yyyy-MM-dd".
func DayBounds(day string) (time.Time, time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02", day, alipay.ChinaTime)
	if err != nil || t.Format("2006-01-02") != day {
		return time.Time{}, time.Time{}, paygate.Errorf(paygate.EInvalid, "date %q is not a day like 2026-11-30", day)
	}
	return t, t.AddDate(0, 0, 1), nil
}

// DayOf is the China-time day of t.
func DayOf(t time.Time) string { return t.In(alipay.ChinaTime).Format("2006-01-02") }

// Run reconciles day ("yyyy-MM-dd", China time) against the channel's bill
// and stores its report, replacing the channel's earlier one of the day (the
// other channel's stays). A run that fails stores a failed report only when
// the day has no successful one of the channel.
func (r *Reconciler) Run(ctx context.Context, day string, opt Options) (*paygate.Reconciliation, error) {
	rep := &paygate.Reconciliation{Day: day, Channel: r.ch, StartedAt: r.cfg.Now().UTC()}
	err := r.run(ctx, rep, opt)
	rep.FinishedAt = r.cfg.Now().UTC()
	if err != nil {
		rep.Status, rep.Error = paygate.ReconFailed, err.Error()
		rep.Differences, rep.CrossDay = nil, nil
		if paygate.ErrorCode(err) != paygate.EInvalid {
			r.saveFailed(ctx, rep)
		}
		return rep, err
	}
	rep.Status = paygate.ReconDone
	if err := r.cfg.Store.SaveReconciliation(ctx, rep); err != nil {
		return rep, fmt.Errorf("reconcile %s %s: save the report: %w", r.ch, day, err)
	}
	if r.cfg.Observer != nil {
		r.cfg.Observer.Reconciled(rep)
	}
	r.log.InfoContext(ctx, "reconciled", "day", day, "channel_rows", rep.ChannelRows, "local_rows", rep.LocalRows,
		"matched", rep.Matched, "differences", rep.DifferenceCount, "open", rep.OpenCount, "repairs", rep.Repairs,
		"took", rep.FinishedAt.Sub(rep.StartedAt).String())
	return rep, nil
}

func (r *Reconciler) saveFailed(ctx context.Context, rep *paygate.Reconciliation) {
	old, err := r.cfg.Store.Reconciliation(ctx, rep.Day, r.ch)
	if err == nil && old.Status == paygate.ReconDone {
		return // keep the day's good report
	}
	if err != nil && paygate.ErrorCode(err) != paygate.ENotFound {
		return
	}
	if err := r.cfg.Store.SaveReconciliation(ctx, rep); err != nil {
		r.log.WarnContext(ctx, "reconcile: could not record the failed run", "day", rep.Day, "err", err)
	}
}

func (r *Reconciler) run(ctx context.Context, rep *paygate.Reconciliation, opt Options) error {
	start, end, err := DayBounds(rep.Day)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The books' scans start first, each in its own goroutine: the
	// database plans (PostgreSQL: in its own process) and reads ahead while
	// the bill downloads and is read. The day's
	// payments are one scan (the stores walk a day index, no sort), the
	// margins around midnight two small ones.
	from, to := start.Add(-r.cfg.Margin), end.Add(r.cfg.Margin)
	payments, refunds := r.scan(r.cfg.Store.ScanBookPayments), r.scan(r.cfg.Store.ScanBookRefunds)
	books := []*bookStream{
		startBooks(ctx, payments, from, start),
		startBooks(ctx, payments, start, end),
		startBooks(ctx, payments, end, to),
		startBooks(ctx, refunds, from, to),
	}
	defer drain(books, cancel)

	bill, source, err := r.openBill(ctx, rep.Day, opt.BillFile, start, end)
	if err != nil {
		return err
	}
	defer bill.close()
	rep.Source = source
	sorted := newSorter(r.cfg.ChunkRows, r.cfg.TempDir)
	defer sorted.close()
	if err := r.readBill(bill, sorted, rep, opt.Progress); err != nil {
		return err
	}
	rows, err := sorted.iterator()
	if err != nil {
		return err
	}
	m, err := r.newMerger(ctx, rep, start, end)
	if err != nil {
		return err
	}
	if err := m.merge(rows, books); err != nil {
		return err
	}
	if opt.Repair {
		m.repair()
	}
	m.finish()
	return nil
}

// drain stops the scans, waits for their goroutines and releases their
// spools.
func drain(books []*bookStream, cancel context.CancelFunc) {
	cancel()
	for _, s := range books {
		s.close()
	}
}

// scan is one of the store's scans of the channel's books.
func (r *Reconciler) scan(s func(context.Context, paygate.Channel, time.Time, time.Time, func(*paygate.BookEntry) error) error) scanFunc {
	return func(ctx context.Context, from, to time.Time, fn func(*paygate.BookEntry) error) error {
		return s(ctx, r.ch, from, to, fn)
	}
}

// openBill opens the bill file given, or downloads the day's bill to a
// temporary file, and reads its rows.
func (r *Reconciler) openBill(ctx context.Context, day, file string, start, end time.Time) (billRows, string, error) {
	var f *os.File
	source := "download"
	if file != "" {
		var err error
		if f, err = os.Open(file); err != nil {
			return nil, "", fmt.Errorf("reconcile %s %s: %w", r.ch, day, err)
		}
		source = "file " + file
	} else {
		dctx, cancel := context.WithTimeout(ctx, r.cfg.DownloadTimeout)
		var err error
		f, err = r.cfg.Bills.fetch(dctx, day, r.cfg.TempDir)
		cancel()
		if err != nil {
			return nil, "", err
		}
		if f == nil {
			return emptyBill{}, "download: no bill, no trades that day", nil
		}
	}
	rows, err := r.cfg.Bills.open(f, start, end)
	if err != nil {
		f.Close()
		return nil, "", fmt.Errorf("reconcile %s %s: %w", r.ch, day, err)
	}
	return closeBoth{rows, f}, source, nil
}

// closeBoth is a bill's rows and the file they are read from.
type closeBoth struct {
	billRows
	f *os.File
}

func (c closeBoth) close() {
	c.billRows.close()
	c.f.Close()
}

// readBill streams the bill's rows into the sorter. The reader checks the
// rows against the bill's own totals at its end.
func (r *Reconciler) readBill(bill billRows, s *sorter, rep *paygate.Reconciliation, progress func(int)) error {
	var e entry
	for {
		err := bill.next(&e)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reconcile %s %s: %w", r.ch, rep.Day, err)
		}
		if err := s.add(e); err != nil {
			return err
		}
		rep.ChannelRows++
		if progress != nil && rep.ChannelRows%65536 == 0 {
			progress(rep.ChannelRows)
		}
	}
	if progress != nil {
		progress(rep.ChannelRows)
	}
	return nil
}

// side is one side's view of an entry in a difference.
type side struct {
	Kind         paygate.BookKind `json:"kind"`
	Status       string           `json:"status,omitempty"`
	Amount       paygate.Money    `json:"amount"`
	Refunded     *paygate.Money   `json:"refunded,omitempty"`
	TradeNo      string           `json:"trade_no,omitempty"`
	OutRequestNo string           `json:"out_request_no,omitempty"`
	At           *time.Time       `json:"at,omitempty"`
}

func rawJSON(v any) json.RawMessage {
	if v == nil {
		return json.RawMessage("null")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
