package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/jobs"
)

func newEventsCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "List webhook events and re-send them",
		Long: "Inspect the webhook events sent to merchants, and re-send one by hand (for example once a\n" +
			"merchant's endpoint is back after its event was dead-lettered). Works beside a running server\n" +
			"on the same data; the server's workers deliver what is re-sent.",
	}
	cmd.AddCommand(newEventsListCmd(stdout, stderr), newEventsResendCmd(stdout, stderr))
	return cmd
}

func newEventsListCmd(stdout, _ io.Writer) *cobra.Command {
	var (
		d           dataFlags
		undelivered bool
		typ         string
		merchant    string
		limit       int
		asJSON      bool
	)
	cmd := &cobra.Command{
		Use:   "list [--undelivered] [--type TYPE] [--merchant ACCESS_KEY] [--limit N] [--json]",
		Short: "List webhook events, newest first, with their delivery state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if typ != "" && !paygate.ValidEventType(typ) {
				return fmt.Errorf("events list: --type must be one of %s", strings.Join(paygate.EventTypes(), ", "))
			}
			if limit < 1 || limit > 500 {
				return fmt.Errorf("events list: --limit must be from 1 to 500")
			}
			st, _, err := openEventStore(cmd.Context(), &d)
			if err != nil {
				return err
			}
			defer st.Close()
			f := paygate.EventFilter{Type: typ, Undelivered: undelivered, Limit: limit}
			if f.MerchantID, err = merchantID(cmd.Context(), st, merchant); err != nil {
				return err
			}
			events, err := st.ListEvents(cmd.Context(), f)
			if err != nil {
				return fmt.Errorf("events list: %w", err)
			}
			if asJSON {
				enc := json.NewEncoder(stdout)
				for _, e := range events {
					if err := enc.Encode(newEventLine(e)); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTYPE\tCREATED\tSTATE\tATTEMPTS\tMERCHANT\tOUT_TRADE_NO")
			for _, e := range events {
				l := newEventLine(e)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", l.ID, l.Type, l.CreatedAt, l.State, l.Attempts, l.MerchantID, l.OutTradeNo)
			}
			return tw.Flush()
		},
	}
	d.register(cmd)
	cmd.Flags().BoolVar(&undelivered, "undelivered", false, "only events not acknowledged yet (pending or dead-lettered)")
	cmd.Flags().StringVar(&typ, "type", "", "only events of this type: "+strings.Join(paygate.EventTypes(), ", "))
	cmd.Flags().StringVar(&merchant, "merchant", "", "only this merchant's events (its access key)")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many events (1 to 500)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per event")
	return cmd
}

func newEventsResendCmd(stdout, _ io.Writer) *cobra.Command {
	var (
		d        dataFlags
		merchant string
	)
	cmd := &cobra.Command{
		Use:   "resend EVENT_ID [--merchant ACCESS_KEY]",
		Short: "Deliver an event again, with a full schedule of retries",
		Long: "Make an event due for delivery again, whatever its state (dead-lettered, pending or delivered),\n" +
			"and queue its delivery in the same transaction. A running server's workers send it.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, cfg, err := openEventStore(ctx, &d)
			if err != nil {
				return err
			}
			defer st.Close()
			mid, err := merchantID(ctx, st, merchant)
			if err != nil {
				return err
			}
			// A queue that only inserts: it is never started, but River
			// checks a job's kind against the registered workers on insert.
			q, err := newQueue(ctx, st, cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			jobs.RegisterWebhooks(q, jobs.WebhookConfig{Store: st})
			svc := &jobs.EventService{Store: st, Queue: q}
			e, err := svc.ResendEvent(ctx, mid, args[0])
			if err != nil {
				return fmt.Errorf("events resend: %w", err)
			}
			fmt.Fprintf(stdout, "event %s (%s) queued for delivery; %d attempts so far\n", e.ID, e.Type, e.Attempts)
			return nil
		},
	}
	d.register(cmd)
	cmd.Flags().StringVar(&merchant, "merchant", "", "require the event to be this merchant's (its access key)")
	return cmd
}

// openEventStore opens, migrates and key-checks the configured store.
func openEventStore(ctx context.Context, d *dataFlags) (storeCloser, config, error) {
	cfg, err := d.resolve()
	if err != nil {
		return nil, cfg, err
	}
	st, err := openData(ctx, cfg)
	return st, cfg, err
}

// merchantID is the ID of the merchant with accessKey, 0 (every merchant)
// when accessKey is empty.
func merchantID(ctx context.Context, st paygate.Store, accessKey string) (int64, error) {
	if accessKey == "" {
		return 0, nil
	}
	m, err := st.MerchantByAccessKey(ctx, accessKey)
	if err != nil {
		return 0, fmt.Errorf("--merchant %s: %w", accessKey, err)
	}
	return m.ID, nil
}

// eventLine is an event as `events list` shows it.
type eventLine struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	MerchantID  int64  `json:"merchant_id"`
	OutTradeNo  string `json:"out_trade_no"`
	CreatedAt   string `json:"created_at"`
	State       string `json:"state"` // delivered, dead or pending
	DeliveredAt string `json:"delivered_at,omitempty"`
	DeadAt      string `json:"dead_at,omitempty"`
	Attempts    int    `json:"attempts"`
}

func newEventLine(e *paygate.Event) eventLine {
	l := eventLine{ID: e.ID, Type: e.Type, MerchantID: e.MerchantID, CreatedAt: rfc3339(e.CreatedAt),
		DeliveredAt: rfc3339(e.DeliveredAt), DeadAt: rfc3339(e.DeadAt), Attempts: e.Attempts, State: "pending"}
	switch {
	case !e.DeliveredAt.IsZero():
		l.State = "delivered"
	case !e.DeadAt.IsZero():
		l.State = "dead"
	}
	var p struct {
		Data struct {
			Order struct {
				OutTradeNo string `json:"out_trade_no"`
			} `json:"order"`
		} `json:"data"`
	}
	if json.Unmarshal(e.Payload, &p) == nil {
		l.OutTradeNo = p.Data.Order.OutTradeNo
	}
	return l
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
