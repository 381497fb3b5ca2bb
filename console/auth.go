package console

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate"
)

// sessionCookie holds the session token.
const sessionCookie = "paygate_session"

// cookiePath scopes the console's cookies to its pages: the merchant API
// and the cashier never see them.
const cookiePath = "/dashboard/"

// authenticated runs h for a request with a valid session: a signature
// that verifies, not expired, not revoked, of an operator who exists, is
// not disabled, and whose sessions were not ended (password changed,
// disabled) after it was issued. Otherwise a GET is sent to the login page
// and anything else gets 401. Past half of its lifetime the token is
// replaced by a fresh one of the same session.
func (c *Console) authenticated(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			c.log.DebugContext(r.Context(), "console: no valid session", "path", r.URL.Path, "reason", err.Error())
			clearCookie(w, sessionCookie, c.cfg.InsecureCookie)
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/dashboard/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.renderError(w, r, nil, http.StatusUnauthorized, "Your session has ended. Log in again.")
			return
		}
		if c.now().Sub(s.IssuedAt) > c.cfg.SessionTTL/2 {
			if token, fresh, err := c.tokens.issue(s.Username, s.Role, s.ID); err == nil {
				c.setSessionCookie(w, token, fresh)
				s = fresh
			}
		}
		if err := h(w, r, s); err != nil {
			c.renderFailure(w, r, s, err)
		}
	}
}

// errNoSession is a request without a usable session.
var errNoSession = errors.New("no session")

// session checks the request's session cookie; see authenticated.
func (c *Console) session(r *http.Request) (*Session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, errNoSession
	}
	s, err := c.tokens.verify(ck.Value)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	revoked, err := c.revoked.Revoked(ctx, s.ID)
	if err != nil {
		c.log.ErrorContext(ctx, "console: the revocation list cannot be read: refusing the session", "err", err)
		return nil, err
	}
	if revoked {
		return nil, errors.New("session revoked (logged out)")
	}
	op, err := c.store.OperatorByUsername(ctx, s.Username)
	if err != nil {
		return nil, err
	}
	switch {
	case op.Disabled():
		return nil, errors.New("operator disabled")
	case s.IssuedAt.Before(op.SessionsValidAfter):
		return nil, errors.New("session issued before the operator's sessions were ended")
	}
	s.Role = op.Role // a role changed since login applies at once
	return s, nil
}

func (c *Console) setSessionCookie(w http.ResponseWriter, token string, s *Session) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: token, Path: cookiePath, Expires: s.Expires,
		HttpOnly: true, Secure: !c.cfg.InsecureCookie, SameSite: http.SameSiteStrictMode,
	})
}

func clearCookie(w http.ResponseWriter, name string, insecure bool) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: cookiePath, MaxAge: -1,
		HttpOnly: true, Secure: !insecure, SameSite: http.SameSiteStrictMode})
}

// loginView is the login page's data.
type loginView struct {
	CSRF     string
	Next     string
	Username string
	Error    string
}

// loginForm shows the login form with a fresh double-submit token.
func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	if s, err := c.session(r); err == nil && s != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.renderLogin(w, r, http.StatusOK, loginView{Next: safeNext(r.URL.Query().Get("next"))})
}

func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, v loginView) {
	v.CSRF = randomToken()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: v.CSRF, Path: cookiePath, MaxAge: 3600,
		HttpOnly: true, Secure: !c.cfg.InsecureCookie, SameSite: http.SameSiteStrictMode})
	c.render(w, r, nil, status, "login", v)
}

// loginRefused is the one message for an unknown user, a wrong password, a
// disabled and a locked account: none of them may be told apart.
const loginRefused = "The username or password is not right, or this account cannot log in now. " +
	"After 5 failed attempts an account is locked for 15 minutes."

// login checks the form and starts a session.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	ctx := r.Context()
	addr := c.clientAddr(r)
	next := safeNext(r.PostFormValue("next"))
	username := strings.ToLower(strings.TrimSpace(r.PostFormValue("username")))
	v := loginView{Next: next, Username: username}
	if !sameOrigin(r) || !validLoginCSRF(r) {
		c.log.WarnContext(ctx, "console: login form refused: cross-site or no CSRF token", "addr", addr)
		v.Error = "The login form expired or did not come from this page. Try again."
		c.renderLogin(w, r, http.StatusForbidden, v)
		return
	}
	if wait := c.logins.take(addr, c.now()); wait > 0 {
		c.log.WarnContext(ctx, "console: login rate limited", "addr", addr)
		w.Header().Set("Retry-After", retryAfter(wait))
		v.Error = "Too many login attempts from your address. Wait a minute and try again."
		c.renderLogin(w, r, http.StatusTooManyRequests, v)
		return
	}
	op, err := c.checkLogin(ctx, username, r.PostFormValue("password"), addr)
	if err != nil {
		if paygate.ErrorCode(err) == paygate.EUnauthorized {
			v.Error = loginRefused
			c.renderLogin(w, r, http.StatusUnauthorized, v)
			return
		}
		c.log.ErrorContext(ctx, "console: login failed on an error", "err", err)
		v.Error = "The login could not be checked right now (" + paygate.ErrorMessage(err) + "). Try again."
		c.renderLogin(w, r, http.StatusServiceUnavailable, v)
		return
	}
	token, s, err := c.tokens.issue(op.Username, op.Role, "")
	if err != nil {
		c.renderFailure(w, r, nil, err)
		return
	}
	clearCookie(w, loginCookie, c.cfg.InsecureCookie)
	c.setSessionCookie(w, token, s)
	c.log.InfoContext(ctx, "console: login", "operator", op.Username, "role", string(op.Role), "addr", addr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// checkLogin verifies username and password, counting failures and
// locking the account after LockoutFailures of them. Every refusal is the
// same EUnauthorized error; the log says which it was.
func (c *Console) checkLogin(ctx context.Context, username, password, addr string) (*paygate.Operator, error) {
	refused := paygate.Errorf(paygate.EUnauthorized, "login refused")
	op, err := c.store.OperatorByUsername(ctx, username)
	if paygate.ErrorCode(err) == paygate.ENotFound || paygate.CheckUsername(username) != nil {
		c.verify(ctx, password, c.dummy) // the same work as a real check
		c.log.WarnContext(ctx, "console: login failed: unknown user", "addr", addr)
		return nil, refused
	}
	if err != nil {
		return nil, err
	}
	now := c.now()
	if op.Disabled() || op.Locked(now) {
		c.verify(ctx, password, c.dummy)
		c.log.WarnContext(ctx, "console: login refused: account disabled or locked", "operator", op.Username, "addr", addr,
			"locked_until", op.LockedUntil)
		return nil, refused
	}
	ok, err := c.verify(ctx, password, op.PasswordHash)
	if err != nil {
		return nil, err
	}
	if !ok {
		after, err := c.store.RecordLoginFailure(ctx, op.ID, now, LockoutFailures, LockoutDuration)
		if err != nil {
			return nil, err
		}
		if after.Locked(now) {
			c.log.WarnContext(ctx, "console: account locked after failed logins", "operator", op.Username, "addr", addr,
				"locked_until", after.LockedUntil)
		} else {
			c.log.WarnContext(ctx, "console: login failed: wrong password", "operator", op.Username, "addr", addr,
				"failures", after.FailedLogins)
		}
		return nil, refused
	}
	if op.FailedLogins > 0 {
		if err := c.store.ResetLoginFailures(ctx, op.ID); err != nil {
			return nil, err
		}
	}
	return op, nil
}

// verify checks a password against a hash, at most two at a time: each
// costs 64 MiB and a core for a fraction of a second.
func (c *Console) verify(ctx context.Context, password, hash string) (bool, error) {
	select {
	case c.hashing <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-c.hashing }()
	return VerifyPassword(password, hash)
}

// logout revokes the session (every token of it) at once.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	s, err := c.session(r)
	if err != nil {
		clearCookie(w, sessionCookie, c.cfg.InsecureCookie)
		http.Redirect(w, r, "/dashboard/login", http.StatusSeeOther)
		return
	}
	if !sameOrigin(r) || !c.validCSRF(r, s) {
		c.renderError(w, r, s, http.StatusForbidden, "This form was refused: it did not come from this console's own page.")
		return
	}
	// A re-issued token of the session lives at most SessionTTL from now.
	if err := c.revoked.Revoke(r.Context(), s.ID, c.now().Add(c.cfg.SessionTTL)); err != nil {
		c.renderFailure(w, r, s, err)
		return
	}
	clearCookie(w, sessionCookie, c.cfg.InsecureCookie)
	c.log.InfoContext(r.Context(), "console: logout", "operator", s.Username)
	http.Redirect(w, r, "/dashboard/login", http.StatusSeeOther)
}

// safeNext keeps a post-login destination inside the console, so the
// login form cannot be used to send an operator elsewhere.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/dashboard/") || strings.HasPrefix(next, "/dashboard/login") ||
		strings.ContainsAny(next, "\\\r\n") || strings.Contains(next, "//") {
		return "/dashboard/"
	}
	return next
}

// retryAfter is d in whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(int(math.Ceil(d.Seconds())), 1))
}
