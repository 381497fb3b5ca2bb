package console

import (
	"bytes"
	"crypto/hmac"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/paygate/paygate"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFS embed.FS

// staticFiles serves the embedded CSS and script.
func staticFiles() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree always has it
	}
	return http.FileServerFS(sub)
}

// views are the pages' templates, each parsed with the layout.
type views struct {
	pages map[string]*template.Template
}

// Zone is how the console shows times and reads the dates of a search:
// China time, as Alipay's bills and the daily reconciliation count days.
var Zone = time.FixedZone("UTC+8", 8*60*60)

var funcs = template.FuncMap{
	"yuan": func(m paygate.Money) string { return m.Yuan() },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.In(Zone).Format("2006-01-02 15:04:05")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ms":  func(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) },
}

// loadViews parses layout.html with each other template.
func loadViews() (*views, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	v := &views{pages: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		v.pages[name] = t
	}
	return v, nil
}

// view is what the layout renders around a page.
type view struct {
	Session *Session // nil before login
	CSRF    string
	Nav     []navLink
	Flash   *flash
	Data    any
}

type navLink struct {
	Label, Path string
	Current     bool
}

// render writes page name with data inside the layout. It renders to a
// buffer first, so a template error is a clean 500, not half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, s *Session, status int, name string, data any) {
	t, ok := c.views.pages[name]
	if !ok {
		c.log.ErrorContext(r.Context(), "console: no template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v := view{Session: s, Data: data}
	if s != nil {
		v.CSRF = c.csrfToken(s)
		for _, n := range c.nav {
			v.Nav = append(v.Nav, navLink{Label: n.Label, Path: n.Path,
				Current: r.URL.Path == n.Path || strings.HasPrefix(r.URL.Path, n.Path+"/")})
		}
		v.Flash = c.takeFlash(w, r, s)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.ErrorContext(r.Context(), "console: rendering", "name", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorView is the error page's data.
type errorView struct {
	Status  int
	Message string
}

// renderError shows a plain error page with status.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, s *Session, status int, msg string) {
	c.render(w, r, s, status, "error", errorView{Status: status, Message: msg})
}

// renderFailure shows err as its domain meaning: the message of a
// paygate.Error with its status, or a generic sentence for anything else
// (whose details go to the log).
func (c *Console) renderFailure(w http.ResponseWriter, r *http.Request, s *Session, err error) {
	status := statusOf(err)
	if status >= 500 {
		c.log.ErrorContext(r.Context(), "console: request failed", "path", r.URL.Path, "err", err)
	}
	c.renderError(w, r, s, status, paygate.ErrorMessage(err))
}

// statusOf maps a domain error code to an HTTP status for the pages.
func statusOf(err error) int {
	switch paygate.ErrorCode(err) {
	case paygate.EInvalid:
		return http.StatusBadRequest
	case paygate.ENotFound:
		return http.StatusNotFound
	case paygate.EConflict, paygate.ERefundExceeds:
		return http.StatusConflict
	case paygate.EPaymentFailed:
		return http.StatusPaymentRequired
	case paygate.EChannel:
		return http.StatusBadGateway
	case paygate.EChannelUnavailable, paygate.EDatabaseDown, paygate.EDraining:
		return http.StatusServiceUnavailable
	case paygate.EForbidden:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// flash is a one-time message shown on the page an action redirects to.
type flash struct {
	Kind string // "ok" or "error"
	Text string
}

// flashCookie carries a flash across the redirect after an action, MACed
// and bound to the session, so no one else can plant a message.
const flashCookie = "paygate_flash"

func (c *Console) setFlash(w http.ResponseWriter, s *Session, kind, text string) {
	val := base64.RawURLEncoding.EncodeToString([]byte(kind + "\x00" + text))
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: val + "." + c.mac("flash:"+s.ID, val), Path: cookiePath,
		MaxAge: 60, HttpOnly: true, Secure: !c.cfg.InsecureCookie, SameSite: http.SameSiteStrictMode})
}

func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request, s *Session) *flash {
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	clearCookie(w, flashCookie, c.cfg.InsecureCookie)
	val, sig, ok := strings.Cut(ck.Value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(c.mac("flash:"+s.ID, val))) {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(val)
	if err != nil {
		return nil
	}
	kind, text, _ := strings.Cut(string(raw), "\x00")
	return &flash{Kind: kind, Text: text}
}
