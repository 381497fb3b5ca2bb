package wechatpay_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/wechatpay"
)

func TestVerifier(t *testing.T) {
	t.Parallel()
	now := time.Unix(1716000000, 0)
	v, err := wechatpay.NewVerifier(func() time.Time { return now }, wechatKeys(t)...)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"code_url":"weixin://wxpay/bizpayurl?pr=JyC91EIz1"}`)
	signed := func(s wechatpay.Signer, at time.Time, b []byte) http.Header {
		h := http.Header{}
		if err := s.SignHeaders(h, b, at); err != nil {
			t.Fatal(err)
		}
		return h
	}
	stranger := wechatpay.Signer{ID: "1111111111111111111111111111111111111111", Key: mustKey(t, merchantKeyPEM)}
	cases := []struct {
		name string
		h    http.Header
		body []byte
		want error
	}{
		{"platform certificate", signed(platformSigner(t), now, body), body, nil},
		{"public key mode", signed(pubModeSigner(t), now, body), body, nil},
		{"204 empty body", signed(platformSigner(t), now, nil), nil, nil},
		{"300 s old", signed(platformSigner(t), now.Add(-300*time.Second), body), body, nil},
		{"301 s old", signed(platformSigner(t), now.Add(-301*time.Second), body), body, wechatpay.ErrTimestamp},
		{"300 s ahead", signed(platformSigner(t), now.Add(300*time.Second), body), body, nil},
		{"301 s ahead", signed(platformSigner(t), now.Add(301*time.Second), body), body, wechatpay.ErrTimestamp},
		{"tampered body", signed(platformSigner(t), now, body), append([]byte(" "), body...), wechatpay.ErrSignature},
		{"re-encoded body", signed(platformSigner(t), now, body), []byte(`{"code_url": "weixin://wxpay/bizpayurl?pr=JyC91EIz1"}`), wechatpay.ErrSignature},
		{"unknown serial", signed(stranger, now, body), body, wechatpay.ErrUnknownSerial},
		{"probe", with(signed(platformSigner(t), now, body), wechatpay.HeaderSignature, "WECHATPAY/SIGNTEST/abcdefghijklmn"), body, wechatpay.ErrSignatureProbe},
		{"probe, bare prefix", with(signed(platformSigner(t), now, body), wechatpay.HeaderSignature, "WECHATPAY/SIGNTEST/"), body, wechatpay.ErrSignatureProbe},
		{"not base64", with(signed(platformSigner(t), now, body), wechatpay.HeaderSignature, "not base64!"), body, wechatpay.ErrSignature},
		{"serial swapped", with(signed(platformSigner(t), now, body), wechatpay.HeaderSerial, pubKeyID), body, wechatpay.ErrSignature},
		{"timestamp changed", with(signed(platformSigner(t), now, body), wechatpay.HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10)), body, wechatpay.ErrSignature},
		{"timestamp in ms", with(signed(platformSigner(t), now, body), wechatpay.HeaderTimestamp, strconv.FormatInt(now.UnixMilli(), 10)), body, wechatpay.ErrTimestamp},
		{"nonce changed", with(signed(platformSigner(t), now, body), wechatpay.HeaderNonce, "x"), body, wechatpay.ErrSignature},
		{"other signature type", with(signed(platformSigner(t), now, body), wechatpay.HeaderSignatureType, "WECHATPAY2-SM2-WITH-SM3"), body, wechatpay.ErrSignatureType},
		{"no signature type", with(signed(platformSigner(t), now, body), wechatpay.HeaderSignatureType, ""), body, nil},
		{"unsigned", http.Header{}, body, wechatpay.ErrUnsigned},
		{"no serial", with(signed(platformSigner(t), now, body), wechatpay.HeaderSerial, ""), body, wechatpay.ErrUnsigned},
	}
	for _, c := range cases {
		_, err := v.Verify(c.h, c.body)
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// An unknown serial is named, with what is configured, so an operator
	// knows which key to fetch.
	_, err = v.Verify(signed(stranger, now, body), body)
	if err == nil || !strings.Contains(err.Error(), stranger.ID) || !strings.Contains(err.Error(), platformSerial) || !strings.Contains(err.Error(), pubKeyID) {
		t.Errorf("unknown serial error %v", err)
	}
	if got := v.PublicKeyID(); got != pubKeyID {
		t.Errorf("PublicKeyID %q", got)
	}
}

func with(h http.Header, key, value string) http.Header {
	if value == "" {
		h.Del(key)
	} else {
		h.Set(key, value)
	}
	return h
}

func TestNewVerifierRefuses(t *testing.T) {
	t.Parallel()
	keys := wechatKeys(t)
	for name, ks := range map[string][]wechatpay.PublicKey{
		"none":      nil,
		"no id":     {{Key: keys[0].Key}},
		"no key":    {{ID: platformSerial}},
		"duplicate": {keys[0], keys[0]},
	} {
		if _, err := wechatpay.NewVerifier(nil, ks...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
