package console

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// csrfKeyLabel derives the CSRF and flash MAC key from the session key, so
// that a CSRF token is never also a valid signature of something else.
const csrfKeyLabel = "paygate console csrf v1"

func csrfKey(sessionKey []byte) []byte {
	k, err := hkdf.Key(sha256.New, sessionKey, nil, csrfKeyLabel, 32)
	if err != nil {
		panic(err) // only for a key length HKDF cannot give, and 32 it can
	}
	return k
}

// csrfToken is the per-session token every state-changing form carries:
// an HMAC of the session's ID, so it needs no storage, stays valid across
// the token's re-issues, and dies with the session.
func (c *Console) csrfToken(s *Session) string {
	return c.mac("csrf", s.ID)
}

// mac is the URL-safe HMAC-SHA256 of purpose and value under the CSRF key.
func (c *Console) mac(purpose, value string) string {
	m := hmac.New(sha256.New, c.csrfKey)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validCSRF reports whether the form's csrf field is the session's token.
func (c *Console) validCSRF(r *http.Request, s *Session) bool {
	got := r.PostFormValue("csrf")
	return got != "" && hmac.Equal([]byte(got), []byte(c.csrfToken(s)))
}

// sameOrigin reports whether a state-changing request comes from the
// console's own pages: the browser's Sec-Fetch-Site, when sent, must say
// same-origin, and Origin, when sent, must be this host. A request with
// neither is refused: every browser that runs the console sends one.
func sameOrigin(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	origin := r.Header.Get("Origin")
	if site == "" && origin == "" {
		return false
	}
	if site != "" && site != "same-origin" {
		return false
	}
	if origin != "" {
		u, err := url.Parse(origin)
		if err != nil || origin == "null" || !strings.EqualFold(u.Host, r.Host) {
			return false
		}
	}
	return true
}

// loginCookie holds the pre-session CSRF token of the login form (double
// submit: the form's field must equal the cookie, which another site can
// neither read nor set).
const loginCookie = "paygate_login"

// validLoginCSRF checks the double-submitted login token.
func validLoginCSRF(r *http.Request) bool {
	ck, err := r.Cookie(loginCookie)
	got := r.PostFormValue("csrf")
	return err == nil && ck.Value != "" && got != "" && hmac.Equal([]byte(got), []byte(ck.Value))
}
