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
		repair   bool
		asJSON   bool
		billFile string
	)
	cmd := &cobra.Command{
		Use:   "reconcile --date YYYY-MM-DD [--repair] [--json] [--bill FILE.zip]",
		Short: "Reconcile a day's books against Alipay's trade bill (exit 3 when differences remain)",
		Long: "Download Alipay's trade bill of a day (China time; --bill reconciles an archive already\n" +
			"downloaded), stream it against the day's payments and refunds, and report each difference:\n" +
			"missing_local, missing_channel, status_mismatch, amount_mismatch, refund_mismatch. --repair\n" +
			"re-queries the forward ones at Alipay and applies the answer through the state machine (events\n" +
			"and webhooks follow); nothing else is changed. The report is kept: see `reconcile list` and\n" +
			"`reconcile show`. Exit 0 when no differences remain, 3 when some do, 1 on failure. Works beside\n" +
			"a running node on the same data; with --data it uses the demo's configuration, including its\n" +
			"simulator. The date may be today or yesterday (China time).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			day, err := parseDay(date, time.Now())
			if err != nil {
				return err
			}
			env, err := openReconcile(ctx, &d, stderr, repair, billFile == "")
			if err != nil {
				return err
			}
			defer env.close()
			opt := recon.Options{Repair: repair, BillFile: billFile}
			if !asJSON && isTerminal(stderr) {
				opt.Progress = progressLine(stderr, time.Now())
			}
			ctx, end := commandSpan(ctx, env.tracer, "reconcile", attribute.String("paygate.day", day))
			defer end()
			rep, err := env.rc.Run(ctx, day, opt)
			if opt.Progress != nil {
				fmt.Fprintln(stderr)
			}
			if err != nil {
				return err
			}
			if err := printReport(stdout, rep, asJSON); err != nil {
				return err
			}
			if rep.OpenCount > 0 {
				return differencesError{rep.OpenCount}
			}
			return nil
		},
	}
	d.register(cmd)
	cmd.Flags().StringVar(&date, "date", "", "the day to reconcile, YYYY-MM-DD in China time (or today, yesterday)")
	cmd.Flags().BoolVar(&repair, "repair", false, "re-query forward differences at Alipay and apply the answers")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	cmd.Flags().StringVar(&billFile, "bill", "", "reconcile this bill archive (zip) instead of downloading the day's")
	cmd.AddCommand(newReconcileListCmd(stdout), newReconcileShowCmd(stdout))
	return cmd
}

func newReconcileListCmd(stdout io.Writer) *cobra.Command {
	var (
		d      dataFlags
		limit  int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list [--limit N] [--json]",
		Short: "List the kept reconciliation reports, newest day first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > 1000 {
				return fmt.Errorf("reconcile list: --limit must be from 1 to 1000")
			}
			st, _, err := openEventStore(cmd.Context(), &d)
			if err != nil {
				return err
			}
			defer st.Close()
			reps, err := st.ListReconciliations(cmd.Context(), limit)
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
			fmt.Fprintln(tw, "DATE\tSTATUS\tBILL ROWS\tBOOK ROWS\tMATCHED\tDIFFERENCES\tOPEN\tREPAIRS\tFINISHED")
			for _, r := range reps {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Day, r.Status, r.ChannelRows, r.LocalRows,
					r.Matched, r.DifferenceCount, r.OpenCount, r.Repairs, rfc3339(r.FinishedAt))
			}
			return tw.Flush()
		},
	}
	d.register(cmd)
	cmd.Flags().IntVar(&limit, "limit", 30, "at most this many reports (1 to 1000)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per report")
	return cmd
}

func newReconcileShowCmd(stdout io.Writer) *cobra.Command {
	var (
		d      dataFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "show DATE [--json]",
		Short: "Show a day's kept reconciliation report with its differences",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			day, err := parseDay(args[0], time.Now())
			if err != nil {
				return err
			}
			st, _, err := openEventStore(cmd.Context(), &d)
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := st.Reconciliation(cmd.Context(), day)
			if paygate.ErrorCode(err) == paygate.ENotFound {
				return fmt.Errorf("reconcile show: %s was never reconciled", day)
			}
			if err != nil {
				return fmt.Errorf("reconcile show: %w", err)
			}
			return printReport(stdout, rep, asJSON)
		},
	}
	d.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as one JSON object")
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
// node: the store, and the channel and a gateway (for downloads and
// repairs) when asked for.
type reconcileEnv struct {
	rc      *recon.Reconciler
	tracer  trace.TracerProvider // nil: tracing off
	closers []func() error
}

func (e *reconcileEnv) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

func openReconcile(ctx context.Context, d *dataFlags, stderr io.Writer, repair, download bool) (*reconcileEnv, error) {
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
		rcfg.Bills, rcfg.Repairer = client, svc
	}
	if env.rc, err = recon.New(rcfg); err != nil {
		return nil, err
	}
	ok = true
	return env, nil
}

// printReport prints rep as JSON or as a summary and a table.
func printReport(w io.Writer, rep *paygate.Reconciliation, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(rep.View())
	}
	fmt.Fprintf(w, "reconciliation of %s (%s): %s\n", rep.Day, orDash(rep.Source), rep.Status)
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
		fmt.Fprintf(w, "\nrepairs made by the runs of %s:\n", rep.Day)
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
