package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

func mustMerchant(t *testing.T, s paygate.Store, accessKey string) *paygate.Merchant {
	t.Helper()
	m, err := s.MerchantByAccessKey(context.Background(), accessKey)
	if err != nil {
		t.Fatalf("MerchantByAccessKey: %v", err)
	}
	return m
}

// testMerchantRotate: a rotation keeps the replaced secret as the previous
// one until its grace ends, leaves the other secret alone, drops a previous
// secret it replaces, and keeps none without a grace.
func testMerchantRotate(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	first, webhook := m.SecretKey, m.WebhookSecret
	at, until := t0.Add(time.Hour), t0.Add(25*time.Hour)

	got, err := s.RotateMerchantSecrets(ctx, m.ID, paygate.SecretRotation{SecretKey: "sk_second", SecretKeyGraceUntil: until, At: at})
	if err != nil {
		t.Fatalf("RotateMerchantSecrets: %v", err)
	}
	want := *m
	want.CreatedAt, want.UpdatedAt = us(t0), us(at)
	want.SecretKey, want.PreviousSecretKey, want.PreviousSecretUntil = "sk_second", first, us(until)
	mustEqual(t, "after rotating the secret key", *got, want)
	mustEqual(t, "read back", *mustMerchant(t, s, m.AccessKey), want)
	mustEqual(t, "keys during the grace", got.SecretKeys(until.Add(-time.Microsecond)), []string{"sk_second", first})
	mustEqual(t, "keys after the grace", got.SecretKeys(until), []string{"sk_second"})

	// The webhook secret alone, without a grace: the secret key's previous
	// one stays; no previous webhook secret is kept.
	at2 := at.Add(time.Minute)
	got, err = s.RotateMerchantSecrets(ctx, m.ID, paygate.SecretRotation{WebhookSecret: "whsec_second", WebhookSecretGraceUntil: at2, At: at2})
	if err != nil {
		t.Fatalf("RotateMerchantSecrets: %v", err)
	}
	want.WebhookSecret, want.UpdatedAt = "whsec_second", us(at2)
	mustEqual(t, "after rotating the webhook secret without grace", *got, want)
	if got.PreviousWebhookSecret != "" || webhook == got.WebhookSecret {
		t.Fatal("a rotation without grace kept the old webhook secret")
	}

	// Both at once, with graces: the secret key's earlier previous one
	// (first) is gone.
	at3 := at2.Add(time.Minute)
	got, err = s.RotateMerchantSecrets(ctx, m.ID, paygate.SecretRotation{
		SecretKey: "sk_third", SecretKeyGraceUntil: at3.Add(time.Hour),
		WebhookSecret: "whsec_third", WebhookSecretGraceUntil: at3.Add(2 * time.Hour), At: at3})
	if err != nil {
		t.Fatalf("RotateMerchantSecrets: %v", err)
	}
	want.SecretKey, want.PreviousSecretKey, want.PreviousSecretUntil = "sk_third", "sk_second", us(at3.Add(time.Hour))
	want.WebhookSecret, want.PreviousWebhookSecret, want.PreviousWebhookSecretUntil = "whsec_third", "whsec_second", us(at3.Add(2*time.Hour))
	want.UpdatedAt = us(at3)
	mustEqual(t, "after rotating both", *mustMerchant(t, s, m.AccessKey), want)
	mustEqual(t, "webhook secrets during the grace", got.WebhookSecrets(at3), []string{"whsec_third", "whsec_second"})

	// The secret key again, no grace: no previous secret key at all.
	got, err = s.RotateMerchantSecrets(ctx, m.ID, paygate.SecretRotation{SecretKey: "sk_fourth", At: at3})
	if err != nil {
		t.Fatalf("RotateMerchantSecrets: %v", err)
	}
	if got.SecretKey != "sk_fourth" || got.PreviousSecretKey != "" || !got.PreviousSecretUntil.IsZero() || got.PreviousWebhookSecret != "whsec_second" {
		t.Fatalf("after a rotation without grace: %+v", got)
	}

	_, err = s.RotateMerchantSecrets(ctx, 424242, paygate.SecretRotation{SecretKey: "sk_x", At: at})
	wantCode(t, err, paygate.ENotFound)

	// Conditional: only on the merchant as it was seen (IfUpdatedAt), else
	// a conflict that changes nothing.
	before := *mustMerchant(t, s, m.AccessKey)
	_, err = s.RotateMerchantSecrets(ctx, m.ID, paygate.SecretRotation{SecretKey: "sk_stale", SecretKeyGraceUntil: at3.Add(time.Hour),
		At: at3.Add(time.Minute), IfUpdatedAt: before.UpdatedAt.Add(-time.Microsecond)})
	wantCode(t, err, paygate.EConflict)
	mustEqual(t, "after a stale conditional rotation", *mustMerchant(t, s, m.AccessKey), before)
	got, err = s.RotateMerchantSecrets(ctx, m.ID, paygate.SecretRotation{SecretKey: "sk_fifth", SecretKeyGraceUntil: at3.Add(time.Hour),
		At: at3.Add(time.Minute), IfUpdatedAt: before.UpdatedAt})
	if err != nil || got.SecretKey != "sk_fifth" || got.PreviousSecretKey != "sk_fourth" {
		t.Fatalf("a conditional rotation on the merchant as it is: %+v, %v", got, err)
	}
}

// testMerchantDisable: disabling keeps the first time, enabling clears it;
// nothing else changes.
func testMerchantDisable(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	t1, t2, t3 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(3*time.Minute)
	got, err := s.SetMerchantDisabled(ctx, m.ID, true, t1)
	if err != nil {
		t.Fatalf("SetMerchantDisabled: %v", err)
	}
	want := *m
	want.CreatedAt, want.UpdatedAt, want.DisabledAt = us(t0), us(t1), us(t1)
	mustEqual(t, "disabled", *got, want)
	if !got.Disabled() {
		t.Fatal("Disabled() is false")
	}
	got, err = s.SetMerchantDisabled(ctx, m.ID, true, t2)
	if err != nil {
		t.Fatalf("SetMerchantDisabled again: %v", err)
	}
	want.UpdatedAt = us(t2)
	mustEqual(t, "disabled twice keeps the first time", *got, want)
	got, err = s.SetMerchantDisabled(ctx, m.ID, false, t3)
	if err != nil {
		t.Fatalf("enable: %v", err)
	}
	want.UpdatedAt, want.DisabledAt = us(t3), time.Time{}
	mustEqual(t, "enabled", *got, want)
	mustEqual(t, "read back", *mustMerchant(t, s, m.AccessKey), want)
	_, err = s.SetMerchantDisabled(ctx, 424242, true, t1)
	wantCode(t, err, paygate.ENotFound)
}

func testMerchantNotifyURL(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	t1 := t0.Add(time.Minute)
	got, err := s.SetMerchantNotifyURL(ctx, m.ID, "https://shop.example/new?token=1", t1)
	if err != nil {
		t.Fatalf("SetMerchantNotifyURL: %v", err)
	}
	want := *m
	want.CreatedAt, want.UpdatedAt, want.NotifyURL = us(t0), us(t1), "https://shop.example/new?token=1"
	mustEqual(t, "URL set", *got, want)
	if got, err = s.SetMerchantNotifyURL(ctx, m.ID, "", t1); err != nil {
		t.Fatalf("clear: %v", err)
	}
	want.NotifyURL = ""
	mustEqual(t, "URL cleared", *mustMerchant(t, s, m.AccessKey), want)
	_, err = s.SetMerchantNotifyURL(ctx, 424242, "https://x.example/", t1)
	wantCode(t, err, paygate.ENotFound)
}

// attempt records a webhook attempt for e at at.
func attempt(t *testing.T, s paygate.Store, e *paygate.Event, at time.Time, url string, status int, excerpt string, success bool) {
	t.Helper()
	a := &paygate.WebhookAttempt{EventID: e.ID, At: at, URL: url, StatusCode: status, Excerpt: excerpt, Success: success}
	if err := s.RecordWebhookAttempt(context.Background(), a); err != nil {
		t.Fatalf("RecordWebhookAttempt: %v", err)
	}
}

func markDead(t *testing.T, s paygate.Store, e *paygate.Event, at time.Time) {
	t.Helper()
	if err := s.MarkEventDead(context.Background(), e.ID, at); err != nil {
		t.Fatalf("MarkEventDead: %v", err)
	}
}

// testListMerchants: newest first, paged, without secrets, with each
// merchant's own backlog.
func testListMerchants(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	var ms []*paygate.Merchant
	for range 3 {
		ms = append(ms, newMerchant(t, s))
	}
	// ms[1]: one pending event, two dead ones, one delivered.
	o := newOrder(t, s, ms[1], nil)
	newEvent(t, s, o, paygate.EventOrderPaid, t0)
	for range 2 {
		e := newEvent(t, s, o, paygate.EventOrderPaid, t0)
		attempt(t, s, e, t0, "", 0, "no webhook URL configured", false)
		markDead(t, s, e, t0)
	}
	e := newEvent(t, s, o, paygate.EventOrderClosed, t0)
	attempt(t, s, e, t0, "https://shop.example/hook", 200, "ok", true)

	list, err := s.ListMerchants(ctx, paygate.MerchantFilter{})
	if err != nil {
		t.Fatalf("ListMerchants: %v", err)
	}
	if len(list) < 3 {
		t.Fatalf("listed %d merchants, want at least 3", len(list))
	}
	for i := 1; i < len(list); i++ {
		if list[i].Merchant.ID >= list[i-1].Merchant.ID {
			t.Fatalf("not newest first: %d after %d", list[i].Merchant.ID, list[i-1].Merchant.ID)
		}
	}
	for _, sum := range list {
		m := sum.Merchant
		if m.SecretKey != "" || m.WebhookSecret != "" || m.PreviousSecretKey != "" || m.PreviousWebhookSecret != "" {
			t.Fatalf("ListMerchants returned secrets for %s", m)
		}
	}
	sum, err := s.MerchantSummary(ctx, ms[1].ID)
	if err != nil {
		t.Fatalf("MerchantSummary: %v", err)
	}
	want := paygate.Merchant{ID: ms[1].ID, Name: ms[1].Name, AccessKey: ms[1].AccessKey, NotifyURL: ms[1].NotifyURL,
		CreatedAt: us(t0), UpdatedAt: us(t0)}
	mustEqual(t, "summary's merchant", *sum.Merchant, want)
	if sum.PendingEvents != 1 || sum.DeadEvents != 2 {
		t.Fatalf("summary counts pending %d, dead %d; want 1 and 2", sum.PendingEvents, sum.DeadEvents)
	}
	if other, err := s.MerchantSummary(ctx, ms[2].ID); err != nil || other.PendingEvents != 0 || other.DeadEvents != 0 {
		t.Fatalf("another merchant's summary = %+v, %v; want no events", other, err)
	}

	page, err := s.ListMerchants(ctx, paygate.MerchantFilter{Limit: 2, BeforeID: ms[2].ID})
	if err != nil {
		t.Fatalf("ListMerchants page: %v", err)
	}
	if len(page) != 2 || page[0].Merchant.ID != ms[1].ID || page[1].Merchant.ID != ms[0].ID {
		t.Fatalf("page before %d = %v, want merchants %d and %d", ms[2].ID, page, ms[1].ID, ms[0].ID)
	}
	if page[0].PendingEvents != 1 || page[0].DeadEvents != 2 {
		t.Fatalf("listed counts pending %d, dead %d; want 1 and 2", page[0].PendingEvents, page[0].DeadEvents)
	}
	_, err = s.MerchantSummary(ctx, 424242)
	wantCode(t, err, paygate.ENotFound)
}

// testDeadLetters: dead-lettered events grouped by their last attempt, and
// those whose last attempt had no URL since a time.
func testDeadLetters(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	other := newMerchant(t, s)
	o := newOrder(t, s, m, nil)
	since := t0.Add(time.Hour)
	noURL := func(at time.Time) *paygate.Event {
		e := newEvent(t, s, o, paygate.EventOrderPaid, at)
		attempt(t, s, e, at, "", 0, "no webhook URL configured", false)
		markDead(t, s, e, at)
		return e
	}
	old := noURL(t0)                       // before since
	a := noURL(since.Add(2 * time.Minute)) // the newest
	b := noURL(since)                      // at since
	failing := newEvent(t, s, o, paygate.EventOrderPaid, since)
	attempt(t, s, failing, since, "https://shop.example/hook", 500, "oops", false)
	markDead(t, s, failing, since)
	// Once without a URL, then with one: its last attempt had a URL.
	routed := newEvent(t, s, o, paygate.EventOrderPaid, since)
	attempt(t, s, routed, since, "", 0, "no webhook URL configured", false)
	attempt(t, s, routed, since.Add(time.Minute), "https://shop.example/hook", 500, "oops", false)
	markDead(t, s, routed, since.Add(time.Minute))
	// Pending after a no-URL attempt (revived), and another merchant's.
	revived := noURL(since)
	if err := s.ReviveEvent(ctx, revived.ID); err != nil {
		t.Fatal(err)
	}
	otherEvent := newEvent(t, s, newOrder(t, s, other, nil), paygate.EventOrderPaid, since)
	attempt(t, s, otherEvent, since, "", 0, "no webhook URL configured", false)
	markDead(t, s, otherEvent, since)

	reasons, err := s.DeadLetterReasons(ctx, m.ID, 0)
	if err != nil {
		t.Fatalf("DeadLetterReasons: %v", err)
	}
	mustEqual(t, "reasons", derefReasons(reasons), []paygate.DeadLetterReason{
		{Excerpt: "no webhook URL configured", NoURL: true, Count: 3, Latest: us(a.CreatedAt)},
		{Excerpt: "oops", StatusCode: 500, Count: 2, Latest: us(since)},
	})
	if one, err := s.DeadLetterReasons(ctx, m.ID, 1); err != nil || len(one) != 1 {
		t.Fatalf("DeadLetterReasons limit 1 = %v, %v", one, err)
	}

	ids, err := s.UnroutedDeadEvents(ctx, m.ID, since, 0)
	if err != nil {
		t.Fatalf("UnroutedDeadEvents: %v", err)
	}
	mustEqual(t, "unrouted since", ids, []string{b.ID, a.ID})
	if ids, err = s.UnroutedDeadEvents(ctx, m.ID, t0, 2); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "unrouted since t0, limit 2", ids, []string{old.ID, b.ID})
	if ids, err = s.UnroutedDeadEvents(ctx, 424242, t0, 0); err != nil || len(ids) != 0 {
		t.Fatalf("an unknown merchant's = %v, %v; want none", ids, err)
	}
}

func derefReasons(rs []*paygate.DeadLetterReason) []paygate.DeadLetterReason {
	out := make([]paygate.DeadLetterReason, len(rs))
	for i, r := range rs {
		out[i] = *r
	}
	return out
}
