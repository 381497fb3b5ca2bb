package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/paygate/paygate/client"
)

func newAPICmd(stdout, stderr io.Writer) *cobra.Command {
	var credsPath, baseURL, idemKey string
	cmd := &cobra.Command{
		Use:   "api METHOD PATH [JSON_BODY]",
		Short: "Make a signed merchant API call (for trying paygate without writing a signer)",
		Long: "Sign and send one merchant API request with a merchant's credentials (by default the\n" +
			"demo merchant's, from " + filepath.Join(defaultDataDir, demoMerchantFile) + "), then print the JSON answer.\n\n" +
			"  paygate api POST /api/v1/orders '{\"out_trade_no\":\"T1\",\"subject\":\"coffee\",\"total_amount\":\"9.90\",\"mode\":\"qr\"}'\n" +
			"  paygate api GET /api/v1/orders/T1\n" +
			"  paygate api POST /api/v1/orders/T1/refunds '{\"out_request_no\":\"R1\",\"amount\":\"9.90\"}'",
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			creds, err := readCreds(credsPath)
			if err != nil {
				return err
			}
			if baseURL == "" {
				baseURL = creds.BaseURL
			}
			if baseURL == "" {
				return errors.New("api: no base URL: pass --base-url or use credentials written by paygate demo")
			}
			u, err := url.Parse(args[1])
			if err != nil || !strings.HasPrefix(u.Path, "/") {
				return fmt.Errorf("api: %q is not a path like /api/v1/orders", args[1])
			}
			var body any
			if len(args) == 3 {
				if !json.Valid([]byte(args[2])) {
					return errors.New("api: the body is not valid JSON")
				}
				body = json.RawMessage(args[2])
			}
			var opts []client.CallOption
			if idemKey != "" {
				opts = append(opts, client.WithIdempotencyKey(idemKey))
			}
			c := client.New(baseURL, creds.AccessKey, creds.SecretKey)
			resp, err := c.Do(cmd.Context(), strings.ToUpper(args[0]), u.Path, u.Query(), body, nil, opts...)
			if resp == nil {
				return fmt.Errorf("api: %w", err)
			}
			fmt.Fprintf(stderr, "HTTP %s\n", resp.Status)
			if resp.Header.Get("Idempotent-Replayed") == "true" {
				fmt.Fprintln(stderr, "Idempotent-Replayed: true")
			}
			raw, _ := io.ReadAll(resp.Body)
			var pretty bytes.Buffer
			if json.Indent(&pretty, raw, "", "  ") == nil {
				raw = pretty.Bytes()
			}
			fmt.Fprintln(stdout, string(raw))
			if resp.StatusCode >= http.StatusMultipleChoices {
				return fmt.Errorf("api: %s", resp.Status)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&credsPath, "credentials", filepath.Join(defaultDataDir, demoMerchantFile), "merchant credentials JSON (access_key, secret_key, base_url)")
	cmd.Flags().StringVar(&baseURL, "base-url", "", "paygate's address (default: base_url from the credentials)")
	cmd.Flags().StringVar(&idemKey, "idempotency-key", "", "send this Idempotency-Key")
	return cmd
}

func readCreds(path string) (merchantCredentials, error) {
	var creds merchantCredentials
	data, err := os.ReadFile(path)
	if err != nil {
		return creds, fmt.Errorf("api: credentials: %w (run paygate demo first, or pass --credentials)", err)
	}
	if err := json.Unmarshal(data, &creds); err != nil || creds.AccessKey == "" || creds.SecretKey == "" {
		return creds, fmt.Errorf("api: %s is not merchant credentials (access_key, secret_key)", path)
	}
	return creds, nil
}
