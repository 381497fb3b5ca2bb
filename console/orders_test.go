package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/paygate/paygate"
)

// TestOrdersSearch: every criterion of the form, cross-merchant, newest
// first; a bad field is a 400 that says which.
func TestOrdersSearch(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		e := setup(t, st, nil)
		e.operator(t, "vera", paygate.RoleViewer, pw)
		paid := e.paid(t, "T_PAID", 990)
		e.order(t, "T_PENDING_1", 100)
		e.order(t, "T_PENDING_2", 200)
		b := e.browser(t)
		b.login("vera", pw)

		rows := func(query string) []string {
			t.Helper()
			p := b.get("/dashboard/orders?" + query)
			if p.status != http.StatusOK {
				t.Fatalf("search %q: %d\n%s", query, p.status, p.body)
			}
			var out []string
			for _, m := range regexp.MustCompile(`<code>(T_[A-Z_0-9]+)</code></a>`).FindAllStringSubmatch(p.body, -1) {
				out = append(out, m[1])
			}
			return out
		}
		for query, want := range map[string]string{
			"":                                 "T_PENDING_2 T_PENDING_1 T_PAID",
			"status=paid":                      "T_PAID",
			"out_trade_no=T_PENDING_1":         "T_PENDING_1",
			"trade_no=" + paid.TradeNo:         "T_PAID",
			"merchant=" + e.merchant.AccessKey: "T_PENDING_2 T_PENDING_1 T_PAID",
			"merchant=" + fmt.Sprint(e.merchant.ID) + "&status=pending": "T_PENDING_2 T_PENDING_1",
			"from=2000-01-01&to=2099-12-31":                             "T_PENDING_2 T_PENDING_1 T_PAID",
			"to=2000-01-01":                                             "",
		} {
			if got := strings.Join(rows(query), " "); got != want {
				t.Errorf("search %q = %q, want %q", query, got, want)
			}
		}
		for query, msg := range map[string]string{
			"status=lost":                   "status must be",
			"merchant=ak_nobody":            "no merchant",
			"from=yesterday":                "from must be a date",
			"from=2026-03-05&to=2026-03-04": "from must not be after to",
		} {
			p := b.get("/dashboard/orders?" + query)
			if p.status != http.StatusBadRequest || !strings.Contains(p.body, msg) {
				t.Errorf("search %q: %d, want 400 saying %q", query, p.status, msg)
			}
		}
		if p := b.get("/dashboard/orders/999999"); p.status != http.StatusNotFound {
			t.Errorf("an unknown order: %d", p.status)
		}
	})
}

// TestViewerCannotAct: a viewer sees the order but no action, and a forged
// POST (with the viewer's own valid CSRF token) is 403 and changes nothing.
// An admin's POST without the token, or from another origin, is 403 too.
func TestViewerCannotAct(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		e := setup(t, st, nil)
		e.operator(t, "vera", paygate.RoleViewer, pw)
		e.operator(t, "alice", paygate.RoleAdmin, pw)
		o := e.order(t, "T_ROLES", 500)
		path := fmt.Sprintf("/dashboard/orders/%d", o.ID)

		viewer := e.browser(t)
		viewer.login("vera", pw)
		p := viewer.get(path)
		if p.status != http.StatusOK || strings.Contains(p.body, `id="actions"`) || strings.Contains(p.body, "/close\"") ||
			!strings.Contains(p.body, `id="viewer-note"`) {
			t.Fatalf("viewer's order page: %d, shows actions or lacks the note", p.status)
		}
		csrf := p.csrf(t) // the logout form's: valid for the viewer's session
		if r := viewer.post(path+"/close", url.Values{"csrf": {csrf}}); r.status != http.StatusForbidden {
			t.Fatalf("viewer's forged close: %d", r.status)
		}

		admin := e.browser(t)
		admin.login("alice", pw)
		page := admin.get(path)
		if !strings.Contains(page.body, `id="close"`) {
			t.Fatal("the admin sees no close button on a pending order")
		}
		if r := admin.post(path+"/close", url.Values{}); r.status != http.StatusForbidden {
			t.Fatalf("admin's close without CSRF: %d", r.status)
		}
		if r := admin.post(path+"/close", url.Values{"csrf": {csrf}}); r.status != http.StatusForbidden {
			t.Fatalf("admin's close with the viewer's CSRF token: %d", r.status)
		}
		cross := admin.do(http.MethodPost, path+"/close", url.Values{"csrf": {page.csrf(t)}}, http.Header{"Origin": {"https://evil.example"}})
		if cross.status != http.StatusForbidden {
			t.Fatalf("admin's close from another origin: %d", cross.status)
		}
		got, _ := st.OrderByID(context.Background(), o.ID)
		if got.Status != paygate.StatusPending {
			t.Fatalf("after refused closes the order is %s", got.Status)
		}
		acts, _ := st.OperatorActions(context.Background(), paygate.OperatorActionFilter{OrderID: o.ID})
		if len(acts) != 0 {
			t.Fatalf("refused forms were recorded as actions: %+v", acts)
		}

		// The real close: recorded twice (intent, outcome), shown in the timeline.
		r := admin.post(path+"/close", url.Values{"csrf": {page.csrf(t)}})
		if r.status != http.StatusSeeOther || r.location != path {
			t.Fatalf("close: %d %q", r.status, r.location)
		}
		after := admin.get(path)
		if !strings.Contains(after.body, "The order is closed.") || !strings.Contains(after.body, "alice: close") {
			t.Fatalf("after close the page lacks the flash or the action:\n%s", after.body)
		}
		if got, _ := st.OrderByID(context.Background(), o.ID); got.Status != paygate.StatusClosed {
			t.Fatalf("after close the order is %s", got.Status)
		}
		acts, _ = st.OperatorActions(context.Background(), paygate.OperatorActionFilter{OrderID: o.ID})
		if len(acts) != 2 || acts[1].Outcome != paygate.OutcomeRequested || acts[0].Outcome != paygate.OutcomeSucceeded ||
			acts[0].Operator != "alice" || acts[0].Action != paygate.ActionClose {
			t.Fatalf("close recorded as %+v %+v", acts[0], acts[1])
		}
	})
}

var hidden = regexp.MustCompile(`name="out_request_no" value="([^"]+)"`)

// TestRefundFlow: the refund form asks for a confirmation with the same
// out_request_no; submitting the confirmation twice makes one refund; the
// refund and the action are in the timeline; a refund beyond the balance is
// refused plainly; refresh asks Alipay.
func TestRefundFlow(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		e := setup(t, st, nil)
		e.operator(t, "alice", paygate.RoleAdmin, pw)
		o := e.paid(t, "T_REFUND", 1000)
		path := fmt.Sprintf("/dashboard/orders/%d", o.ID)
		b := e.browser(t)
		b.login("alice", pw)
		p := b.get(path)
		csrf := p.csrf(t)
		reqNo := hidden.FindStringSubmatch(p.body)
		if reqNo == nil {
			t.Fatalf("no out_request_no on the refund form:\n%s", p.body)
		}
		step1 := b.post(path+"/refund", url.Values{"csrf": {csrf}, "out_request_no": {reqNo[1]}, "amount": {"2.50"}, "reason": {"broken cup"}})
		if step1.status != http.StatusOK || !strings.Contains(step1.body, `id="refund-confirm"`) ||
			!strings.Contains(step1.body, reqNo[1]) || !strings.Contains(step1.body, "2.50 CNY") {
			t.Fatalf("refund step 1 is no confirmation: %d\n%s", step1.status, step1.body)
		}
		if refunds, _ := st.RefundsByOrder(context.Background(), o.ID); len(refunds) != 0 {
			t.Fatal("the first step refunded")
		}
		confirm := url.Values{"csrf": {csrf}, "out_request_no": {reqNo[1]}, "amount": {"2.50"}, "reason": {"broken cup"}, "confirm": {"yes"}}
		for i := range 2 {
			r := b.post(path+"/refund", confirm)
			if r.status != http.StatusSeeOther {
				t.Fatalf("confirm %d: %d", i, r.status)
			}
			page := b.get(path)
			if !strings.Contains(page.body, "Refunded 2.50 CNY") {
				t.Fatalf("confirm %d: no success message:\n%s", i, page.body)
			}
			if i == 1 && !strings.Contains(page.body, "already submitted") {
				t.Fatal("the second confirm does not say it was the same refund")
			}
		}
		refunds, _ := st.RefundsByOrder(context.Background(), o.ID)
		if len(refunds) != 1 || refunds[0].Amount != 250 || refunds[0].Status != paygate.RefundSucceeded || refunds[0].OutRequestNo != reqNo[1] {
			t.Fatalf("refunds after two confirms: %+v", refunds)
		}
		page := b.get(path)
		for _, want := range []string{"Refund succeeded", "alice: refund", reqNo[1], "broken cup"} {
			if !strings.Contains(page.body, want) {
				t.Errorf("the timeline lacks %q", want)
			}
		}

		// Too much: refused plainly, nothing recorded but the attempt.
		over := b.post(path+"/refund", url.Values{"csrf": {csrf}, "out_request_no": {"op_over"}, "amount": {"9.00"}, "confirm": {"yes"}})
		if over.status != http.StatusSeeOther {
			t.Fatalf("over-refund: %d", over.status)
		}
		if page := b.get(path); !strings.Contains(page.body, "Refused:") || !strings.Contains(page.body, "exceeds") {
			t.Fatalf("the over-refund's refusal is not shown:\n%s", page.body)
		}
		bad := b.post(path+"/refund", url.Values{"csrf": {csrf}, "out_request_no": {reqNo[1]}, "amount": {"1.234"}})
		if bad.status != http.StatusBadRequest || !strings.Contains(bad.body, "at most two decimals") {
			t.Fatalf("a bad amount: %d", bad.status)
		}

		if r := b.post(path+"/refresh", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther {
			t.Fatalf("refresh: %d", r.status)
		}
		if page := b.get(path); !strings.Contains(page.body, "Refreshed from Alipay: the order is paid.") {
			t.Fatalf("refresh's message is missing:\n%s", page.body)
		}
	})
}
