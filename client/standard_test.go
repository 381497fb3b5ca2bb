package client

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/testenv"
)

// The Standard Webhooks libraries' own test vector.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestStandardWebhookSpecVector(t *testing.T) {
	t.Parallel()
	key, err := ParseStandardWebhookSecret(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(specTimestamp, 0)
	if got := SignStandardWebhook(key, specID, at, []byte(specBody)); got != specSignature {
		t.Fatalf("SignStandardWebhook = %s\nwant                  %s", got, specSignature)
	}
	h := http.Header{}
	h.Set(StandardIDHeader, specID)
	h.Set(StandardTimestampHeader, strconv.Itoa(specTimestamp))
	h.Set(StandardSignatureHeader, "v1,bm90IGl0 "+specSignature) // another (rotated) signature first
	if err := VerifyStandardWebhook(key, h, []byte(specBody), 0, at.Add(time.Minute)); err != nil {
		t.Fatalf("VerifyStandardWebhook: %v", err)
	}
	if err := VerifyStandardWebhook(key, h, []byte(specBody+" "), 0, at); !errors.Is(err, ErrWebhookSignature) {
		t.Fatalf("another body: %v", err)
	}
	// The prefix is optional, as in the libraries; anything not base64 is refused.
	if k, err := ParseStandardWebhookSecret(strings.TrimPrefix(specSecret, "whsec_")); err != nil || string(k) != string(key) {
		t.Fatalf("secret without prefix: %v", err)
	}
	for _, bad := range []string{"", "whsec_", "whsec_%%%", "whsec_abc"} {
		if _, err := ParseStandardWebhookSecret(bad); !errors.Is(err, ErrStandardSecret) {
			t.Errorf("ParseStandardWebhookSecret(%q) = %v; want ErrStandardSecret", bad, err)
		}
	}
}

// TestStandardWebhookSecret: the whsec_ form of a paygate secret is its
// bytes in base64, and a Standard Webhooks library given it verifies what
// paygate signed with the secret.
func TestStandardWebhookSecret(t *testing.T) {
	t.Parallel()
	secret := "whsec_0123456789abcdef"
	std := StandardWebhookSecret(secret)
	if std != "whsec_d2hzZWNfMDEyMzQ1Njc4OWFiY2RlZg==" {
		t.Fatalf("StandardWebhookSecret = %s", std)
	}
	key, err := ParseStandardWebhookSecret(std)
	if err != nil || string(key) != secret {
		t.Fatalf("the whsec_ form does not decode to the secret's bytes: %q, %v", key, err)
	}
	body := []byte(`{"id":"evt_1"}`)
	at := time.Unix(1700000000, 0)
	h := http.Header{}
	SignWebhookHeaders(h, "evt_1", []string{secret}, at, body)
	if err := VerifyStandardWebhook(key, h, body, 0, at); err != nil {
		t.Fatalf("verified with the whsec_ form: %v", err)
	}
}

// TestSignWebhookHeaders: a delivery signed with two secrets (a rotation's
// grace) verifies with either, through either header set alone or both;
// anything altered does not.
func TestSignWebhookHeaders(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_9","type":"order.paid","created_at":"2026-01-01T00:00:00Z","data":{"order":{"out_trade_no":"T9"}}}`)
	at := time.Unix(1700000000, 0)
	h := http.Header{}
	SignWebhookHeaders(h, "evt_9", []string{"whsec_new", "whsec_old"}, at, body)
	if got := h.Get(EventIDHeader); got != "evt_9" || h.Get(StandardIDHeader) != "evt_9" || h.Get(StandardTimestampHeader) != "1700000000" {
		t.Fatalf("headers: %v", h)
	}
	if n := len(strings.Fields(h.Get(StandardSignatureHeader))); n != 2 {
		t.Fatalf("webhook-signature has %d signatures; want one per secret", n)
	}
	if n := strings.Count(h.Get(WebhookSignatureHeader), "v1="); n != 2 {
		t.Fatalf("Paygate-Signature has %d signatures; want one per secret", n)
	}
	// The Paygate-Signature is exactly SignWebhook's for each secret.
	for _, s := range []string{"whsec_new", "whsec_old"} {
		if !strings.Contains(h.Get(WebhookSignatureHeader), strings.TrimPrefix(SignWebhook(s, at, body), "t=1700000000,")) {
			t.Errorf("Paygate-Signature lacks %s's v1", s)
		}
	}
	only := func(names ...string) http.Header {
		out := http.Header{}
		for _, n := range names {
			out.Set(n, h.Get(n))
		}
		return out
	}
	sets := map[string]http.Header{
		"both":          h,
		"paygate only":  only(WebhookSignatureHeader),
		"standard only": only(StandardIDHeader, StandardTimestampHeader, StandardSignatureHeader),
	}
	for name, hs := range sets {
		for _, s := range []string{"whsec_new", "whsec_old"} {
			if err := VerifyWebhookHeaders(s, hs, body, 0, at.Add(time.Minute)); err != nil {
				t.Errorf("%s, %s: %v", name, s, err)
			}
		}
		if err := VerifyWebhookHeaders("whsec_other", hs, body, 0, at); !errors.Is(err, ErrWebhookSignature) {
			t.Errorf("%s, another secret: %v; want ErrWebhookSignature", name, err)
		}
		if err := VerifyWebhookHeaders("whsec_new", hs, append(body, ' '), 0, at); !errors.Is(err, ErrWebhookSignature) {
			t.Errorf("%s, another body: %v; want ErrWebhookSignature", name, err)
		}
		if err := VerifyWebhookHeaders("whsec_new", hs, body, 0, at.Add(301*time.Second)); !errors.Is(err, ErrWebhookTimestamp) {
			t.Errorf("%s, too old: %v; want ErrWebhookTimestamp", name, err)
		}
	}
	std := only(StandardIDHeader, StandardTimestampHeader, StandardSignatureHeader)
	std.Set(StandardIDHeader, "evt_10") // the signature covers the id
	if err := VerifyWebhookHeaders("whsec_new", std, body, 0, at); !errors.Is(err, ErrWebhookSignature) {
		t.Errorf("another id: %v; want ErrWebhookSignature", err)
	}
	// Both sets present: each must verify.
	mixed := h.Clone()
	mixed.Set(StandardSignatureHeader, "v1,"+strings.Repeat("A", 43)+"=")
	if err := VerifyWebhookHeaders("whsec_new", mixed, body, 0, at); !errors.Is(err, ErrWebhookSignature) {
		t.Errorf("a bad standard signature beside a good Paygate-Signature: %v; want ErrWebhookSignature", err)
	}
	for name, hs := range map[string]http.Header{
		"none":          {},
		"no timestamp":  only(StandardIDHeader, StandardSignatureHeader),
		"no id":         only(StandardTimestampHeader, StandardSignatureHeader),
		"bad timestamp": {StandardIDHeader: {"evt_9"}, StandardTimestampHeader: {"soon"}, StandardSignatureHeader: {"v1,x"}},
	} {
		if err := VerifyWebhookHeaders("whsec_new", hs, body, 0, at); !errors.Is(err, ErrWebhookHeader) {
			t.Errorf("%s: %v; want ErrWebhookHeader", name, err)
		}
	}
	ev, data, err := ParseWebhookHeaders("whsec_old", sets["standard only"], body, 0, at)
	if err != nil || ev.ID != "evt_9" || data.Order.OutTradeNo != "T9" {
		t.Fatalf("ParseWebhookHeaders = %+v %+v %v", ev, data, err)
	}
}

// TestStandardWebhookPython: an independent implementation (Python's hmac
// and base64, following standardwebhooks.com) verifies the spec's vector,
// refuses it altered, and accepts what SignWebhookHeaders signs given only
// the whsec_ form of the secret; it checks the Paygate-Signature too.
func TestStandardWebhookPython(t *testing.T) {
	t.Parallel()
	spec := http.Header{}
	spec.Set(StandardIDHeader, specID)
	spec.Set(StandardTimestampHeader, strconv.Itoa(specTimestamp))
	spec.Set(StandardSignatureHeader, specSignature)
	if err := testenv.VerifyWebhookInPython(t, specSecret, "", spec, []byte(specBody)); err != nil {
		t.Fatalf("the spec's vector: %v", err)
	}
	spec.Set(StandardSignatureHeader, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=")
	if err := testenv.VerifyWebhookInPython(t, specSecret, "", spec, []byte(specBody)); err == nil {
		t.Fatal("python accepted an altered signature: the check proves nothing")
	}
	body := []byte(`{"id":"evt_py","type":"order.paid","data":{"order":{"subject":"咖啡 & <tea>"}}}`)
	h := http.Header{}
	SignWebhookHeaders(h, "evt_py", []string{"whsec_py_new", "whsec_py_old"}, time.Unix(1700000000, 0), body)
	for _, s := range []string{"whsec_py_new", "whsec_py_old"} {
		if err := testenv.VerifyWebhookInPython(t, StandardWebhookSecret(s), s, h, body); err != nil {
			t.Fatalf("paygate's signatures with %s: %v", s, err)
		}
	}
	if err := testenv.VerifyWebhookInPython(t, StandardWebhookSecret("whsec_other"), "", h, body); err == nil {
		t.Fatal("python accepted another secret")
	}
}
