package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

var (
	secretKeyRE     = regexp.MustCompile(`sk_[0-9a-f]{64}`)
	webhookSecretRE = regexp.MustCompile(`whsec_[0-9a-f]{64}`)
)

// TestMerchantCreate: an admin creates a merchant; its secrets are on the
// answer and nowhere else (not on its page, not in the log, not in the
// audit trail); the same form sent again creates nothing; bad input is a
// 400 that says why and creates nothing.
func TestMerchantCreate(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		p := setupPages(t, st)
		p.operator(t, "alice", paygate.RoleAdmin, pw)
		b := p.browser(t)
		b.login("alice", pw)
		ctx := context.Background()

		list := b.get("/dashboard/merchants")
		if list.status != http.StatusOK || !strings.Contains(list.body, "Tea House") || !strings.Contains(list.body, "no webhook URL") {
			t.Fatalf("the list lacks the merchant or its missing-URL warning (%d):\n%s", list.status, list.body)
		}
		formID := list.field(t, "form_id")
		form := url.Values{"csrf": {list.csrf(t)}, "form_id": {formID}, "name": {"Corner Shop"},
			"notify_url": {"https://shop.example/hooks?token=t0k3n"}}
		created := b.post("/dashboard/merchants", form)
		if created.status != http.StatusOK {
			t.Fatalf("create: %d\n%s", created.status, created.body)
		}
		sk, wh := created.inputValue(t, "secret-key"), created.inputValue(t, "webhook-secret")
		ak := created.inputValue(t, "secret-access-key")
		if !secretKeyRE.MatchString(sk) || !webhookSecretRE.MatchString(wh) || !strings.HasPrefix(ak, "ak_") {
			t.Fatalf("the answer's credentials: %q %q %q", ak, sk, wh)
		}
		m, err := st.MerchantByAccessKey(ctx, ak)
		if err != nil || m.Name != "Corner Shop" || m.SecretKey != sk || m.WebhookSecret != wh || m.NotifyURL != "https://shop.example/hooks?token=t0k3n" {
			t.Fatalf("stored merchant %v (%v) differs from the answer", m, err)
		}

		again := b.post("/dashboard/merchants", form)
		if again.status != http.StatusConflict || !strings.Contains(again.body, "already submitted") || secretKeyRE.MatchString(again.body) {
			t.Fatalf("the form sent again: %d\n%s", again.status, again.body)
		}
		for _, bad := range []struct{ name, url, want string }{
			{"", "", "name is required"},
			{"Bad URL", "ftp://shop.example/h", "absolute http or https"},
			{"Bad URL", "https://user:hunter2@shop.example/h", "user information"},
		} {
			pg := b.get("/dashboard/merchants")
			res := b.post("/dashboard/merchants", url.Values{"csrf": {pg.csrf(t)}, "form_id": {pg.field(t, "form_id")},
				"name": {bad.name}, "notify_url": {bad.url}})
			if res.status != http.StatusBadRequest || !strings.Contains(res.body, bad.want) || strings.Contains(res.body, "hunter2") {
				t.Errorf("create %q %q: %d, want 400 saying %q\n%s", bad.name, bad.url, res.status, bad.want, res.body)
			}
		}
		all, err := st.ListMerchants(ctx, paygate.MerchantFilter{})
		if err != nil || len(all) != 2 {
			t.Fatalf("%d merchants after one create and refusals, %v; want 2", len(all), err)
		}

		page := b.get("/dashboard/merchants/" + fmt.Sprint(m.ID))
		if page.status != http.StatusOK || !strings.Contains(page.body, "Corner Shop") || strings.Contains(page.body, sk) || strings.Contains(page.body, wh) {
			t.Fatalf("the merchant's page (%d) lacks it or shows a secret:\n%s", page.status, page.body)
		}
		acts := p.actions(t, m.ID)
		if len(acts) != 1 || acts[0].Action != paygate.ActionMerchantCreate || acts[0].Outcome != paygate.OutcomeSucceeded ||
			acts[0].Operator != "alice" || !strings.Contains(acts[0].Detail, ak) {
			t.Fatalf("audit trail of the new merchant: %+v", acts)
		}
		if !strings.Contains(page.body, "create merchant") {
			t.Error("the merchant's page does not list its creation")
		}
		for _, secret := range []string{sk, wh} {
			if strings.Contains(p.log.String(), secret) {
				t.Fatal("a new secret reached the log")
			}
			recent, _ := st.OperatorActions(ctx, paygate.OperatorActionFilter{Limit: 500})
			for _, a := range recent {
				if strings.Contains(a.Detail+a.Target, secret) {
					t.Fatalf("a new secret reached the audit trail: %+v", a)
				}
			}
		}
	})
}

// TestMerchantRotate: a rotation is confirmed first, shows the new secret
// once, keeps the old one for the grace chosen, is recorded, and the
// confirmation sent twice rotates once.
func TestMerchantRotate(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		p := setupPages(t, st)
		p.operator(t, "alice", paygate.RoleAdmin, pw)
		m := p.merchantWith(t, "Rotating Shop", "")
		b := p.browser(t)
		b.login("alice", pw)
		ctx := context.Background()
		path := "/dashboard/merchants/" + fmt.Sprint(m.ID)

		pg := b.get(path)
		csrf := pg.csrf(t)
		if r := b.post(path+"/rotate", url.Values{"csrf": {csrf}, "grace": {"24h0m0s"}}); r.status != http.StatusBadRequest ||
			!strings.Contains(r.body, "Choose what to rotate") {
			t.Fatalf("rotating nothing: %d\n%s", r.status, r.body)
		}
		if r := b.post(path+"/rotate", url.Values{"csrf": {csrf}, "secret_key": {"on"}, "grace": {"forever"}}); r.status != http.StatusBadRequest {
			t.Fatalf("a bad grace: %d", r.status)
		}
		confirm := b.post(path+"/rotate", url.Values{"csrf": {csrf}, "secret_key": {"on"}, "grace": {"24h0m0s"}})
		if confirm.status != http.StatusOK || !strings.Contains(confirm.body, `id="rotate-confirm"`) || !strings.Contains(confirm.body, "keeps working until") {
			t.Fatalf("the confirmation: %d\n%s", confirm.status, confirm.body)
		}
		if got, _ := st.MerchantByID(ctx, m.ID); got.SecretKey != m.SecretKey {
			t.Fatal("the confirmation step rotated")
		}
		form := url.Values{"csrf": {csrf}, "secret_key": {"on"}, "grace": {"24h0m0s"}, "confirm": {"yes"},
			"version": {confirm.field(t, "version")}}
		done := b.post(path+"/rotate", form)
		if done.status != http.StatusOK {
			t.Fatalf("rotate: %d\n%s", done.status, done.body)
		}
		sk := done.inputValue(t, "secret-key")
		if !secretKeyRE.MatchString(sk) || sk == m.SecretKey || strings.Contains(done.body, `id="webhook-secret"`) {
			t.Fatalf("the answer's new secret %q (old %q), or a webhook secret not rotated is shown", sk, m.SecretKey)
		}
		got, err := st.MerchantByID(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		keys := got.SecretKeys(time.Now())
		if len(keys) != 2 || keys[0] != sk || keys[1] != m.SecretKey || got.WebhookSecret != m.WebhookSecret {
			t.Fatalf("after rotating with a day's grace, the valid keys are %d, webhook secret changed: %v", len(keys), got.WebhookSecret != m.WebhookSecret)
		}
		if until := got.PreviousSecretUntil; until.Before(time.Now().Add(23*time.Hour)) || until.After(time.Now().Add(25*time.Hour)) {
			t.Fatalf("grace until %v, want a day from now", until)
		}

		twice := b.post(path+"/rotate", form)
		if twice.status != http.StatusConflict || !strings.Contains(twice.body, "nothing was rotated") || secretKeyRE.MatchString(twice.body) {
			t.Fatalf("the confirmation sent twice: %d\n%s", twice.status, twice.body)
		}
		if again, _ := st.MerchantByID(ctx, m.ID); again.SecretKey != sk {
			t.Fatal("the confirmation sent twice rotated again")
		}

		// Both secrets, no grace: the old ones stop at once; the grace
		// still running for the previous key is announced as ended.
		confirm = b.post(path+"/rotate", url.Values{"csrf": {csrf}, "secret_key": {"on"}, "webhook_secret": {"on"}, "grace": {"0s"}})
		if !strings.Contains(confirm.body, "stops working <strong>at once</strong>") || !strings.Contains(confirm.body, "ends the grace of the previous API secret key") {
			t.Fatalf("the confirmation of a rotation without grace:\n%s", confirm.body)
		}
		done = b.post(path+"/rotate", url.Values{"csrf": {csrf}, "secret_key": {"on"}, "webhook_secret": {"on"}, "grace": {"0s"},
			"confirm": {"yes"}, "version": {confirm.field(t, "version")}})
		sk2, wh2 := done.inputValue(t, "secret-key"), done.inputValue(t, "webhook-secret")
		got, _ = st.MerchantByID(ctx, m.ID)
		if got.SecretKey != sk2 || got.WebhookSecret != wh2 || len(got.SecretKeys(time.Now())) != 1 || len(got.WebhookSecrets(time.Now())) != 1 {
			t.Fatalf("after a rotation without grace: %d keys, %d webhook secrets", len(got.SecretKeys(time.Now())), len(got.WebhookSecrets(time.Now())))
		}
		if !strings.Contains(done.body, "stopped working at once") || !strings.Contains(done.body, "ended the grace") {
			t.Fatalf("the answer does not say the old secrets stopped:\n%s", done.body)
		}

		var rotations []string
		for _, a := range p.actions(t, m.ID) {
			if a.Action == paygate.ActionMerchantRotate {
				rotations = append(rotations, a.Outcome)
			}
			for _, secret := range []string{sk, sk2, wh2, m.SecretKey} {
				if strings.Contains(a.Detail+a.Target, secret) {
					t.Fatalf("a secret reached the audit trail: %+v", a)
				}
			}
		}
		if strings.Join(rotations, " ") != "requested succeeded requested succeeded" {
			t.Fatalf("rotations recorded: %v", rotations)
		}
		for _, secret := range []string{sk, sk2, wh2} {
			if strings.Contains(p.log.String(), secret) {
				t.Fatal("a new secret reached the log")
			}
		}
		if pg := b.get(path); !strings.Contains(pg.body, "rotate secrets") || strings.Contains(pg.body, sk2) {
			t.Fatal("the merchant's page does not list the rotations, or shows a secret")
		}
	})
}

// TestMerchantURLAndDisable: setting the URL checks it, re-sends what was
// dead-lettered for want of one (delivered by the real worker); clearing
// it and disabling are confirmed first; each is recorded.
func TestMerchantURLAndDisable(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		p := setupPages(t, st)
		p.operator(t, "alice", paygate.RoleAdmin, pw)
		b := p.browser(t)
		b.login("alice", pw)
		ctx := context.Background()
		m := p.merchant
		path := "/dashboard/merchants/" + fmt.Sprint(m.ID)

		// An event of the URL-less merchant is re-sent and dead-lettered
		// by the worker for want of a URL.
		o := p.paid(t, "T_URL", 500)
		evs, err := st.EventsByOrder(ctx, o.ID)
		if err != nil || len(evs) != 1 {
			t.Fatalf("events of the paid order: %v, %v", evs, err)
		}
		if _, err := p.events.ResendEvent(ctx, m.ID, evs[0].ID); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the event is dead-lettered", func() bool {
			e, err := st.EventByID(ctx, evs[0].ID)
			return err == nil && !e.DeadAt.IsZero()
		})
		pg := b.get(path)
		if !strings.Contains(pg.body, `id="no-url"`) || !strings.Contains(pg.body, "no webhook URL configured") ||
			!strings.Contains(pg.body, `id="dead-count">1<`) {
			t.Fatalf("the merchant's page does not show its missing URL and dead letter:\n%s", pg.body)
		}
		csrf := pg.csrf(t)
		if r := b.post(path+"/url", url.Values{"csrf": {csrf}, "notify_url": {"https://user:hunter2@shop.example/h"}}); r.status != http.StatusBadRequest ||
			!strings.Contains(r.body, "user information") || strings.Contains(r.body, "hunter2") {
			t.Fatalf("a URL with a password: %d\n%s", r.status, r.body)
		}
		hook := p.hooks.srv.URL + "/hooks/secret-token"
		r := b.post(path+"/url", url.Values{"csrf": {csrf}, "notify_url": {hook}, "resend": {"on"}})
		if r.status != http.StatusSeeOther || r.location != path {
			t.Fatalf("set the URL: %d %s\n%s", r.status, r.location, r.body)
		}
		flash := b.get(path)
		if !strings.Contains(flash.body, "1 event(s) dead-lettered for want of a URL are re-sent") {
			t.Fatalf("no flash saying the re-send:\n%s", flash.body)
		}
		if got, _ := st.MerchantByID(ctx, m.ID); got.NotifyURL != hook {
			t.Fatalf("URL = %q", got.NotifyURL)
		}
		eventually(t, "the dead letter is delivered to the new URL", func() bool {
			e, err := st.EventByID(ctx, evs[0].ID)
			return err == nil && !e.DeliveredAt.IsZero()
		})
		if got := p.hooks.received(); len(got) != 1 || got[0] != evs[0].ID {
			t.Fatalf("the receiver got %v", got)
		}

		// Clearing is confirmed first.
		conf := b.post(path+"/url", url.Values{"csrf": {csrf}, "notify_url": {""}})
		if conf.status != http.StatusOK || !strings.Contains(conf.body, `id="url-confirm"`) {
			t.Fatalf("clearing without confirmation: %d\n%s", conf.status, conf.body)
		}
		if got, _ := st.MerchantByID(ctx, m.ID); got.NotifyURL != hook {
			t.Fatal("the confirmation step cleared the URL")
		}
		b.post(path+"/url", url.Values{"csrf": {csrf}, "notify_url": {""}, "confirm": {"yes"}})
		if got, _ := st.MerchantByID(ctx, m.ID); got.NotifyURL != "" {
			t.Fatal("the confirmed clear did not clear")
		}

		// Disabling is confirmed first; enabling is not.
		conf = b.post(path+"/disable", url.Values{"csrf": {csrf}})
		if conf.status != http.StatusOK || !strings.Contains(conf.body, `id="disable-confirm"`) {
			t.Fatalf("disable without confirmation: %d", conf.status)
		}
		if got, _ := st.MerchantByID(ctx, m.ID); got.Disabled() {
			t.Fatal("the confirmation step disabled")
		}
		if r := b.post(path+"/disable", url.Values{"csrf": {csrf}, "confirm": {"yes"}}); r.status != http.StatusSeeOther {
			t.Fatalf("disable: %d", r.status)
		}
		if got, _ := st.MerchantByID(ctx, m.ID); !got.Disabled() {
			t.Fatal("not disabled")
		}
		if pg := b.get("/dashboard/merchants"); !strings.Contains(pg.body, "disabled") {
			t.Fatal("the list does not show the merchant disabled")
		}
		b.post(path+"/enable", url.Values{"csrf": {csrf}})
		if got, _ := st.MerchantByID(ctx, m.ID); got.Disabled() {
			t.Fatal("not enabled again")
		}

		var trail []string
		for _, a := range p.actions(t, m.ID) {
			if a.Outcome == paygate.OutcomeSucceeded && a.OrderID == 0 {
				trail = append(trail, a.Action)
			}
			if strings.Contains(a.Detail, "secret-token") {
				t.Fatalf("the URL's path reached the audit trail: %+v", a)
			}
		}
		want := "merchant.set_url merchant.set_url merchant.disable merchant.enable"
		if strings.Join(trail, " ") != want {
			t.Fatalf("recorded %v, want %s", trail, want)
		}
		if strings.Contains(p.log.String(), "secret-token") {
			t.Fatal("the URL's path reached the log")
		}
	})
}

// TestMerchantPagesViewer: a viewer sees the list and a merchant's page
// without any form, and every forged POST (with the viewer's own valid
// CSRF token) is 403 and changes nothing.
func TestMerchantPagesViewer(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		p := setupPages(t, st)
		p.operator(t, "vera", paygate.RoleViewer, pw)
		m := p.merchantWith(t, "Watched Shop", "https://shop.example/h")
		b := p.browser(t)
		b.login("vera", pw)
		ctx := context.Background()
		path := "/dashboard/merchants/" + fmt.Sprint(m.ID)

		list := b.get("/dashboard/merchants")
		pg := b.get(path)
		for _, x := range []page{list, pg} {
			if x.status != http.StatusOK || !strings.Contains(x.body, "Watched Shop") || !strings.Contains(x.body, `id="viewer-note"`) ||
				strings.Contains(x.body, `action="/dashboard/merchants`) {
				t.Fatalf("a viewer's page (%d) lacks the merchant or shows a form:\n%s", x.status, x.body)
			}
		}
		csrf := pg.csrf(t) // the logout form's: the viewer's own valid token
		for _, f := range []struct {
			path string
			form url.Values
		}{
			{"/dashboard/merchants", url.Values{"form_id": {"ABCDEFGHIJKLMNOPQRSTUVWXYZ"}, "name": {"Forged"}}},
			{path + "/rotate", url.Values{"secret_key": {"on"}, "grace": {"0s"}, "confirm": {"yes"}}},
			{path + "/url", url.Values{"notify_url": {""}, "confirm": {"yes"}}},
			{path + "/disable", url.Values{"confirm": {"yes"}}},
			{path + "/enable", url.Values{}},
		} {
			f.form.Set("csrf", csrf)
			if r := b.post(f.path, f.form); r.status != http.StatusForbidden {
				t.Errorf("a viewer's POST %s: %d, want 403", f.path, r.status)
			}
		}
		got, err := st.MerchantByID(ctx, m.ID)
		if err != nil || got.SecretKey != m.SecretKey || got.NotifyURL != m.NotifyURL || got.Disabled() {
			t.Fatalf("a viewer's forged POSTs changed the merchant: %v", err)
		}
		if all, _ := st.ListMerchants(ctx, paygate.MerchantFilter{}); len(all) != 2 {
			t.Fatalf("a viewer's forged POST created a merchant: %d", len(all))
		}
		if acts := p.actions(t, m.ID); len(acts) != 0 {
			t.Fatalf("a viewer's refused POSTs were recorded as actions: %+v", acts)
		}
		if r := b.get("/dashboard/merchants/999999"); r.status != http.StatusNotFound {
			t.Errorf("an unknown merchant: %d", r.status)
		}
		if r := b.get("/dashboard/merchants?before=x"); r.status != http.StatusBadRequest {
			t.Errorf("a bad cursor: %d", r.status)
		}
	})
}

// TestMerchantsPaging: the list pages 50 at a time, newest first.
func TestMerchantsPaging(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		p := setupPages(t, st)
		p.operator(t, "vera", paygate.RoleViewer, pw)
		for i := range 54 {
			if err := st.CreateMerchant(context.Background(), &paygate.Merchant{Name: fmt.Sprintf("Shop %02d", i),
				AccessKey: fmt.Sprintf("ak_page%02d", i), SecretKey: "sk", WebhookSecret: "wh"}); err != nil {
				t.Fatal(err)
			}
		}
		b := p.browser(t)
		b.login("vera", pw)
		rows := regexp.MustCompile(`<a href="/dashboard/merchants/\d+">([^<]+)</a>`)
		first := b.get("/dashboard/merchants")
		names := rows.FindAllStringSubmatch(first.body, -1)
		if len(names) != 50 || names[0][1] != "Shop 53" {
			t.Fatalf("first page: %d rows, first %v", len(names), names[:1])
		}
		next := regexp.MustCompile(`href="(\?before=\d+)" rel="next"`).FindStringSubmatch(first.body)
		if next == nil {
			t.Fatal("no link to the next page")
		}
		second := b.get("/dashboard/merchants" + next[1])
		names = rows.FindAllStringSubmatch(second.body, -1)
		if len(names) != 5 || names[4][1] != "Tea House" || strings.Contains(second.body, `rel="next"`) {
			t.Fatalf("second page: %v", names)
		}
	})
}
