package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/client"
)

// The environment variables `paygate listen --url` reads the merchant's
// secrets from: secrets never travel as flags (they would show in ps and
// the shell's history). applyEnv leaves them alone (envClient).
const (
	envSecretKey     = "PAYGATE_SECRET_KEY"
	envWebhookSecret = "PAYGATE_WEBHOOK_SECRET"
)

// listenUserAgent tells a forwarded webhook from a real delivery, should a
// handler care; everything else is as a delivery has it.
const listenUserAgent = "paygate-listen/1"

// listenOptions are the flags of paygate listen.
type listenOptions struct {
	forwardTo string
	dataDir   string
	baseURL   string
	accessKey string
	types     string
	since     string
	interval  time.Duration
}

func newListenCmd(stdout, stderr io.Writer) *cobra.Command {
	var o listenOptions
	cmd := &cobra.Command{
		Use:   "listen --forward-to URL [--data DIR | --url URL --access-key KEY] [--types T,...] [--since 1h] [--interval 1s]",
		Short: "Follow a merchant's events and forward each, signed as a real delivery, to a local URL",
		Long: "Follow the merchant's webhook events through the events API and POST each one to --forward-to,\n" +
			"exactly as paygate delivers it (the same body, Paygate-Signature, the Standard Webhooks headers\n" +
			"webhook-id, webhook-timestamp, webhook-signature, and Paygate-Event-Id), printing one line per\n" +
			"event: when it happened, its id and type, and the local answer's status and latency. For\n" +
			"developing a webhook handler against the demo or a real deployment, like `stripe listen`.\n\n" +
			"It only reads: nothing is marked delivered at paygate, real deliveries go on, and a failed\n" +
			"forward is not retried. Credentials: --data DIR reads the demo's DIR/" + demoMerchantFile + "\n" +
			"(base_url, access_key, secret_key, webhook_secret); or --url and --access-key, with the secrets\n" +
			"in the environment: " + envSecretKey + " and " + envWebhookSecret + " (never flags, never printed).\n\n" +
			"  paygate listen --forward-to http://localhost:3000/hooks\n" +
			"  paygate listen --forward-to http://localhost:3000/hooks --types order.paid,refund.succeeded --since 1h\n" +
			"  " + envSecretKey + "=… " + envWebhookSecret + "=… paygate listen --url https://pay.example.com --access-key ak_… --forward-to http://localhost:3000/hooks",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := o.listener(cmd.Flags().Changed("data"), os.Getenv, time.Now())
			if err != nil {
				return err
			}
			l.out, l.errOut = stdout, stderr
			return l.run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.forwardTo, "forward-to", "", "the local URL to POST each event to (required)")
	f.StringVar(&o.dataDir, "data", defaultDataDir, "the demo's data directory, for its "+demoMerchantFile)
	f.StringVar(&o.baseURL, "url", "", "paygate's address, instead of --data (secrets from "+envSecretKey+" and "+envWebhookSecret+")")
	f.StringVar(&o.accessKey, "access-key", "", "the merchant's access key, with --url")
	f.StringVar(&o.types, "types", "", "only these event types, comma-separated (default: all): "+strings.Join(paygate.EventTypes(), ", "))
	f.StringVar(&o.since, "since", "", "also forward the events since this long ago (1h) or this RFC 3339 time (default: only new ones)")
	f.DurationVar(&o.interval, "interval", time.Second, "how often to ask for new events")
	return cmd
}

// listener follows one merchant's events and forwards them.
type listener struct {
	api      *client.Client
	base     string
	key      string
	secret   string // the webhook secret that signs the forwards
	target   string
	types    []string // empty: all
	since    time.Time
	interval time.Duration
	http     *http.Client
	now      func() time.Time
	out      io.Writer
	errOut   io.Writer
}

// listener checks the options and makes the listener: the credentials from
// --data's file, or --url and --access-key with the secrets from getenv.
// dataSet says --data was given explicitly.
func (o *listenOptions) listener(dataSet bool, getenv func(string) string, now time.Time) (*listener, error) {
	if o.forwardTo == "" {
		return nil, errors.New("listen: --forward-to is required: the local URL of the webhook handler, e.g. http://localhost:3000/hooks")
	}
	if u, err := url.Parse(o.forwardTo); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("listen: --forward-to must be an absolute http or https URL, e.g. http://localhost:3000/hooks")
	}
	if o.interval < 100*time.Millisecond {
		return nil, errors.New("listen: --interval must be at least 100ms")
	}
	// Redirects are not followed, as a real delivery does not follow them
	// (jobs' egress client): a signed webhook goes to --forward-to only,
	// and a redirect is printed as the handler's answer.
	l := &listener{target: o.forwardTo, interval: o.interval, now: time.Now, since: now,
		http: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}}
	for _, t := range strings.Split(o.types, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if !paygate.ValidEventType(t) {
			return nil, fmt.Errorf("listen: --types: %q is not one of %s", t, strings.Join(paygate.EventTypes(), ", "))
		}
		l.types = append(l.types, t)
	}
	if o.since != "" {
		t, err := parseSince(o.since, now)
		if err != nil {
			return nil, err
		}
		l.since = t
	}
	var secretKey string
	switch {
	case o.baseURL != "" || o.accessKey != "":
		if dataSet {
			return nil, errors.New("listen: give --data, or --url and --access-key, not both")
		}
		if o.baseURL == "" || o.accessKey == "" {
			return nil, errors.New("listen: --url and --access-key go together")
		}
		secretKey, l.secret = getenv(envSecretKey), getenv(envWebhookSecret)
		if secretKey == "" || l.secret == "" {
			return nil, fmt.Errorf("listen: with --url, set %s (the API secret key) and %s (the webhook secret) in the environment", envSecretKey, envWebhookSecret)
		}
		l.base, l.key = o.baseURL, o.accessKey
	default:
		path := filepath.Join(o.dataDir, demoMerchantFile)
		creds, err := readCreds(path)
		if err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		if creds.BaseURL == "" || creds.WebhookSecret == "" {
			return nil, fmt.Errorf("listen: %s lacks base_url or webhook_secret: run paygate demo on %s, or use --url", path, o.dataDir)
		}
		l.base, l.key, secretKey, l.secret = creds.BaseURL, creds.AccessKey, creds.SecretKey, creds.WebhookSecret
	}
	if u, err := url.Parse(l.base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("listen: %q is not paygate's address (an http or https URL)", l.base)
	}
	l.api = client.New(l.base, l.key, secretKey, client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	return l, nil
}

// parseSince reads --since: a duration back from now, or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("listen: --since %q is neither a duration like 1h nor an RFC 3339 time", s)
}
