package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/gateway"
)

// merchantLine is a merchant as `merchant list` and `merchant show` print
// it: never a secret.
type merchantLine struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	AccessKey  string `json:"access_key"`
	NotifyURL  string `json:"notify_url"` // "" when none
	State      string `json:"state"`      // active or disabled
	DisabledAt string `json:"disabled_at,omitempty"`
	CreatedAt  string `json:"created_at"`
	UpdatedAt  string `json:"updated_at"`
	// When the previous secrets stop working; absent when there is none
	// in its grace.
	SecretKeyGraceUntil     string `json:"secret_key_grace_until,omitempty"`
	WebhookSecretGraceUntil string `json:"webhook_secret_grace_until,omitempty"`
	PendingEvents           int64  `json:"pending_events"`
	DeadEvents              int64  `json:"dead_events"`
	// DeadLetters (show only) says why the dead events are.
	DeadLetters []deadLetterLine `json:"dead_letters,omitempty"`
}

type deadLetterLine struct {
	Reason     string `json:"reason"`
	StatusCode int    `json:"status_code,omitempty"`
	NoURL      bool   `json:"no_url"`
	Count      int64  `json:"count"`
	Latest     string `json:"latest"` // the newest such event's creation
}

func newMerchantLine(s *paygate.MerchantSummary, now time.Time) merchantLine {
	m := s.Merchant
	l := merchantLine{ID: m.ID, Name: m.Name, AccessKey: m.AccessKey, NotifyURL: m.NotifyURL, State: "active",
		DisabledAt: rfc3339(m.DisabledAt), CreatedAt: rfc3339(m.CreatedAt), UpdatedAt: rfc3339(m.UpdatedAt),
		PendingEvents: s.PendingEvents, DeadEvents: s.DeadEvents}
	if m.Disabled() {
		l.State = "disabled"
	}
	// A grace in the past is no grace: say nothing of it.
	if m.PreviousSecretUntil.After(now) {
		l.SecretKeyGraceUntil = rfc3339(m.PreviousSecretUntil)
	}
	if m.PreviousWebhookSecretUntil.After(now) {
		l.WebhookSecretGraceUntil = rfc3339(m.PreviousWebhookSecretUntil)
	}
	return l
}

// deadLetterReason is why events were dead-lettered, in words.
func deadLetterReason(r *paygate.DeadLetterReason) string {
	switch {
	case r.NoURL && r.Excerpt == "no webhook URL configured":
		return "no notify URL set"
	case r.StatusCode != 0 && r.Excerpt != "":
		return fmt.Sprintf("the endpoint answered HTTP %d: %s", r.StatusCode, r.Excerpt)
	case r.StatusCode != 0:
		return fmt.Sprintf("the endpoint answered HTTP %d", r.StatusCode)
	case r.Excerpt != "":
		return r.Excerpt
	}
	return "no reason recorded"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func newMerchantListCmd(stdout, _ io.Writer) *cobra.Command {
	var (
		d      dataFlags
		limit  int
		before int64
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list [--limit N] [--before ID] [--json]",
		Short: "List merchants, newest first, with their webhook backlog (no secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > 500 {
				return usageError("merchant list: --limit must be from 1 to 500")
			}
			svc, st, _, err := openMerchants(cmd.Context(), &d, false)
			if err != nil {
				return err
			}
			defer st.Close()
			list, err := svc.List(cmd.Context(), paygate.MerchantFilter{Limit: limit, BeforeID: before})
			if err != nil {
				return merchantError("merchant list", err)
			}
			now := time.Now()
			if asJSON {
				enc := json.NewEncoder(stdout)
				for _, s := range list {
					if err := enc.Encode(newMerchantLine(s, now)); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tACCESS_KEY\tNAME\tSTATE\tNOTIFY_URL\tPENDING\tDEAD\tCREATED")
			for _, s := range list {
				l := newMerchantLine(s, now)
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", l.ID, l.AccessKey, l.Name, l.State, orNone(l.NotifyURL),
					l.PendingEvents, l.DeadEvents, l.CreatedAt)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(list) == limit {
				fmt.Fprintf(stdout, "more: paygate merchant list %s --before %d\n", d.where(), list[len(list)-1].Merchant.ID)
			}
			return nil
		},
	}
	d.register(cmd)
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many merchants (1 to 500)")
	cmd.Flags().Int64Var(&before, "before", 0, "only merchants with an ID below this one (the next page)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per merchant")
	return cmd
}

func newMerchantShowCmd(stdout, _ io.Writer) *cobra.Command {
	var (
		d      dataFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "show ACCESS_KEY [--json]",
		Short: "Show a merchant: URL, state, grace periods, and why its events are dead-lettered (no secrets)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, st, _, err := openMerchants(cmd.Context(), &d, false)
			if err != nil {
				return err
			}
			defer st.Close()
			detail, err := svc.Show(cmd.Context(), args[0])
			if err != nil {
				return merchantError("merchant show", err)
			}
			l := newMerchantLine(detail.MerchantSummary, time.Now())
			for _, r := range detail.DeadLetters {
				l.DeadLetters = append(l.DeadLetters, deadLetterLine{Reason: deadLetterReason(r), StatusCode: r.StatusCode,
					NoURL: r.NoURL, Count: r.Count, Latest: rfc3339(r.Latest)})
			}
			if asJSON {
				return json.NewEncoder(stdout).Encode(l)
			}
			printMerchant(stdout, l, detail.DeadLetters, &d)
			return nil
		},
	}
	d.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func printMerchant(w io.Writer, l merchantLine, reasons []*paygate.DeadLetterReason, d *dataFlags) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	state := "active"
	if l.State == "disabled" {
		state = "disabled since " + l.DisabledAt + " (its API requests are refused; its orders still settle and are told)"
	}
	grace := func(until, what string) string {
		if until == "" {
			return "current only"
		}
		return "current, and the previous " + what + " until " + until
	}
	fmt.Fprintf(tw, "name:\t%s\naccess key:\t%s\nstate:\t%s\nnotify URL:\t%s\ncreated:\t%s\nupdated:\t%s\nsecret key:\t%s\nwebhook secret:\t%s\n",
		l.Name, l.AccessKey, state, orNone(l.NotifyURL), l.CreatedAt, l.UpdatedAt,
		grace(l.SecretKeyGraceUntil, "secret key"), grace(l.WebhookSecretGraceUntil, "webhook secret"))
	fmt.Fprintf(tw, "events:\t%d pending delivery, %d dead-lettered\n", l.PendingEvents, l.DeadEvents)
	tw.Flush()
	for i, r := range l.DeadLetters {
		fmt.Fprintf(w, "  %d %s dead-lettered: %s (latest created %s)\n", r.Count, plural(r.Count, "event", "events"), r.Reason, r.Latest)
		if reasons[i].NoURL && l.NotifyURL == "" {
			fmt.Fprintf(w, "    set one: paygate merchant set-url %s %s URL  (re-sends those of the last %s)\n",
				d.where(), l.AccessKey, shortDuration(gateway.ResendWindow))
			fmt.Fprintf(w, "    or follow events without one: paygate listen --forward-to http://localhost:3000/hooks\n")
		}
	}
	if l.DeadEvents > 0 {
		fmt.Fprintf(w, "  list them: paygate events list %s --undelivered --merchant %s; re-send one: paygate events resend %s EVENT_ID\n",
			d.where(), l.AccessKey, d.where())
	}
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
