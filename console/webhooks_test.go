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

// TestWebhooksBacklogAndDeadLetters: a paid order's event waits in the
// backlog; an admin's re-send from its page is recorded and run by the real
// worker, which dead-letters it for want of a URL; the dead letters show
// the reason, the event's page its attempt; filters and bad input.
func TestWebhooksBacklogAndDeadLetters(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		p := setupPages(t, st)
		p.operator(t, "alice", paygate.RoleAdmin, pw)
		b := p.browser(t)
		b.login("alice", pw)
		ctx := context.Background()
		o := p.paid(t, "T_HOOK", 990)
		evs, err := st.EventsByOrder(ctx, o.ID)
		if err != nil || len(evs) != 1 {
			t.Fatalf("events: %v, %v", evs, err)
		}
		id := evs[0].ID

		backlog := b.get("/dashboard/webhooks")
		if backlog.status != http.StatusOK || !strings.Contains(backlog.body, id) || !strings.Contains(backlog.body, "none yet") ||
			!strings.Contains(backlog.body, "Backlog (1)") || !strings.Contains(backlog.body, "Dead letters (0)") {
			t.Fatalf("the backlog (%d) lacks the event or the counts:\n%s", backlog.status, backlog.body)
		}
		if dead := b.get("/dashboard/webhooks?view=dead"); !strings.Contains(dead.body, `id="no-events"`) {
			t.Fatalf("dead letters before any attempt:\n%s", dead.body)
		}

		ev := b.get("/dashboard/webhooks/" + id)
		if ev.status != http.StatusOK || !strings.Contains(ev.body, "order.paid") || !strings.Contains(ev.body, "T_HOOK") ||
			!strings.Contains(ev.body, `id="no-url"`) || !strings.Contains(ev.body, `&#34;out_trade_no&#34;: &#34;T_HOOK&#34;`) {
			t.Fatalf("the event's page (%d):\n%s", ev.status, ev.body)
		}
		r := b.post("/dashboard/webhooks/"+id+"/resend", url.Values{"csrf": {ev.csrf(t)}})
		if r.status != http.StatusSeeOther || r.location != "/dashboard/webhooks/"+id {
			t.Fatalf("resend: %d %s\n%s", r.status, r.location, r.body)
		}
		eventually(t, "the re-sent event is dead-lettered", func() bool {
			e, err := st.EventByID(ctx, id)
			return err == nil && !e.DeadAt.IsZero()
		})
		ev = b.get("/dashboard/webhooks/" + id)
		for _, want := range []string{"queued for delivery again", `id="event-state">dead<`, "no webhook URL configured", "(no URL)", "alice"} {
			if !strings.Contains(ev.body, want) {
				t.Errorf("the event's page after the re-send lacks %q", want)
			}
		}
		dead := b.get("/dashboard/webhooks?view=dead")
		if !strings.Contains(dead.body, id) || !strings.Contains(dead.body, "no webhook URL configured") || !strings.Contains(dead.body, "Dead letters (1)") {
			t.Fatalf("the dead letters lack the event or its reason:\n%s", dead.body)
		}
		if backlog := b.get("/dashboard/webhooks"); strings.Contains(backlog.body, id) {
			t.Fatal("a dead letter is still in the backlog")
		}
		var resends []string
		for _, a := range p.actions(t, p.merchant.ID) {
			if a.Action == paygate.ActionResend && a.Target == id && a.OrderID == o.ID {
				resends = append(resends, a.Outcome)
			}
		}
		if strings.Join(resends, " ") != "requested succeeded" {
			t.Fatalf("the re-send recorded as %v", resends)
		}
		if op := b.get(fmt.Sprintf("/dashboard/orders/%d", o.ID)); !strings.Contains(op.body, "re-send webhook") {
			t.Fatal("the order's timeline does not show the re-send")
		}

		other := p.merchantWith(t, "Other Shop", "")
		for query, want := range map[string]bool{
			"view=dead&type=order.paid":                  true,
			"view=dead&type=refund.succeeded":            false,
			"view=dead&merchant=" + p.merchant.AccessKey: true,
			"view=dead&merchant=" + fmt.Sprint(other.ID): false,
		} {
			pg := b.get("/dashboard/webhooks?" + query)
			if pg.status != http.StatusOK || strings.Contains(pg.body, id) != want {
				t.Errorf("filter %q: %d, lists the event: %v, want %v", query, pg.status, !want, want)
			}
		}
		for query, msg := range map[string]string{
			"type=order.lost":                   "type must be one of",
			"merchant=ak_nobody":                "no merchant",
			"before=yesterday":                  "page cursor is not valid",
			"before=" + fmt.Sprint(1) + "_nope": "page cursor is not valid",
		} {
			if pg := b.get("/dashboard/webhooks?" + query); pg.status != http.StatusBadRequest || !strings.Contains(pg.body, msg) {
				t.Errorf("bad filter %q: %d, want 400 saying %q", query, pg.status, msg)
			}
		}
		if pg := b.get("/dashboard/webhooks/evt_nope"); pg.status != http.StatusNotFound {
			t.Errorf("an unknown event: %d", pg.status)
		}
	})
}

// TestWebhooksDelivered: with a URL, a re-sent event is delivered by the
// worker; its page shows the 200 attempt with its latency; a viewer sees
// it without the re-send form, and a viewer's forged re-send is 403.
func TestWebhooksDelivered(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		p := setupPages(t, st)
		p.operator(t, "alice", paygate.RoleAdmin, pw)
		p.operator(t, "vera", paygate.RoleViewer, pw)
		ctx := context.Background()
		if _, err := st.SetMerchantNotifyURL(ctx, p.merchant.ID, p.hooks.srv.URL+"/hooks", time.Now()); err != nil {
			t.Fatal(err)
		}
		o := p.paid(t, "T_DELIVER", 100)
		evs, _ := st.EventsByOrder(ctx, o.ID)
		id := evs[0].ID

		viewer := p.browser(t)
		viewer.login("vera", pw)
		vp := viewer.get("/dashboard/webhooks/" + id)
		if vp.status != http.StatusOK || strings.Contains(vp.body, `id="resend-form"`) || !strings.Contains(vp.body, `id="viewer-note"`) {
			t.Fatalf("a viewer's event page (%d) shows the re-send form:\n%s", vp.status, vp.body)
		}
		if r := viewer.post("/dashboard/webhooks/"+id+"/resend", url.Values{"csrf": {vp.csrf(t)}}); r.status != http.StatusForbidden {
			t.Fatalf("a viewer's re-send: %d", r.status)
		}
		if e, _ := st.EventByID(ctx, id); e.Attempts != 0 {
			t.Fatal("a viewer's re-send ran")
		}

		admin := p.browser(t)
		admin.login("alice", pw)
		ap := admin.get("/dashboard/webhooks/" + id)
		admin.post("/dashboard/webhooks/"+id+"/resend", url.Values{"csrf": {ap.csrf(t)}})
		eventually(t, "the event is delivered", func() bool {
			e, err := st.EventByID(ctx, id)
			return err == nil && !e.DeliveredAt.IsZero()
		})
		ap = admin.get("/dashboard/webhooks/" + id)
		if !strings.Contains(ap.body, `id="event-state">delivered<`) || !regexp.MustCompile(`<td[^>]*>200</td>\s*<td[^>]*>\d+ ms</td>`).MatchString(ap.body) ||
			!strings.Contains(ap.body, "ok") {
			t.Fatalf("the delivered event's page lacks its 200 attempt:\n%s", ap.body)
		}
		if got := p.hooks.received(); len(got) != 1 || got[0] != id {
			t.Fatalf("the receiver got %v", got)
		}
		if pg := admin.get("/dashboard/webhooks"); strings.Contains(pg.body, id) {
			t.Fatal("a delivered event is in the backlog")
		}
	})
}

// TestWebhooksPaging: 50 events a page, newest first, through the cursor.
func TestWebhooksPaging(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		p := setupPages(t, st)
		p.operator(t, "vera", paygate.RoleViewer, pw)
		ctx := context.Background()
		o := p.order(t, "T_MANY", 100)
		base := time.Now().Add(-time.Hour)
		for i := range 53 {
			err := st.Tx(ctx, func(tx paygate.StoreTx) error {
				return tx.CreateEvent(ctx, &paygate.Event{ID: fmt.Sprintf("evt_page%02d", i), MerchantID: o.MerchantID, OrderID: o.ID,
					Type: paygate.EventOrderClosed, Payload: []byte(`{}`), CreatedAt: base.Add(time.Duration(i) * time.Second)})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		b := p.browser(t)
		b.login("vera", pw)
		ids := regexp.MustCompile(`<code[^>]*>(evt_page\d+)</code>`)
		first := b.get("/dashboard/webhooks?type=order.closed")
		got := ids.FindAllStringSubmatch(first.body, -1)
		if len(got) != 50 || got[0][1] != "evt_page52" || got[49][1] != "evt_page03" {
			t.Fatalf("first page: %d events", len(got))
		}
		next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(first.body)
		if next == nil {
			t.Fatal("no next page")
		}
		second := b.get("/dashboard/webhooks" + strings.ReplaceAll(next[1], "&amp;", "&"))
		got = ids.FindAllStringSubmatch(second.body, -1)
		if len(got) != 3 || got[2][1] != "evt_page00" || !strings.Contains(second.body, "« Newest") {
			t.Fatalf("second page: %v\n%s", got, second.body)
		}
	})
}
