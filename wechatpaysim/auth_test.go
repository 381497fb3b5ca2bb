package wechatpaysim_test

import (
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/wechatpay"
)

// TestSignatureRefusals: requests without the headers WeChat Pay needs, or
// whose Authorization does not verify, are refused before anything runs,
// and the refusals are signed.
func TestSignatureRefusals(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	merchantKey := mustKey(t, "merchant_private_key.pem")
	otherKey := mustKey(t, "wechatpay_pubkey_mode_private_key.pem")
	verifier, err := wechatpay.NewVerifier(e.clock.Now, wechatpay.Signer{ID: platformSerial, Key: mustKey(t, "wechatpay_private_key.pem")}.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	body := `{"appid":"` + testAppID + `","mchid":"` + testMchID + `","description":"d","out_trade_no":"PG20240518S1","notify_url":"http://127.0.0.1:1/n","amount":{"total":1}}`
	sign := func(key *rsa.PrivateKey, mchID, serial string, at time.Time, signedBody string) string {
		a, err := wechatpay.SignRequest(key, mchID, serial, "POST", wechatpay.PathNative, []byte(signedBody), at)
		if err != nil {
			t.Fatal(err)
		}
		return a.String()
	}
	now := e.clock.Now()
	cases := []struct {
		name, auth, accept string
		status             int
		code, message      string
	}{
		{"no Accept", sign(merchantKey, testMchID, merchantSerial, now, body), "", 400, "INVALID_REQUEST", "Accept"},
		{"no Authorization", "", "application/json", 401, "SIGN_ERROR", "格式错误"},
		{"other scheme", "Bearer x", "application/json", 401, "SIGN_ERROR", "格式错误"},
		{"unknown serial", sign(merchantKey, testMchID, "0000", now, body), "application/json", 401, "SIGN_ERROR", "序列号"},
		{"unknown mchid", sign(merchantKey, "1900000002", merchantSerial, now, body), "application/json", 401, "SIGN_ERROR", "序列号"},
		{"stale timestamp", sign(merchantKey, testMchID, merchantSerial, now.Add(-301*time.Second), body), "application/json", 401, "SIGN_ERROR", "5分钟"},
		{"other key", sign(otherKey, testMchID, merchantSerial, now, body), "application/json", 401, "SIGN_ERROR", "验签失败"},
		{"other body", sign(merchantKey, testMchID, merchantSerial, now, body+" "), "application/json", 401, "SIGN_ERROR", "验签失败"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("POST", e.srv.URL+wechatpay.PathNative, strings.NewReader(body))
		req.Header.Set("Authorization", c.auth)
		req.Header.Set("User-Agent", "test")
		if c.accept != "" {
			req.Header.Set("Accept", c.accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var eb struct{ Code, Message string }
		_ = json.Unmarshal(got, &eb)
		if resp.StatusCode != c.status || eb.Code != c.code || !strings.Contains(eb.Message, c.message) {
			t.Errorf("%s: %d %s", c.name, resp.StatusCode, got)
		}
		if _, err := verifier.Verify(resp.Header, got); err != nil {
			t.Errorf("%s: refusal not signed: %v", c.name, err)
		}
		if c.message == "验签失败" && !strings.Contains(string(got), `"sign_information"`) {
			t.Errorf("%s: no sign_information: %s", c.name, got)
		}
	}
	if n := len(e.sim.Trades()); n != 0 {
		t.Fatalf("refused requests made %d trades", n)
	}
	// The mchid in the body must be the signer's.
	other := strings.Replace(body, `"mchid":"`+testMchID, `"mchid":"1900000002`, 1)
	req, _ := http.NewRequest("POST", e.srv.URL+wechatpay.PathNative, strings.NewReader(other))
	req.Header.Set("Authorization", sign(merchantKey, testMchID, merchantSerial, now, other))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("other mchid in the body: %d", resp.StatusCode)
	}
}
