package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/client"
)

func newMerchantCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "merchant", Short: "Manage merchants"}
	cmd.AddCommand(newMerchantCreateCmd(stdout, stderr))
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
				return fmt.Errorf("merchant create: --name is required")
			}
			if notifyURL != "" {
				// First: its message never repeats the URL, which may hold a password.
				if err := paygate.CheckWebhookURL(notifyURL); err != nil {
					return fmt.Errorf("merchant create: --notify-url: %s", paygate.ErrorMessage(err))
				}
				if err := alipay.CheckNotifyURL(notifyURL); err != nil {
					return fmt.Errorf("merchant create: --notify-url: %w", err)
				}
			}
			cfg, err := d.resolve()
			if err != nil {
				return err
			}
			st, err := openData(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			creds, err := createMerchant(cmd.Context(), st, name, notifyURL)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(stdout)
				return enc.Encode(creds)
			}
			fmt.Fprintf(stdout, "merchant %q created; keep these, they are shown once:\n", name)
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

// createMerchant makes a merchant with fresh random credentials.
func createMerchant(ctx context.Context, st paygate.Store, name, notifyURL string) (merchantCredentials, error) {
	creds := merchantCredentials{Name: name, AccessKey: "ak_" + randomHex(12), SecretKey: "sk_" + randomHex(32), WebhookSecret: "whsec_" + randomHex(32)}
	creds.StandardWebhookSecret = client.StandardWebhookSecret(creds.WebhookSecret)
	m := &paygate.Merchant{
		Name: name, AccessKey: creds.AccessKey, SecretKey: creds.SecretKey, WebhookSecret: creds.WebhookSecret,
		NotifyURL: notifyURL, CreatedAt: time.Now(),
	}
	if err := st.CreateMerchant(ctx, m); err != nil {
		return creds, fmt.Errorf("merchant create: %w", err)
	}
	return creds, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return hex.EncodeToString(b)
}
