package console

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paygate/paygate"
)

// sessionKeyLabel is HKDF's info for the session signing key: the key is
// derived from the master key, so every replica agrees on it without new
// configuration, and it is useless for anything else.
const sessionKeyLabel = "paygate console session v1"

// SessionKey derives the console's HS256 key from the master key.
func SessionKey(masterKey []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, masterKey, nil, sessionKeyLabel, 32)
}

// Session is what a valid session cookie says: who, with which role, and
// the session's identity.
type Session struct {
	Username string
	Role     paygate.Role
	// ID names the session from login to logout: it stays the same when
	// the token is re-issued past its half-life, so a logout (which revokes
	// it) ends every token of the session, and the CSRF token (derived
	// from it) stays valid across re-issues.
	ID       string
	TokenID  string // the token's own jti, new at every issue
	IssuedAt time.Time
	Expires  time.Time
}

// Admin reports whether the session may perform money actions.
func (s *Session) Admin() bool { return s.Role == paygate.RoleAdmin }

// claims is the token's payload: sub, role, sid, jti, iat, exp. iat carries
// microseconds (a JSON number may have a fraction), because a session must
// be comparable with Operator.SessionsValidAfter: a password changed in the
// same second as a login must not let an older token through.
type claims struct {
	Subject  string  `json:"sub"`
	Role     string  `json:"role"`
	Session  string  `json:"sid"`
	ID       string  `json:"jti"`
	IssuedAt float64 `json:"iat"`
	Expires  int64   `json:"exp"`
}

func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.Expires, 0)), nil
}
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error)  { return jwt.NewNumericDate(c.issued()), nil }
func (c *claims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }
func (c *claims) GetIssuer() (string, error)              { return "", nil }
func (c *claims) GetSubject() (string, error)             { return c.Subject, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)  { return nil, nil }

func (c *claims) issued() time.Time {
	return time.UnixMicro(int64(math.Round(c.IssuedAt * 1e6))).UTC()
}

// tokens issues and verifies session tokens.
type tokens struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// issue signs a token for the operator's session sid (a new session when
// sid is empty).
func (t *tokens) issue(username string, role paygate.Role, sid string) (string, *Session, error) {
	if sid == "" {
		sid = randomToken()
	}
	now := t.now().UTC().Truncate(time.Microsecond)
	s := &Session{Username: username, Role: role, ID: sid, TokenID: randomToken(), IssuedAt: now,
		Expires: now.Add(t.ttl).Truncate(time.Second)}
	c := &claims{Subject: username, Role: string(role), Session: sid, ID: s.TokenID,
		IssuedAt: float64(now.UnixMicro()) / 1e6, Expires: s.Expires.Unix()}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.key)
	if err != nil {
		return "", nil, fmt.Errorf("console: sign session: %w", err)
	}
	return signed, s, nil
}

// errBadToken covers every reason a token is refused; the reason goes to
// the log at debug level only.
var errBadToken = errors.New("console: session token refused")

// verify checks the signature (HS256 only), the expiry and the claims'
// shape, and returns the session. Whether the session was revoked, or its
// operator disabled, is for the caller to check.
func (t *tokens) verify(token string) (*Session, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(t.now))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadToken, err)
	}
	role := paygate.Role(c.Role)
	if c.Subject == "" || c.Session == "" || c.ID == "" || c.IssuedAt <= 0 || !role.Valid() {
		return nil, fmt.Errorf("%w: incomplete claims", errBadToken)
	}
	return &Session{Username: c.Subject, Role: role, ID: c.Session, TokenID: c.ID, IssuedAt: c.issued(),
		Expires: time.Unix(c.Expires, 0).UTC()}, nil
}

// randomToken is 128 random bits, URL-safe.
func randomToken() string { return rand.Text() }
