package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// WebhookSignatureHeader carries a webhook's signature:
// t=<unix seconds>,v1=<lower-case hex HMAC-SHA256 of "<t>.<raw body>">.
const WebhookSignatureHeader = "Paygate-Signature"

// DefaultWebhookTolerance is how old (or how far in the future) a webhook's
// timestamp may be before VerifyWebhook rejects it as a possible replay.
const DefaultWebhookTolerance = 300 * time.Second

// Webhook verification errors.
var (
	ErrWebhookHeader    = errors.New("paygate webhook: malformed " + WebhookSignatureHeader + " header")
	ErrWebhookSignature = errors.New("paygate webhook: no signature matches")
	ErrWebhookTimestamp = errors.New("paygate webhook: timestamp outside the tolerance")
)

// SignWebhook computes a Paygate-Signature header value for body at time t
// with one secret. paygate signs every delivery attempt anew, with every
// valid secret and both header sets (SignWebhookHeaders); receivers use
// VerifyWebhookHeaders, or VerifyWebhook with this header alone.
func SignWebhook(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + webhookMAC(secret, ts, body)
}

func webhookMAC(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifyWebhook checks a webhook's signature header against the raw body,
// with the webhook secret, and that its timestamp is within tolerance of now
// (0 means DefaultWebhookTolerance). Several v1 entries are allowed (for
// secret rotation); one match suffices. Compare the raw body: a re-encoded
// one will not match.
func VerifyWebhook(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrWebhookHeader
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrWebhookHeader
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, %s ago", ErrWebhookTimestamp, time.Unix(sec, 0).UTC().Format(time.RFC3339), d.Round(time.Second))
	}
	want := []byte(webhookMAC(secret, ts, body))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			return nil
		}
	}
	return ErrWebhookSignature
}

// Event is a webhook's body: one state change. Deduplicate by ID: each
// event is delivered at least once, possibly more.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"` // order.paid, order.closed, refund.succeeded
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"` // {"order": {...}} (and "refund" for refunds)
}

// EventData is what Data holds.
type EventData struct {
	Order  Order   `json:"order"`
	Refund *Refund `json:"refund,omitempty"`
}

// ParseWebhook verifies a webhook (see VerifyWebhook) and decodes its event.
func ParseWebhook(secret, header string, body []byte, tolerance time.Duration, now time.Time) (*Event, *EventData, error) {
	if err := VerifyWebhook(secret, header, body, tolerance, now); err != nil {
		return nil, nil, err
	}
	return decodeWebhook(body)
}

// decodeWebhook decodes a verified webhook's body.
func decodeWebhook(body []byte) (*Event, *EventData, error) {
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, nil, fmt.Errorf("paygate webhook: body: %w", err)
	}
	var data EventData
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		return nil, nil, fmt.Errorf("paygate webhook: data: %w", err)
	}
	return &ev, &data, nil
}
