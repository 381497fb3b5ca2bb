package console

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paygate/paygate"
)

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("correct horse battery", TestPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string with its parameters", h)
	}
	if h2, _ := HashPassword("correct horse battery", TestPasswordParams); h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		if ok, err := VerifyPassword(pw, h); err != nil || ok != want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	// The parameters travel in the hash: one made with other ones verifies.
	strong, _ := HashPassword("pw", PasswordParams{Memory: 128, Time: 2, Threads: 2})
	if ok, err := VerifyPassword("pw", strong); err != nil || !ok {
		t.Fatalf("a hash with other parameters: %v, %v", ok, err)
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaA"} {
		if _, err := VerifyPassword("pw", bad); err == nil {
			t.Errorf("VerifyPassword accepted the hash %q", bad)
		}
	}
	if CheckPassword("short") == nil || CheckPassword(strings.Repeat("x", 300)) == nil || CheckPassword("long enough passphrase") != nil {
		t.Error("CheckPassword's bounds are wrong")
	}
	if p := RandomPassword(); len(p) != 20 || strings.ContainsAny(p, "0O1lI") {
		t.Errorf("RandomPassword = %q", p)
	}
}

func TestSessionTokens(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.UTC)
	key, err := SessionKey([]byte(strings.Repeat("m", 32)))
	if err != nil || len(key) != 32 {
		t.Fatalf("SessionKey: %d bytes, %v", len(key), err)
	}
	tk := &tokens{key: key, ttl: 15 * time.Minute, now: func() time.Time { return now }}
	signed, s, err := tk.issue("alice", paygate.RoleAdmin, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := tk.verify(signed)
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "alice" || got.Role != paygate.RoleAdmin || got.ID != s.ID || got.TokenID != s.TokenID ||
		!got.IssuedAt.Equal(now.Truncate(time.Microsecond)) {
		t.Fatalf("verified %+v, issued %+v", got, s)
	}
	// A re-issue keeps the session, not the token id.
	again, s2, _ := tk.issue("alice", paygate.RoleAdmin, s.ID)
	if s2.ID != s.ID || s2.TokenID == s.TokenID || again == signed {
		t.Fatal("a re-issue must keep the session id and change the token id")
	}

	other := &tokens{key: []byte(strings.Repeat("x", 32)), ttl: time.Minute, now: tk.now}
	late := &tokens{key: key, ttl: tk.ttl, now: func() time.Time { return now.Add(16 * time.Minute) }}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, &claims{Subject: "alice", Role: "admin", Session: "s", ID: "j",
		IssuedAt: float64(now.Unix()), Expires: now.Add(time.Hour).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, &claims{Subject: "alice", Role: "admin", Session: "s", ID: "j",
		IssuedAt: float64(now.Unix()), Expires: now.Add(time.Hour).Unix()}).SignedString(key)
	noRole, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, &claims{Subject: "alice", Role: "root", Session: "s", ID: "j",
		IssuedAt: float64(now.Unix()), Expires: now.Add(time.Hour).Unix()}).SignedString(key)
	parts := strings.Split(signed, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "=") + "x." + parts[2]
	for name, c := range map[string]struct {
		tk    *tokens
		token string
	}{
		"another key": {other, signed}, "expired": {late, signed}, "alg none": {tk, none}, "HS512": {tk, hs512},
		"unknown role": {tk, noRole}, "tampered": {tk, tampered}, "garbage": {tk, "a.b.c"},
	} {
		if _, err := c.tk.verify(c.token); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		site, origin string
		want         bool
	}{
		{"same-origin", "http://console.example", true},
		{"same-origin", "", true},
		{"", "http://console.example", true},
		{"", "https://console.example", true}, // behind a TLS-terminating proxy
		{"", "", false},
		{"cross-site", "http://console.example", false},
		{"same-site", "http://console.example", false},
		{"none", "", false},
		{"", "http://evil.example", false},
		{"", "null", false},
		{"same-origin", "http://console.example.evil.example", false},
	} {
		r, _ := http.NewRequest(http.MethodPost, "http://console.example/dashboard/logout", nil)
		if c.site != "" {
			r.Header.Set("Sec-Fetch-Site", c.site)
		}
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if got := sameOrigin(r); got != c.want {
			t.Errorf("Sec-Fetch-Site %q Origin %q: %v, want %v", c.site, c.origin, got, c.want)
		}
	}
}

func TestCSRFToken(t *testing.T) {
	t.Parallel()
	c := &Console{csrfKey: csrfKey([]byte(strings.Repeat("k", 32)))}
	a, b := &Session{ID: "one"}, &Session{ID: "two"}
	if c.csrfToken(a) == c.csrfToken(b) || c.csrfToken(a) != c.csrfToken(&Session{ID: "one", TokenID: "other"}) {
		t.Fatal("the CSRF token must follow the session id and nothing else")
	}
	other := &Console{csrfKey: csrfKey([]byte(strings.Repeat("j", 32)))}
	if other.csrfToken(a) == c.csrfToken(a) {
		t.Fatal("the CSRF token does not depend on the key")
	}
	form := func(v string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "/", strings.NewReader("csrf="+v))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	if !c.validCSRF(form(c.csrfToken(a)), a) || c.validCSRF(form(c.csrfToken(b)), a) || c.validCSRF(form(""), a) {
		t.Fatal("validCSRF is wrong")
	}
}
