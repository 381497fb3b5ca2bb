package console_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/console"
	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/jobs"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/postgres/pgtest"
	"github.com/paygate/paygate/sqlite"
	"github.com/paygate/paygate/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var keys = sync.OnceValues(func() (*rsa.PrivateKey, *rsa.PrivateKey) {
	app, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ali, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return app, ali
})

// stores runs fn on SQLite and on PostgreSQL (skipped without
// PAYGATE_TEST_POSTGRES_URL, failed in CI).
func stores(t *testing.T, fn func(t *testing.T, st paygate.Store)) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			k := make([]byte, 32)
			rand.Read(k)
			sealer, err := paygate.NewSealer(k)
			if err != nil {
				t.Fatal(err)
			}
			var st paygate.Store
			if kind == "sqlite" {
				s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "paygate.db"), sealer, sqlite.WithMigrate())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				st = s
			} else {
				testenv.Postgres(t)
				st = pgtest.Open(t, sealer, postgres.WithMigrate())
			}
			fn(t, st)
		})
	}
}

// env is a console on a real store and a real gateway, which talks to the
// simulator over HTTP, served over a real listener.
type env struct {
	st       paygate.Store
	svc      *gateway.Service
	sim      *alipaysim.Server
	srv      *httptest.Server
	merchant *paygate.Merchant
	now      time.Time
}

func setup(t *testing.T, st paygate.Store, edit func(*console.Config)) *env {
	t.Helper()
	app, ali := keys()
	sim, err := alipaysim.New(alipaysim.Config{AlipayKey: ali, PayDelay: 100 * time.Millisecond, SweepInterval: 50 * time.Millisecond,
		Apps: []alipaysim.App{{AppID: "2021000000000001", PublicKey: &app.PublicKey}}})
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(sim)
	t.Cleanup(func() { simSrv.Close(); sim.Close() })
	ch, err := alipay.New(alipay.Config{AppID: "2021000000000001", GatewayURL: simSrv.URL + "/gateway.do",
		PrivateKey: app, AlipayPublicKey: &ali.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, sim: sim}
	notify := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, err := alipay.ReadNotificationForm(r)
		if err == nil {
			err = e.svc.HandleNotification(r.Context(), form)
		}
		if err != nil {
			w.Write([]byte("failure"))
			return
		}
		w.Write([]byte(alipay.NotifyAck))
	}))
	t.Cleanup(notify.Close)
	gch, err := gateway.NewAlipayChannel(ch, gateway.AlipayConfig{NotifyURL: notify.URL + "/notify/alipay"})
	if err != nil {
		t.Fatal(err)
	}
	e.svc, err = gateway.New(gateway.Config{Store: st, Channels: []gateway.Channel{gch}, CallTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.merchant = &paygate.Merchant{Name: "Tea House", AccessKey: "ak_" + strings.ToLower(rand.Text()), SecretKey: "sk", WebhookSecret: "wh"}
	if err := st.CreateMerchant(context.Background(), e.merchant); err != nil {
		t.Fatal(err)
	}
	cfg := console.Config{Store: st, Orders: e.svc, Events: &jobs.EventService{Store: st},
		SessionKey: []byte(strings.Repeat("s", 32)), InsecureCookie: true, Passwords: console.TestPasswordParams}
	if edit != nil {
		edit(&cfg)
	}
	c, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(c)
	t.Cleanup(e.srv.Close)
	return e
}

// operator creates an operator with password pw.
func (e *env) operator(t *testing.T, username string, role paygate.Role, pw string) *paygate.Operator {
	t.Helper()
	hash, err := console.HashPassword(pw, console.TestPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	o := &paygate.Operator{Username: username, PasswordHash: hash, Role: role, CreatedAt: time.Now().Add(-time.Hour)}
	if err := e.st.CreateOperator(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return o
}

// browser is an HTTP client with a cookie jar that sends what a browser
// sends with a form of the console's own page (Origin), and never follows
// redirects, so a test sees each answer.
type browser struct {
	t    *testing.T
	e    *env
	c    *http.Client
	jar  *cookiejar.Jar
	base string
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, e: e, jar: jar, base: e.srv.URL, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (b *browser) get(path string) page {
	b.t.Helper()
	return b.do(http.MethodGet, path, nil, nil)
}

// post sends a form as the console's page would (Origin: its own).
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	return b.do(http.MethodPost, path, form, http.Header{"Origin": {b.base}})
}

func (b *browser) do(method, path string, form url.Values, h http.Header) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, body: string(raw), location: resp.Header.Get("Location"), header: resp.Header}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of a page's first form.
func (p page) csrf(t *testing.T) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no csrf field on the page (%d):\n%s", p.status, p.body)
	}
	return m[1]
}

// login logs in through the form and fails unless it succeeds.
func (b *browser) login(username, pw string) {
	b.t.Helper()
	if p := b.tryLogin(username, pw); p.status != http.StatusSeeOther {
		b.t.Fatalf("login %s: %d\n%s", username, p.status, p.body)
	}
}

func (b *browser) tryLogin(username, pw string) page {
	b.t.Helper()
	form := b.get("/dashboard/login")
	return b.post("/dashboard/login", url.Values{"csrf": {form.csrf(b.t)}, "username": {username}, "password": {pw},
		"next": {"/dashboard/orders"}})
}

// cookie is the browser's current value of the named cookie.
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.base + "/dashboard/")
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// order creates a QR order of the env's merchant through the gateway.
func (e *env) order(t *testing.T, outTradeNo string, amount paygate.Money) *paygate.Order {
	t.Helper()
	o, _, err := e.svc.CreateOrder(context.Background(), e.merchant, paygate.CreateOrder{OutTradeNo: outTradeNo,
		Subject: "green tea", TotalAmount: amount, Mode: paygate.ModeQR})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// paid creates an order and has the simulator's buyer pay it.
func (e *env) paid(t *testing.T, outTradeNo string, amount paygate.Money) *paygate.Order {
	t.Helper()
	o := e.order(t, outTradeNo, amount)
	if err := e.sim.PayQR(context.Background(), o.QRCode, "2088000000000042"); err != nil {
		t.Fatalf("pay: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := e.svc.GetOrder(context.Background(), e.merchant, outTradeNo, true)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == paygate.StatusPaid {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s is %s, not paid", outTradeNo, got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
