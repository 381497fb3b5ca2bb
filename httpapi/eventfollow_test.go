package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

// followPage is one GET /api/v1/events following (since or after).
func (f *eventsFixture) followPage(t *testing.T, q url.Values) (ids []string, cursor string) {
	t.Helper()
	var out struct {
		Events []struct {
			ID      string          `json:"id"`
			Payload json.RawMessage `json:"payload"`
		} `json:"events"`
		NextCursor *string `json:"next_cursor"`
	}
	if _, err := f.client.Do(context.Background(), "GET", "/api/v1/events", q, nil, &out); err != nil {
		t.Fatal(err)
	}
	if out.NextCursor == nil {
		t.Fatalf("following (%v) answered a null next_cursor", q)
	}
	for _, e := range out.Events {
		ids = append(ids, e.ID)
		if len(e.Payload) == 0 || e.Payload[0] != '{' {
			t.Fatalf("event %s without its payload: %s", e.ID, e.Payload)
		}
	}
	return ids, *out.NextCursor
}

// TestFollowEvents: since lists the events created at or after it, oldest
// first, a page at a time; after goes on from next_cursor, which is never
// null, stays put while nothing is new, and picks up what is created
// later; the type filter holds; another merchant's events never show.
func TestFollowEvents(t *testing.T) {
	t.Parallel()
	f := setupEvents(t)
	var oldestFirst []string
	for i := range 7 {
		typ := paygate.EventOrderPaid
		if i == 5 {
			typ = paygate.EventOrderClosed
		}
		oldestFirst = append(oldestFirst, f.emit(t, f.merchant, typ, t0.Add(time.Duration(i)*time.Second)).ID)
	}
	f.emit(t, f.otherMerchant(t), paygate.EventOrderPaid, t0.Add(3*time.Second+time.Millisecond))

	// since is inclusive: from the third event's time.
	since := t0.Add(2 * time.Second).Format(time.RFC3339Nano)
	var got []string
	ids, cur := f.followPage(t, url.Values{"since": {since}, "limit": {"3"}})
	got = append(got, ids...)
	for range 5 {
		ids, next := f.followPage(t, url.Values{"after": {cur}, "limit": {"3"}})
		got = append(got, ids...)
		if len(ids) == 0 {
			if next != cur {
				t.Fatalf("an empty page moved the cursor from %s to %s", cur, next)
			}
			break
		}
		cur = next
	}
	mustEqualIDs(t, "followed from since", got, oldestFirst[2:])

	// Nothing new: an empty page, the same cursor. Something new: it comes.
	ids, same := f.followPage(t, url.Values{"after": {cur}})
	if len(ids) != 0 || same != cur {
		t.Fatalf("nothing new: %v, cursor %s (was %s)", ids, same, cur)
	}
	late := f.emit(t, f.merchant, paygate.EventRefundSucceeded, t0.Add(time.Minute))
	ids, _ = f.followPage(t, url.Values{"after": {cur}})
	mustEqualIDs(t, "after, once something is new", ids, []string{late.ID})

	ids, _ = f.followPage(t, url.Values{"since": {t0.Format(time.RFC3339)}, "type": {paygate.EventOrderClosed}})
	mustEqualIDs(t, "closed events since the start", ids, oldestFirst[5:6])
	// A time with no event yet: an empty page whose cursor then finds them.
	ids, cur = f.followPage(t, url.Values{"since": {t0.Add(time.Hour).Format(time.RFC3339)}})
	if len(ids) != 0 {
		t.Fatalf("since the future: %v", ids)
	}
	future := f.emit(t, f.merchant, paygate.EventOrderPaid, t0.Add(2*time.Hour))
	ids, _ = f.followPage(t, url.Values{"after": {cur}})
	mustEqualIDs(t, "after a cursor from a time", ids, []string{future.ID})
}

func TestFollowEventsValidation(t *testing.T) {
	t.Parallel()
	f := setupEvents(t)
	_, cur := f.followPage(t, url.Values{"since": {t0.Format(time.RFC3339)}})
	backCursor := base64.RawURLEncoding.EncodeToString([]byte("e1:1700000000000000:evt_1"))
	for name, q := range map[string]url.Values{
		"since not a time":     {"since": {"yesterday"}},
		"since a date only":    {"since": {"2026-05-06"}},
		"since before 1970":    {"since": {"1960-01-01T00:00:00Z"}},
		"since twice":          {"since": {t0.Format(time.RFC3339), t0.Format(time.RFC3339)}},
		"since and after":      {"since": {t0.Format(time.RFC3339)}, "after": {cur}},
		"since and cursor":     {"since": {t0.Format(time.RFC3339)}, "cursor": {backCursor}},
		"after and cursor":     {"after": {cur}, "cursor": {backCursor}},
		"after not a cursor":   {"after": {"nope"}},
		"after a back cursor":  {"after": {backCursor}},
		"after a bad id":       {"after": {base64.RawURLEncoding.EncodeToString([]byte("f1:1700000000000000:evt-1"))}},
		"after a zero time":    {"after": {base64.RawURLEncoding.EncodeToString([]byte("f1:0:"))}},
		"a follow cursor back": {"cursor": {cur}},
	} {
		status, hdr, b := f.send(t, req{path: "/api/v1/events", query: q})
		if status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, status, b)
			continue
		}
		wantError(t, status, hdr, b, http.StatusBadRequest, paygate.EInvalid, "")
	}
}
