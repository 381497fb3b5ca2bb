package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/httpapi"
	"github.com/paygate/paygate/simjournal"
	"github.com/paygate/paygate/wechatpaysim"
)

// The demo's Alipay app, registered with its built-in simulator.
const (
	demoAppID           = "2021000000000001"
	demoAppKeyFile      = "app_private_key.pem"
	demoAlipayPubFile   = "alipay_public_key.pem"
	demoSimDir          = "sim"
	demoMerchantDefault = "demo shop"
)

func newDemoCmd(stdout, stderr io.Writer) *cobra.Command {
	var addr, dataDir string
	cmd := &cobra.Command{
		Use:   "demo [--addr 127.0.0.1:8080] [--data DIR]",
		Short: "Run the whole system in one process, with a built-in Alipay simulator",
		Long: "Run the gateway, the Alipay simulator (on the same address), SQLite under DIR and a demo\n" +
			"merchant whose credentials are printed and written to DIR/" + demoMerchantFile + ".\n" +
			"Restarting keeps every order. PAYGATE_<SECTION>_<KEY> variables override the defaults.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), addr, dataDir, stdout, stderr)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (loopback: /sim lets anyone pay and change faults)")
	cmd.Flags().StringVar(&dataDir, "data", defaultDataDir, "data directory (SQLite, keys, simulator trades)")
	return cmd
}

func runDemo(ctx context.Context, addr, dataDir string, stdout, stderr io.Writer) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("demo: listen: %w", err)
	}
	defer ln.Close()
	base := "http://" + printableAddr(ln.Addr())
	simDir := filepath.Join(dataDir, demoSimDir)
	// The WeChat Pay keys first: the demo's wechat: section reads them.
	wxKeys, err := demoWechatKeys(dataDir, simDir)
	if err != nil {
		return err
	}
	cfg, err := demoConfig(dataDir, base)
	if err != nil {
		return err
	}
	logger, err := newLogger(stderr, cfg.Log.Level)
	if err != nil {
		return err
	}
	tr, stopTracing, err := startTracing(ctx, logger)
	if err != nil {
		return err
	}
	defer stopTracing()
	cfg.tracer = tr.Provider()
	if cfg.Secrets.MasterKey == "" {
		if err := ensureMasterKey(cfg.Secrets.MasterKeyFile); err != nil {
			return fmt.Errorf("demo: master key: %w", err)
		}
	}
	appKey, err := loadOrCreateKey(filepath.Join(dataDir, demoAppKeyFile))
	if err != nil {
		return fmt.Errorf("demo: app key: %w", err)
	}
	simKey, err := loadOrCreateKey(filepath.Join(simDir, simKeyFile))
	if err != nil {
		return fmt.Errorf("demo: simulator key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&simKey.PublicKey)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(cfg.Alipay.AlipayPublicKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	// WeChat Pay's simulator first: Alipay's phone page pays its codes too.
	wx, err := demoWechatSim(wxKeys, simDir, base, logger)
	if errors.Is(err, simjournal.ErrInUse) {
		return demoInUse(dataDir, simDir, err)
	}
	if err != nil {
		return err
	}
	defer wx.Close()
	sim, err := alipaysim.New(alipaysim.Config{
		AlipayKey: simKey, DataDir: simDir, Logger: logger.With("component", "alipaysim"), PublicURL: base,
		Apps:    []alipaysim.App{{AppID: cfg.Alipay.AppID, PublicKey: &appKey.PublicKey, SellerID: cfg.Alipay.SellerID}},
		Wallets: []alipaysim.Wallet{wechatWallet(wx)},
	})
	if errors.Is(err, alipaysim.ErrInUse) {
		return demoInUse(dataDir, simDir, err)
	}
	if err != nil {
		return fmt.Errorf("demo: simulator: %w", err)
	}
	defer sim.Close()
	// The demo has one (loopback) listener: /metrics is on it. The handler
	// is looked up per request because the node's registry is made by newApp.
	var a *app
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.metrics.handler().ServeHTTP(w, r) })
	a, err = newApp(ctx, cfg, logger, []httpapi.Mount{{Path: "/gateway.do", Handler: sim}, {Path: "/sim/", Handler: simHandler(sim, wx)},
		{Path: "/v3/", Handler: wx}, {Path: "/metrics", Handler: metrics}})
	if err != nil {
		return err
	}
	defer a.close()
	creds, err := demoMerchant(ctx, a.store, filepath.Join(dataDir, demoMerchantFile), base)
	if err != nil {
		return err
	}
	node, err := json.Marshal(demoNode{BaseURL: base})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dataDir, demoNodeFile), append(node, '\n'), 0o600); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	m, err := a.store.MerchantByAccessKey(ctx, creds.AccessKey)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	op, err := demoOperator(ctx, a.store, filepath.Join(dataDir, demoOperatorFile))
	if err != nil {
		return err
	}
	printDemo(stdout, base, dataDir, creds, m.NotifyURL, op, cfg)
	return a.serve(ctx, ln)
}

// demoInUse is the error of a data directory that another demo holds (or
// a paygate sim on its simulator directory).
func demoInUse(dataDir, simDir string, err error) error {
	return fmt.Errorf("demo: data directory %s is in use by another paygate demo (or a paygate sim on %s): %w", dataDir, simDir, err)
}

// demoConfig is the embedded default under dataDir with the built-in
// simulator as the channel; the environment overrides it like any config.
func demoConfig(dataDir, base string) (config, error) {
	c := defaultConfig()
	c.Server.PublicURL = base
	c.Server.DrainDelay = 0
	c.Database.URL = "sqlite:" + filepath.Join(dataDir, dbFile)
	c.Secrets.MasterKeyFile = filepath.Join(dataDir, masterKeyFile)
	c.Alipay.AppID = demoAppID
	c.Alipay.GatewayURL = base + "/gateway.do"
	c.Alipay.PrivateKeyFile = filepath.Join(dataDir, demoAppKeyFile)
	c.Alipay.AlipayPublicKeyFile = filepath.Join(dataDir, demoAlipayPubFile)
	c.Alipay.SellerID = alipaysim.DefaultSellerID(demoAppID) // notifications are checked as in production
	// WeChat Pay against the same simulator, with the merchant it made.
	if err := demoWechatConfig(&c, dataDir, base); err != nil {
		return c, err
	}
	// One machine: the merchant's webhook receivers are local, over http.
	c.Webhooks.AllowPrivateNetworks = true
	c.Webhooks.AllowHTTP = true
	// The demo is one node, also on PostgreSQL (PAYGATE_DATABASE_URL): its
	// nonce cache in memory is the whole cache.
	c.Server.SingleNode = true
	// The console's cookie goes over plain http here.
	c.Console.InsecureCookie = true
	if err := applyEnv(&c, os.Environ()); err != nil {
		return c, err
	}
	return c, nil
}

// demoMerchant reuses the merchant of an earlier run, or creates one and
// writes its credentials (mode 0600).
func demoMerchant(ctx context.Context, st paygate.Store, path, base string) (merchantCredentials, error) {
	var creds merchantCredentials
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &creds); err != nil {
			return creds, fmt.Errorf("demo: %s: %w", path, err)
		}
		if _, err := st.MerchantByAccessKey(ctx, creds.AccessKey); err == nil {
			// An earlier run, or an older paygate (no standard_webhook_secret):
			// the file is brought up to date.
			if creds.BaseURL != base || creds.StandardWebhookSecret != client.StandardWebhookSecret(creds.WebhookSecret) {
				creds.BaseURL = base
				return creds, writeCreds(path, creds)
			}
			return creds, nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return creds, fmt.Errorf("demo: %w", err)
	}
	creds, err = createMerchant(ctx, st, demoMerchantDefault, "")
	if err != nil {
		return creds, err
	}
	creds.BaseURL = base
	return creds, writeCreds(path, creds)
}

// writeCreds writes creds (mode 0600), their standard_webhook_secret
// derived from the webhook secret whatever it held.
func writeCreds(path string, creds merchantCredentials) error {
	creds.StandardWebhookSecret = client.StandardWebhookSecret(creds.WebhookSecret)
	data, err := json.MarshalIndent(creds, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'), 0o600)
}

func printDemo(w io.Writer, base, dataDir string, creds merchantCredentials, notifyURL string, op demoOperatorCreds, cfg config) {
	fmt.Fprintf(w, `paygate demo listening on %s

  operator console %s/dashboard/   username %s   password %s   (also in %s)
  merchant API     %s/api/v1   (credentials in %s)
  access_key       %s
  Alipay simulator %s/gateway.do   (buyer actions: %s/sim/pay, trades: %s/sim/trades)
  buyer's phone    %s/sim/   (the simulator's phone page: pay a pending QR code, show a barcode)
  cashier pages    each QR order's cashier_url (%s/pay/…) shows its QR code and turns "paid" by itself
  health           %s/healthz, %s/readyz, metrics %s/metrics

Try it (another terminal):
  go run ./cmd/paygate api POST /api/v1/orders '{"out_trade_no":"T1","subject":"coffee","total_amount":"9.90","mode":"qr"}'
  then open the answer's cashier_url in a browser, and %s/sim/ beside it to pay.

`, base, base, op.Username, op.Password, filepath.Join(dataDir, demoOperatorFile), base, filepath.Join(dataDir, demoMerchantFile), creds.AccessKey, base, base, base, base, base, base, base, base, base)
	if wechatOn(cfg) {
		printDemoWechat(w, base, cfg)
	}
	where := "--data " + shellQuote(dataDir)
	if notifyURL == "" {
		fmt.Fprintf(w, `Webhooks: the demo merchant has no webhook URL, so every event is dead-lettered at once.
  Set one (re-sends the dead-lettered events of the last %s):
    go run ./cmd/paygate merchant set-url %s %s http://127.0.0.1:3000/hooks
  or follow the events without one:
    go run ./cmd/paygate listen %s --forward-to http://127.0.0.1:3000/hooks
  See what was dead-lettered and why:
    go run ./cmd/paygate merchant show %s %s

`, shortDuration(gateway.ResendWindow), where, creds.AccessKey, where, where, creds.AccessKey)
	} else {
		fmt.Fprintf(w, "Webhooks: sent to %s (see them: go run ./cmd/paygate merchant show %s %s)\n\n", notifyURL, where, creds.AccessKey)
	}
	fmt.Fprintln(w, "Ctrl-C stops it; restarting keeps every order.")
}

// printDemoWechat adds WeChat Pay's calls to the demo's help: a QR order
// paid on the phone page or POST /sim/pay, and a barcode order with fresh
// payment codes (each pays once).
func printDemoWechat(w io.Writer, base string, cfg config) {
	pays, _ := wechatpaysim.NewPaymentCode("10")
	confirms, _ := wechatpaysim.NewPaymentCode("11")
	fmt.Fprintf(w, `WeChat Pay (its simulator: %s/v3/, trades %s/sim/wechat/trades; merchant %s, keys under %s):
  go run ./cmd/paygate api POST /api/v1/orders '{"out_trade_no":"W1","subject":"tea","total_amount":"12.00","mode":"qr","channel":"wechat"}'
  then the buyer pays its weixin:// qr_code on %s/sim/ (listed as WeChat Pay under "Scan a QR code", or paste it), or:
    curl -sS -X POST %s/sim/pay -d '{"qr_code":"weixin://wxpay/bizpayurl?pr=…"}'
  go run ./cmd/paygate api POST /api/v1/orders '{"out_trade_no":"W2","subject":"tea","total_amount":"8.00","mode":"barcode","channel":"wechat","auth_code":"%s"}'
  an 18-digit payment code, each paying once: 10… pays at once, 11… (e.g. %s) once the buyer confirms, a few
  seconds later; %s/sim/ "Show a barcode" makes fresh ones.
Either wallet, one order ("channel":"auto": both codes in qr_codes and on its cashier page; the first paid decides):
  go run ./cmd/paygate api POST /api/v1/orders '{"out_trade_no":"A1","subject":"lunch","total_amount":"30.00","mode":"qr","channel":"auto"}'

`, base, base, cfg.Wechat.MchID, filepath.Dir(cfg.Wechat.PrivateKeyFile), base, base, pays, confirms, base)
}
