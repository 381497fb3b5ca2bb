package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/wechatpaysim"
)

// simKeyFile is where `sim --data DIR` keeps its Alipay private key.
const simKeyFile = "alipay_private_key.pem"

// simShutdownGrace bounds the graceful shutdown; held answers (the timeout
// fault) are cut after it.
const simShutdownGrace = 5 * time.Second

// simHoldMargin is how much longer than its read timeout the simulator
// may take to answer: the timeout fault holds an answer up to 60 s, plus
// the latency fault.
const simHoldMargin = 90 * time.Second

// simOptions are the flags of `paygate sim`.
type simOptions struct {
	addr         string
	dataDir      string
	alipayKey    string
	appID        string
	appPublicKey string
	faults       string
	payDelay     time.Duration
	maxConns     int
	readTimeout  time.Duration
	idleTimeout  time.Duration
	wechat       wechatSimOptions
}

// limits are the simulator's HTTP limits, like a gateway node's.
func (o simOptions) limits() (httpLimits, error) {
	if o.maxConns <= 0 || o.readTimeout <= 0 || o.idleTimeout <= 0 {
		return httpLimits{}, errors.New("sim: --max-connections, --read-timeout and --idle-timeout must be positive")
	}
	return httpLimits{
		MaxConnections: o.maxConns, ReadHeaderTimeout: min(10*time.Second, o.readTimeout), ReadTimeout: o.readTimeout,
		WriteTimeout: o.readTimeout + simHoldMargin, IdleTimeout: o.idleTimeout, MaxHeaderBytes: 64 << 10,
	}, nil
}

func newSimCmd(stdout, stderr io.Writer) *cobra.Command {
	var o simOptions
	cmd := &cobra.Command{
		Use:   "sim [--addr :9090] [--data DIR]",
		Short: "Run the Alipay and WeChat Pay simulators alone",
		Long: "Run the Alipay gateway simulator: Alipay's OpenAPI (gateway.do, RSA2) for face-to-face\n" +
			"payment, with buyer actions and fault injection under /sim; and on the same address the\n" +
			"WeChat Pay APIv3 simulator under /v3/ (its own routes under /sim/wechat/). It prints both\n" +
			"URLs, the WeChat Pay public key and its ID, and its Alipay public key (the bare base64 line\n" +
			"to configure as 支付宝公钥), then serves until interrupted. Without --data everything lives\n" +
			"in memory and the keys are new each run.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSim(cmd.Context(), o, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", ":9090", "address to listen on")
	f.StringVar(&o.dataDir, "data", "", "directory that keeps trades and the Alipay key across restarts (default: memory only)")
	f.StringVar(&o.alipayKey, "alipay-private-key", "", "the simulator's Alipay private key file (default: "+simKeyFile+" under --data, made when absent)")
	f.StringVar(&o.appID, "app-id", "", "register this app id (with --app-public-key)")
	f.StringVar(&o.appPublicKey, "app-public-key", "", "the app's public key file, PEM or Alipay's bare base64 (with --app-id)")
	f.StringVar(&o.faults, "faults", "", `fault injection as JSON, e.g. {"unknown_rate":0.1,"notify_schedule":"1s,2s,4s"}`)
	f.DurationVar(&o.payDelay, "pay-delay", 3*time.Second, "how long a 29… (Alipay) or 11… (WeChat Pay) barcode buyer takes to confirm")
	f.IntVar(&o.maxConns, "max-connections", 1024, "open connections at most; more wait to be accepted")
	f.DurationVar(&o.readTimeout, "read-timeout", 30*time.Second, "a request's headers and body must arrive within this")
	f.DurationVar(&o.idleTimeout, "idle-timeout", 75*time.Second, "an idle keep-alive connection is closed after this")
	o.wechat.flags(f)
	cmd.AddCommand(newSimBillCmd(stdout))
	return cmd
}

// newSimBillCmd is `paygate sim bill`: a synthetic trade bill written to a
// file, streaming, for benchmarks of reconciliation.
func newSimBillCmd(stdout io.Writer) *cobra.Command {
	var date, out, appID string
	var rows int
	cmd := &cobra.Command{
		Use:   "bill --date YYYY-MM-DD --rows N --out FILE.zip",
		Short: "Write a synthetic trade bill of N payments, as the simulator serves bills",
		Long: "Write a synthetic daily trade bill (a GBK zip laid out as Alipay's) of N payments to FILE,\n" +
			"streaming, so that a million rows take seconds and little memory. Row i pays out_trade_no\n" +
			"PG<yyyyMMdd><16 hex digits of i>, the form paygate gives the channel, an amount of 0.01 to 99.99\n" +
			"yuan, completed in order over the day (alipaysim.SyntheticBillRow makes matching data).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			day, err := time.ParseInLocation("2006-01-02", date, alipay.ChinaTime)
			if err != nil {
				return fmt.Errorf("sim bill: --date %q is not YYYY-MM-DD", date)
			}
			if rows < 0 || out == "" {
				return errors.New("sim bill: --rows must not be negative and --out is required")
			}
			account := alipaysim.DefaultSellerID(appID) + "0156"
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return fmt.Errorf("sim bill: %w", err)
			}
			started := time.Now()
			if err := alipaysim.WriteSyntheticBill(bufio.NewWriterSize(f, 1<<20), account, day, rows); err != nil {
				f.Close()
				os.Remove(out)
				return fmt.Errorf("sim bill: %w", err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("sim bill: %w", err)
			}
			fmt.Fprintf(stdout, "wrote %s: %d payments of account %s on %s in %s\n", out, rows, account, date, time.Since(started).Round(time.Millisecond))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&date, "date", "", "the bill's day, YYYY-MM-DD (China time)")
	f.IntVar(&rows, "rows", 1000, "how many payments")
	f.StringVar(&out, "out", "", "the zip to write (must not exist)")
	f.StringVar(&appID, "app-id", "2021000000000001", "the app whose seller the bill is for")
	return cmd
}

// runSim serves the simulator until ctx ends, then shuts down gracefully.
func runSim(ctx context.Context, o simOptions, stdout, stderr io.Writer) error {
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	limits, err := o.limits()
	if err != nil {
		return err
	}
	cfg, err := simConfig(o, logger)
	if err != nil {
		return err
	}
	wcfg, err := wechatSimConfig(o.wechat, o.dataDir, logger)
	if err != nil {
		return err
	}
	wcfg.PayDelay = o.payDelay
	wx, err := wechatpaysim.New(wcfg)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	defer wx.Close()
	cfg.Wallets = []alipaysim.Wallet{wechatWallet(wx)} // the phone page pays WeChat Pay's codes too
	sim, err := alipaysim.New(cfg)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	defer sim.Close()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("sim: listen: %w", err)
	}
	base := "http://" + printableAddr(ln.Addr())
	fmt.Fprintf(stdout, "listening on %s\n", base)
	fmt.Fprintf(stdout, "gateway: %s/gateway.do   (the buyer's phone page: %s/sim/)\n", base, base)
	if o.appID != "" {
		fmt.Fprintf(stdout, "seller id (alipay.seller_id): %s\n", alipaysim.DefaultSellerID(o.appID))
	}
	if err := printWechatSim(stdout, base, wx, wcfg); err != nil {
		return err
	}
	// One write: the key is the last line, and whoever waits for the
	// header finds it.
	fmt.Fprintf(stdout, "alipay public key (支付宝公钥):\n%s\n", sim.AlipayPublicKeyBase64())
	logger.Info("alipay simulator listening", "addr", ln.Addr().String(), "data", o.dataDir)

	srv := newHTTPServer(simHandler(sim, wx), limits)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(limitListener(ln, limits.MaxConnections)) }()
	select {
	case err := <-served:
		return fmt.Errorf("sim: serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("alipay simulator shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), simShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		_ = srv.Close()
	}
	if err := errors.Join(sim.Close(), wx.Close()); err != nil {
		return fmt.Errorf("sim: close: %w", err)
	}
	return nil
}

// simConfig turns the flags into the simulator's configuration.
func simConfig(o simOptions, logger *slog.Logger) (alipaysim.Config, error) {
	cfg := alipaysim.Config{DataDir: o.dataDir, Logger: logger, PayDelay: o.payDelay}
	if o.payDelay <= 0 {
		return cfg, errors.New("sim: --pay-delay must be positive")
	}
	if (o.appID == "") != (o.appPublicKey == "") {
		return cfg, errors.New("sim: --app-id and --app-public-key go together")
	}
	if o.appID != "" {
		pub, err := alipay.LoadPublicKey(o.appPublicKey)
		if err != nil {
			return cfg, fmt.Errorf("sim: %w", err)
		}
		cfg.Apps = []alipaysim.App{{AppID: o.appID, PublicKey: pub}}
	}
	if o.faults != "" {
		f, err := alipaysim.ParseFaults([]byte(o.faults))
		if err != nil {
			return cfg, fmt.Errorf("sim: --faults: %w", err)
		}
		cfg.Faults = f
	}
	key, err := simAlipayKey(o)
	if err != nil {
		return cfg, err
	}
	cfg.AlipayKey = key
	return cfg, nil
}

// simAlipayKey loads --alipay-private-key, or the key under --data (made
// when absent), or makes a key for this run only.
func simAlipayKey(o simOptions) (*rsa.PrivateKey, error) {
	if o.alipayKey != "" {
		k, err := alipay.LoadPrivateKey(o.alipayKey)
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		return k, nil
	}
	if o.dataDir == "" {
		return newSimKey()
	}
	k, err := loadOrCreateKey(filepath.Join(o.dataDir, simKeyFile))
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	return k, nil
}

// loadOrCreateKey loads an RSA private key, or makes one (PKCS#8 PEM, mode
// 0600) when the file does not exist yet.
func loadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	k, err := alipay.LoadPrivateKey(path)
	if err == nil {
		return k, nil
	}
	if _, statErr := os.Stat(path); !errors.Is(statErr, fs.ErrNotExist) {
		return nil, err
	}
	k, err = newSimKey()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

func newSimKey() (*rsa.PrivateKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, appKeyBits)
	if err != nil {
		return nil, fmt.Errorf("sim: generate Alipay key: %w", err)
	}
	return k, nil
}

// printableAddr is host:port with an unspecified host shown as 127.0.0.1,
// so the printed URL can be pasted.
func printableAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	host := tcp.IP.String()
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, fmt.Sprint(tcp.Port))
}
