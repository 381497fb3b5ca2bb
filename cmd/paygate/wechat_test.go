package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/wechatpay"
)

// wechatFiles are a WeChat Pay merchant's files as an operator has them,
// made in a test's directory: the merchant API private key, the APIv3 key,
// WeChat Pay's public key and a platform certificate of the same key.
type wechatFiles struct {
	key, apiv3, pub, cert string
	apiv3Text             string // the key's content, which no error may show
	keyID, certSerial     string
	serial                string // the merchant certificate serial
}

func newWechatFiles(t *testing.T) wechatFiles {
	t.Helper()
	merchantKey, wxKey := e2eWechatKeys()
	dir := t.TempDir()
	f := wechatFiles{key: filepath.Join(dir, "apiclient_key.pem"), apiv3: filepath.Join(dir, "apiv3.txt"),
		pub: filepath.Join(dir, "pub_key.pem"), cert: filepath.Join(dir, "wechatpay_cert.pem")}
	e2eWritePEM(t, f.key, "PRIVATE KEY", e2eMust(x509.MarshalPKCS8PrivateKey(merchantKey)), 0o600)
	e2eWritePEM(t, f.pub, "PUBLIC KEY", e2eMust(x509.MarshalPKIXPublicKey(&wxKey.PublicKey)), 0o644)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x5157F09EFDC096DE), Subject: pkix.Name{CommonName: "Tenpay.com sign"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	e2eWritePEM(t, f.cert, "CERTIFICATE", e2eMust(x509.CreateCertificate(rand.Reader, tmpl, tmpl, &wxKey.PublicKey, wxKey)), 0o644)
	f.apiv3Text = (rand.Text() + rand.Text())[:wechatpay.APIv3KeySize]
	if err := os.WriteFile(f.apiv3, []byte(f.apiv3Text+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.keyID = "PUB_KEY_ID_0119000000422025010100000000000042"
	f.certSerial = "5157F09EFDC096DE"
	f.serial = e2eMust(certSerial(&merchantKey.PublicKey))
	return f
}

// config is a node's config with WeChat Pay on in public-key mode.
func (f wechatFiles) config() config {
	c := defaultConfig()
	c.Server.PublicURL = "https://pay.example.com"
	w := &c.Wechat
	w.MchID, w.AppID, w.SerialNo = e2eMchID, e2eWxAppID, strings.ToLower(f.serial) // as openssl prints it
	w.PrivateKeyFile, w.APIv3KeyFile, w.PublicKeyFile, w.PublicKeyID = f.key, f.apiv3, f.pub, f.keyID
	return c
}

// TestWechatConfig: the wechat: section turns WeChat Pay on with either
// verification mode (or both), off when absent; every mistake is refused
// with an error naming its key, and no error shows a key's content.
func TestWechatConfig(t *testing.T) {
	t.Parallel()
	f := newWechatFiles(t)
	notPEM := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notPEM, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	shortKey := filepath.Join(t.TempDir(), "short.txt")
	if err := os.WriteFile(shortKey, []byte(f.apiv3Text[:16]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	merchantPub := filepath.Join(t.TempDir(), "merchant_pub.pem")
	merchantKey, _ := e2eWechatKeys()
	e2eWritePEM(t, merchantPub, "PUBLIC KEY", e2eMust(x509.MarshalPKIXPublicKey(&merchantKey.PublicKey)), 0o644)

	tests := []struct {
		name   string
		change func(c *config)
		want   []string // in the error; none: accepted
		keyIDs []string // accepted: the WeChat Pay keys answers verify with
	}{
		{"public-key mode", func(*config) {}, nil, []string{f.keyID}},
		{"certificate mode", func(c *config) {
			c.Wechat.PublicKeyFile, c.Wechat.PublicKeyID, c.Wechat.PlatformCertFile = "", "", f.cert
		}, nil, []string{f.certSerial}},
		{"both, while switching", func(c *config) { c.Wechat.PlatformCertFile = f.cert }, nil, []string{f.certSerial, f.keyID}},
		{"keys without mch_id", func(c *config) { c.Wechat.MchID = "" }, []string{"wechat.app_id is set but wechat.mch_id is not"}, nil},
		{"mch_id not digits", func(c *config) { c.Wechat.MchID = "19000abc" }, []string{"wechat.mch_id", "19000abc"}, nil},
		{"no app_id", func(c *config) { c.Wechat.AppID = "" }, []string{"wechat.app_id is required"}, nil},
		{"no serial", func(c *config) { c.Wechat.SerialNo = "" }, []string{"wechat.serial_no is required"}, nil},
		{"serial not hex", func(c *config) { c.Wechat.SerialNo = "serial=XYZ" }, []string{"wechat.serial_no", "hexadecimal"}, nil},
		{"no private key", func(c *config) { c.Wechat.PrivateKeyFile = "" }, []string{"wechat.private_key_file is required"}, nil},
		{"private key missing", func(c *config) { c.Wechat.PrivateKeyFile = f.key + ".gone" }, []string{"wechat.private_key_file", f.key + ".gone"}, nil},
		{"private key not a key", func(c *config) { c.Wechat.PrivateKeyFile = notPEM }, []string{"wechat.private_key_file", notPEM}, nil},
		{"no APIv3 key", func(c *config) { c.Wechat.APIv3KeyFile = "" }, []string{"wechat.apiv3_key_file is required"}, nil},
		{"APIv3 key short", func(c *config) { c.Wechat.APIv3KeyFile = shortKey }, []string{"wechat.apiv3_key_file", shortKey, "32"}, nil},
		{"no WeChat Pay key", func(c *config) { c.Wechat.PublicKeyFile, c.Wechat.PublicKeyID = "", "" },
			[]string{"wechat.public_key_file", "wechat.public_key_id", "wechat.platform_cert_file"}, nil},
		{"public key without id", func(c *config) { c.Wechat.PublicKeyID = "" }, []string{"wechat.public_key_id is required with wechat.public_key_file"}, nil},
		{"id without public key", func(c *config) { c.Wechat.PublicKeyFile = "" }, []string{"wechat.public_key_id is set without wechat.public_key_file"}, nil},
		{"id malformed", func(c *config) { c.Wechat.PublicKeyID = "PUB_KEY_ID_abc" }, []string{"wechat.public_key_id", "PUB_KEY_ID_abc"}, nil},
		{"public key not a key", func(c *config) { c.Wechat.PublicKeyFile = notPEM }, []string{"wechat.public_key_file", notPEM}, nil},
		{"certificate not one", func(c *config) { c.Wechat.PlatformCertFile = f.pub }, []string{"wechat.platform_cert_file", f.pub}, nil},
		{"merchant's own key", func(c *config) { c.Wechat.PublicKeyFile = merchantPub }, []string{"wechat:", "merchant's own public key"}, nil},
		{"base_url", func(c *config) { c.Wechat.BaseURL = "api.mch.weixin.qq.com" }, []string{"wechat.base_url", "api.mch.weixin.qq.com"}, nil},
		{"notify_url with a query", func(c *config) { c.Wechat.NotifyURL = "https://pay.example.com/notify/wechat?x=1" }, []string{"wechat.notify_url", "query"}, nil},
		{"no public_url", func(c *config) { c.Server.PublicURL = "" }, []string{"server.public_url (or wechat.notify_url)"}, nil},
		{"call_timeout", func(c *config) { c.Wechat.CallTimeout = 0 }, []string{"wechat.call_timeout"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := f.config()
			tt.change(&c)
			wx, err := newWechatClient(c)
			if tt.want == nil {
				if err != nil || wx == nil {
					t.Fatalf("newWechatClient = %v, %v", wx, err)
				}
				if wx.MchID() != e2eMchID || wx.AppID() != e2eWxAppID {
					t.Fatalf("client for %s %s", wx.MchID(), wx.AppID())
				}
				for _, id := range tt.keyIDs {
					if !wx.Verifier().Has(id) {
						t.Errorf("answers signed by %s do not verify", id)
					}
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to name %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Errorf("err = %v, want it to start config:", err)
			}
			if strings.Contains(err.Error(), f.apiv3Text[:8]) || strings.Contains(err.Error(), "BEGIN") {
				t.Errorf("err = %v shows a key", err)
			}
		})
	}
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		if wx, err := newWechatClient(defaultConfig()); wx != nil || err != nil {
			t.Fatalf("without a wechat section: %v, %v; want WeChat Pay off", wx, err)
		}
	})
	t.Run("notify_url", func(t *testing.T) {
		t.Parallel()
		c := f.config()
		c.Server.PublicURL = "https://pay.example.com/"
		if u, err := wechatNotifyURL(c); err != nil || u != "https://pay.example.com/notify/wechat" {
			t.Fatalf("default notify_url = %q, %v", u, err)
		}
		c.Wechat.NotifyURL = "https://edge.example.com/wx"
		if u, err := wechatNotifyURL(c); err != nil || u != c.Wechat.NotifyURL {
			t.Fatalf("notify_url = %q, %v", u, err)
		}
	})
}

// TestWechatConfigEnv: every wechat: key has its PAYGATE_WECHAT_ variable.
func TestWechatConfigEnv(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(writeConfig(t, "wechat:\n  mch_id: \"1900000042\"\n  public_key_id: PUB_KEY_ID_01\n"), []string{
		"PAYGATE_WECHAT_APP_ID=wx0a1b2c3d4e5f6042", "PAYGATE_WECHAT_SERIAL_NO=0A1B", "PAYGATE_WECHAT_PRIVATE_KEY_FILE=/k.pem",
		"PAYGATE_WECHAT_APIV3_KEY_FILE=/v3.txt", "PAYGATE_WECHAT_PLATFORM_CERT_FILE=/c.pem", "PAYGATE_WECHAT_PUBLIC_KEY_FILE=/p.pem",
		"PAYGATE_WECHAT_PUBLIC_KEY_ID=PUB_KEY_ID_02", "PAYGATE_WECHAT_BASE_URL=http://127.0.0.1:9090",
		"PAYGATE_WECHAT_NOTIFY_URL=https://x.example/n", "PAYGATE_WECHAT_CALL_TIMEOUT=5s",
	})
	if err != nil {
		t.Fatal(err)
	}
	w := c.Wechat
	if w.MchID != "1900000042" || w.AppID != "wx0a1b2c3d4e5f6042" || w.SerialNo != "0A1B" || w.PrivateKeyFile != "/k.pem" ||
		w.APIv3KeyFile != "/v3.txt" || w.PlatformCertFile != "/c.pem" || w.PublicKeyFile != "/p.pem" || w.PublicKeyID != "PUB_KEY_ID_02" ||
		w.BaseURL != "http://127.0.0.1:9090" || w.NotifyURL != "https://x.example/n" || w.CallTimeout != 5*time.Second {
		t.Fatalf("wechat = %+v", w)
	}
	if d := defaultConfig().Wechat; d.MchID != "" || d.BaseURL != wechatpay.ProductionURL || d.CallTimeout != 15*time.Second {
		t.Fatalf("defaults = %+v: want WeChat Pay off, WeChat Pay's API, 15 s", d)
	}
}

// TestServeWechat: `paygate serve` with a wechat: section beside `paygate
// sim` with that merchant registered (the production layout, the
// simulator as WeChat Pay) says at start which channels take orders, takes
// a WeChat QR order whose payment reaches it as WeChat Pay's notification
// on /notify/wechat, and never logs a key.
func TestServeWechat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := newWechatFiles(t)
	appKeyFile, alipayPubFile := serveKeys(t, dir)
	appKey, simKey := e2eKeys()
	merchantKey, wxKey := e2eWechatKeys()
	appPubFile, simKeyFile := filepath.Join(dir, "app_public_key.pem"), filepath.Join(dir, "sim_private_key.pem")
	merchantPubFile, wxKeyFile := filepath.Join(dir, "merchant_public_key.pem"), filepath.Join(dir, "wechatpay_private_key.pem")
	e2eWritePEM(t, appPubFile, "PUBLIC KEY", e2eMust(x509.MarshalPKIXPublicKey(&appKey.PublicKey)), 0o644)
	e2eWritePEM(t, simKeyFile, "PRIVATE KEY", e2eMust(x509.MarshalPKCS8PrivateKey(simKey)), 0o600)
	e2eWritePEM(t, merchantPubFile, "PUBLIC KEY", e2eMust(x509.MarshalPKIXPublicKey(&merchantKey.PublicKey)), 0o644)
	e2eWritePEM(t, wxKeyFile, "PRIVATE KEY", e2eMust(x509.MarshalPKCS8PrivateKey(wxKey)), 0o600)
	sim := startSim(t, "--app-id", e2eAppID, "--app-public-key", appPubFile, "--alipay-private-key", simKeyFile,
		"--wechat-private-key", wxKeyFile, "--wechat-key-id", f.keyID, "--wechat-mchid", e2eMchID, "--wechat-appid", e2eWxAppID,
		"--wechat-merchant-key", merchantPubFile, "--wechat-serial", f.serial, "--wechat-apiv3-key", f.apiv3)

	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`server:
  addr: 127.0.0.1:%d
  public_url: http://127.0.0.1:%d
  drain_delay: 0s
database:
  url: sqlite:%s
secrets:
  master_key: %s
alipay:
  app_id: %q
  gateway_url: %s/gateway.do
  private_key_file: %q
  alipay_public_key_file: %q
  skip_seller_check: true
wechat:
  mch_id: %q
  app_id: %q
  serial_no: %q
  private_key_file: %q
  apiv3_key_file: %q
  public_key_file: %q
  public_key_id: %q
  base_url: %s
`, port, port, filepath.Join(dir, "paygate.db"), newMasterKeyHex(t), e2eAppID, sim.base, appKeyFile, alipayPubFile,
		e2eMchID, e2eWxAppID, f.serial, f.key, f.apiv3, f.pub, f.keyID, sim.base))
	out, stderr, err := runCmd(t, "merchant", "create", "--config", cfg, "--name", "shop", "--json")
	if err != nil {
		t.Fatalf("merchant create: %v\n%s", err, stderr)
	}
	var creds merchantCredentials
	if err := json.Unmarshal([]byte(out), &creds); err != nil {
		t.Fatalf("merchant create printed %q: %v", out, err)
	}
	s := startServe(t, cfg)
	waitFor(t, "serve ready", func() bool { return readyStatus(s.base) == http.StatusOK })
	var started struct {
		Msg    string `json:"msg"`
		Wechat struct {
			MchID        string `json:"mch_id"`
			BaseURL      string `json:"base_url"`
			VerifiedWith string `json:"verified_with"`
		} `json:"wechat"`
	}
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		if strings.Contains(line, "payment channels") {
			if err := json.Unmarshal([]byte(line), &started); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
		}
	}
	if started.Msg != "payment channels: alipay, wechat" || started.Wechat.MchID != e2eMchID || started.Wechat.BaseURL != sim.base ||
		started.Wechat.VerifiedWith != "public key "+f.keyID {
		t.Fatalf("serve's start says %+v, want both channels with WeChat Pay's merchant\n%s", started, s.stderr)
	}

	c := client.New(s.base, creds.AccessKey, creds.SecretKey)
	o, err := c.CreateOrder(context.Background(), client.CreateOrderRequest{OutTradeNo: "SW1", Subject: "tea", TotalAmount: "3.00", Mode: "qr", Channel: "wechat"})
	if err != nil || o.Channel != "wechat" || !strings.HasPrefix(o.QRCode, "weixin://") {
		t.Fatalf("order = %+v, %v", o, err)
	}
	simPostJSON(t, sim.base+"/sim/pay", map[string]string{"qr_code": o.QRCode})
	waitFor(t, "the order paid by WeChat Pay's notification", func() bool {
		got, err := c.GetOrder(context.Background(), "SW1", false)
		return err == nil && got.Status == "paid" && got.TradeNo != ""
	})
	logs := s.stderr.String()
	if !strings.Contains(logs, "/notify/wechat") {
		t.Errorf("the request log shows no notification on /notify/wechat:\n%s", logs)
	}
	for _, secret := range []string{f.apiv3Text, "PRIVATE KEY", creds.SecretKey} {
		if strings.Contains(logs, secret) {
			t.Fatalf("serve logged a secret (%.12s…)", secret)
		}
	}
}
