package console_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/sqlite"
	chromium "github.com/paygate/paygate/testenv/browser"
)

// TestPagesInBrowser drives the real Chromium through the merchants,
// webhooks, reconciliation and health pages as an admin would: log in,
// create a merchant and read its secrets, rotate the API secret key
// (confirmation, then the new secret once), re-send a webhook and watch it
// dead-lettered for want of a URL, then set the URL and see it delivered.
// Every page is screenshotted on a phone and on a desktop
// ($PAYGATE_SCREENSHOTS keeps them). One store: the browser sees only
// HTML; both stores' answers are checked by the handler tests.
func TestPagesInBrowser(t *testing.T) {
	t.Parallel()
	ctx0 := context.Background()
	sealer, err := paygate.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx0, filepath.Join(t.TempDir(), "paygate.db"), sealer, sqlite.WithMigrate())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := setupPages(t, st)
	p.operator(t, "alice", paygate.RoleAdmin, pw)
	o := p.paid(t, "T_BROWSER", 990)
	evs, err := st.EventsByOrder(ctx0, o.ID)
	if err != nil || len(evs) != 1 {
		t.Fatalf("events: %v %v", evs, err)
	}
	event := evs[0].ID
	day := p.reconcileToday(t)

	ctx := chromium.New(t, chromium.Options{})
	// Chromium keeps a window at least 500 pixels wide: emulate the
	// phone's viewport, so the pages are seen (and checked) at 390.
	if err := chromedp.Do(chromium.Timeout(t, ctx, 10*time.Second), chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(chromium.Timeout(t, ctx, 30*time.Second), actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(chromium.Timeout(t, ctx, 10*time.Second), chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	value := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(chromium.Timeout(t, ctx, 10*time.Second), chromedp.Value(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("value of %s: %v", sel, err)
		}
		return s
	}
	// shot screenshots the page, after checking that it is not wider
	// than the window: a wide table scrolls in its own box, the page does
	// not scroll sideways.
	shot := func(ctx context.Context, name string) {
		t.Helper()
		fits, err := chromedp.Run(chromium.Timeout(t, ctx, 10*time.Second),
			chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
		if err != nil || !fits {
			t.Errorf("%s: the page is wider than the window (%v)", name, err)
		}
		chromium.Screenshot(t, ctx, name)
	}
	base := p.srv.URL

	do("log in",
		chromedp.Navigate(base+"/dashboard/merchants"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), pw+"\n"),
		chromedp.WaitVisible(chromedp.CSS("#merchants")),
	)
	shot(ctx, "merchants")

	do("create a merchant",
		chromedp.SendKeys(chromedp.CSS("#create-name"), "Browser Shop"),
		chromedp.Click(chromedp.CSS("#create-button")),
		chromedp.WaitVisible(chromedp.CSS("#secret-key")),
	)
	shot(ctx, "merchant-created")
	createdKey, createdSecret := value("#secret-access-key"), value("#secret-key")
	if m, err := st.MerchantByAccessKey(ctx0, createdKey); err != nil || m.SecretKey != createdSecret {
		t.Fatalf("the created merchant's secret on the page is not the stored one (%v)", err)
	}

	path := fmt.Sprintf("/dashboard/merchants/%d", p.merchant.ID)
	do("open the merchant",
		chromedp.Navigate(base+"/dashboard/merchants"),
		chromedp.WaitVisible(chromedp.CSS("#merchants")),
		chromedp.Click(chromedp.CSS(`#merchants a[href="`+path+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#rotate-form")),
	)
	shot(ctx, "merchant")
	do("ask to rotate", chromedp.Click(chromedp.CSS("#rotate-button")), chromedp.WaitVisible(chromedp.CSS("#rotate-confirm")))
	if got := text("#rotate-confirm"); !strings.Contains(got, "keeps working until") {
		t.Fatalf("the confirmation says %q", got)
	}
	shot(ctx, "rotate-confirm")
	do("confirm the rotation", chromedp.Click(chromedp.CSS("#rotate-confirm-button")), chromedp.WaitVisible(chromedp.CSS("#secret-key")))
	shot(ctx, "rotated")
	newKey := value("#secret-key")
	m, err := st.MerchantByID(ctx0, p.merchant.ID)
	if err != nil || m.SecretKey != newKey || len(m.SecretKeys(time.Now())) != 2 {
		t.Fatalf("after the rotation: the page's key is the stored one: %v; keys valid: %d (%v)", m.SecretKey == newKey, len(m.SecretKeys(time.Now())), err)
	}
	do("back to the merchant", chromedp.Click(chromedp.CSS("#to-merchant")), chromedp.WaitVisible(chromedp.CSS("#actions-log")))
	if got := text("#actions-log"); !strings.Contains(got, "rotate secrets") || strings.Contains(got, newKey) {
		t.Fatalf("the merchant's actions: %q", got)
	}

	do("the webhook backlog",
		chromedp.Click(chromedp.CSS(`header nav a[href="/dashboard/webhooks"]`)),
		chromedp.WaitVisible(chromedp.CSS("#events")),
	)
	shot(ctx, "webhooks-backlog")
	do("open the event and re-send it",
		chromedp.Click(chromedp.CSS(`#events a[href="/dashboard/webhooks/`+event+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#resend-button")),
		chromedp.Click(chromedp.CSS("#resend-button")),
		chromedp.WaitVisible(chromedp.CSS(".flash-ok")),
	)
	if got := text(".flash-ok"); !strings.Contains(got, "queued for delivery again") {
		t.Fatalf("after the re-send: %q", got)
	}
	eventually(t, "the re-sent event is dead-lettered", func() bool {
		e, err := st.EventByID(ctx0, event)
		return err == nil && !e.DeadAt.IsZero()
	})
	do("reload the event", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#attempts")))
	if got := text("#attempts"); !strings.Contains(got, "no webhook URL configured") {
		t.Fatalf("the attempts: %q", got)
	}
	shot(ctx, "event-dead")
	do("the dead letters", chromedp.Click(chromedp.CSS(`header nav a[href="/dashboard/webhooks"]`)),
		chromedp.WaitVisible(chromedp.CSS("#tab-dead")), chromedp.Click(chromedp.CSS("#tab-dead")),
		chromedp.WaitVisible(chromedp.CSS("#events")))
	shot(ctx, "webhooks-dead")

	do("set the merchant's URL, re-sending the dead letter",
		chromedp.Navigate(base+path),
		chromedp.WaitVisible(chromedp.CSS("#notify-url")),
		chromedp.SendKeys(chromedp.CSS("#notify-url"), p.hooks.srv.URL+"/hooks"),
		chromedp.Click(chromedp.CSS("#url-button")),
		chromedp.WaitVisible(chromedp.CSS(".flash-ok")),
	)
	if got := text(".flash-ok"); !strings.Contains(got, "1 event(s) dead-lettered for want of a URL are re-sent") {
		t.Fatalf("after setting the URL: %q", got)
	}
	eventually(t, "the dead letter is delivered", func() bool {
		e, err := st.EventByID(ctx0, event)
		return err == nil && !e.DeliveredAt.IsZero()
	})
	do("the delivered event", chromedp.Navigate(base+"/dashboard/webhooks/"+event), chromedp.WaitVisible(chromedp.CSS("#attempts")))
	if got := text("#event-state"); got != "delivered" {
		t.Fatalf("the event is %q", got)
	}
	shot(ctx, "event-delivered")

	do("reconciliation",
		chromedp.Click(chromedp.CSS(`header nav a[href="/dashboard/reconciliation"]`)),
		chromedp.WaitVisible(chromedp.CSS("#reports")),
	)
	shot(ctx, "reconciliations")
	do("a day", chromedp.Click(chromedp.CSS(`#reports a[href="/dashboard/reconciliation/`+day+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#differences")))
	shot(ctx, "reconciliation-day")
	do("health", chromedp.Click(chromedp.CSS(`header nav a[href="/dashboard/health"]`)), chromedp.WaitVisible(chromedp.CSS("#queue")))
	if got := text("#ready"); !strings.HasPrefix(got, "Ready") {
		t.Fatalf("health says %q", got)
	}
	shot(ctx, "health")

	// The same pages on a desktop's window, for the screenshots.
	wide := chromium.New(t, chromium.Options{Width: 1280, Height: 900})
	if err := chromedp.Do(chromium.Timeout(t, wide, 30*time.Second),
		chromedp.Navigate(base+"/dashboard/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), pw+"\n"),
		chromedp.WaitVisible(chromedp.CSS("header nav")),
	); err != nil {
		t.Fatalf("desktop login: %v", err)
	}
	for name, page := range map[string]struct{ path, sel string }{
		"desktop-merchants":      {"/dashboard/merchants", "#merchants"},
		"desktop-merchant":       {path, "#rotate-form"},
		"desktop-webhooks":       {"/dashboard/webhooks?view=dead", "#tab-dead"},
		"desktop-event":          {"/dashboard/webhooks/" + event, "#attempts"},
		"desktop-reconciliation": {"/dashboard/reconciliation/" + day, "#differences"},
		"desktop-health":         {"/dashboard/health", "#queue"},
	} {
		if err := chromedp.Do(chromium.Timeout(t, wide, 30*time.Second), chromedp.Navigate(base+page.path),
			chromedp.WaitVisible(chromedp.CSS(page.sel))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		shot(wide, name)
	}
}
