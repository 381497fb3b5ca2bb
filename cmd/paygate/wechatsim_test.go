package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/paygate/paygate/wechatpay"
	"github.com/paygate/paygate/wechatpaysim"
)

var wechatKeyLine = regexp.MustCompile(`(?s)wechat pay public key \(微信支付公钥\), ID (PUB_KEY_ID_[0-9]{34}):\n(-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----\n)`)

// TestSimWechat: `paygate sim` serves WeChat Pay's /v3/ beside Alipay,
// with the merchant of the --wechat-* flags; POST /sim/pay pays a
// weixin:// code as it pays an Alipay one; /sim/wechat/trades shows it.
func TestSimWechat(t *testing.T) {
	t.Parallel()
	const td = "../../wechatpay/testdata/"
	dir := t.TempDir()
	sim := startSim(t, "--data", dir, "--wechat-mchid", "1900000001", "--wechat-appid", "wxd678efh567hg6787",
		"--wechat-merchant-key", td+"merchant_cert.pem", "--wechat-apiv3-key", td+"apiv3_key.txt")
	// startSim returns once the Alipay key is printed, after the WeChat lines.
	out := sim.stdout.String()
	m := wechatKeyLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no WeChat Pay key in %q", out)
	}
	pub, err := wechatpay.ParsePublicKey([]byte(m[2]))
	if err != nil {
		t.Fatal(err)
	}
	merchantKey, err := wechatpay.LoadPrivateKey(td + "merchant_private_key.pem")
	if err != nil {
		t.Fatal(err)
	}
	apiv3, err := wechatpay.LoadAPIv3Key(td + "apiv3_key.txt")
	if err != nil {
		t.Fatal(err)
	}
	c, err := wechatpay.New(wechatpay.Config{MchID: "1900000001", AppID: "wxd678efh567hg6787", BaseURL: sim.base,
		PrivateKey: merchantKey, SerialNo: "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567",
		WechatPayKeys: []wechatpay.PublicKey{{ID: m[1], Key: pub}}, APIv3Key: apiv3, NotifyURL: "http://127.0.0.1:1/notify"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.NativePrepay(ctx, wechatpay.NativeRequest{Description: "拿铁", OutTradeNo: "PG20240518W1", Amount: wechatpay.Amount{Total: 100}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"qr_code": r.CodeURL})
	resp, err := http.Post(sim.base+"/sim/pay", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var v wechatpaysim.TradeView
	_ = json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || v.TradeState != wechatpay.TradeSuccess || v.OutTradeNo != "PG20240518W1" {
		t.Fatalf("POST /sim/pay: %d %+v", resp.StatusCode, v)
	}
	if tx, err := c.QueryByOutTradeNo(ctx, "PG20240518W1"); err != nil || tx.TradeState != wechatpay.TradeSuccess {
		t.Fatalf("query: %+v %v", tx, err)
	}
	resp, err = http.Get(sim.base + "/sim/wechat/trades")
	if err != nil {
		t.Fatal(err)
	}
	var views []wechatpaysim.TradeView
	_ = json.NewDecoder(resp.Body).Decode(&views)
	resp.Body.Close()
	if len(views) != 1 || views[0].TransactionID == "" {
		t.Fatalf("/sim/wechat/trades: %+v", views)
	}
	// An Alipay code still goes to Alipay's simulator.
	resp, err = http.Post(sim.base+"/sim/pay", "application/json", bytes.NewReader([]byte(`{"qr_code":"https://qr.alipay.com/none"}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown Alipay code: %d", resp.StatusCode)
	}
	// The trades survive a restart of the command on the same --data.
	if err := sim.stop(); err != nil {
		t.Fatal(err)
	}
	again := startSim(t, "--data", dir, "--wechat-mchid", "1900000001", "--wechat-appid", "wxd678efh567hg6787",
		"--wechat-merchant-key", td+"merchant_cert.pem", "--wechat-apiv3-key", td+"apiv3_key.txt")
	if m2 := wechatKeyLine.FindStringSubmatch(again.stdout.String()); m2 == nil || m2[1] != m[1] {
		t.Fatal("the WeChat Pay key ID changed across a restart")
	}
	c2, _ := wechatpay.New(wechatpay.Config{MchID: "1900000001", AppID: "wxd678efh567hg6787", BaseURL: again.base,
		PrivateKey: merchantKey, SerialNo: "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567", WechatPayKeys: []wechatpay.PublicKey{{ID: m[1], Key: pub}}})
	if tx, err := c2.QueryByOutTradeNo(ctx, "PG20240518W1"); err != nil || tx.TradeState != wechatpay.TradeSuccess {
		t.Fatalf("query after restart: %+v %v", tx, err)
	}
}

// TestDemoWechat: the demo serves WeChat Pay under /v3/ with the merchant
// whose keys it keeps under DIR/wechat.
func TestDemoWechat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := startDemo(t, dir)
	merchantKey, err := wechatpay.LoadPrivateKey(filepath.Join(dir, wechatSimDir, demoWechatKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := wechatpay.ParsePublicKey(mustRead(t, filepath.Join(dir, wechatSimDir, wechatPubFile)))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := derivedPubKeyID(pub)
	serial, _ := certSerial(&merchantKey.PublicKey)
	c, err := wechatpay.New(wechatpay.Config{MchID: demoWechatMchID, AppID: demoWechatAppID, BaseURL: d.base,
		PrivateKey: merchantKey, SerialNo: serial, WechatPayKeys: []wechatpay.PublicKey{{ID: id, Key: pub}}})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := c.CodePay(t.Context(), wechatpay.CodePayRequest{Description: "可颂", OutTradeNo: "PG20240518DW",
		Payer: wechatpay.CodePayPayer{AuthCode: "101234567890123456"}, Amount: wechatpay.Amount{Total: 1}})
	if err != nil || tx.TradeState != wechatpay.TradeSuccess {
		t.Fatalf("codepay through the demo: %+v %v", tx, err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
