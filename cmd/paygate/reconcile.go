package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/jobs"
	"github.com/paygate/paygate/recon"
)

// differencesError ends reconcile with exit status 3: the run worked, and
// differences remain for an operator.
type differencesError struct{ open int }

func (e differencesError) Error() string {
	return fmt.Sprintf("%d difference(s) remain: see the report", e.open)
}

// ExitCode implements exitCoder.
func (differencesError) ExitCode() int { return 3 }

func newReconcileCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		d        dataFlags
		date     string
		channel  string
		repair   bool
		asJSON   bool
		billFile string
	)
	cmd := &cobra.Command{
		Use:   "reconcile --date YYYY-MM-DD [--channel alipay|wechat] [--repair] [--json] [--bill FILE]",
		Short: "Reconcile a day's books against each channel's trade bill (exit 3 when differences remain)",
		Long: "Download each configured channel's trade bill of a day (China time): Alipay's, and WeChat Pay's\n" +
			"when the wechat: section is set; --channel takes one. Stream it against that channel's payments\n" +
			"and refunds of the day, and report each difference: missing_local, missing_channel,\n" +
			"status_mismatch, amount_mismatch, refund_mismatch. --bill reconciles a bill already downloaded\n" +
			"(Alipay's zip, or with --channel wechat WeChat Pay's CSV, plain or gzipped); without --channel it\n" +
			"is Alipay's. --repair re-queries the forward differences at the order's channel and applies the\n" +
			"answer through the state machine (events and webhooks follow); nothing else is changed. Each\n" +
			"channel's report is kept beside the other's: see `reconcile list` and `reconcile show`. Exit 0\n" +
			"when no differences remain, 3 when some do, 1 when a channel's run failed (the others still\n" +
			"run). --json prints one object per channel, a line each. Works beside a running node on the same\n" +
			"data; with --data it uses the demo's configuration, including its simulators. WeChat Pay makes a\n" +
			"day's bill from 10:00 the next day; the date may be today or yesterday (China time).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			day, err := parseDay(date, time.Now())
			if err != nil {
				return err
			}
			only, err := parseChannel(channel)
			if err != nil {
				return err
			}
			if billFile != "" && only == "" {
				only = paygate.ChannelAlipay // a bill file is one channel's: Alipay's unless said
			}
			env, err := openReconcile(ctx, &d, stderr, repair, billFile == "", only)
			if err != nil {
				return err
			}
			defer env.close()
			var firstErr error
			open := 0
			for _, rc := range env.rcs {
				opt := recon.Options{Repair: repair, BillFile: billFile}
				if !asJSON && isTerminal(stderr) {
					opt.Progress = progressLine(stderr, time.Now())
				}
				sctx, end := commandSpan(ctx, env.tracer, "reconcile", attribute.String("paygate.day", day),
					attribute.String("paygate.channel", string(rc.Channel())))
				rep, err := rc.Run(sctx, day, opt)
				end()
				if opt.Progress != nil {
					fmt.Fprintln(stderr)
				}
				if err != nil {
					// The other channels still run; the first failure is
					// the command's.
					fmt.Fprintf(stderr, "reconcile %s of %s: %v\n", channelTitle(rc.Channel()), day, err)
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				if err := printReport(stdout, rep, asJSON); err != nil {
					return err
				}
				open += rep.OpenCount
			}
			switch {
			case firstErr != nil:
				return firstErr
			case open > 0:
				return differencesError{open}
			}
			return nil
		},
	}
	d.register(cmd)
	cmd.Flags().StringVar(&date, "date", "", "the day to reconcile, YYYY-MM-DD in China time (or today, yesterday)")
	cmd.Flags().StringVar(&channel, "channel", "", "reconcile this channel's bill only: alipay or wechat (default: every configured channel)")
	cmd.Flags().BoolVar(&repair, "repair", false, "re-query forward differences at the order's channel and apply the answers")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each channel's report as one JSON object, a line each")
	cmd.Flags().StringVar(&billFile, "bill", "", "reconcile this bill file instead of downloading the day's (Alipay's zip, or WeChat Pay's CSV with --channel wechat)")
	cmd.AddCommand(newReconcileListCmd(stdout), newReconcileShowCmd(stdout))
	return cmd
}

// parseChannel reads --channel: "" (every channel), alipay or wechat.
func parseChannel(s string) (paygate.Channel, error) {
	if s == "" {
		return "", nil
	}
	ch := paygate.Channel(s)
	if paygate.CheckReconChannel(ch) != nil {
		return "", fmt.Errorf("reconcile: --channel must be alipay or wechat, not %q", s)
	}
	return ch, nil
}

// channelTitle is a channel's name as people write it.
func channelTitle(ch paygate.Channel) string {
	if ch == paygate.ChannelWechat {
		return "WeChat Pay"
	}
	return "Alipay"
}

func newReconcileListCmd(stdout io.Writer) *cobra.Command {
	var (
		d       dataFlags
		limit   int
		channel string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "list [--channel alipay|wechat] [--limit N] [--json]",
		Short: "List the kept reconciliation reports, newest day first, each channel's",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > 1000 {
				return fmt.Errorf("reconcile list: --limit must be from 1 to 1000")
			}
			ch, err := parseChannel(channel)
			if err != nil {
				return err
			}
			st, _, err := openEventStore(cmd.Context(), &d)
			if err != nil {
				return err
			}
			defer st.Close()
			reps, err := st.ListReconciliations(cmd.Context(), ch, limit)
			if err != nil {
				return fmt.Errorf("reconcile list: %w", err)
			}
			if asJSON {
				enc := json.NewEncoder(stdout)
				for _, r := range reps {
					v := r.View()
					v.Differences = nil
					if err := enc.Encode(v); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DATE\tCHANNEL\tSTATUS\tBILL ROWS\tBOOK ROWS\tMATCHED\tDIFFERENCES\tOPEN\tREPAIRS\tFINISHED")
			for _, r := range reps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Day, r.Channel, r.Status, r.ChannelRows, r.LocalRows,
					r.Matched, r.DifferenceCount, r.OpenCount, r.Repairs, rfc3339(r.FinishedAt))
			}
			return tw.Flush()
		},
	}
	d.register(cmd)
	cmd.Flags().IntVar(&limit, "limit", 30, "the reports of at most this many days (1 to 1000)")
	cmd.Flags().StringVar(&channel, "channel", "", "this channel's reports only: alipay or wechat (default: both)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per report")
	return cmd
}

func newReconcileShowCmd(stdout io.Writer) *cobra.Command {
	var (
		d       dataFlags
		channel string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "show DATE [--channel alipay|wechat] [--json]",
		Short: "Show a day's kept reconciliation reports (each channel's, or one) with their differences",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			day, err := parseDay(args[0], time.Now())
			if err != nil {
				return err
			}
			only, err := parseChannel(channel)
			if err != nil {
				return err
			}
			st, _, err := openEventStore(cmd.Context(), &d)
			if err != nil {
				return err
			}
			defer st.Close()
			channels := paygate.ReconChannels
			if only != "" {
				channels = []paygate.Channel{only}
			}
			shown := 0
			for _, ch := range channels {
				rep, err := st.Reconciliation(cmd.Context(), day, ch)
				if paygate.ErrorCode(err) == paygate.ENotFound {
					continue
				}
				if err != nil {
					return fmt.Errorf("reconcile show: %w", err)
				}
				if shown > 0 && !asJSON {
					fmt.Fprintln(stdout)
				}
				if err := printReport(stdout, rep, asJSON); err != nil {
					return err
				}
				shown++
			}
			if shown == 0 {
				if only != "" {
					return fmt.Errorf("reconcile show: %s's bill of %s was never reconciled", channelTitle(only), day)
				}
				return fmt.Errorf("reconcile show: %s was never reconciled", day)
			}
			return nil
		},
	}
	d.register(cmd)
	cmd.Flags().StringVar(&channel, "channel", "", "this channel's report only: alipay or wechat (default: both)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each report as one JSON object, a line each")
	return cmd
}

// parseDay reads YYYY-MM-DD, or today or yesterday in China time.
func parseDay(s string, now time.Time) (string, error) {
	switch s {
	case "":
		return "", fmt.Errorf("reconcile: --date is required (YYYY-MM-DD, today or yesterday)")
	case "today":
		return recon.DayOf(now), nil
	case "yesterday":
		return recon.DayOf(now.AddDate(0, 0, -1)), nil
	}
	if _, _, err := recon.DayBounds(s); err != nil {
		return "", fmt.Errorf("reconcile: %w", err)
	}
	return s, nil
}

// reconcileEnv is what a reconcile run needs, opened beside any running
// node: the store, and for each channel reconciled its reconciler, with
// the channel's client and a gateway (for downloads and repairs) when
// asked for.
type reconcileEnv struct {
	rcs     []*recon.Reconciler
	tracer  trace.TracerProvider // nil: tracing off
	closers []func() error
}

func (e *reconcileEnv) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

// openReconcile opens the store and a reconciler per channel: only's, or
// every configured channel's (Alipay's, and WeChat Pay's when its section is
// set). A channel asked for by name must be configured to download its bill.
func openReconcile(ctx context.Context, d *dataFlags, stderr io.Writer, repair, download bool, only paygate.Channel) (*reconcileEnv, error) {
	cfg, err := d.resolve()
	if err != nil {
		return nil, err
	}
	logger, err := newLogger(stderr, cfg.Log.Level)
	if err != nil {
		return nil, err
	}
	env := &reconcileEnv{}
	ok := false
	defer func() {
		if !ok {
			env.close()
		}
	}()
	tr, stopTracing, err := startTracing(ctx, logger)
	if err != nil {
		return nil, err
	}
	env.closers = append(env.closers, func() error { stopTracing(); return nil })
	cfg.tracer, env.tracer = tr.Provider(), tr.Provider()
	st, err := openData(ctx, cfg)
	if err != nil {
		return nil, err
	}
	env.closers = append(env.closers, st.Close)
	rcfg := recon.Config{Store: st, Logger: logger}
	var aliClient *alipay.Client
	if repair || download {
		// A queue that only inserts: the repairs' webhooks and
		// compensations are delivered by the running node's workers.
		q, err := newQueue(ctx, st, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			return nil, err
		}
		// The repairs' channel calls go on the orders' timelines too.
		activity := newActivityLog(st, logger, nil)
		env.closers = append(env.closers, closeActivity(activity))
		client, svc, err := newService(cfg, st, q, logger, nil, activity)
		if err != nil {
			return nil, err
		}
		jobs.RegisterCompensation(q, svc)
		jobs.RegisterWebhooks(q, jobs.WebhookConfig{Store: st})
		aliClient, rcfg.Repairer = client, svc
	}
	bills, err := reconBills(cfg, aliClient)
	if err != nil {
		return nil, err
	}
	if only != "" {
		b, ok := bills[only]
		switch {
		case !ok && download:
			return nil, fmt.Errorf("reconcile: WeChat Pay is not configured (no wechat.mch_id): configure it, or give its bill with --bill")
		case !ok:
			b = recon.Wechat(nil) // a bill file needs no client
		}
		bills = map[paygate.Channel]recon.Bills{only: b}
	}
	for _, ch := range paygate.ReconChannels {
		b, ok := bills[ch]
		if !ok {
			continue
		}
		c := rcfg
		c.Bills = b
		rc, err := recon.New(c)
		if err != nil {
			return nil, err
		}
		env.rcs = append(env.rcs, rc)
	}
	ok = true
	return env, nil
}

// reconBills are the configured channels' bills: Alipay's always, through
// aliClient (nil: bill files only), and WeChat Pay's when the wechat:
// section is set, through a client of its own (bare: no retries, no
// breaker, as Alipay's bill client).
func reconBills(cfg config, aliClient *alipay.Client) (map[paygate.Channel]recon.Bills, error) {
	bills := map[paygate.Channel]recon.Bills{paygate.ChannelAlipay: recon.Alipay(nil)}
	if aliClient != nil {
		bills[paygate.ChannelAlipay] = recon.Alipay(aliClient)
	}
	wx, err := newWechatClient(cfg)
	if err != nil {
		return nil, err
	}
	if wx != nil {
		bills[paygate.ChannelWechat] = recon.Wechat(wx)
	}
	return bills, nil
}

// printReport prints rep as JSON or as a summary and a table.
func printReport(w io.Writer, rep *paygate.Reconciliation, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(rep.View())
	}
	fmt.Fprintf(w, "%s reconciliation of %s (%s): %s\n", channelTitle(rep.Channel), rep.Day, orDash(rep.Source), rep.Status)
	if rep.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", rep.Error)
	}
	fmt.Fprintf(w, "  bill rows %d, book rows %d, matched %d, differences %d (open %d), repairs %d\n",
		rep.ChannelRows, rep.LocalRows, rep.Matched, rep.DifferenceCount, rep.OpenCount, rep.Repairs)
	if len(rep.Differences) > 0 {
		if err := printDifferences(w, rep); err != nil {
			return err
		}
	}
	if len(rep.RepairLog) > 0 {
		fmt.Fprintf(w, "\nrepairs made by the runs of %s on %s's bill:\n", rep.Day, channelTitle(rep.Channel))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REPAIRED_AT\tKIND\tOUT_TRADE_NO\tCHANNEL_OUT_TRADE_NO\tBEFORE\tAFTER\tACTION")
		for _, d := range rep.RepairLog {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", rfc3339(d.RepairedAt), d.Kind, orDash(d.OutTradeNo), d.ChannelNo,
				d.Before, d.After, d.Action)
		}
		return tw.Flush()
	}
	return nil
}

// printDifferences prints rep's differences as a table.
func printDifferences(w io.Writer, rep *paygate.Reconciliation) error {
	if len(rep.Differences) < rep.DifferenceCount {
		fmt.Fprintf(w, "  (the first %d differences are kept in detail)\n", len(rep.Differences))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tOUT_TRADE_NO\tCHANNEL_OUT_TRADE_NO\tTRADE_NO\tLOCAL\tCHANNEL\tREPAIRED\tACTION")
	for _, d := range rep.Differences {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%v\t%s\n", d.Kind, orDash(d.OutTradeNo), d.ChannelNo, orDash(d.TradeNo),
			sideSummary(d.Local), sideSummary(d.Channel), d.Repaired, d.Action)
	}
	return tw.Flush()
}

// sideSummary is one side of a difference in a few words: "paid 9.90",
// "refund r1 1.00", or "-".
func sideSummary(raw json.RawMessage) string { return orDash(paygate.ReconSideSummary(raw)) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressLine rewrites one line on w with the rows read and the rate.
func progressLine(w io.Writer, start time.Time) func(int) {
	return func(rows int) {
		secs := time.Since(start).Seconds()
		rate := 0.0
		if secs > 0 {
			rate = float64(rows) / secs
		}
		fmt.Fprintf(w, "\r  %d bill rows read, %.0f rows/s ", rows, rate)
	}
}
