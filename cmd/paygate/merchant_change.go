package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/gateway"
)

// rotationLine is what `merchant rotate --json` prints: the new secrets,
// once.
type rotationLine struct {
	AccessKey     string `json:"access_key"`
	SecretKey     string `json:"secret_key,omitempty"`
	WebhookSecret string `json:"webhook_secret,omitempty"`
	// StandardWebhookSecret is the new webhook secret in the whsec_ form
	// Standard Webhooks libraries take (client.StandardWebhookSecret).
	StandardWebhookSecret string `json:"standard_webhook_secret,omitempty"`
	// PreviousValidUntil is when the replaced secrets stop working;
	// absent when they stopped at once.
	PreviousValidUntil string   `json:"previous_valid_until,omitempty"`
	DroppedPrevious    []string `json:"dropped_previous,omitempty"`
	// CredentialsFile is the demo's credentials file, rewritten with the
	// new secrets.
	CredentialsFile string `json:"credentials_file,omitempty"`
}

func newMerchantRotateCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		d                  dataFlags
		grace              time.Duration
		secretKey, webhook bool
		asJSON             bool
	)
	cmd := &cobra.Command{
		Use:   "rotate ACCESS_KEY [--grace 24h] [--secret-key] [--webhook-secret] [--json]",
		Short: "Give a merchant a new secret key (or webhook secret) and print it once",
		Long: "Replace the merchant's secret key (the default, or --secret-key), its webhook secret\n" +
			"(--webhook-secret), or both. The replaced secret keeps working for --grace (default 24h; 0 ends it\n" +
			"now): requests signed with either key are accepted, and webhooks carry one signature per secret.\n" +
			"When the merchant is the demo's, DIR/" + demoMerchantFile + " under --data is rewritten so that\n" +
			"`paygate api` keeps working.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !secretKey && !webhook {
				secretKey = true
			}
			if grace < 0 || grace > gateway.MaxGrace {
				return usageError("merchant rotate: --grace must be from 0 to %s", shortDuration(gateway.MaxGrace))
			}
			svc, st, cfg, err := openMerchants(cmd.Context(), &d, false)
			if err != nil {
				return err
			}
			defer st.Close()
			r, err := svc.Rotate(cmd.Context(), args[0], gateway.Rotate{SecretKey: secretKey, WebhookSecret: webhook, Grace: grace})
			if err != nil {
				return merchantError("merchant rotate", err)
			}
			out := rotationLine{AccessKey: args[0], SecretKey: r.SecretKey, WebhookSecret: r.WebhookSecret,
				PreviousValidUntil: rfc3339(r.GraceUntil), DroppedPrevious: r.Dropped}
			if r.WebhookSecret != "" {
				out.StandardWebhookSecret = client.StandardWebhookSecret(r.WebhookSecret)
			}
			// The rotation is committed: whatever happens to the file, the
			// new secrets are printed.
			credsFile, fileErr := updateDemoCreds(&d, args[0], r)
			out.CredentialsFile = credsFile
			if asJSON {
				if err := json.NewEncoder(stdout).Encode(out); err != nil {
					return err
				}
			} else {
				printRotation(stdout, out, r, cfg)
			}
			if fileErr != nil {
				return fmt.Errorf("merchant rotate: the secrets are rotated (printed above), but %s was not updated: %w",
					filepath.Join(d.dataDir, demoMerchantFile), fileErr)
			}
			return nil
		},
	}
	d.register(cmd)
	cmd.Flags().DurationVar(&grace, "grace", gateway.DefaultGrace, "how long the replaced secret keeps working (0: not at all)")
	cmd.Flags().BoolVar(&secretKey, "secret-key", false, "rotate the secret key that signs API requests (the default)")
	cmd.Flags().BoolVar(&webhook, "webhook-secret", false, "rotate the webhook secret that signs deliveries")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object with the new secret(s)")
	return cmd
}

func printRotation(w io.Writer, out rotationLine, r *gateway.Rotation, cfg config) {
	var what []string
	if out.SecretKey != "" {
		what = append(what, "secret key")
	}
	if out.WebhookSecret != "" {
		what = append(what, "webhook secret")
	}
	both := strings.Join(what, " and ")
	if len(what) == 1 {
		fmt.Fprintf(w, "merchant %s (%s): %s rotated; keep it, it is shown once:\n", out.AccessKey, r.Merchant.Name, both)
	} else {
		fmt.Fprintf(w, "merchant %s (%s): %s rotated; keep them, they are shown once:\n", out.AccessKey, r.Merchant.Name, both)
	}
	if out.SecretKey != "" {
		fmt.Fprintf(w, "secret_key:     %s\n", out.SecretKey)
	}
	if out.WebhookSecret != "" {
		fmt.Fprintf(w, "webhook_secret: %s\n", out.WebhookSecret)
		fmt.Fprintf(w, "standard_webhook_secret: %s   (the same key for Standard Webhooks libraries)\n", out.StandardWebhookSecret)
	}
	ended := len(out.DroppedPrevious) > 0
	if out.PreviousValidUntil != "" {
		fmt.Fprintf(w, "The previous %s still works until %s.\n", both, out.PreviousValidUntil)
	} else {
		fmt.Fprintf(w, "The previous %s stopped working now (--grace 0).\n", both)
		ended = true
	}
	for _, d := range out.DroppedPrevious {
		fmt.Fprintf(w, "The %s before the previous one was still in its grace: it stopped working now.\n", d)
	}
	if out.SecretKey != "" {
		fmt.Fprintln(w, "A running server accepts the new secret key at once (one in another process re-reads the merchant when a\n"+
			"request signed with it comes, at most once a second).")
		if ended {
			fmt.Fprintf(w, "A running server in another process stops accepting an ended key %s.\n", cacheDelay(cfg))
		}
	}
	if out.WebhookSecret != "" {
		fmt.Fprintln(w, "Webhooks are signed with the new webhook secret from the next delivery on.")
	}
	if out.CredentialsFile != "" {
		fmt.Fprintf(w, "Updated %s with the new %s (`paygate api` reads it).\n", out.CredentialsFile, both)
	}
}

// updateDemoCreds rewrites the demo's credentials file under --data with
// the rotated secrets when it belongs to this merchant, and returns its
// path; "" when there is none to update (another merchant's, none at all,
// or --config given).
func updateDemoCreds(d *dataFlags, accessKey string, r *gateway.Rotation) (string, error) {
	if d.configPath != "" {
		return "", nil
	}
	path := filepath.Join(d.dataDir, demoMerchantFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var creds merchantCredentials
	if err := json.Unmarshal(data, &creds); err != nil {
		return "", fmt.Errorf("it is not the demo's credentials JSON: %w", err)
	}
	if creds.AccessKey != accessKey {
		return "", nil
	}
	if r.SecretKey != "" {
		creds.SecretKey = r.SecretKey
	}
	if r.WebhookSecret != "" {
		creds.WebhookSecret = r.WebhookSecret
	}
	if err := writeCreds(path, creds); err != nil {
		return "", err
	}
	return path, nil
}

// newMerchantDisableCmd is `merchant disable` or, with disable false,
// `merchant enable`.
func newMerchantDisableCmd(stdout, _ io.Writer, disable bool) *cobra.Command {
	var d dataFlags
	use, short := "enable ACCESS_KEY", "Enable a disabled merchant again"
	if disable {
		use, short = "disable ACCESS_KEY", "Refuse a merchant's API requests; its accepted orders still settle and are told"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, st, cfg, err := openMerchants(cmd.Context(), &d, false)
			if err != nil {
				return err
			}
			defer st.Close()
			if !disable {
				m, err := svc.Enable(cmd.Context(), args[0])
				if err != nil {
					return merchantError("merchant enable", err)
				}
				fmt.Fprintf(stdout, "merchant %s (%s) enabled: a running server accepts its requests again %s.\n", m.AccessKey, m.Name, cacheDelay(cfg))
				return nil
			}
			m, err := svc.Disable(cmd.Context(), args[0])
			if err != nil {
				return merchantError("merchant disable", err)
			}
			fmt.Fprintf(stdout, "merchant %s (%s) disabled since %s: a running server refuses its requests (401) %s.\n"+
				"Its accepted orders still settle and their webhooks still go out. Undo: paygate merchant enable %s %s\n",
				m.AccessKey, m.Name, rfc3339(m.DisabledAt), cacheDelay(cfg), d.where(), m.AccessKey)
			return nil
		},
	}
	d.register(cmd)
	return cmd
}

func newMerchantSetURLCmd(stdout, _ io.Writer) *cobra.Command {
	var (
		d        dataFlags
		clearURL bool
		noResend bool
	)
	cmd := &cobra.Command{
		Use:   "set-url ACCESS_KEY URL | set-url ACCESS_KEY --clear",
		Short: "Set (or clear) a merchant's default webhook URL",
		Long: "Set the URL that receives the webhooks of the merchant's orders (those created without their own\n" +
			"notify_url), or remove it with --clear. Setting a URL also re-sends the events of the last " + shortDuration(gateway.ResendWindow) + "\n" +
			"that were dead-lettered because there was none (they were never sent anywhere); --no-resend skips that.\n" +
			"A running server's workers deliver them, and use the new URL from the next delivery on.",
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case clearURL && len(args) != 1:
				return usageError("merchant set-url: give ACCESS_KEY and --clear, without a URL")
			case !clearURL && len(args) != 2:
				return usageError("merchant set-url: give ACCESS_KEY and URL (or --clear to remove the URL)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			url := ""
			if !clearURL {
				url = args[1]
				if url == "" {
					return usageError("merchant set-url: the URL is empty; use --clear to remove it")
				}
				// Before any data is opened; the message never repeats the URL.
				if err := gateway.CheckMerchantURL(url); err != nil {
					return merchantError("merchant set-url", err)
				}
			}
			svc, st, _, err := openMerchants(cmd.Context(), &d, !clearURL && !noResend)
			if err != nil {
				return err
			}
			defer st.Close()
			ch, err := svc.SetNotifyURL(cmd.Context(), args[0], url, !noResend)
			if ch == nil && err != nil {
				return merchantError("merchant set-url", err)
			}
			m := ch.Merchant
			if url == "" {
				fmt.Fprintf(stdout, "merchant %s (%s): notify URL cleared (was %s); webhooks of orders without their own notify_url are now dead-lettered.\n",
					m.AccessKey, m.Name, orNone(ch.Previous))
			} else {
				fmt.Fprintf(stdout, "merchant %s (%s): notify URL set to %s (was %s); deliveries use it from the next one on.\n",
					m.AccessKey, m.Name, m.NotifyURL, orNone(ch.Previous))
			}
			if len(ch.Resent) > 0 {
				fmt.Fprintf(stdout, "Re-sent %d %s dead-lettered for want of a URL in the last %s; a running server's workers deliver %s.\n",
					len(ch.Resent), plural(int64(len(ch.Resent)), "event", "events"), shortDuration(gateway.ResendWindow), plural(int64(len(ch.Resent)), "it", "them"))
			}
			if err != nil {
				return fmt.Errorf("merchant set-url: %w", err)
			}
			return nil
		},
	}
	d.register(cmd)
	cmd.Flags().BoolVar(&clearURL, "clear", false, "remove the merchant's URL")
	cmd.Flags().BoolVar(&noResend, "no-resend", false, "do not re-send the events dead-lettered for want of a URL")
	return cmd
}
