package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/jobs"
)

func newMerchantCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "merchant",
		Short: "Manage merchants: create, list, show, rotate, disable, enable, set-url",
		Long: "Manage merchants. Every subcommand takes --config FILE or --data DIR and works beside a running\n" +
			"server on the same data. Exit status: 0 done, 1 failed, 2 bad input (nothing changed), 4 no merchant\n" +
			"has the access key (nothing changed).",
	}
	cmd.AddCommand(newMerchantCreateCmd(stdout, stderr), newMerchantListCmd(stdout, stderr), newMerchantShowCmd(stdout, stderr),
		newMerchantRotateCmd(stdout, stderr), newMerchantDisableCmd(stdout, stderr, true), newMerchantDisableCmd(stdout, stderr, false),
		newMerchantSetURLCmd(stdout, stderr))
	return cmd
}

// merchantCredentials is what a merchant receives once: the demo writes it
// to demo-merchant.json, `merchant create --json` prints it.
// StandardWebhookSecret is WebhookSecret in the whsec_ base64 form that
// Standard Webhooks libraries take (client.StandardWebhookSecret): the same
// key, for verifying the webhook-signature header.
type merchantCredentials struct {
	Name                  string `json:"name"`
	AccessKey             string `json:"access_key"`
	SecretKey             string `json:"secret_key"`
	WebhookSecret         string `json:"webhook_secret"`
	StandardWebhookSecret string `json:"standard_webhook_secret"`
	BaseURL               string `json:"base_url,omitempty"`
}

func newMerchantCreateCmd(stdout, _ io.Writer) *cobra.Command {
	var (
		d         dataFlags
		name      string
		notifyURL string
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME [--notify-url URL] [--json]",
		Short: "Create a merchant and print its credentials once",
		Long: "Create a merchant with a new access key, secret key and webhook secret, printed once and\n" +
			"stored only encrypted under the master key. Works beside a running server on the same data.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usageError("merchant create: --name is required")
			}
			// First, before any data is opened: its message never repeats
			// the URL, which may hold a password.
			if err := gateway.CheckMerchantURL(notifyURL); err != nil {
				return merchantError("merchant create: --notify-url", err)
			}
			svc, st, _, err := openMerchants(cmd.Context(), &d, false)
			if err != nil {
				return err
			}
			defer st.Close()
			creds, err := createMerchantWith(cmd.Context(), svc, name, notifyURL)
			if err != nil {
				return merchantError("merchant create", err)
			}
			if asJSON {
				return json.NewEncoder(stdout).Encode(creds)
			}
			fmt.Fprintf(stdout, "merchant %q created; keep these, they are shown once:\n", creds.Name)
			fmt.Fprintf(stdout, "access_key:              %s\nsecret_key:              %s\nwebhook_secret:          %s\n"+
				"standard_webhook_secret: %s   (the same key for Standard Webhooks libraries: webhook-signature)\n",
				creds.AccessKey, creds.SecretKey, creds.WebhookSecret, creds.StandardWebhookSecret)
			return nil
		},
	}
	d.register(cmd)
	cmd.Flags().StringVar(&name, "name", "", "the merchant's name")
	cmd.Flags().StringVar(&notifyURL, "notify-url", "", "default webhook URL for its orders")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object with access_key, secret_key, webhook_secret")
	return cmd
}

// createMerchant makes a merchant with fresh random credentials, by the
// rules of gateway.Merchants.Create.
func createMerchant(ctx context.Context, st paygate.Store, name, notifyURL string) (merchantCredentials, error) {
	creds, err := createMerchantWith(ctx, &gateway.Merchants{Store: st}, name, notifyURL)
	if err != nil {
		return creds, fmt.Errorf("merchant create: %w", err)
	}
	return creds, nil
}

func createMerchantWith(ctx context.Context, svc *gateway.Merchants, name, notifyURL string) (merchantCredentials, error) {
	c, err := svc.Create(ctx, name, notifyURL)
	if err != nil {
		return merchantCredentials{}, err
	}
	return merchantCredentials{
		Name: c.Merchant.Name, AccessKey: c.Merchant.AccessKey, SecretKey: c.SecretKey, WebhookSecret: c.WebhookSecret,
		StandardWebhookSecret: client.StandardWebhookSecret(c.WebhookSecret),
	}, nil
}

// openMerchants opens, migrates and key-checks the configured store and
// returns merchant administration on it; with jobs, a queue that only
// inserts (never started: a running server's workers deliver what it
// queues; River checks a job's kind against the registered workers on
// insert, hence the registration).
func openMerchants(ctx context.Context, d *dataFlags, withJobs bool) (*gateway.Merchants, storeCloser, config, error) {
	cfg, err := d.resolve()
	if err != nil {
		return nil, nil, cfg, err
	}
	st, err := openData(ctx, cfg)
	if err != nil {
		return nil, nil, cfg, err
	}
	svc := &gateway.Merchants{Store: st}
	if withJobs {
		q, err := newQueue(ctx, st, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			st.Close()
			return nil, nil, cfg, err
		}
		jobs.RegisterWebhooks(q, jobs.WebhookConfig{Store: st})
		svc.Jobs = q
	}
	return svc, st, cfg, nil
}

// exitError is an error with its own exit status.
type exitError struct {
	err  error
	code int
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

// Exit statuses of the merchant commands beyond 0 and 1.
const (
	exitBadInput        = 2
	exitUnknownMerchant = 4
)

// merchantError gives a merchant command's failure its message and exit
// status: bad input (2) and an unknown access key (4) say only the domain's
// sentence; anything else keeps its whole chain.
func merchantError(what string, err error) error {
	switch paygate.ErrorCode(err) {
	case paygate.EInvalid:
		return &exitError{fmt.Errorf("%s: %s", what, paygate.ErrorMessage(err)), exitBadInput}
	case paygate.ENotFound:
		return &exitError{fmt.Errorf("%s: %s", what, paygate.ErrorMessage(err)), exitUnknownMerchant}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// usageError is bad input found by the command itself (exit 2).
func usageError(format string, args ...any) error {
	return &exitError{fmt.Errorf(format, args...), exitBadInput}
}

// where is how the command was pointed at its data, for the commands it
// suggests: "--config FILE" or "--data DIR".
func (d *dataFlags) where() string {
	if d.configPath != "" {
		return "--config " + shellQuote(d.configPath)
	}
	return "--data " + shellQuote(d.dataDir)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// cacheDelay says how soon a running server in another process sees a
// change of a merchant.
func cacheDelay(cfg config) string {
	if cfg.Auth.MerchantCacheTTL < 0 {
		return "at once (auth.merchant_cache_ttl is off)"
	}
	ttl := cfg.Auth.MerchantCacheTTL
	if ttl == 0 {
		ttl = 10 * time.Second
	}
	return fmt.Sprintf("within auth.merchant_cache_ttl (%s)", shortDuration(ttl))
}

// shortDuration writes d without zero units at its end: 24h, 1h30m, 10s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return hex.EncodeToString(b)
}
