package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
)

// Reserved names are the parameters the signature adds to the query. A
// request whose query uses one of them is ambiguous and the server rejects it.
var reserved = [...]string{"accessKey", "timestamp", "nonce", "method", "path", "bodySha256"}

// IsReserved reports whether name is one of the six parameter names the
// signature itself uses, which a request's query must not carry.
func IsReserved(name string) bool {
	for _, r := range reserved {
		if name == r {
			return true
		}
	}
	return false
}

// StringToSign returns the text a request's signature covers (contract.md,
// "Authentication"): the form encoding, keys sorted, of the query parameters
// plus accessKey, timestamp, nonce, method (upper-cased), path (no query) and
// bodySha256 (lower-hex SHA-256 of body, of "" when body is empty). Values
// the query gives for the six reserved names are replaced, never merged.
func StringToSign(method, path string, query url.Values, accessKey, timestamp, nonce string, body []byte) string {
	v := make(url.Values, len(query)+len(reserved))
	for k, vs := range query {
		v[k] = vs
	}
	sum := sha256.Sum256(body)
	v.Set("accessKey", accessKey)
	v.Set("timestamp", timestamp)
	v.Set("nonce", nonce)
	v.Set("method", strings.ToUpper(method))
	v.Set("path", path)
	v.Set("bodySha256", hex.EncodeToString(sum[:]))
	return v.Encode()
}

// Sign returns the X-Signature for a request: the lower-hex HMAC-SHA256 of
// StringToSign under the merchant's secret key.
func Sign(secret, method, path string, query url.Values, accessKey, timestamp, nonce string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(StringToSign(method, path, query, accessKey, timestamp, nonce, body)))
	return hex.EncodeToString(mac.Sum(nil))
}
