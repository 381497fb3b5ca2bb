package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/paygate/paygate"
)

// reservedParams are the names the signature adds to the query parameters;
// a query using one of them would make the signed string ambiguous.
var reservedParams = [...]string{"accessKey", "timestamp", "nonce", "method", "path", "bodySha256"}

// authenticate reads the body (at most MaxBody), verifies the request's
// signature as contract.md describes and records the nonce. On success the
// merchant and the body are in the context; otherwise the request ends with
// 400, 401 or 413 and nothing else runs.
func (s *Server) authenticate(c *gin.Context) {
	body, err := readBody(c.Request)
	if err != nil {
		s.abort(c, err)
		return
	}
	m, err := s.verify(c.Request.Context(), c.Request, body)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.Set(keyMerchant, m)
	c.Set(keyBody, body)
	c.Next()
}

// readBody reads the whole body, refusing more than MaxBody bytes without
// reading further than one byte past it.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBody {
		return nil, paygate.Errorf(paygate.ETooLarge, "request body is larger than %d bytes", MaxBody)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, paygate.Errorf(paygate.EInvalid, "request body could not be read")
	}
	if len(body) > MaxBody {
		return nil, paygate.Errorf(paygate.ETooLarge, "request body is larger than %d bytes", MaxBody)
	}
	return body, nil
}

// verify checks, in order of cost: the query, the headers' form, the
// timestamp, the merchant, the signature, and only then the nonce, so a
// forger cannot use up a merchant's nonces.
func (s *Server) verify(ctx context.Context, r *http.Request, body []byte) (*paygate.Merchant, error) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, paygate.Errorf(paygate.EInvalid, "the query string is not valid form encoding")
	}
	for _, name := range reservedParams {
		if _, ok := query[name]; ok {
			return nil, paygate.Errorf(paygate.EInvalid, "query parameter %q is reserved for the signature", name)
		}
	}
	h, err := readAuthHeaders(r.Header)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if d := now.Sub(time.UnixMilli(h.timestamp)); d > s.tolerance || d < -s.tolerance {
		return nil, paygate.Errorf(paygate.EUnauthorized,
			"X-Timestamp is more than %v away from the server's clock", s.tolerance)
	}
	m, err := s.merchants.MerchantByAccessKey(ctx, h.accessKey)
	if paygate.ErrorCode(err) == paygate.ENotFound {
		return nil, paygate.Errorf(paygate.EUnauthorized, "unknown access key")
	} else if err != nil {
		return nil, fmt.Errorf("looking up access key: %w", err)
	}
	want := signature(m.SecretKey, r.Method, r.URL.Path, query, h, body)
	if !hmac.Equal(want, h.signature) {
		return nil, paygate.Errorf(paygate.EUnauthorized, "signature does not match the request")
	}
	seen, err := s.nonces.Seen(ctx, m.ID, h.nonce, 2*s.tolerance)
	if err != nil {
		return nil, fmt.Errorf("checking nonce: %w", err)
	}
	if seen {
		return nil, paygate.Errorf(paygate.EUnauthorized, "X-Nonce was already used; sign each request with a new nonce")
	}
	return m, nil
}

type authHeaders struct {
	accessKey string
	timestamp int64 // Unix milliseconds
	rawTime   string
	nonce     string
	signature []byte
}

// readAuthHeaders checks that the four headers are present and well formed.
func readAuthHeaders(hdr http.Header) (authHeaders, error) {
	var h authHeaders
	get := func(name string) (string, error) {
		v := hdr.Values(name)
		switch {
		case len(v) == 0 || v[0] == "":
			return "", paygate.Errorf(paygate.EUnauthorized, "missing header %s", name)
		case len(v) > 1:
			return "", paygate.Errorf(paygate.EUnauthorized, "header %s appears more than once", name)
		}
		return v[0], nil
	}
	var err error
	if h.accessKey, err = get("X-Access-Key"); err != nil {
		return h, err
	}
	if !wellFormedAccessKey(h.accessKey) {
		return h, paygate.Errorf(paygate.EUnauthorized, "X-Access-Key must be 1 to 128 printable ASCII characters")
	}
	if h.rawTime, err = get("X-Timestamp"); err != nil {
		return h, err
	}
	if h.timestamp, err = parseMillis(h.rawTime); err != nil {
		return h, paygate.Errorf(paygate.EUnauthorized, "X-Timestamp must be Unix time in milliseconds, like 1700000000000")
	}
	if h.nonce, err = get("X-Nonce"); err != nil {
		return h, err
	}
	if len(h.nonce) < 8 || len(h.nonce) > 64 || !isToken(h.nonce) {
		return h, paygate.Errorf(paygate.EUnauthorized, "X-Nonce must be 8 to 64 characters of A-Z, a-z, 0-9, _ and -")
	}
	sig, err := get("X-Signature")
	if err != nil {
		return h, err
	}
	if len(sig) != 2*sha256.Size || strings.ToLower(sig) != sig {
		return h, paygate.Errorf(paygate.EUnauthorized, "X-Signature must be 64 lower-case hex digits")
	}
	if h.signature, err = hex.DecodeString(sig); err != nil {
		return h, paygate.Errorf(paygate.EUnauthorized, "X-Signature must be 64 lower-case hex digits")
	}
	return h, nil
}

func parseMillis(s string) (int64, error) {
	if s == "" || len(s) > 15 {
		return 0, errors.New("bad timestamp")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("bad timestamp")
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

func wellFormedAccessKey(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// signature is the HMAC-SHA256 the request should carry: over the form
// encoding (keys sorted, url.Values.Encode) of the query parameters plus
// accessKey, timestamp, nonce, method, path and bodySha256. The merchant
// client implements the same rule independently (client.Sign); the tests
// check each against the other and against a hand-written example.
func signature(secret, method, path string, query url.Values, h authHeaders, body []byte) []byte {
	v := make(url.Values, len(query)+len(reservedParams))
	for k, vs := range query {
		v[k] = vs
	}
	sum := sha256.Sum256(body)
	v.Set("accessKey", h.accessKey)
	v.Set("timestamp", h.rawTime)
	v.Set("nonce", h.nonce)
	v.Set("method", strings.ToUpper(method))
	v.Set("path", path)
	v.Set("bodySha256", hex.EncodeToString(sum[:]))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(v.Encode()))
	return mac.Sum(nil)
}
