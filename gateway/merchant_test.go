package gateway_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/jobs"
)

// merchants is the service on a fresh store with a real (unstarted) River
// queue on the same database; changed records what it was told.
func merchants(t *testing.T, open func(t *testing.T) paygate.Store) (*gateway.Merchants, *jobProbe, *[]string) {
	t.Helper()
	probe := &jobProbe{}
	withJobs(t, probe)(&gateway.Config{Store: open(t)}, nil)
	jobs.RegisterWebhooks(probe.queue, jobs.WebhookConfig{Store: probe.Store}) // River checks kinds on insert
	changed := &[]string{}
	return &gateway.Merchants{Store: probe, Jobs: probe, Changed: func(k string) { *changed = append(*changed, k) }}, probe, changed
}

func noSecrets(t *testing.T, m *paygate.Merchant) {
	t.Helper()
	if m.SecretKey != "" || m.WebhookSecret != "" || m.PreviousSecretKey != "" || m.PreviousWebhookSecret != "" {
		t.Fatalf("the service returned a merchant with secrets: %s", m)
	}
}

func TestMerchantsCreate(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(t *testing.T) paygate.Store) {
		svc, _, _ := merchants(t, open)
		ctx := context.Background()
		c, err := svc.Create(ctx, "  corner shop ", "https://shop.example/hooks?token=abc")
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		noSecrets(t, c.Merchant)
		for _, f := range []struct{ v, re string }{
			{c.Merchant.AccessKey, `^ak_[0-9a-f]{24}$`}, {c.SecretKey, `^sk_[0-9a-f]{64}$`}, {c.WebhookSecret, `^whsec_[0-9a-f]{64}$`},
		} {
			if !regexp.MustCompile(f.re).MatchString(f.v) {
				t.Errorf("credential %q does not match %s", f.v, f.re)
			}
		}
		stored, err := svc.Store.MerchantByAccessKey(ctx, c.Merchant.AccessKey)
		if err != nil || stored.Name != "corner shop" || stored.SecretKey != c.SecretKey || stored.NotifyURL != "https://shop.example/hooks?token=abc" {
			t.Fatalf("stored = %+v, %v", stored, err)
		}
		for _, bad := range []struct{ name, url, want string }{
			{"", "", "name is required"},
			{"x\x00y", "", "control characters"},
			{strings.Repeat("n", 201), "", "at most 200 bytes"},
			{"x", "ftp://shop.example/h", "absolute http or https"},
			{"x", "https://user:hunter2@shop.example/h", "user information"},
			{"x", "https://shop.example/" + strings.Repeat("a", 256), "at most 256 bytes"},
		} {
			_, err := svc.Create(ctx, bad.name, bad.url)
			if paygate.ErrorCode(err) != paygate.EInvalid || !strings.Contains(err.Error(), bad.want) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Create(%q, %q) = %v, want EInvalid saying %q", bad.name, bad.url, err, bad.want)
			}
		}
		if list, err := svc.List(ctx, paygate.MerchantFilter{}); err != nil || len(list) != 1 {
			t.Fatalf("after refused creates: %d merchants, %v; want 1", len(list), err)
		}
	})
}

func TestMerchantsRotate(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(t *testing.T) paygate.Store) {
		svc, _, changed := merchants(t, open)
		ctx := context.Background()
		c, err := svc.Create(ctx, "shop", "")
		if err != nil {
			t.Fatal(err)
		}
		key := c.Merchant.AccessKey
		now := time.Now()
		svc.Now = func() time.Time { return now }

		for _, bad := range []struct {
			r    gateway.Rotate
			code string
		}{
			{gateway.Rotate{Grace: time.Hour}, paygate.EInvalid},
			{gateway.Rotate{SecretKey: true, Grace: -time.Second}, paygate.EInvalid},
			{gateway.Rotate{SecretKey: true, Grace: gateway.MaxGrace + time.Second}, paygate.EInvalid},
		} {
			if _, err := svc.Rotate(ctx, key, bad.r); paygate.ErrorCode(err) != bad.code {
				t.Errorf("Rotate(%+v) = %v, want %s", bad.r, err, bad.code)
			}
		}
		if _, err := svc.Rotate(ctx, "ak_nobody", gateway.Rotate{SecretKey: true}); paygate.ErrorCode(err) != paygate.ENotFound ||
			!strings.Contains(err.Error(), "ak_nobody") {
			t.Errorf("Rotate of an unknown key = %v, want ENotFound naming it", err)
		}
		if len(*changed) != 0 {
			t.Fatalf("refused rotations told the cache %v", *changed)
		}

		r, err := svc.Rotate(ctx, key, gateway.Rotate{SecretKey: true, Grace: gateway.DefaultGrace})
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		noSecrets(t, r.Merchant)
		if r.SecretKey == c.SecretKey || !strings.HasPrefix(r.SecretKey, "sk_") || r.WebhookSecret != "" || len(r.Dropped) != 0 ||
			!r.GraceUntil.Equal(now.Add(24*time.Hour)) {
			t.Fatalf("rotation = %+v", r)
		}
		m, _ := svc.Store.MerchantByAccessKey(ctx, key)
		if got := m.SecretKeys(now.Add(23 * time.Hour)); !slices.Equal(got, []string{r.SecretKey, c.SecretKey}) {
			t.Fatalf("keys during the grace = %v", got)
		}
		if got := m.SecretKeys(now.Add(24 * time.Hour)); !slices.Equal(got, []string{r.SecretKey}) {
			t.Fatalf("keys after the grace = %v", got)
		}
		if m.WebhookSecret != c.WebhookSecret {
			t.Fatal("rotating the secret key changed the webhook secret")
		}

		// Both, during the first grace: the first secret key is dropped.
		r2, err := svc.Rotate(ctx, key, gateway.Rotate{SecretKey: true, WebhookSecret: true, Grace: 0})
		if err != nil {
			t.Fatalf("Rotate both: %v", err)
		}
		if !slices.Equal(r2.Dropped, []string{"secret key"}) || !r2.GraceUntil.IsZero() || !strings.HasPrefix(r2.WebhookSecret, "whsec_") {
			t.Fatalf("second rotation = %+v", r2)
		}
		m, _ = svc.Store.MerchantByAccessKey(ctx, key)
		if !slices.Equal(m.SecretKeys(now), []string{r2.SecretKey}) || !slices.Equal(m.WebhookSecrets(now), []string{r2.WebhookSecret}) {
			t.Fatalf("after a rotation without grace: keys %v, webhook secrets %v", m.SecretKeys(now), m.WebhookSecrets(now))
		}
		if !slices.Equal(*changed, []string{key, key}) {
			t.Fatalf("Changed was told %v, want the key twice", *changed)
		}
	})
}

func TestMerchantsDisable(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(t *testing.T) paygate.Store) {
		svc, _, changed := merchants(t, open)
		ctx := context.Background()
		c, err := svc.Create(ctx, "shop", "")
		if err != nil {
			t.Fatal(err)
		}
		key := c.Merchant.AccessKey
		m, err := svc.Disable(ctx, key)
		if err != nil || !m.Disabled() {
			t.Fatalf("Disable = %+v, %v", m, err)
		}
		noSecrets(t, m)
		if m, err = svc.Enable(ctx, key); err != nil || m.Disabled() {
			t.Fatalf("Enable = %+v, %v", m, err)
		}
		if _, err := svc.Disable(ctx, "ak_nobody"); paygate.ErrorCode(err) != paygate.ENotFound {
			t.Fatalf("Disable of an unknown key = %v", err)
		}
		if !slices.Equal(*changed, []string{key, key}) {
			t.Fatalf("Changed was told %v", *changed)
		}
	})
}

// TestMerchantsSetNotifyURL: a bad URL changes nothing; a URL set re-sends
// (revived, one delivery job each) the events of the last 24 h that were
// dead-lettered for want of a URL, and no other.
func TestMerchantsSetNotifyURL(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(t *testing.T) paygate.Store) {
		svc, probe, _ := merchants(t, open)
		ctx := context.Background()
		c, err := svc.Create(ctx, "shop", "")
		if err != nil {
			t.Fatal(err)
		}
		key := c.Merchant.AccessKey
		m, _ := svc.Store.MerchantByAccessKey(ctx, key)
		now := time.Now()
		o := &paygate.Order{MerchantID: m.ID, OutTradeNo: "o1", ChannelNo: "ch_" + key, Mode: paygate.ModeQR, Subject: "tea",
			TotalAmount: 100, Status: paygate.StatusPaid, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := svc.Store.CreateOrder(ctx, o); err != nil {
			t.Fatal(err)
		}
		event := func(id string, at time.Time, url, excerpt string) {
			e := &paygate.Event{ID: id, MerchantID: m.ID, OrderID: o.ID, Type: paygate.EventOrderPaid, Payload: []byte(`{}`), CreatedAt: at}
			if err := svc.Store.Tx(ctx, func(tx paygate.StoreTx) error { return tx.CreateEvent(ctx, e) }); err != nil {
				t.Fatal(err)
			}
			if err := svc.Store.RecordWebhookAttempt(ctx, &paygate.WebhookAttempt{EventID: id, At: at, URL: url, Excerpt: excerpt}); err != nil {
				t.Fatal(err)
			}
			if err := svc.Store.MarkEventDead(ctx, id, at); err != nil {
				t.Fatal(err)
			}
		}
		recent, old, failed := "evt_recent_"+key, "evt_old_"+key, "evt_failed_"+key
		event(recent, now.Add(-time.Hour), "", "no webhook URL configured")
		event(old, now.Add(-25*time.Hour), "", "no webhook URL configured")
		event(failed, now.Add(-time.Hour), "https://elsewhere.example/h", "HTTP 500")

		if _, err := svc.SetNotifyURL(ctx, key, "https://a:b@shop.example/h", true); paygate.ErrorCode(err) != paygate.EInvalid {
			t.Fatalf("a URL with a password = %v, want EInvalid", err)
		}
		if n := probe.allDeliveries(t); n != 0 {
			t.Fatalf("a refused URL queued %d deliveries", n)
		}
		if m, _ := svc.Store.MerchantByAccessKey(ctx, key); m.NotifyURL != "" {
			t.Fatalf("a refused URL was stored: %q", m.NotifyURL)
		}

		ch, err := svc.SetNotifyURL(ctx, key, "https://shop.example/hooks", true)
		if err != nil {
			t.Fatalf("SetNotifyURL: %v", err)
		}
		noSecrets(t, ch.Merchant)
		if ch.Merchant.NotifyURL != "https://shop.example/hooks" || ch.Previous != "" || !slices.Equal(ch.Resent, []string{recent}) {
			t.Fatalf("change = %+v, want the recent event re-sent", ch)
		}
		if probe.deliveries(t, recent) != 1 || probe.allDeliveries(t) != 1 {
			t.Fatalf("deliveries queued: %d for the recent event, %d in all; want 1 and 1", probe.deliveries(t, recent), probe.allDeliveries(t))
		}
		if e, _ := svc.Store.EventByID(ctx, recent); !e.DeadAt.IsZero() {
			t.Fatal("the re-sent event is still dead-lettered")
		}
		if e, _ := svc.Store.EventByID(ctx, old); e.DeadAt.IsZero() {
			t.Fatal("an event older than the window was revived")
		}

		// Clearing, and setting without resend, re-send nothing.
		if ch, err = svc.SetNotifyURL(ctx, key, "", true); err != nil || ch.Merchant.NotifyURL != "" || len(ch.Resent) != 0 ||
			ch.Previous != "https://shop.example/hooks" {
			t.Fatalf("clear = %+v, %v", ch, err)
		}
		if _, err := svc.SetNotifyURL(ctx, "ak_nobody", "https://shop.example/", true); paygate.ErrorCode(err) != paygate.ENotFound {
			t.Fatalf("an unknown key = %v", err)
		}
	})
}

func TestMerchantsShow(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(t *testing.T) paygate.Store) {
		svc, _, _ := merchants(t, open)
		ctx := context.Background()
		c, err := svc.Create(ctx, "shop", "")
		if err != nil {
			t.Fatal(err)
		}
		d, err := svc.Show(ctx, c.Merchant.AccessKey)
		if err != nil {
			t.Fatalf("Show: %v", err)
		}
		noSecrets(t, d.Merchant)
		if d.Merchant.Name != "shop" || d.DeadEvents != 0 || len(d.DeadLetters) != 0 {
			t.Fatalf("detail = %+v", d)
		}
		if _, err := svc.Show(ctx, "ak_nobody"); paygate.ErrorCode(err) != paygate.ENotFound {
			t.Fatalf("Show of an unknown key = %v", err)
		}
		if _, err := svc.List(ctx, paygate.MerchantFilter{Limit: 501}); paygate.ErrorCode(err) != paygate.EInvalid {
			t.Fatalf("List with limit 501 = %v", err)
		}
	})
}
