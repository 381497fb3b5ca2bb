package wechatpay

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// AuthScheme is the Authorization scheme of APIv3 requests and the value of
// the Wechatpay-Signature-Type header (§2.2, §3.1).
const AuthScheme = "WECHATPAY2-SHA256-RSA2048"

// ClockTolerance is how far a signed timestamp may be from the verifier's
// clock, either way: WeChat Pay refuses requests more than 5 minutes off and
// the SDKs refuse answers likewise (§2.4, §3.1). A difference of exactly
// 300 s is accepted (the inclusive bound is UNCONFIRMED; the SDKs disagree).
const ClockTolerance = 300 * time.Second

// RequestMessage is the string a request signature covers (§2.1): method,
// URL (the request target exactly as sent: escaped path, then "?" and the raw
// query when there is one), Unix timestamp, nonce and body, each followed by
// "\n", the last one too. A GET signs an empty body.
func RequestMessage(method, url string, timestamp int64, nonce string, body []byte) []byte {
	ts := strconv.FormatInt(timestamp, 10)
	b := make([]byte, 0, len(method)+len(url)+len(ts)+len(nonce)+len(body)+5)
	b = append(b, method...)
	b = append(b, '\n')
	b = append(b, url...)
	b = append(b, '\n')
	b = append(b, ts...)
	b = append(b, '\n')
	b = append(b, nonce...)
	b = append(b, '\n')
	b = append(b, body...)
	return append(b, '\n')
}

// Sign signs message with SHA256withRSA (RSASSA-PKCS1-v1_5 over SHA-256)
// and returns standard padded base64, as every WeChat Pay signature is.
func Sign(key *rsa.PrivateKey, message []byte) (string, error) {
	digest := sha256.Sum256(message)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// ErrBadSignature means a signature did not verify or was not base64.
var ErrBadSignature = errors.New("wechatpay: signature does not verify")

// VerifySignature checks a base64 SHA256withRSA signature over message. A
// signature that is not valid standard base64 is refused, never repaired.
func VerifySignature(pub *rsa.PublicKey, message []byte, signature string) error {
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return ErrBadSignature
	}
	digest := sha256.Sum256(message)
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
		return ErrBadSignature
	}
	return nil
}

const nonceAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewNonce is 32 characters of [0-9A-Za-z] from crypto/rand, the nonce the
// official SDKs send (§2.2).
func NewNonce() string { return randomString(32, nonceAlphabet) }

func randomString(n int, alphabet string) string {
	max := big.NewInt(int64(len(alphabet)))
	b := make([]byte, n)
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// Authorization is the content of a request's Authorization header (§2.2).
type Authorization struct {
	MchID     string // the merchant sending the request
	NonceStr  string
	Timestamp int64  // Unix seconds
	SerialNo  string // the merchant API certificate's serial
	Signature string // base64 SHA256withRSA over RequestMessage
}

// String is the header value, in the official SDKs' field order: scheme,
// one space, then mchid, nonce_str, timestamp, serial_no and signature as
// comma-separated key="value" pairs without spaces.
func (a Authorization) String() string {
	return fmt.Sprintf(`%s mchid="%s",nonce_str="%s",timestamp="%d",serial_no="%s",signature="%s"`,
		AuthScheme, a.MchID, a.NonceStr, a.Timestamp, a.SerialNo, a.Signature)
}

// Message is the string a's signature covers for the given request.
func (a Authorization) Message(method, url string, body []byte) []byte {
	return RequestMessage(method, url, a.Timestamp, a.NonceStr, body)
}

// SignRequest builds the Authorization of one request: a fresh nonce, now's
// Unix seconds, and the merchant key's signature over RequestMessage. url is
// the request target as it will be sent (path and raw query).
func SignRequest(key *rsa.PrivateKey, mchID, serialNo, method, url string, body []byte, now time.Time) (Authorization, error) {
	a := Authorization{MchID: mchID, NonceStr: NewNonce(), Timestamp: now.Unix(), SerialNo: serialNo}
	sig, err := Sign(key, a.Message(method, url, body))
	if err != nil {
		return Authorization{}, fmt.Errorf("wechatpay: sign request: %w", err)
	}
	a.Signature = sig
	return a, nil
}

// Errors of ParseAuthorization and VerifyRequest: each is a 401 SIGN_ERROR
// at WeChat Pay (§10.1).
var (
	ErrAuthorizationFormat = errors.New("wechatpay: Authorization header is malformed")
	ErrRequestTimestamp    = errors.New("wechatpay: Authorization timestamp is more than 5 minutes from the server's clock")
	ErrRequestSignature    = errors.New("wechatpay: request signature does not verify")
)

// authKeys are the five keys an Authorization must carry, each once.
var authKeys = [...]string{"mchid", "nonce_str", "timestamp", "serial_no", "signature"}

// ParseAuthorization reads an Authorization header the way WeChat Pay's
// server does (§2.2): the scheme WECHATPAY2-SHA256-RSA2048, one space, then
// the five key="value" pairs in any order ("无顺序要求"), comma-separated,
// white space after a comma tolerated. A missing, repeated, unknown or
// unquoted key, an empty value or a timestamp that is not Unix seconds is an
// ErrAuthorizationFormat naming the fault (and never the signature).
func ParseAuthorization(header string) (Authorization, error) {
	bad := func(format string, args ...any) (Authorization, error) {
		return Authorization{}, fmt.Errorf("%w: "+format, append([]any{ErrAuthorizationFormat}, args...)...)
	}
	rest, ok := strings.CutPrefix(header, AuthScheme+" ")
	if !ok {
		return bad("want the scheme %s followed by one space", AuthScheme)
	}
	vals := map[string]string{}
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return bad("want key=\"value\" pairs")
		}
		key := rest[:eq]
		if !isAuthKey(key) {
			return bad("unknown key %q", key)
		}
		if _, dup := vals[key]; dup {
			return bad("key %s appears twice", key)
		}
		rest = rest[eq+1:]
		if !strings.HasPrefix(rest, `"`) {
			return bad("the value of %s is not quoted", key)
		}
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return bad("the value of %s has no closing quote", key)
		}
		if end == 0 {
			return bad("the value of %s is empty", key)
		}
		vals[key] = rest[1 : 1+end]
		rest = rest[end+2:]
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return bad("want a comma after %s", key)
		}
		rest = strings.TrimLeft(rest[1:], " ")
		if rest == "" {
			return bad("trailing comma")
		}
	}
	for _, k := range authKeys {
		if _, ok := vals[k]; !ok {
			return bad("key %s is missing", k)
		}
	}
	ts, err := strconv.ParseInt(vals["timestamp"], 10, 64)
	if err != nil || ts <= 0 || strings.Trim(vals["timestamp"], "0123456789") != "" {
		return bad("timestamp %q is not Unix seconds", vals["timestamp"])
	}
	return Authorization{MchID: vals["mchid"], NonceStr: vals["nonce_str"], Timestamp: ts,
		SerialNo: vals["serial_no"], Signature: vals["signature"]}, nil
}

func isAuthKey(k string) bool {
	for _, a := range authKeys {
		if a == k {
			return true
		}
	}
	return false
}

// MerchantKeyFunc finds the public key of the merchant API certificate that
// mchid's request names by serialNo. An error (unknown merchant or serial)
// refuses the request; VerifyRequest returns it wrapped.
type MerchantKeyFunc func(mchID, serialNo string) (*rsa.PublicKey, error)

// VerifyRequest is the server side of request signing, for a simulator: it
// parses header, looks up the merchant's key, refuses a timestamp more than
// ClockTolerance from now (ErrRequestTimestamp) and verifies the signature
// over method, url (the raw request target, http.Request.RequestURI on a
// server) and body (ErrRequestSignature). The Authorization is returned
// whenever it parsed, so a refusal can still show what was signed.
func VerifyRequest(header, method, url string, body []byte, key MerchantKeyFunc, now time.Time) (Authorization, error) {
	a, err := ParseAuthorization(header)
	if err != nil {
		return Authorization{}, err
	}
	pub, err := key(a.MchID, a.SerialNo)
	if err != nil {
		return a, err
	}
	if !withinTolerance(now, a.Timestamp) {
		return a, ErrRequestTimestamp
	}
	if VerifySignature(pub, a.Message(method, url, body), a.Signature) != nil {
		return a, ErrRequestSignature
	}
	return a, nil
}

// withinTolerance reports whether Unix second ts is at most ClockTolerance
// from now.
func withinTolerance(now time.Time, ts int64) bool {
	d := now.Unix() - ts
	if d < 0 {
		d = -d
	}
	return d <= int64(ClockTolerance/time.Second)
}
