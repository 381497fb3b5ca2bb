package main

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/client"
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

// demoWechatCodes are the payment codes the demo's help prints.
var demoWechatCodes = regexp.MustCompile(`"channel":"wechat","auth_code":"(10[0-9]{16})"`)

// TestDemoWechatOrders: the demo takes WeChat Pay orders by itself, as its
// help says: a QR order whose weixin:// code the buyer pays on the
// simulator's phone page (listed as WeChat Pay), a barcode order with the
// printed 10… code and one with a code the phone page shows; after a
// restart the orders are there and a refund still reaches WeChat Pay.
func TestDemoWechatOrders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	d := startDemo(t, dir)
	out := d.stdout.String()
	m := demoWechatCodes.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, `"mode":"qr","channel":"wechat"`) || !strings.Contains(out, d.base+"/sim/ (listed as WeChat Pay") ||
		!strings.Contains(out, "weixin://") {
		t.Fatalf("the demo's help lacks the WeChat Pay calls:\n%s", out)
	}
	if !strings.Contains(d.stderr.String(), `"msg":"payment channels: alipay, wechat"`) {
		t.Fatalf("the demo does not say WeChat Pay is on:\n%s", d.stderr)
	}
	ak, sk, _ := readDemoCreds(t, dir)
	c := client.New(d.base, ak, sk, client.WithHTTPClient(d.http))

	o, err := c.CreateOrder(ctx, client.CreateOrderRequest{OutTradeNo: "W1", Subject: "tea", TotalAmount: "12.00", Mode: "qr", Channel: "wechat"})
	if err != nil || o.Channel != "wechat" || !wechatpaysim.IsCodeURL(o.QRCode) {
		t.Fatalf("WeChat QR order = %+v, %v", o, err)
	}
	// The buyer's phone lists the code as WeChat Pay's and pays it.
	page := phoneGet(t, d, "/sim/")
	if !strings.Contains(page, `value="`+html.EscapeString(o.QRCode)+`"`) || !strings.Contains(page, `<span class="wallet">WeChat Pay</span>`) {
		t.Fatalf("the phone page does not list the WeChat Pay code %s:\n%s", o.QRCode, page)
	}
	status, page := phonePay(t, d, url.Values{"pick": {o.QRCode}})
	if status != http.StatusOK || !strings.Contains(page, "Paid ¥12.00 with WeChat Pay") {
		t.Fatalf("POST /sim/phone/pay: %d\n%s", status, page)
	}
	paid := demoWaitStatus(t, c, "W1", "paid")
	if paid.Channel != "wechat" || !strings.HasPrefix(paid.TradeNo, "42") {
		t.Fatalf("paid order = %+v", paid)
	}
	// The same code again is refused, and the page says why.
	if status, page := phonePay(t, d, url.Values{"qr_code": {o.QRCode}}); status != http.StatusConflict || !strings.Contains(page, "already paid") {
		t.Fatalf("paying a paid code again: %d\n%s", status, page)
	}

	// Barcodes: the printed 10… code, then one the phone page shows.
	b, err := c.CreateOrder(ctx, client.CreateOrderRequest{OutTradeNo: "W2", Subject: "bun", TotalAmount: "8.00", Mode: "barcode", Channel: "wechat", AuthCode: m[1]})
	if err != nil || b.Status != "paid" || b.Channel != "wechat" {
		t.Fatalf("barcode order with the printed code = %+v, %v", b, err)
	}
	shown := regexp.MustCompile(`data-code="(10[0-9]{16})"`).FindStringSubmatch(phoneGet(t, d, "/sim/?barcode=10"))
	if shown == nil {
		t.Fatal("the phone page shows no WeChat Pay 10… code")
	}
	if b, err := c.CreateOrder(ctx, client.CreateOrderRequest{OutTradeNo: "W3", Subject: "bun", TotalAmount: "8.00", Mode: "barcode", Channel: "wechat", AuthCode: shown[1]}); err != nil || b.Status != "paid" {
		t.Fatalf("barcode order with the phone's code = %+v, %v", b, err)
	}
	d.stop()
	if t.Failed() {
		return
	}

	// Restarted on the same data: the same merchant keys, the orders, and
	// WeChat Pay (its journal) still knows the trade to refund.
	d2 := startDemo(t, dir)
	c2 := client.New(d2.base, ak, sk, client.WithHTTPClient(d2.http))
	if got, err := c2.GetOrder(ctx, "W1", false); err != nil || got.Status != "paid" || got.TradeNo != paid.TradeNo {
		t.Fatalf("after restart: %+v, %v", got, err)
	}
	if _, err := c2.Refund(ctx, "W1", client.RefundRequest{OutRequestNo: "R1", Amount: "2.00"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := c2.ListRefunds(ctx, "W1")
		if err != nil {
			t.Fatal(err)
		}
		if len(l) == 1 && l[0].Status == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refund after restart: %+v", l)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if key := string(bytes.TrimSpace(mustRead(t, filepath.Join(dir, wechatSimDir, demoWechatAPIv3Key)))); strings.Contains(d.stderr.String()+d2.stderr.String()+out, key) {
		t.Fatal("the demo printed or logged the APIv3 key")
	}
}

// phoneGet is the phone page at path.
func phoneGet(t *testing.T, d *runningDemo, path string) string {
	t.Helper()
	resp, err := d.http.Get(d.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// phonePay posts the phone page's form as its own page does.
func phonePay(t *testing.T, d *runningDemo, form url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.base+"/sim/phone/pay", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := d.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
