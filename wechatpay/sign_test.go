package wechatpay_test

import (
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/wechatpay"
)

func TestAuthorizationHeaderFormat(t *testing.T) {
	t.Parallel()
	a := wechatpay.Authorization{MchID: "1900000001", NonceStr: "593BEC0C930BF1AFEB40B4A08C8FB242",
		Timestamp: 1554208460, SerialNo: merchantSerial, Signature: "c2ln+/=="}
	want := `WECHATPAY2-SHA256-RSA2048 mchid="1900000001",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",timestamp="1554208460",serial_no="` +
		merchantSerial + `",signature="c2ln+/=="`
	if got := a.String(); got != want {
		t.Fatalf("header\n got %s\nwant %s", got, want)
	}
	back, err := wechatpay.ParseAuthorization(want)
	if err != nil || back != a {
		t.Fatalf("parse back: %+v, %v", back, err)
	}
	// The gitbook's example message (§2.1).
	msg := a.Message("GET", "/v3/certificates", nil)
	if string(msg) != "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n" {
		t.Fatalf("message %q", msg)
	}
}

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	const sig = `signature="c2ln"`
	ok := []string{
		`WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",timestamp="1716000000",serial_no="AB",` + sig,
		// The PHP SDK's order; the gitbook says order does not matter.
		`WECHATPAY2-SHA256-RSA2048 mchid="1",serial_no="AB",timestamp="1716000000",nonce_str="n",` + sig,
		`WECHATPAY2-SHA256-RSA2048 ` + sig + `,timestamp="1716000000",nonce_str="n",serial_no="AB",mchid="1"`,
		`WECHATPAY2-SHA256-RSA2048 mchid="1", nonce_str="n", timestamp="1716000000", serial_no="AB", ` + sig,
	}
	for _, h := range ok {
		a, err := wechatpay.ParseAuthorization(h)
		if err != nil || a.MchID != "1" || a.NonceStr != "n" || a.Timestamp != 1716000000 || a.SerialNo != "AB" || a.Signature != "c2ln" {
			t.Errorf("%s: %+v, %v", h, a, err)
		}
	}
	bad := map[string]string{
		"no scheme":         `mchid="1",nonce_str="n",timestamp="1716000000",serial_no="AB",` + sig,
		"other scheme":      `WECHATPAY2-SHA256-RSA4096 mchid="1",nonce_str="n",timestamp="1716000000",serial_no="AB",` + sig,
		"lower-case scheme": `wechatpay2-sha256-rsa2048 mchid="1",nonce_str="n",timestamp="1716000000",serial_no="AB",` + sig,
		"two spaces":        `WECHATPAY2-SHA256-RSA2048  mchid="1",nonce_str="n",timestamp="1716000000",serial_no="AB",` + sig,
		"missing serial":    `WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",timestamp="1716000000",` + sig,
		"missing signature": `WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",timestamp="1716000000",serial_no="AB"`,
		"duplicate":         `WECHATPAY2-SHA256-RSA2048 mchid="1",mchid="2",nonce_str="n",timestamp="1716000000",serial_no="AB",` + sig,
		"unknown key":       `WECHATPAY2-SHA256-RSA2048 mchid="1",nonce="n",timestamp="1716000000",serial_no="AB",` + sig,
		"unquoted":          `WECHATPAY2-SHA256-RSA2048 mchid=1,nonce_str="n",timestamp="1716000000",serial_no="AB",` + sig,
		"unclosed":          `WECHATPAY2-SHA256-RSA2048 mchid="1,nonce_str="n",timestamp="1716000000",serial_no="AB",signature="c2ln`,
		"empty value":       `WECHATPAY2-SHA256-RSA2048 mchid="",nonce_str="n",timestamp="1716000000",serial_no="AB",` + sig,
		"milliseconds ok?":  `WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",timestamp="17160000x0",serial_no="AB",` + sig,
		"signed timestamp":  `WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",timestamp="+1716000000",serial_no="AB",` + sig,
		"trailing comma":    `WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",timestamp="1716000000",serial_no="AB",` + sig + `,`,
		"semicolons":        `WECHATPAY2-SHA256-RSA2048 mchid="1";nonce_str="n";timestamp="1716000000";serial_no="AB";` + sig,
		"empty":             ``,
	}
	for name, h := range bad {
		if _, err := wechatpay.ParseAuthorization(h); !errors.Is(err, wechatpay.ErrAuthorizationFormat) {
			t.Errorf("%s: %v, want ErrAuthorizationFormat", name, err)
		} else if strings.Contains(err.Error(), "c2ln") {
			t.Errorf("%s: the error shows the signature: %v", name, err)
		}
	}
}

func TestVerifyRequest(t *testing.T) {
	t.Parallel()
	key := mustKey(t, merchantKeyPEM)
	other := mustKey(t, platformKeyPEM)
	signedAt := time.Unix(1716000000, 0)
	const method, url, body = "POST", "/v3/pay/transactions/native", `{"mchid":"1900000001"}`
	a, err := wechatpay.SignRequest(key, testMchID, merchantSerial, method, url, []byte(body), signedAt)
	if err != nil {
		t.Fatal(err)
	}
	errUnknown := errors.New("unknown merchant key")
	lookup := func(pub *rsa.PublicKey) wechatpay.MerchantKeyFunc {
		return func(mchID, serial string) (*rsa.PublicKey, error) {
			if mchID != testMchID || serial != merchantSerial {
				return nil, errUnknown
			}
			return pub, nil
		}
	}
	cases := []struct {
		name        string
		header      string
		method, url string
		body        string
		key         *rsa.PublicKey
		now         time.Time
		want        error
	}{
		{"good", a.String(), method, url, body, &key.PublicKey, signedAt, nil},
		{"299 s late", a.String(), method, url, body, &key.PublicKey, signedAt.Add(299 * time.Second), nil},
		{"300 s late", a.String(), method, url, body, &key.PublicKey, signedAt.Add(300 * time.Second), nil},
		{"301 s late", a.String(), method, url, body, &key.PublicKey, signedAt.Add(301 * time.Second), wechatpay.ErrRequestTimestamp},
		{"300 s early", a.String(), method, url, body, &key.PublicKey, signedAt.Add(-300 * time.Second), nil},
		{"301 s early", a.String(), method, url, body, &key.PublicKey, signedAt.Add(-301 * time.Second), wechatpay.ErrRequestTimestamp},
		{"tampered body", a.String(), method, url, `{"mchid":"1900000002"}`, &key.PublicKey, signedAt, wechatpay.ErrRequestSignature},
		{"other method", a.String(), "PUT", url, body, &key.PublicKey, signedAt, wechatpay.ErrRequestSignature},
		{"other url", a.String(), method, url + "?x=1", body, &key.PublicKey, signedAt, wechatpay.ErrRequestSignature},
		{"other key", a.String(), method, url, body, &other.PublicKey, signedAt, wechatpay.ErrRequestSignature},
		{"wrong serial", strings.Replace(a.String(), merchantSerial, platformSerial, 1), method, url, body, &key.PublicKey, signedAt, errUnknown},
		{"malformed", "Bearer x", method, url, body, &key.PublicKey, signedAt, wechatpay.ErrAuthorizationFormat},
	}
	for _, c := range cases {
		_, err := wechatpay.VerifyRequest(c.header, c.method, c.url, []byte(c.body), lookup(c.key), c.now)
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestNewNonce(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		n := wechatpay.NewNonce()
		if len(n) != 32 || strings.Trim(n, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != "" || seen[n] {
			t.Fatalf("nonce %q", n)
		}
		seen[n] = true
	}
}
