package wechatpay

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Headers of a signed answer or notification (§3.1).
const (
	HeaderTimestamp     = "Wechatpay-Timestamp"
	HeaderNonce         = "Wechatpay-Nonce"
	HeaderSignature     = "Wechatpay-Signature"
	HeaderSerial        = "Wechatpay-Serial"
	HeaderSignatureType = "Wechatpay-Signature-Type"
	HeaderRequestID     = "Request-ID"
)

// SignatureProbePrefix starts the Wechatpay-Signature of WeChat Pay's
// signature probes: deliberately wrong signatures that test whether the
// merchant verifies (§3.4). A probe is a failed verification, nothing else.
const SignatureProbePrefix = "WECHATPAY/SIGNTEST/"

// Verification failures of an answer or notification. Each means the
// content must not be trusted; ErrUnknownSerial also means the configured
// keys are stale (certificate rotation, or the switch to public-key mode).
var (
	ErrUnsigned       = errors.New("wechatpay: not signed (a Wechatpay-Timestamp, -Nonce, -Signature or -Serial header is missing)")
	ErrSignatureProbe = errors.New("wechatpay: signature probe (Wechatpay-Signature starts with WECHATPAY/SIGNTEST/)")
	ErrSignatureType  = errors.New("wechatpay: Wechatpay-Signature-Type is not " + AuthScheme)
	ErrTimestamp      = errors.New("wechatpay: Wechatpay-Timestamp is more than 5 minutes from this clock")
	ErrUnknownSerial  = errors.New("wechatpay: signed by a key that is not configured")
	ErrSignature      = errors.New("wechatpay: Wechatpay-Signature does not verify")
)

// ResponseMessage is the string an answer's or notification's signature
// covers (§3.1): timestamp, nonce and the raw body, each followed by "\n".
// An empty body (a 204) leaves an empty last line.
func ResponseMessage(timestamp, nonce string, body []byte) []byte {
	b := make([]byte, 0, len(timestamp)+len(nonce)+len(body)+3)
	b = append(b, timestamp...)
	b = append(b, '\n')
	b = append(b, nonce...)
	b = append(b, '\n')
	b = append(b, body...)
	return append(b, '\n')
}

// Verifier checks WeChat Pay's signatures on answers and notifications
// against a fixed set of WeChat Pay keys (platform certificates and/or a
// public key), picked by the Wechatpay-Serial header. It is safe for
// concurrent use and holds no mutable state.
type Verifier struct {
	keys map[string]*rsa.PublicKey
	now  func() time.Time
}

// NewVerifier checks keys (at least one, each with an ID and a key, no ID
// twice) and returns a verifier whose clock is now (nil: time.Now).
func NewVerifier(now func() time.Time, keys ...PublicKey) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, errors.New("wechatpay: a WeChat Pay platform certificate or public key is required to verify answers")
	}
	m := make(map[string]*rsa.PublicKey, len(keys))
	for _, k := range keys {
		switch {
		case k.ID == "":
			return nil, errors.New("wechatpay: a WeChat Pay key has no serial or public key ID")
		case k.Key == nil:
			return nil, fmt.Errorf("wechatpay: WeChat Pay key %s has no key", k.ID)
		case m[k.ID] != nil:
			return nil, fmt.Errorf("wechatpay: WeChat Pay key %s is configured twice", k.ID)
		}
		m[k.ID] = k.Key
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{keys: m, now: now}, nil
}

// IDs lists the configured key IDs, sorted.
func (v *Verifier) IDs() []string {
	ids := make([]string, 0, len(v.keys))
	for id := range v.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// PublicKeyID is the configured public-key-mode ID (PUB_KEY_ID_…), the value
// a client sends as Wechatpay-Serial to ask for answers signed by it (§3.3);
// "" when only certificates are configured. With several, the greatest.
func (v *Verifier) PublicKeyID() string {
	id := ""
	for k := range v.keys {
		if strings.HasPrefix(k, PublicKeyIDPrefix) && k > id {
			id = k
		}
	}
	return id
}

// Has reports whether a key with this ID is configured.
func (v *Verifier) Has(id string) bool { return v.keys[id] != nil }

// Verify checks h's Wechatpay-* headers over body, the raw bytes as received,
// and returns the serial that signed. In order: all four headers present
// (ErrUnsigned); not a probe (ErrSignatureProbe); the signature type, when
// sent, is WECHATPAY2-SHA256-RSA2048; the timestamp within ClockTolerance
// (ErrTimestamp); the serial configured (ErrUnknownSerial, naming it and the
// configured ones); the signature verifies with that key (ErrSignature).
func (v *Verifier) Verify(h http.Header, body []byte) (string, error) {
	ts, nonce, sig, serial := h.Get(HeaderTimestamp), h.Get(HeaderNonce), h.Get(HeaderSignature), h.Get(HeaderSerial)
	if ts == "" || nonce == "" || sig == "" || serial == "" {
		return "", ErrUnsigned
	}
	if strings.HasPrefix(sig, SignatureProbePrefix) {
		return serial, ErrSignatureProbe
	}
	if st := h.Get(HeaderSignatureType); st != "" && st != AuthScheme {
		return serial, fmt.Errorf("%w: %q", ErrSignatureType, st)
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || n <= 0 || strings.Trim(ts, "0123456789") != "" {
		return serial, fmt.Errorf("%w: %q is not Unix seconds", ErrTimestamp, ts)
	}
	if !withinTolerance(v.now(), n) {
		return serial, fmt.Errorf("%w: signed at %s, now %s", ErrTimestamp,
			time.Unix(n, 0).UTC().Format(time.RFC3339), v.now().UTC().Format(time.RFC3339))
	}
	pub := v.keys[serial]
	if pub == nil {
		return serial, fmt.Errorf("%w: Wechatpay-Serial %q, configured %s; download WeChat Pay's current certificate or public key",
			ErrUnknownSerial, serial, strings.Join(v.IDs(), ", "))
	}
	if VerifySignature(pub, ResponseMessage(ts, nonce, body), sig) != nil {
		return serial, fmt.Errorf("%w with key %s", ErrSignature, serial)
	}
	return serial, nil
}

// Signer is WeChat Pay's side of answer and notification signing, for a
// simulator: the private key of a platform certificate or of the WeChat Pay
// public key, and the ID that names it.
type Signer struct {
	ID  string // platform certificate serial or PUB_KEY_ID_…
	Key *rsa.PrivateKey
}

// SignHeaders sets h's Wechatpay-Timestamp (now), -Nonce (32 lower-case
// hex, as in WeChat Pay's samples), -Serial, -Signature-Type and -Signature
// over body, exactly the bytes that will be sent.
func (s Signer) SignHeaders(h http.Header, body []byte, now time.Time) error {
	ts := strconv.FormatInt(now.Unix(), 10)
	nonce := randomString(32, "0123456789abcdef")
	sig, err := Sign(s.Key, ResponseMessage(ts, nonce, body))
	if err != nil {
		return fmt.Errorf("wechatpay: sign answer: %w", err)
	}
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderNonce, nonce)
	h.Set(HeaderSerial, s.ID)
	h.Set(HeaderSignatureType, AuthScheme)
	h.Set(HeaderSignature, sig)
	return nil
}

// PublicKey is the verifying half of s, named by the same ID.
func (s Signer) PublicKey() PublicKey { return PublicKey{ID: s.ID, Key: &s.Key.PublicKey} }
