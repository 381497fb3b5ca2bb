package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/client"
)

// rotationReceiver is a merchant's webhook endpoint on loopback: it records
// every delivery as it came and acknowledges it.
type rotationReceiver struct {
	url string
	mu  sync.Mutex
	got []hookDelivery
}

type hookDelivery struct {
	signature, eventID string
	body               []byte
}

func newRotationReceiver(t *testing.T) *rotationReceiver {
	t.Helper()
	r := &rotationReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, hookDelivery{req.Header.Get(client.WebhookSignatureHeader), req.Header.Get("Paygate-Event-Id"), body})
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL + "/hooks"
	return r
}

// of waits for a delivery of the event whose order is outTradeNo.
func (r *rotationReceiver) of(t *testing.T, outTradeNo string) hookDelivery {
	t.Helper()
	var found hookDelivery
	e2eEventually(t, "a webhook for "+outTradeNo, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, d := range r.got {
			if strings.Contains(string(d.body), `"out_trade_no":"`+outTradeNo+`"`) {
				found = d
				return true
			}
		}
		return false
	})
	return found
}

// cliOn is a config file for CLI commands on e's database, with e's
// master key: the commands run beside the node as another process would.
func cliOn(t *testing.T, e *e2eEnv) func(args ...string) (string, error) {
	t.Helper()
	cfgFile := writeConfig(t, "database:\n  url: "+e.cfg.Database.URL+"\nsecrets:\n  master_key: "+e.cfg.Secrets.MasterKey+"\n")
	return func(args ...string) (string, error) {
		t.Helper()
		stdout, _, err := runCmd(t, append(args, "--config", cfgFile)...)
		return stdout, err
	}
}

func wantExit(t *testing.T, what string, err error, code int, msg string) {
	t.Helper()
	if err == nil || exitCode(err) != code || !strings.Contains(err.Error(), msg) {
		t.Fatalf("%s: err = %v (exit %d), want exit %d saying %q", what, err, exitCode(err), code, msg)
	}
}

// status is the HTTP status of listing c's orders.
func listStatus(t *testing.T, e *e2eEnv, c *client.Client) (int, []byte) {
	t.Helper()
	r := e2eCall(t, c, http.MethodGet, "/api/v1/orders", nil, nil)
	return r.status, r.body
}

// TestMerchantCLI drives `paygate merchant` beside a running node on both
// stores: list and show (no secrets, the dead letters and why), set-url
// re-sending what was dead-lettered for want of a URL, rotations with and
// without grace as the node's API and webhooks see them, disable (a 401
// like any other, while an accepted order still settles and is told) and
// enable, and the refusals of bad input that change nothing.
func TestMerchantCLI(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind, func(cfg *config, _ *alipaysim.Config) {
			cfg.Auth.MerchantCacheTTL = 300 * time.Millisecond
			cfg.Jobs.PollInterval = 100 * time.Millisecond
			cfg.Webhooks.AllowPrivateNetworks, cfg.Webhooks.AllowHTTP = true, true
		})
		cli := cliOn(t, e)
		ctx := context.Background()
		ak := e.credsA.AccessKey

		out, err := cli("merchant", "list", "--json")
		if err != nil {
			t.Fatalf("merchant list: %v", err)
		}
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(lines[0], e.credsB.AccessKey) ||
			!strings.Contains(lines[1], ak) {
			t.Fatalf("merchant list --json = %s, want shop B then shop A", out)
		}
		for _, secret := range []string{e.credsA.SecretKey, e.credsA.WebhookSecret, e.credsB.SecretKey} {
			if strings.Contains(out, secret) {
				t.Fatal("merchant list printed a secret")
			}
		}

		// A paid order without any URL: its event is dead-lettered at once.
		o := e2eCreate(t, e.a, e2eQR("M1", "1.00"), http.StatusCreated)
		e.pay(t, o.QRCode)
		e2eWaitStatus(t, e.a, "M1", "paid")
		e2eEventually(t, "the event dead-lettered", func() bool {
			out, err := cli("merchant", "show", ak, "--json")
			return err == nil && strings.Contains(out, `"dead_events":1`)
		})
		out, err = cli("merchant", "show", ak)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"notify URL:", "(none)", "1 event dead-lettered: no notify URL set", "merchant set-url --config", "0 pending delivery, 1 dead-lettered"} {
			if !strings.Contains(out, want) {
				t.Errorf("merchant show lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, e.credsA.SecretKey) || strings.Contains(out, e.credsA.WebhookSecret) {
			t.Fatal("merchant show printed a secret")
		}

		// The webhook secret rotated with a grace, then the URL set: the
		// dead-lettered event goes out signed with both secrets.
		out, err = cli("merchant", "rotate", ak, "--webhook-secret", "--grace", "1h", "--json")
		if err != nil {
			t.Fatalf("rotate --webhook-secret: %v", err)
		}
		var rot rotationLine
		if err := json.Unmarshal([]byte(out), &rot); err != nil || !strings.HasPrefix(rot.WebhookSecret, "whsec_") || rot.SecretKey != "" || rot.PreviousValidUntil == "" {
			t.Fatalf("rotate --webhook-secret --json = %s (%v)", out, err)
		}
		rcv := newRotationReceiver(t)
		out, err = cli("merchant", "set-url", ak, rcv.url)
		if err != nil || !strings.Contains(out, "Re-sent 1 event dead-lettered for want of a URL") {
			t.Fatalf("set-url = %q, %v", out, err)
		}
		d := rcv.of(t, "M1")
		if n := strings.Count(d.signature, "v1="); n != 2 {
			t.Fatalf("a delivery in the webhook grace carries %d signatures: %q", n, d.signature)
		}
		for _, secret := range []string{e.credsA.WebhookSecret, rot.WebhookSecret} {
			if _, _, err := client.ParseWebhook(secret, d.signature, d.body, 0, time.Now()); err != nil {
				t.Fatalf("the delivery does not verify with one of the two secrets: %v", err)
			}
		}

		// The secret key, with a grace: both keys work (the node re-reads
		// the merchant when the new key comes).
		out, err = cli("merchant", "rotate", ak, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var rot2 rotationLine
		if err := json.Unmarshal([]byte(out), &rot2); err != nil || !strings.HasPrefix(rot2.SecretKey, "sk_") || rot2.WebhookSecret != "" {
			t.Fatalf("rotate --json = %s", out)
		}
		second := e.client(ak, rot2.SecretKey)
		e2eEventually(t, "the new secret key accepted", func() bool { s, _ := listStatus(t, e, second); return s == http.StatusOK })
		if s, b := listStatus(t, e, e.a); s != http.StatusOK {
			t.Fatalf("the previous key in its grace: %d %s", s, b)
		}
		// Again without grace: the second key ends, the first (its
		// predecessor) with it; the node sees it within its cache's life.
		out, err = cli("merchant", "rotate", ak, "--grace", "0", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var third rotationLine
		if err := json.Unmarshal([]byte(out), &third); err != nil || third.PreviousValidUntil != "" || len(third.DroppedPrevious) != 1 {
			t.Fatalf("rotate --grace 0 --json = %s", out)
		}
		e.a = e.client(ak, third.SecretKey)
		e2eEventually(t, "the ended keys refused", func() bool {
			s1, _ := listStatus(t, e, second)
			s2, _ := listStatus(t, e, e.client(ak, e.credsA.SecretKey))
			return s1 == http.StatusUnauthorized && s2 == http.StatusUnauthorized
		})
		if s, b := listStatus(t, e, e.a); s != http.StatusOK {
			t.Fatalf("the third key: %d %s", s, b)
		}

		// Disabled: refused like a bad signature; an order it placed
		// before still settles and is told.
		pending := e2eCreate(t, e.a, e2eQR("M2", "2.00"), http.StatusCreated)
		if out, err = cli("merchant", "disable", ak); err != nil || !strings.Contains(out, "disabled since") {
			t.Fatalf("disable = %q, %v", out, err)
		}
		e2eEventually(t, "the disabled merchant refused", func() bool { s, _ := listStatus(t, e, e.a); return s == http.StatusUnauthorized })
		_, disabledBody := listStatus(t, e, e.a)
		_, forgedBody := listStatus(t, e, e.client(ak, "sk_forged"))
		if apiErrorOf(t, disabledBody) != apiErrorOf(t, forgedBody) {
			t.Fatalf("disabled: %s; bad signature: %s; want the same error", disabledBody, forgedBody)
		}
		e.pay(t, pending.QRCode)
		e2eEventually(t, "the disabled merchant's order paid", func() bool {
			return e.stored(t, e.idA, "M2").Status == paygate.StatusPaid
		})
		if d := rcv.of(t, "M2"); !strings.Contains(string(d.body), `"type":"order.paid"`) {
			t.Fatalf("the disabled merchant's webhook = %s", d.body)
		}
		if out, err = cli("merchant", "show", ak); err != nil || !strings.Contains(out, "disabled since") {
			t.Fatalf("show a disabled merchant = %q, %v", out, err)
		}
		if out, err = cli("merchant", "enable", ak); err != nil || !strings.Contains(out, "enabled") {
			t.Fatalf("enable = %q, %v", out, err)
		}
		e2eEventually(t, "the merchant enabled", func() bool { s, _ := listStatus(t, e, e.a); return s == http.StatusOK })

		// Bad input changes nothing and says why, with its exit status.
		before, _ := cli("merchant", "show", ak, "--json")
		_, err = cli("merchant", "show", "ak_nobody")
		wantExit(t, "show an unknown key", err, exitUnknownMerchant, "no merchant has the access key ak_nobody")
		_, err = cli("merchant", "rotate", "ak_nobody")
		wantExit(t, "rotate an unknown key", err, exitUnknownMerchant, "ak_nobody")
		_, err = cli("merchant", "disable", "ak_nobody")
		wantExit(t, "disable an unknown key", err, exitUnknownMerchant, "ak_nobody")
		_, err = cli("merchant", "set-url", ak, "ftp://shop.example/hooks")
		wantExit(t, "set-url ftp", err, exitBadInput, "absolute http or https URL")
		_, err = cli("merchant", "set-url", ak, "https://shop:hunter2@shop.example/hooks")
		wantExit(t, "set-url with a password", err, exitBadInput, "user information")
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatal("the error repeats the URL's password")
		}
		_, err = cli("merchant", "set-url", ak)
		wantExit(t, "set-url without a URL", err, exitBadInput, "--clear")
		_, err = cli("merchant", "rotate", ak, "--grace", "-1s")
		wantExit(t, "rotate with a negative grace", err, exitBadInput, "--grace")
		_, err = cli("merchant", "set-url", "ak_nobody", "https://shop.example/hooks")
		wantExit(t, "set-url of an unknown key", err, exitUnknownMerchant, "ak_nobody")
		if after, _ := cli("merchant", "show", ak, "--json"); after != before {
			t.Fatalf("refused commands changed the merchant:\n%s\n%s", before, after)
		}
		m, err := e.app.store.MerchantByAccessKey(ctx, ak)
		if err != nil || m.SecretKey != third.SecretKey || m.NotifyURL != rcv.url {
			t.Fatalf("the merchant after refused commands: %v, %v", m, err)
		}

		if out, err = cli("merchant", "set-url", ak, "--clear"); err != nil || !strings.Contains(out, "notify URL cleared") {
			t.Fatalf("set-url --clear = %q, %v", out, err)
		}
		if out, _ = cli("merchant", "list"); !strings.Contains(out, "(none)") || !strings.Contains(out, "ACCESS_KEY") {
			t.Fatalf("merchant list after --clear:\n%s", out)
		}
	})
}

// apiErrorOf is an error body's code and message, without its request id.
func apiErrorOf(t *testing.T, body []byte) string {
	t.Helper()
	var env struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Error.Code == "" {
		t.Fatalf("not an error body: %s", body)
	}
	return env.Error.Code + ": " + env.Error.Message
}

// TestDemoMerchant: the demo says its merchant has no webhook URL and how to
// set one; `merchant show` beside it tells what was dead-lettered and why;
// `merchant rotate` rewrites demo-merchant.json so that `paygate api`
// keeps working against the running demo.
func TestDemoMerchant(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := startDemo(t, dir)
	ak, sk, _ := readDemoCreds(t, dir)
	e2eEventually(t, "the demo's banner", func() bool { return strings.Contains(d.stdout.String(), "Ctrl-C") })
	banner := d.stdout.String()
	for _, want := range []string{"the demo merchant has no webhook URL", "merchant set-url --data " + dir + " " + ak, "listen --data " + dir + " --forward-to",
		"merchant show --data " + dir + " " + ak} {
		if !strings.Contains(banner, want) {
			t.Errorf("the demo's banner lacks %q:\n%s", want, banner)
		}
	}
	c := client.New(d.base, ak, sk, client.WithHTTPClient(d.http))
	o, err := c.CreateOrder(context.Background(), client.CreateOrderRequest{OutTradeNo: "DM1", Subject: "tea", TotalAmount: "1.00", Mode: "qr"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := d.http.Post(d.base+"/sim/pay", "application/json", strings.NewReader(`{"qr_code":"`+o.QRCode+`","buyer_id":"2088000000000042"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var out string
	e2eEventually(t, "the demo's event dead-lettered", func() bool {
		out, _, err = runCmd(t, "merchant", "show", "--data", dir, ak)
		return err == nil && strings.Contains(out, "1 event dead-lettered: no notify URL set")
	})

	out, _, err = runCmd(t, "merchant", "rotate", "--data", dir, ak)
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	_, sk2, _ := readDemoCreds(t, dir)
	if sk2 == sk || !strings.Contains(out, "secret_key:     "+sk2) || !strings.Contains(out, "Updated "+dir+"/"+demoMerchantFile) {
		t.Fatalf("rotate printed %q; the file holds another key or was not named", out)
	}
	credsFile := dir + "/" + demoMerchantFile
	e2eEventually(t, "paygate api with the rewritten credentials", func() bool {
		out, _, err = runCmd(t, "api", "--credentials", credsFile, "GET", "/api/v1/orders/DM1")
		return err == nil && strings.Contains(out, `"status": "paid"`)
	})
	if _, err := c.GetOrder(context.Background(), "DM1", false); err != nil {
		t.Fatalf("the previous key in its grace: %v", err)
	}

	// Another merchant's rotation leaves the demo's file alone.
	other, _, err := runCmd(t, "merchant", "create", "--data", dir, "--name", "other", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if out, _, err = runCmd(t, "merchant", "rotate", "--data", dir, decodeOneCreds(t, other).AccessKey); err != nil || strings.Contains(out, "Updated") {
		t.Fatalf("rotating another merchant = %q, %v", out, err)
	}
	if _, sk3, _ := readDemoCreds(t, dir); sk3 != sk2 {
		t.Fatal("rotating another merchant rewrote the demo's credentials")
	}
	var ee *exitError
	if _, _, err := runCmd(t, "merchant", "show", "--data", dir, "ak_nobody"); !errors.As(err, &ee) || ee.ExitCode() != exitUnknownMerchant {
		t.Fatalf("show an unknown key beside the demo = %v", err)
	}
}
