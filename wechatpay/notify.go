package wechatpay

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Notification event types (§5.3, §6.1).
const (
	EventTransactionSuccess = "TRANSACTION.SUCCESS"
	EventRefundSuccess      = "REFUND.SUCCESS"
	EventRefundAbnormal     = "REFUND.ABNORMAL"
	EventRefundClosed       = "REFUND.CLOSED"
)

// Resource constants of a notification (§6.2, §6.3).
const (
	ResourceTypeEncrypted = "encrypt-resource"
	AlgorithmAESGCM       = "AEAD_AES_256_GCM"
	OriginalTransaction   = "transaction"
	OriginalRefund        = "refund"
	// ResourceNonceSize is the AES-GCM nonce length WeChat Pay uses.
	ResourceNonceSize = 12
)

// maxNotifyBody bounds a notification body; real ones are about 1 KiB.
const maxNotifyBody = 64 << 10

// Notification is a payment or refund notification (§6.2). Plaintext is the
// decrypted resource once ParseNotification has checked everything.
type Notification struct {
	ID           string   `json:"id"`
	CreateTime   Time     `json:"create_time"`
	EventType    string   `json:"event_type"`
	ResourceType string   `json:"resource_type"`
	Summary      string   `json:"summary"`
	Resource     Resource `json:"resource"`
	Plaintext    []byte   `json:"-"`
}

// Resource is a notification's encrypted content. Nonce and AssociatedData
// are used as their string bytes; Ciphertext is base64 of the AES-256-GCM
// ciphertext with its 16-byte tag appended (§6.3).
type Resource struct {
	OriginalType   string `json:"original_type"`
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
}

// Errors of notification handling. Each means: answer NotifyFailure and
// change nothing; WeChat Pay sends the notification again.
var (
	ErrNotifySignature = errors.New("wechatpay notification: signature does not verify")
	ErrNotifyMalformed = errors.New("wechatpay notification: malformed")
	ErrNotifyDecrypt   = errors.New("wechatpay notification: resource does not decrypt with the APIv3 key")
)

// ReadNotification reads a notification's raw body, at most 64 KiB. The
// signature covers these exact bytes: never re-encode them (§11 #1).
func ReadNotification(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxNotifyBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read body: %v", ErrNotifyMalformed, err)
	}
	if len(body) > maxNotifyBody {
		return nil, fmt.Errorf("%w: body larger than 64 KiB", ErrNotifyMalformed)
	}
	return body, nil
}

// ParseNotification verifies a notification's Wechatpay-* headers over body
// with v, decodes it, and decrypts its resource with key. It refuses a probe
// or any other failed verification (ErrNotifySignature, wrapping the
// Verifier's error), a body or resource that is not the documented shape
// (ErrNotifyMalformed), and a resource that does not authenticate
// (ErrNotifyDecrypt). Nothing is decoded before the signature verifies.
func ParseNotification(h http.Header, body []byte, v *Verifier, key APIv3Key) (*Notification, error) {
	if _, err := v.Verify(h, body); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotifySignature, err)
	}
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotifyMalformed, err)
	}
	if n.ID == "" || n.EventType == "" {
		return nil, fmt.Errorf("%w: id and event_type are required", ErrNotifyMalformed)
	}
	if n.ResourceType != ResourceTypeEncrypted {
		return nil, fmt.Errorf("%w: resource_type %q, want %s", ErrNotifyMalformed, n.ResourceType, ResourceTypeEncrypted)
	}
	plain, err := DecryptResource(key, n.Resource)
	if err != nil {
		return nil, err
	}
	n.Plaintext = plain
	return &n, nil
}

// DecryptResource opens an AEAD_AES_256_GCM resource with the APIv3 key:
// the 12-byte nonce and associated_data as their string bytes, the tag the
// last 16 bytes of the base64-decoded ciphertext. A resource that does not
// authenticate is ErrNotifyDecrypt; it says nothing about the key.
func DecryptResource(key APIv3Key, r Resource) ([]byte, error) {
	if r.Algorithm != AlgorithmAESGCM {
		return nil, fmt.Errorf("%w: algorithm %q, want %s", ErrNotifyMalformed, r.Algorithm, AlgorithmAESGCM)
	}
	if len(r.Nonce) != ResourceNonceSize {
		return nil, fmt.Errorf("%w: nonce is %d bytes, want %d", ErrNotifyMalformed, len(r.Nonce), ResourceNonceSize)
	}
	ct, err := base64.StdEncoding.DecodeString(r.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext is not base64", ErrNotifyMalformed)
	}
	if key.IsZero() {
		return nil, fmt.Errorf("%w: no APIv3 key is configured", ErrNotifyDecrypt)
	}
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(ct) < gcm.Overhead() {
		return nil, fmt.Errorf("%w: ciphertext shorter than the GCM tag", ErrNotifyMalformed)
	}
	plain, err := gcm.Open(nil, []byte(r.Nonce), ct, []byte(r.AssociatedData))
	if err != nil {
		return nil, ErrNotifyDecrypt
	}
	return plain, nil
}

// EncryptResource is WeChat Pay's side of DecryptResource, for a simulator:
// it seals plaintext with a fresh 12-character alphanumeric nonce (the form
// WeChat Pay sends) and associatedData.
func EncryptResource(key APIv3Key, originalType, associatedData string, plaintext []byte) (Resource, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return Resource{}, err
	}
	nonce := randomString(ResourceNonceSize, nonceAlphabet)
	ct := gcm.Seal(nil, []byte(nonce), plaintext, []byte(associatedData))
	return Resource{OriginalType: originalType, Algorithm: AlgorithmAESGCM, Nonce: nonce,
		AssociatedData: associatedData, Ciphertext: base64.StdEncoding.EncodeToString(ct)}, nil
}

func newGCM(key APIv3Key) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key.k[:])
	if err != nil {
		return nil, fmt.Errorf("wechatpay: AES: %w", err)
	}
	return cipher.NewGCM(block)
}

// NewNotification builds the body of a notification for a simulator: the
// resource (a Transaction or RefundNotice) encoded as JSON, encrypted with
// key and associated_data equal to originalType (what paygate's simulator
// sends; §6.3 UNCONFIRMED). Sign the returned bytes with Signer.SignHeaders.
func NewNotification(key APIv3Key, id string, created time.Time, eventType, summary, originalType string, resource any) ([]byte, error) {
	plain, err := marshalJSON(resource)
	if err != nil {
		return nil, fmt.Errorf("wechatpay: encode notification resource: %w", err)
	}
	res, err := EncryptResource(key, originalType, originalType, plain)
	if err != nil {
		return nil, err
	}
	return marshalJSON(Notification{ID: id, CreateTime: Time{created}, EventType: eventType,
		ResourceType: ResourceTypeEncrypted, Summary: summary, Resource: res})
}

// Transaction decodes a payment notification's resource. It refuses an event
// other than TRANSACTION.* or a resource of another original_type.
func (n *Notification) Transaction() (*Transaction, error) {
	if !strings.HasPrefix(n.EventType, "TRANSACTION.") || n.Resource.OriginalType != OriginalTransaction {
		return nil, fmt.Errorf("%w: event %s with a %q resource is not a payment", ErrNotifyMalformed, n.EventType, n.Resource.OriginalType)
	}
	var t Transaction
	if err := json.Unmarshal(n.Plaintext, &t); err != nil {
		return nil, fmt.Errorf("%w: transaction: %v", ErrNotifyMalformed, err)
	}
	if t.OutTradeNo == "" || t.MchID == "" || t.TradeState == "" {
		return nil, fmt.Errorf("%w: transaction lacks mchid, out_trade_no or trade_state", ErrNotifyMalformed)
	}
	return &t, nil
}

// Refund decodes a refund notification's resource. It refuses an event
// other than REFUND.* or a resource of another original_type.
func (n *Notification) Refund() (*RefundNotice, error) {
	if !strings.HasPrefix(n.EventType, "REFUND.") || n.Resource.OriginalType != OriginalRefund {
		return nil, fmt.Errorf("%w: event %s with a %q resource is not a refund", ErrNotifyMalformed, n.EventType, n.Resource.OriginalType)
	}
	var r RefundNotice
	if err := json.Unmarshal(n.Plaintext, &r); err != nil {
		return nil, fmt.Errorf("%w: refund: %v", ErrNotifyMalformed, err)
	}
	if r.OutRefundNo == "" || r.MchID == "" || r.RefundStatus == "" {
		return nil, fmt.Errorf("%w: refund lacks mchid, out_refund_no or refund_status", ErrNotifyMalformed)
	}
	return &r, nil
}

// NotifySuccess acknowledges a notification: 204 without a body (§6.4).
// Only do this once the notification's effect is durable.
func NotifySuccess(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

// NotifyFailure refuses a notification so that WeChat Pay sends it again: a
// 4xx or 5xx status (anything else becomes 500; a 200 with FAIL is not
// retried, §6.4) and {"code":"FAIL","message":message}.
func NotifyFailure(w http.ResponseWriter, status int, message string) {
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	body, _ := marshalJSON(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{"FAIL", message})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

// NotifyStatus is the status to refuse a notification with after err: 401
// for a signature that does not verify (as the official Java SDK answers),
// 400 for a malformed or undecryptable body, 500 for anything else (the
// receiver's own failure).
func NotifyStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotifySignature):
		return http.StatusUnauthorized
	case errors.Is(err, ErrNotifyMalformed), errors.Is(err, ErrNotifyDecrypt):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// marshalJSON encodes v compactly without HTML escaping (WeChat Pay sends raw
// UTF-8 and "&" as is), with no trailing newline.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
