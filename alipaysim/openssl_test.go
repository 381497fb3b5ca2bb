package alipaysim_test

// The independence checks of the channel: nothing here uses the alipay
// package's signing code. Requests are signed by openssl over a string to
// sign built in this file from §1.4, and the simulator's responses and
// notifications are verified by openssl over bytes cut by hand (§2.2, §5.3).

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/testenv"
)

func needOpenSSL(t *testing.T) {
	t.Helper()
	testenv.LookPath(t, "openssl")
}

// writePEM writes a key for openssl: a PKCS#8 private key or a PKIX public key.
func writePEM(t *testing.T, name string, key any) string {
	t.Helper()
	var block *pem.Block
	switch k := key.(type) {
	case *rsa.PrivateKey:
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "PUBLIC KEY", Bytes: der}
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// opensslSign signs content with SHA256withRSA and returns standard base64.
func opensslSign(t *testing.T, keyPath string, content string) string {
	t.Helper()
	cmd := exec.Command("openssl", "dgst", "-sha256", "-sign", keyPath)
	cmd.Stdin = strings.NewReader(content)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl sign: %v", err)
	}
	return base64.StdEncoding.EncodeToString(out)
}

// opensslVerify checks a base64 signature over content with a public key.
func opensslVerify(t *testing.T, pubPath string, content []byte, sign string) {
	t.Helper()
	sig, err := base64.StdEncoding.DecodeString(sign)
	if err != nil {
		t.Fatalf("sign is not base64: %v", err)
	}
	dir := t.TempDir()
	sigPath, dataPath := filepath.Join(dir, "sig"), filepath.Join(dir, "data")
	os.WriteFile(sigPath, sig, 0o600)
	os.WriteFile(dataPath, content, 0o600)
	out, err := exec.Command("openssl", "dgst", "-sha256", "-verify", pubPath, "-signature", sigPath, dataPath).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("Verified OK")) {
		t.Fatalf("openssl does not verify %q: %s %v", content, out, err)
	}
}

// stringToSign is §1.4 and §5.3 written out again: drop the excluded keys
// and empty values, sort by name, join name=value raw with "&".
func stringToSign(p url.Values, exclude ...string) string {
	var pairs []string
outer:
	for k, vs := range p {
		for _, x := range exclude {
			if k == x {
				continue outer
			}
		}
		if vs[0] != "" {
			pairs = append(pairs, k+"="+vs[0])
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// cutNode takes the response node's bytes the way the official PHP SDK does:
// from after `"<key>":` to the last `,"sign":`.
func cutNode(t *testing.T, body []byte, key string) (node []byte, sign string) {
	t.Helper()
	start := bytes.Index(body, []byte(`"`+key+`":`))
	end := bytes.LastIndex(body, []byte(`,"sign":"`))
	if start < 0 || end < 0 || !bytes.HasSuffix(body, []byte(`"}`)) {
		t.Fatalf("response is not node-first, sign-last: %s", body)
	}
	node = body[start+len(key)+3 : end]
	sign = string(body[end+len(`,"sign":"`) : len(body)-2])
	return node, strings.ReplaceAll(sign, `\/`, "/")
}

// post sends params as a form and returns the raw body.
func post(t *testing.T, gatewayURL string, p url.Values) []byte {
	t.Helper()
	resp, err := http.PostForm(gatewayURL, p)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return body
}

func TestOpenSSLSignedRequestAndVerifiedResponse(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	e := setup(t)
	appKeyPath := writePEM(t, "app.pem", appKey())
	alipayPubPath := writePEM(t, "alipay_pub.pem", &alipayKey().PublicKey)

	p := url.Values{
		"app_id": {testAppID}, "method": {"alipay.trade.precreate"}, "format": {"JSON"},
		"charset": {"utf-8"}, "sign_type": {"RSA2"}, "version": {"1.0"},
		"timestamp":   {e.clock.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04:05")},
		"biz_content": {`{"out_trade_no":"OSSL1","total_amount":"12.34","subject":"拿铁 & 可颂 = 早餐"}`},
	}
	p.Set("sign", opensslSign(t, appKeyPath, stringToSign(p, "sign")))
	body := post(t, e.srv.URL+"/gateway.do", p)
	node, sign := cutNode(t, body, "alipay_trade_precreate_response")
	if !bytes.Contains(node, []byte(`"code":"10000"`)) || !bytes.Contains(node, []byte(`"qr_code":"https:\/\/`)) {
		t.Fatalf("the simulator did not accept an openssl-signed request: %s", body)
	}
	opensslVerify(t, alipayPubPath, node, sign)

	// A request signed over another string is refused, and the refusal
	// (signed too) shows the string the gateway built, HTML-escaped.
	p.Set("sign", opensslSign(t, appKeyPath, stringToSign(p, "sign")+"x"))
	body = post(t, e.srv.URL+"/gateway.do", p)
	node, sign = cutNode(t, body, "alipay_trade_precreate_response")
	want := html.EscapeString(stringToSign(p, "sign"))
	if !bytes.Contains(node, []byte("isv.invalid-signature")) || !strings.Contains(string(node), want) {
		t.Fatalf("bad signature answer: %s", node)
	}
	opensslVerify(t, alipayPubPath, node, sign)
}

func TestOpenSSLVerifiesNotifications(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	got := make(chan []byte, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- body
		w.Write([]byte("success"))
	}))
	defer receiver.Close()
	e := setup(t)
	alipayPubPath := writePEM(t, "alipay_pub.pem", &alipayKey().PublicKey)

	e.paidTrade("OSSLN1", "88.88", receiver.URL+"/notify")
	var body []byte
	select {
	case body = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
	}
	form, err := url.ParseQuery(string(body)) // decoded exactly once
	if err != nil {
		t.Fatal(err)
	}
	if form.Get("trade_status") != "TRADE_SUCCESS" || form.Get("total_amount") != "88.88" {
		t.Fatalf("notification: %v", form)
	}
	opensslVerify(t, alipayPubPath, []byte(stringToSign(form, "sign", "sign_type")), form.Get("sign"))
}
