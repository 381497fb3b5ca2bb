package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers (standardwebhooks.com) every delivery
// carries beside Paygate-Signature, so that a receiver in any language can
// verify it with an off-the-shelf library.
const (
	StandardIDHeader        = "webhook-id"        // the event's ID
	StandardTimestampHeader = "webhook-timestamp" // Unix seconds, the same as Paygate-Signature's t
	StandardSignatureHeader = "webhook-signature" // "v1,<base64 HMAC-SHA256 of id.timestamp.body>", space-separated
	// EventIDHeader carries the event's ID too, so a receiver can
	// deduplicate before it parses the body.
	EventIDHeader = "Paygate-Event-Id"
)

// standardSecretPrefix starts a Standard Webhooks secret.
const standardSecretPrefix = "whsec_"

// How paygate's webhook secret maps to Standard Webhooks: the HMAC key is
// the secret's own bytes, as for Paygate-Signature (one secret, one key;
// nothing else to keep), and the Standard Webhooks form of the secret,
// which those libraries take, is "whsec_" + base64 of those bytes. Beware:
// a paygate secret also starts with "whsec_", but is not that form; give a
// Standard Webhooks library the StandardWebhookSecret of it.

// StandardWebhookSecret is secret (a merchant's webhook_secret) in the form
// Standard Webhooks libraries take: "whsec_" + standard base64 of its bytes.
func StandardWebhookSecret(secret string) string {
	return standardSecretPrefix + base64.StdEncoding.EncodeToString([]byte(secret))
}

// ErrStandardSecret is a Standard Webhooks secret that is not "whsec_" and
// base64.
var ErrStandardSecret = errors.New("paygate webhook: a Standard Webhooks secret is whsec_ followed by base64")

// ParseStandardWebhookSecret returns the key bytes of a Standard Webhooks
// secret ("whsec_" + base64; the prefix is optional, as the libraries
// allow).
func ParseStandardWebhookSecret(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, standardSecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, ErrStandardSecret
	}
	return key, nil
}

// SignStandardWebhook is one Standard Webhooks signature, "v1," + base64 of
// the HMAC-SHA256 of "<id>.<unix seconds>.<body>" under key.
func SignStandardWebhook(key []byte, id string, t time.Time, body []byte) string {
	return "v1," + standardMAC(key, id, strconv.FormatInt(t.Unix(), 10), body)
}

func standardMAC(key []byte, id, ts string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignWebhookHeaders sets on h everything that signs a delivery of the
// event eventID with body at time t: Paygate-Signature (t=…, one v1= per
// secret), Paygate-Event-Id, and the Standard Webhooks headers (webhook-id,
// webhook-timestamp, webhook-signature with one space-separated v1,… per
// secret). secrets are the merchant's valid webhook secrets, the current
// first (several during a rotation's grace); a receiver that knows any one
// of them verifies. paygate's deliveries and `paygate listen` sign with it.
func SignWebhookHeaders(h http.Header, eventID string, secrets []string, t time.Time, body []byte) {
	ts := strconv.FormatInt(t.Unix(), 10)
	paygateSig := "t=" + ts
	std := make([]string, 0, len(secrets))
	for _, s := range secrets {
		paygateSig += ",v1=" + webhookMAC(s, ts, body)
		std = append(std, "v1,"+standardMAC([]byte(s), eventID, ts, body))
	}
	h.Set(WebhookSignatureHeader, paygateSig)
	h.Set(EventIDHeader, eventID)
	// Set canonicalizes the names (Webhook-Id); HTTP/1 and HTTP/2 carry
	// header names case-insensitively, as the specification expects.
	h.Set(StandardIDHeader, eventID)
	h.Set(StandardTimestampHeader, ts)
	h.Set(StandardSignatureHeader, strings.Join(std, " "))
}

// VerifyWebhookHeaders checks a delivery's headers against its raw body with
// the merchant's webhook secret (as paygate gives it, not its Standard
// Webhooks form), and that its timestamp is within tolerance of now (0
// means DefaultWebhookTolerance). It accepts either header set and checks
// every one present: Paygate-Signature, and the Standard Webhooks headers
// (webhook-id, webhook-timestamp, webhook-signature). A request with
// neither is ErrWebhookHeader.
func VerifyWebhookHeaders(secret string, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	paygateSig := h.Get(WebhookSignatureHeader)
	stdSig := h.Get(StandardSignatureHeader)
	if paygateSig == "" && stdSig == "" {
		return ErrWebhookHeader
	}
	if paygateSig != "" {
		if err := VerifyWebhook(secret, paygateSig, body, tolerance, now); err != nil {
			return err
		}
	}
	if stdSig != "" {
		return VerifyStandardWebhook([]byte(secret), h, body, tolerance, now)
	}
	return nil
}

// VerifyStandardWebhook checks the Standard Webhooks headers of a request
// (webhook-id, webhook-timestamp, webhook-signature) against its raw body
// with key, the secret's key bytes (for a paygate secret, its bytes; for a
// whsec_ secret, ParseStandardWebhookSecret's), and the timestamp against
// now within tolerance (0: DefaultWebhookTolerance). One matching v1
// signature among the space-separated ones suffices.
func VerifyStandardWebhook(key []byte, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	id, ts, sigs := h.Get(StandardIDHeader), h.Get(StandardTimestampHeader), h.Get(StandardSignatureHeader)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil || sigs == "" {
		return fmt.Errorf("%w: the Standard Webhooks headers are incomplete", ErrWebhookHeader)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, %s ago", ErrWebhookTimestamp, time.Unix(sec, 0).UTC().Format(time.RFC3339), d.Round(time.Second))
	}
	want := []byte(standardMAC(key, id, ts, body))
	for _, sig := range strings.Fields(sigs) {
		version, mac, ok := strings.Cut(sig, ",")
		if ok && version == "v1" && hmac.Equal([]byte(mac), want) {
			return nil
		}
	}
	return ErrWebhookSignature
}

// ParseWebhookHeaders verifies a delivery by its headers (see
// VerifyWebhookHeaders) and decodes its event.
func ParseWebhookHeaders(secret string, h http.Header, body []byte, tolerance time.Duration, now time.Time) (*Event, *EventData, error) {
	if err := VerifyWebhookHeaders(secret, h, body, tolerance, now); err != nil {
		return nil, nil, err
	}
	return decodeWebhook(body)
}
