package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/wechatpay"
	"github.com/paygate/paygate/wechatpaysim"
)

// Files of the WeChat Pay simulator under a data directory.
const (
	wechatSimDir     = "wechat"                    // below --data: the journal and these files
	wechatSimKeyFile = "wechatpay_private_key.pem" // the simulator's WeChat Pay key
	wechatPubFile    = "wechatpay_public_key.pem"  // its public half, for the merchant
)

// wechatSimOptions are the --wechat-* flags of `paygate sim`.
type wechatSimOptions struct {
	privateKey, keyID                        string
	mchID, appID, serial, merchantKey, apiv3 string
	faults                                   string
}

func (o *wechatSimOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.privateKey, "wechat-private-key", "", "the simulator's WeChat Pay private key file (default: "+wechatSimDir+"/"+wechatSimKeyFile+" under --data, made when absent)")
	f.StringVar(&o.keyID, "wechat-key-id", "", "Wechatpay-Serial of the simulator's answers: a platform certificate serial or PUB_KEY_ID_… (default: a PUB_KEY_ID_ derived from the key)")
	f.StringVar(&o.mchID, "wechat-mchid", "", "register this WeChat Pay merchant (with --wechat-appid, --wechat-merchant-key, --wechat-apiv3-key)")
	f.StringVar(&o.appID, "wechat-appid", "", "the merchant's AppID")
	f.StringVar(&o.merchantKey, "wechat-merchant-key", "", "the merchant API certificate (apiclient_cert.pem) or its public key, PEM")
	f.StringVar(&o.serial, "wechat-serial", "", "the merchant API certificate serial (default: the certificate's; required with a bare public key)")
	f.StringVar(&o.apiv3, "wechat-apiv3-key", "", "file holding the merchant's 32-byte APIv3 key")
	f.StringVar(&o.faults, "wechat-faults", "", `WeChat Pay fault injection as JSON, e.g. {"unknown_rate":0.1,"notify_schedule":"1s,2s,4s"}`)
}

// wechatSimConfig turns the flags into the simulator's configuration;
// dataDir "" keeps it in memory.
func wechatSimConfig(o wechatSimOptions, dataDir string, logger *slog.Logger) (wechatpaysim.Config, error) {
	cfg := wechatpaysim.Config{Logger: logger.With("component", "wechatpaysim")}
	if dataDir != "" {
		cfg.DataDir = filepath.Join(dataDir, wechatSimDir)
	}
	var err error
	switch {
	case o.privateKey != "":
		cfg.WechatPayKey, err = wechatpay.LoadPrivateKey(o.privateKey)
	case dataDir != "":
		cfg.WechatPayKey, err = loadOrCreateKey(filepath.Join(cfg.DataDir, wechatSimKeyFile))
	default:
		cfg.WechatPayKey, err = newSimKey()
	}
	if err != nil {
		return cfg, fmt.Errorf("sim: WeChat Pay key: %w", err)
	}
	cfg.WechatPayID = o.keyID
	if cfg.WechatPayID == "" {
		if cfg.WechatPayID, err = derivedPubKeyID(&cfg.WechatPayKey.PublicKey); err != nil {
			return cfg, err
		}
	}
	if o.faults != "" {
		if cfg.Faults, err = wechatpaysim.ParseFaults([]byte(o.faults)); err != nil {
			return cfg, fmt.Errorf("sim: --wechat-faults: %w", err)
		}
	}
	if o.mchID == "" && o.appID == "" && o.merchantKey == "" && o.apiv3 == "" {
		return cfg, nil
	}
	if o.mchID == "" || o.appID == "" || o.merchantKey == "" || o.apiv3 == "" {
		return cfg, errors.New("sim: --wechat-mchid, --wechat-appid, --wechat-merchant-key and --wechat-apiv3-key go together")
	}
	m, err := loadWechatMerchant(o)
	if err != nil {
		return cfg, fmt.Errorf("sim: %w", err)
	}
	cfg.Merchants = []wechatpaysim.Merchant{m}
	return cfg, nil
}

// loadWechatMerchant reads the merchant's certificate (or public key) and
// APIv3 key files.
func loadWechatMerchant(o wechatSimOptions) (wechatpaysim.Merchant, error) {
	m := wechatpaysim.Merchant{MchID: o.mchID, AppID: o.appID, SerialNo: o.serial}
	data, err := os.ReadFile(o.merchantKey)
	if err != nil {
		return m, fmt.Errorf("merchant key: %w", err)
	}
	if cert, cerr := wechatpay.ParseCertificate(data); cerr == nil {
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return m, fmt.Errorf("merchant certificate %s: not an RSA key", o.merchantKey)
		}
		m.PublicKey = pub
		if m.SerialNo == "" {
			m.SerialNo = wechatpay.CertificateSerial(cert)
		}
	} else if m.PublicKey, err = wechatpay.ParsePublicKey(data); err != nil {
		return m, fmt.Errorf("merchant key %s: %w", o.merchantKey, err)
	}
	if m.SerialNo == "" {
		return m, errors.New("--wechat-serial is required with a bare public key")
	}
	if m.APIv3Key, err = wechatpay.LoadAPIv3Key(o.apiv3); err != nil {
		return m, err
	}
	return m, nil
}

// derivedPubKeyID is a stable PUB_KEY_ID_ + 34 digits for a key, so a
// restarted simulator with the same key signs under the same ID.
func derivedPubKeyID(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	n := new(big.Int).SetBytes(sum[:])
	d := fmt.Sprintf("%034s", new(big.Int).Mod(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(34), nil)).String())
	return wechatpay.PublicKeyIDPrefix + d, nil
}

// certSerial is a stable 40-hex serial for a merchant key that has no
// certificate (the demo's).
func certSerial(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	return strings.ToUpper(fmt.Sprintf("%x", sha1.Sum(der))), nil
}

// publicKeyPEM is pub as a PEM "PUBLIC KEY" block.
func publicKeyPEM(pub *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// loadOrCreateAPIv3Key reads a 32-byte APIv3 key file, or makes one (32
// alphanumerics, mode 0600) when it does not exist.
func loadOrCreateAPIv3Key(path string) (wechatpay.APIv3Key, error) {
	k, err := wechatpay.LoadAPIv3Key(path)
	if err == nil {
		return k, nil
	}
	if _, statErr := os.Stat(path); !errors.Is(statErr, fs.ErrNotExist) {
		return k, err
	}
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, wechatpay.APIv3KeySize)
	for i := range b {
		v, err := rand.Int(rand.Reader, big.NewInt(int64(len(alnum))))
		if err != nil {
			return k, err
		}
		b[i] = alnum[v.Int64()]
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return k, err
	}
	if err := writeFileAtomic(path, append(b, '\n'), 0o600); err != nil {
		return k, err
	}
	return wechatpay.ParseAPIv3Key(b)
}

// simHandler serves both simulators on one address: WeChat Pay's /v3/ and
// /sim/wechat/, POST /sim/pay for a weixin:// code (so one buyer route
// pays either wallet's code), and Alipay everything else. Neither
// simulator knows the other.
func simHandler(ali, wx http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, "/v3/") || strings.HasPrefix(p, "/sim/wechat/"):
			wx.ServeHTTP(w, r)
		case r.Method == http.MethodPost && p == "/sim/pay":
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
			if err != nil {
				http.Error(w, `{"error":"body too large"}`, http.StatusRequestEntityTooLarge)
				return
			}
			var req struct {
				QRCode string `json:"qr_code"`
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if json.Unmarshal(body, &req) == nil && wechatpaysim.IsCodeURL(req.QRCode) {
				r2 := r.Clone(r.Context())
				r2.URL.Path = "/sim/wechat/pay"
				r2.Body = io.NopCloser(bytes.NewReader(body))
				wx.ServeHTTP(w, r2)
				return
			}
			ali.ServeHTTP(w, r)
		default:
			ali.ServeHTTP(w, r)
		}
	})
}

// printWechatSim tells where the WeChat Pay simulator is and how to verify it.
func printWechatSim(w io.Writer, base string, sim *wechatpaysim.Server, cfg wechatpaysim.Config) error {
	pub := sim.WechatPayPublicKey()
	pemBytes, err := publicKeyPEM(pub.Key)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "wechat pay: %s/v3/   (trades: %s/sim/wechat/trades)\n", base, base)
	for _, m := range cfg.Merchants {
		fmt.Fprintf(w, "wechat pay merchant: mchid %s, appid %s, serial %s\n", m.MchID, m.AppID, m.SerialNo)
	}
	fmt.Fprintf(w, "wechat pay public key (微信支付公钥), ID %s:\n%s", pub.ID, pemBytes)
	return nil
}

// The demo's WeChat Pay merchant, registered with its built-in simulator.
// Its files sit under DIR/wechat: the merchant API private key, the APIv3
// key and the simulator's WeChat Pay public key (PUB_KEY_ID mode), made at
// the first run and kept, for the gateway's wechat: section to use.
const (
	demoWechatMchID    = "1900000001"
	demoWechatAppID    = "wx0a1b2c3d4e5f6071"
	demoWechatKeyFile  = "merchant_private_key.pem"
	demoWechatAPIv3Key = "apiv3_key.txt"
)

// demoWechat is the demo's WeChat Pay merchant as both sides know it.
type demoWechat struct {
	merchantKey *rsa.PrivateKey    // the merchant API private key
	apiv3       wechatpay.APIv3Key // the merchant's APIv3 key
	simKey      *rsa.PrivateKey    // the simulator's WeChat Pay key
	keyID       string             // its PUB_KEY_ID_…
	serial      string             // the merchant API certificate serial the merchant signs under
}

// demoWechatKeys makes (at the first run) or loads the demo's WeChat Pay
// keys: the merchant's under dataDir/wechat, the simulator's under
// simDir/wechat, whose public key it writes beside the merchant's for the
// gateway's wechat: section (see demoWechatConfig).
func demoWechatKeys(dataDir, simDir string) (demoWechat, error) {
	var d demoWechat
	dir := filepath.Join(dataDir, wechatSimDir)
	var err error
	if d.merchantKey, err = loadOrCreateKey(filepath.Join(dir, demoWechatKeyFile)); err != nil {
		return d, fmt.Errorf("demo: WeChat Pay merchant key: %w", err)
	}
	if d.apiv3, err = loadOrCreateAPIv3Key(filepath.Join(dir, demoWechatAPIv3Key)); err != nil {
		return d, fmt.Errorf("demo: APIv3 key: %w", err)
	}
	if d.simKey, err = loadOrCreateKey(filepath.Join(simDir, wechatSimDir, wechatSimKeyFile)); err != nil {
		return d, fmt.Errorf("demo: WeChat Pay simulator key: %w", err)
	}
	if d.keyID, err = derivedPubKeyID(&d.simKey.PublicKey); err != nil {
		return d, err
	}
	if d.serial, err = certSerial(&d.merchantKey.PublicKey); err != nil {
		return d, err
	}
	pubPEM, err := publicKeyPEM(&d.simKey.PublicKey)
	if err != nil {
		return d, err
	}
	if err := writeFileAtomic(filepath.Join(dir, wechatPubFile), pubPEM, 0o644); err != nil {
		return d, fmt.Errorf("demo: %w", err)
	}
	return d, nil
}

// demoWechatConfig points the wechat: section at the demo's merchant and
// the simulator at base, from the keys the demo keeps under dataDir/wechat
// (public-key mode, the serial and the key ID derived from the keys as the
// simulator derives them). Without those keys (a data directory the demo
// has not started on since it took WeChat Pay) WeChat Pay stays off.
func demoWechatConfig(c *config, dataDir, base string) error {
	dir := filepath.Join(dataDir, wechatSimDir)
	keyFile, pubFile := filepath.Join(dir, demoWechatKeyFile), filepath.Join(dir, wechatPubFile)
	key, err := wechatpay.LoadPrivateKey(keyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	data, err := os.ReadFile(pubFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	pub, err := wechatpay.ParsePublicKey(data)
	if err != nil {
		return fmt.Errorf("demo: %s: %w", pubFile, err)
	}
	w := &c.Wechat
	if w.SerialNo, err = certSerial(&key.PublicKey); err != nil {
		return err
	}
	if w.PublicKeyID, err = derivedPubKeyID(pub); err != nil {
		return err
	}
	w.MchID, w.AppID = demoWechatMchID, demoWechatAppID
	w.PrivateKeyFile, w.APIv3KeyFile, w.PublicKeyFile = keyFile, filepath.Join(dir, demoWechatAPIv3Key), pubFile
	w.BaseURL = base
	return nil
}

// demoWechatSim starts the WeChat Pay simulator with the demo's merchant,
// its journal under simDir/wechat.
func demoWechatSim(d demoWechat, simDir, base string, logger *slog.Logger) (*wechatpaysim.Server, error) {
	wx, err := wechatpaysim.New(wechatpaysim.Config{
		WechatPayKey: d.simKey, WechatPayID: d.keyID, DataDir: filepath.Join(simDir, wechatSimDir), PublicURL: base,
		Logger: logger.With("component", "wechatpaysim"),
		Merchants: []wechatpaysim.Merchant{{MchID: demoWechatMchID, AppID: demoWechatAppID, SerialNo: d.serial,
			PublicKey: &d.merchantKey.PublicKey, APIv3Key: d.apiv3}},
	})
	if err != nil {
		return nil, fmt.Errorf("demo: WeChat Pay simulator: %w", err)
	}
	return wx, nil
}

// wechatWallet is the WeChat Pay simulator as the Alipay simulator's phone
// page (GET /sim/) sees it: its code_urls listed and paid beside Alipay's
// codes, its payment-code kinds offered beside Alipay's.
func wechatWallet(wx *wechatpaysim.Server) alipaysim.Wallet {
	kinds := make([]alipaysim.AuthCodeKind, 0, len(wechatpaysim.PaymentCodeKinds))
	for _, k := range wechatpaysim.PaymentCodeKinds {
		kinds = append(kinds, alipaysim.AuthCodeKind{Prefix: k.Prefix, Label: k.Label})
	}
	return alipaysim.Wallet{
		Name: "WeChat Pay",
		Owns: wechatpaysim.IsCodeURL,
		Pending: func() []alipaysim.PendingCode {
			var out []alipaysim.PendingCode
			for _, p := range wx.PendingCodes() {
				out = append(out, alipaysim.PendingCode{QRCode: p.CodeURL, OutTradeNo: p.OutTradeNo, Subject: p.Description,
					TotalAmount: paygate.Money(p.Total), ExpiresAt: p.ExpiresAt})
			}
			return out
		},
		Pay: func(_ context.Context, code string) (alipaysim.WalletPayment, error) {
			v, err := wx.Pay(code, "")
			if err != nil {
				return alipaysim.WalletPayment{}, errors.New(strings.TrimPrefix(err.Error(), "wechatpaysim: "))
			}
			return alipaysim.WalletPayment{OutTradeNo: v.OutTradeNo, Subject: v.Description, TradeNo: v.TransactionID,
				Buyer: v.OpenID, TotalAmount: paygate.Money(v.Total)}, nil
		},
		Kinds: kinds,
	}
}
