package alipay

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"sort"
	"strings"
	"time"
)

// ChinaTime is UTC+8, the zone of every Alipay timestamp. China has no
// daylight saving, so a fixed zone is exact and needs no tzdata on the host.
var ChinaTime = time.FixedZone("CST", 8*60*60)

// TimeLayout is Alipay's timestamp layout, yyyy-MM-dd HH:mm:ss.
const TimeLayout = "2006-01-02 15:04:05"

// FormatTime formats t as Alipay wants it: in UTC+8 whatever the host's zone.
func FormatTime(t time.Time) string { return t.In(ChinaTime).Format(TimeLayout) }

// ParseTime parses an Alipay timestamp (UTC+8). It also takes the fractional
// form "yyyy-MM-dd HH:mm:ss.S" that refund notifications use.
func ParseTime(s string) (time.Time, error) {
	return time.ParseInLocation("2006-01-02 15:04:05.999999999", s, ChinaTime)
}

// SignContent builds the string to sign of §1.4 and §5.3: every parameter
// except the excluded keys and empty values, sorted by name in byte order,
// joined as name=value with "&", values raw (not URL-encoded). For a request,
// exclude "sign" only; for a notification, exclude "sign" and "sign_type".
// A parameter given twice contributes its first value (the simulator rejects
// conflicting duplicates before it gets here).
func SignContent(params url.Values, exclude ...string) string {
	keys := make([]string, 0, len(params))
	size := 0
	for k, vs := range params {
		if len(vs) == 0 || vs[0] == "" || contains(exclude, k) {
			continue
		}
		keys = append(keys, k)
		size += len(k) + len(vs[0]) + 2
	}
	sort.Strings(keys)
	var b strings.Builder
	b.Grow(size)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k][0])
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Sign signs content with SHA256withRSA (RSA PKCS#1 v1.5 over SHA-256) and
// returns standard, padded base64: Alipay's RSA2.
func Sign(key *rsa.PrivateKey, content []byte) (string, error) {
	digest := sha256.Sum256(content)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// ErrBadSignature means a signature did not verify, or was not valid base64.
var ErrBadSignature = errors.New("alipay: signature does not verify")

// Verify checks an RSA2 signature (standard base64) over content. A signature
// that is not valid base64 is rejected, never repaired (§5.3: a "+" turned
// into a space means the body was decoded wrongly).
func Verify(pub *rsa.PublicKey, content []byte, sign string) error {
	sig, err := base64.StdEncoding.DecodeString(sign)
	if err != nil {
		return ErrBadSignature
	}
	digest := sha256.Sum256(content)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		return ErrBadSignature
	}
	return nil
}
