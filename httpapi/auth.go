package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

// authFailedMessage is the one message of every 401: the caller learns
// nothing about which check failed (an unknown key reads like a bad
// signature); the reason is in the request's log line for the operator.
const authFailedMessage = "authentication failed: check X-Access-Key, X-Timestamp, X-Nonce and X-Signature against the signing rules"

// authenticate checks the request in order of cost, so that a flood costs
// as little as possible and a refused request uses up nothing of the
// merchant's: the client address's limits; the query, the headers' form and
// the timestamp; the merchant (cached) behind the claimed key, whose failed
// lookups are limited per key; only then the body (at most MaxBody) and the
// signature; the merchant's rate limit; and last the nonce, so neither a
// forger nor a refused request fills the nonce cache. On success the
// merchant and the body are in the context; otherwise the request ends with
// 400, 401, 413 or 429 and nothing else runs.
func (s *Server) authenticate(c *gin.Context) {
	now := s.now()
	ip := ipKey(c.ClientIP())
	if d := s.ipLimit.take(ip, now); d > 0 {
		s.abort(c, rateLimited(ScopeIP, d))
		return
	}
	// An address that has failed too often is not refused outright: a
	// forger may share it with a real merchant (a NAT, a proxy), who must
	// not be locked out. It only loses what costs: a request from it whose
	// key the merchant cache does not know gets 429 before any lookup; one
	// under a known merchant's key costs an HMAC and is judged by it.
	fenced := s.authFailures.empty(ip, now)
	m, body, err := s.verify(c.Request.Context(), c.Request, now, fenced)
	if err == nil {
		if d := s.limiter.wait(m.ID, now); d > 0 {
			err = rateLimited(ScopeMerchant, d)
		} else {
			err = s.checkNonce(c.Request.Context(), m, c.Request, now)
		}
	}
	if err != nil {
		if paygate.ErrorCode(err) == paygate.EUnauthorized {
			s.authFailures.spend(ip, now)
			s.obs.AuthFailure(authReason(err))
			warnRefused(c, authReason(err), slog.String("auth_failure", paygate.ErrorMessage(err)))
			err = paygate.Errorf(paygate.EUnauthorized, authFailedMessage)
		}
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

// verify checks the query, the headers' form, the timestamp and the
// merchant before it reads the body, then the signature. Its 401 errors
// carry the reason for the log, never for the caller.
func (s *Server) verify(ctx context.Context, r *http.Request, now time.Time, fenced time.Duration) (*paygate.Merchant, []byte, error) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, nil, paygate.Errorf(paygate.EInvalid, "the query string is not valid form encoding")
	}
	for _, name := range reservedParams {
		if _, ok := query[name]; ok {
			return nil, nil, paygate.Errorf(paygate.EInvalid, "query parameter %q is reserved for the signature", name)
		}
	}
	h, err := readAuthHeaders(r.Header)
	if err != nil {
		return nil, nil, err
	}
	if d := now.Sub(time.UnixMilli(h.timestamp)); d > s.tolerance || d < -s.tolerance {
		return nil, nil, paygate.Errorf(paygate.EUnauthorized,
			"X-Timestamp is more than %v away from the server's clock", s.tolerance)
	}
	m, err := s.merchantByKey(ctx, h.accessKey, now, fenced)
	if err != nil {
		return nil, nil, err
	}
	if m.Disabled() {
		return nil, nil, errDisabled
	}
	body, err := readBody(r)
	if err != nil {
		return nil, nil, err
	}
	if !signedBy(m, now, r.Method, r.URL.Path, query, h, body) {
		// The merchant may have been given a new secret by another process
		// since it was cached: look it up again, at most once a second per
		// key, so that a rotation works at once without letting forgeries
		// under a known key cost a lookup each.
		fresh := s.refreshMerchant(ctx, h.accessKey, now)
		if fresh == nil || !signedBy(fresh, now, r.Method, r.URL.Path, query, h, body) {
			return nil, nil, paygate.Errorf(paygate.EUnauthorized, "signature does not match the request")
		}
		if m = fresh; m.Disabled() {
			return nil, nil, errDisabled
		}
	}
	return m, body, nil
}

// errDisabled refuses a disabled merchant's requests with the 401 of every
// other cause; its reason (the log's, and the metric's unknown_key: the key
// no longer names a merchant that may call) is the operator's alone.
var errDisabled = paygate.Errorf(paygate.EUnauthorized, "access key of a disabled merchant")

// signedBy reports whether the request carries the signature of one of m's
// secret keys at now: the current one, or the previous one during a
// rotation's grace period. Every valid key is tried, so the time taken says
// nothing about which one matched.
func signedBy(m *paygate.Merchant, now time.Time, method, path string, query url.Values, h authHeaders, body []byte) bool {
	ok := false
	for _, secret := range m.SecretKeys(now) {
		if hmac.Equal(signature(secret, method, path, query, h, body), h.signature) {
			ok = true
		}
	}
	return ok
}

// refreshMerchant reads the merchant behind key from the store again when
// the cache has held it for at least merchantRefreshAfter, and caches what
// it finds; nil when it did not look (or found nothing, or failed: the
// request is then refused as the cached merchant would have it).
func (s *Server) refreshMerchant(ctx context.Context, key string, now time.Time) *paygate.Merchant {
	if !s.mcache.claimRefresh(key, now) {
		return nil
	}
	m, err := s.merchants.MerchantByAccessKey(ctx, key)
	switch {
	case paygate.ErrorCode(err) == paygate.ENotFound:
		s.mcache.put(key, nil, now)
		return nil
	case err != nil:
		return nil
	}
	s.mcache.put(key, m, now)
	return m
}

// ForgetMerchant drops what the merchant cache holds for accessKey, so the
// next request under it reads the store: a change made in this process
// (gateway.Merchants.Changed) takes effect at once. Other processes see it
// within auth.merchant_cache_ttl.
func (s *Server) ForgetMerchant(accessKey string) { s.mcache.forget(accessKey) }

// merchantByKey is the merchant behind a claimed access key, from the cache
// when it knows, else from the store. Lookups that find nothing are limited
// per claimed key (beside the cache, which is bounded): a key that names a
// merchant never uses up its bucket, so forgeries under a real merchant's
// key cannot lock the merchant out.
func (s *Server) merchantByKey(ctx context.Context, key string, now time.Time, fenced time.Duration) (*paygate.Merchant, error) {
	m, cached := s.mcache.get(key, now)
	switch {
	case cached && m != nil:
		return m, nil
	case fenced > 0:
		return nil, rateLimited(ScopeAuthFailures, fenced) // the address failed too often: no lookups for it
	case cached:
		return nil, paygate.Errorf(paygate.EUnauthorized, "unknown access key")
	}
	if d := s.unknownKeys.empty(key, now); d > 0 {
		return nil, rateLimited(ScopeUnknownKey, d)
	}
	m, err := s.merchants.MerchantByAccessKey(ctx, key)
	if paygate.ErrorCode(err) == paygate.ENotFound {
		s.unknownKeys.spend(key, now)
		s.mcache.put(key, nil, now)
		return nil, paygate.Errorf(paygate.EUnauthorized, "unknown access key")
	} else if err != nil {
		return nil, fmt.Errorf("looking up access key: %w", err)
	}
	s.mcache.put(key, m, now)
	return m, nil
}

// nonceMargin is added to how long a nonce is kept, for the clocks of
// replicas sharing the cache, which differ a little.
const nonceMargin = time.Second

// checkNonce records the request's nonce, refusing a replay. A nonce is
// kept until its timestamp leaves the tolerance window (timestamp +
// tolerance, plus a margin): a request signed at the window's future edge
// stays acceptable up to 2×tolerance after it arrives, so a fixed ttl of one
// tolerance would reopen it to replay.
func (s *Server) checkNonce(ctx context.Context, m *paygate.Merchant, r *http.Request, now time.Time) error {
	nonce, ms := r.Header.Get("X-Nonce"), r.Header.Get("X-Timestamp")
	ts, err := parseMillis(ms)
	if err != nil { // verify parsed it already
		return fmt.Errorf("checking nonce: %w", err)
	}
	ttl := time.UnixMilli(ts).Add(s.tolerance).Sub(now) + nonceMargin
	seen, err := s.nonces.Seen(ctx, m.ID, nonce, ttl)
	if err != nil {
		return fmt.Errorf("checking nonce: %w", err)
	}
	if seen {
		return paygate.Errorf(paygate.EUnauthorized, "X-Nonce was already used; sign each request with a new nonce")
	}
	return nil
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
