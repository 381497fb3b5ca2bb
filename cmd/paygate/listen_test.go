package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/client"
)

// hookReceiver is a merchant's webhook handler on loopback: it records
// every request and verifies it with the client package, each header set
// alone (Paygate-Signature; the Standard Webhooks headers) and both.
type hookReceiver struct {
	secret string
	srv    *httptest.Server
	mu     sync.Mutex
	got    []hookRequest
}

type hookRequest struct {
	header                  http.Header
	body                    []byte
	both, paygate, standard error
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	t.Helper()
	r := &hookReceiver{secret: secret}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		now := time.Now()
		paygateOnly, standardOnly := http.Header{}, http.Header{}
		paygateOnly.Set(client.WebhookSignatureHeader, req.Header.Get(client.WebhookSignatureHeader))
		for _, h := range []string{client.StandardIDHeader, client.StandardTimestampHeader, client.StandardSignatureHeader} {
			standardOnly.Set(h, req.Header.Get(h))
		}
		hr := hookRequest{header: req.Header.Clone(), body: body,
			both:     client.VerifyWebhookHeaders(r.secret, req.Header, body, 0, now),
			paygate:  client.VerifyWebhookHeaders(r.secret, paygateOnly, body, 0, now),
			standard: client.VerifyWebhookHeaders(r.secret, standardOnly, body, 0, now)}
		r.mu.Lock()
		r.got = append(r.got, hr)
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) requests() []hookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookRequest(nil), r.got...)
}

// byEvent is the requests for one event id.
func (r *hookReceiver) byEvent(id string) []hookRequest {
	var out []hookRequest
	for _, h := range r.requests() {
		if h.header.Get(client.EventIDHeader) == id {
			out = append(out, h)
		}
	}
	return out
}

// runningListen is `paygate listen` running in-process.
type runningListen struct {
	stdout, stderr *e2eLog
	stop           func() // Ctrl-C; fails the test unless the command returns nil
}

func startListen(t *testing.T, args ...string) *runningListen {
	t.Helper()
	l := &runningListen{stdout: &e2eLog{}, stderr: &e2eLog{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"listen"}, args...), l.stdout, l.stderr) }()
	stopped := false
	l.stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("listen returned %v\nstderr: %s", err, l.stderr)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("listen did not stop 10 s after Ctrl-C")
		}
	}
	t.Cleanup(l.stop)
	e2eEventually(t, "listen to start", func() bool { return strings.Contains(l.stdout.String(), "Forwarding ") })
	return l
}

// demoCredsDir writes creds (with base) as the demo's credentials file.
func demoCredsDir(t *testing.T, creds merchantCredentials, base string) string {
	t.Helper()
	dir := t.TempDir()
	creds.BaseURL = base
	if err := writeCreds(filepath.Join(dir, demoMerchantFile), creds); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestListenForwards: `paygate listen --data DIR` follows merchant A's
// events from its start and POSTs each one's webhook body, byte for byte,
// to a local receiver, signed as a delivery: the receiver verifies it with
// the client package through either header set alone. Older events, and
// merchant B's, are not forwarded; the real delivery goes on, untouched
// (one attempt, delivered). A second listen with --since and --types
// replays only the types asked for. Ctrl-C stops cleanly; no secret is
// ever printed. The orders' activities (channel calls, notifications) are
// on their timelines.
func TestListenForwards(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind, func(cfg *config, _ *alipaysim.Config) {
			cfg.Webhooks.AllowPrivateNetworks, cfg.Webhooks.AllowHTTP = true, true // the real receiver is on loopback
		})
		ctx := context.Background()
		real := newHookReceiver(t, e.credsA.WebhookSecret)
		local := newHookReceiver(t, e.credsA.WebhookSecret)
		// Before listen starts: not forwarded (it follows new events).
		old := e2eQR("LS_old", "1.00")
		old.NotifyURL = real.srv.URL + "/hooks"
		o := e2eCreate(t, e.a, old, http.StatusCreated)
		e.pay(t, o.QRCode)
		e2eWaitStatus(t, e.a, "LS_old", "paid")
		time.Sleep(50 * time.Millisecond) // listen's "now" is after the old event's time

		dir := demoCredsDir(t, e.credsA, e.base)
		l := startListen(t, "--data", dir, "--forward-to", local.srv.URL+"/hooks", "--interval", "100ms")

		paid := e2eQR("LS_1", "9.90")
		paid.NotifyURL = real.srv.URL + "/hooks"
		o = e2eCreate(t, e.a, paid, http.StatusCreated)
		e.pay(t, o.QRCode)
		e2eWaitStatus(t, e.a, "LS_1", "paid")
		e.payQRFor(t, e.b, "LS_B", "2.00") // merchant B's: never A's listen's
		if _, err := e.a.Refund(ctx, "LS_1", refundReq("LS_R1", "1.00")); err != nil {
			t.Fatal(err)
		}

		events, err := e.app.store.EventsByOrder(ctx, e.stored(t, e.idA, "LS_1").ID)
		if err != nil || len(events) != 2 {
			t.Fatalf("events of LS_1: %v, %v; want order.paid and refund.succeeded", events, err)
		}
		for _, ev := range events {
			e2eEventually(t, "listen to forward "+ev.Type, func() bool { return len(local.byEvent(ev.ID)) > 0 })
			got := local.byEvent(ev.ID)[0]
			if string(got.body) != string(ev.Payload) {
				t.Errorf("%s forwarded as\n%s\nwant the delivery's body\n%s", ev.Type, got.body, ev.Payload)
			}
			if got.both != nil || got.paygate != nil || got.standard != nil {
				t.Errorf("%s: verification: both %v; Paygate-Signature alone %v; Standard Webhooks alone %v", ev.Type, got.both, got.paygate, got.standard)
			}
			if got.header.Get(client.StandardIDHeader) != ev.ID || got.header.Get("Content-Type") != "application/json" {
				t.Errorf("%s: headers %v", ev.Type, got.header)
			}
			if !strings.Contains(l.stdout.String(), ev.ID+"  "+ev.Type) || !strings.Contains(l.stdout.String(), "-> 204 No Content") {
				t.Errorf("listen's output lacks a line for %s:\n%s", ev.ID, l.stdout)
			}
			// The real delivery went on, as without listen.
			e2eEventually(t, "the real delivery of "+ev.Type, func() bool { return len(real.byEvent(ev.ID)) > 0 })
		}
		time.Sleep(300 * time.Millisecond) // a few more polls: nothing else comes
		for _, h := range local.requests() {
			id := h.header.Get(client.EventIDHeader)
			if id != events[0].ID && id != events[1].ID {
				t.Errorf("listen forwarded %s, which is not one of LS_1's events", h.body)
			}
		}
		if n := len(local.requests()); n != 2 {
			t.Errorf("the local receiver got %d requests; want 2 (each event once)", n)
		}
		l.stop()
		if !strings.HasSuffix(l.stdout.String(), "Stopped.\n") {
			t.Errorf("listen's output does not end with Stopped.:\n%s", l.stdout)
		}
		for _, ev := range events {
			stored, err := e.app.store.EventByID(ctx, ev.ID)
			if err != nil || stored.Attempts != 1 || stored.DeliveredAt.IsZero() {
				t.Errorf("%s at paygate after listen: %+v, %v; want delivered by its one real attempt", ev.Type, stored, err)
			}
		}

		// Replay: since an hour ago, only refunds.
		replay := newHookReceiver(t, e.credsA.WebhookSecret)
		l2 := startListen(t, "--data", dir, "--forward-to", replay.srv.URL, "--since", "1h", "--types", "refund.succeeded", "--interval", "100ms")
		e2eEventually(t, "the refund replayed", func() bool { return len(replay.byEvent(events[1].ID)) == 1 })
		time.Sleep(300 * time.Millisecond)
		if n := len(replay.requests()); n != 1 {
			t.Errorf("replaying refunds forwarded %d events; want the one refund", n)
		}
		l2.stop()

		for _, out := range []string{l.stdout.String(), l.stderr.String(), l2.stdout.String(), l2.stderr.String()} {
			for _, secret := range []string{e.credsA.SecretKey, e.credsA.WebhookSecret, e.credsA.StandardWebhookSecret} {
				if strings.Contains(out, secret) {
					t.Fatalf("listen printed a secret:\n%s", out)
				}
			}
		}

		// The order's timeline: its precreate, and the payment's notification.
		id := e.stored(t, e.idA, "LS_1").ID
		e2eEventually(t, "LS_1's activities", func() bool {
			as, err := e.app.store.ActivitiesByOrder(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, a := range as {
				names = append(names, a.Name+" "+a.Outcome)
			}
			joined := strings.Join(names, ", ")
			return strings.Contains(joined, "alipay.trade.precreate success") && strings.Contains(joined, "TRADE_SUCCESS applied") &&
				strings.Contains(joined, "alipay.trade.refund success")
		})
		if v := e.scrape(t).value("paygate_order_activities_written_total", nil); v < 3 {
			t.Errorf("paygate_order_activities_written_total = %v; want at least LS_1's three", v)
		}
	})
}

// payQRFor creates a QR order for c's merchant and has the buyer pay it.
func (e *e2eEnv) payQRFor(t *testing.T, c *client.Client, no, amount string) {
	t.Helper()
	o := e2eCreate(t, c, e2eQR(no, amount), http.StatusCreated)
	e.pay(t, o.QRCode)
	e2eWaitStatus(t, c, no, "paid")
}

// TestListenURLAndSecretsFromEnvironment: with --url and --access-key the
// secrets come from PAYGATE_SECRET_KEY and PAYGATE_WEBHOOK_SECRET; without
// them listen refuses to start, saying which to set; those variables do
// not trouble the commands that read the configuration. (Not parallel: it
// sets the process's environment.)
func TestListenURLAndSecretsFromEnvironment(t *testing.T) {
	e := e2e(t, "sqlite")
	local := newHookReceiver(t, e.credsA.WebhookSecret)
	_, stderr, err := runCmd(t, "listen", "--url", e.base, "--access-key", e.credsA.AccessKey, "--forward-to", local.srv.URL)
	if err == nil || !strings.Contains(stderr+err.Error(), envSecretKey) {
		t.Fatalf("listen --url without the secrets: %v %s; want a message naming %s", err, stderr, envSecretKey)
	}
	t.Setenv(envSecretKey, e.credsA.SecretKey)
	t.Setenv(envWebhookSecret, e.credsA.WebhookSecret)
	if _, err := loadConfig("", os.Environ()); err != nil {
		t.Fatalf("the node's configuration refuses listen's variables: %v", err)
	}
	l := startListen(t, "--url", e.base, "--access-key", e.credsA.AccessKey, "--forward-to", local.srv.URL, "--interval", "100ms")
	e.payQR(t, "LU_1", "3.00")
	e2eEventually(t, "the forward", func() bool { return len(local.requests()) == 1 })
	if r := local.requests()[0]; r.both != nil {
		t.Fatalf("forward signed with the environment's webhook secret does not verify: %v", r.both)
	}
	l.stop()
	// A wrong secret key: paygate refuses it, and listen stops saying so.
	t.Setenv(envSecretKey, "sk_wrong")
	_, stderr, err = runCmd(t, "listen", "--url", e.base, "--access-key", e.credsA.AccessKey, "--forward-to", local.srv.URL)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("listen with a wrong secret key: %v %s; want it to stop on the 401", err, stderr)
	}
}

// TestListenFlags: bad flags are refused before anything is asked of
// paygate, with a message that says what to do.
func TestListenFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	creds := merchantCredentials{AccessKey: "ak_1", SecretKey: "sk_1", WebhookSecret: "whsec_1"}
	withCreds := demoCredsDir(t, creds, "http://127.0.0.1:1")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no target", []string{"--data", withCreds}, "--forward-to is required"},
		{"target not a URL", []string{"--data", withCreds, "--forward-to", "localhost:3000"}, "absolute http or https URL"},
		{"unknown type", []string{"--data", withCreds, "--forward-to", "http://127.0.0.1:1/", "--types", "order.paid,order.lost"}, `"order.lost" is not one of`},
		{"bad since", []string{"--data", withCreds, "--forward-to", "http://127.0.0.1:1/", "--since", "yesterday"}, "neither a duration"},
		{"fast interval", []string{"--data", withCreds, "--forward-to", "http://127.0.0.1:1/", "--interval", "1ms"}, "at least 100ms"},
		{"no credentials", []string{"--data", dir, "--forward-to", "http://127.0.0.1:1/"}, "run paygate demo first"},
		{"data and url", []string{"--data", withCreds, "--url", "http://127.0.0.1:1", "--access-key", "ak_1", "--forward-to", "http://127.0.0.1:1/"}, "not both"},
		{"url without key", []string{"--url", "http://127.0.0.1:1", "--forward-to", "http://127.0.0.1:1/"}, "go together"},
	} {
		_, stderr, err := runCmd(t, append([]string{"listen"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v (stderr %s); want an error containing %q", c.name, err, stderr, c.want)
		}
	}
	o := listenOptions{forwardTo: "http://127.0.0.1:1/", dataDir: withCreds, interval: time.Second, since: "2h"}
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	l, err := o.listener(false, func(string) string { return "" }, now)
	if err != nil || !l.since.Equal(now.Add(-2*time.Hour)) || l.key != "ak_1" || l.secret != "whsec_1" || l.base != "http://127.0.0.1:1" {
		t.Fatalf("listener from the demo's file, since 2h: %+v, %v", l, err)
	}
	o.since = "2026-01-01T00:00:00Z"
	if l, err = o.listener(false, nil, now); err != nil || !l.since.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("since a time: %v, %v", l.since, err)
	}
}

// TestListenDoesNotFollowRedirects: a forward answered with a redirect is
// reported as that answer and goes no further, as a real delivery does
// (jobs' egress client): a signed webhook is never re-sent to a host the
// developer did not name with --forward-to.
func TestListenDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	elsewhere := newHookReceiver(t, "whsec_1")
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.srv.URL+"/stolen", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirecting.Close)
	creds := merchantCredentials{AccessKey: "ak_1", SecretKey: "sk_1", WebhookSecret: "whsec_1"}
	o := listenOptions{forwardTo: redirecting.URL + "/hooks", dataDir: demoCredsDir(t, creds, "http://127.0.0.1:1"), interval: time.Second}
	l, err := o.listener(false, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out := &e2eLog{}
	l.out, l.errOut = out, out
	at := time.Now()
	l.forward(context.Background(), client.EventInfo{ID: "evt_1", Type: "order.paid", CreatedAt: &at,
		Payload: []byte(`{"id":"evt_1"}`)}, at)
	if n := len(elsewhere.requests()); n != 0 {
		t.Errorf("the redirect's target got %d signed forwards; want none", n)
	}
	if !strings.Contains(out.String(), "-> 307 Temporary Redirect") {
		t.Errorf("listen's line for a redirect: %q; want it to show the 307", out.String())
	}
}
