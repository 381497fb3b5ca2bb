package httpapi_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/httpapi"
	"github.com/paygate/paygate/jobs"
)

// fakeQueue is the real River queue on the fixture's SQLite database (not
// started: jobs stay in its table, inserted in the caller's transaction and
// gone if it rolls back), or fails with err.
type fakeQueue struct {
	mu    sync.Mutex
	err   error
	db    *sql.DB
	river *jobs.Queue
}

func (q *fakeQueue) Enqueue(ctx context.Context, tx paygate.StoreTx, job paygate.Job) error {
	q.mu.Lock()
	err := q.err
	q.mu.Unlock()
	if err != nil {
		return err
	}
	return q.river.Enqueue(ctx, tx, job)
}

// Jobs are the delivery jobs committed so far, oldest first.
func (q *fakeQueue) Jobs(t *testing.T) []paygate.Job {
	t.Helper()
	rows, err := q.db.Query(`SELECT json_extract(args, '$.event_id') FROM river_job WHERE kind = 'deliver_event' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []paygate.Job
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, paygate.Job{Kind: paygate.JobDeliverEvent, EventID: id})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// eventsFixture is a server with the events routes on a real
// jobs.EventService over the fixture's SQLite store.
type eventsFixture struct {
	*fixture
	queue *fakeQueue
}

func setupEvents(t *testing.T) *eventsFixture {
	t.Helper()
	q := &fakeQueue{}
	svc := &jobs.EventService{Queue: q}
	f := setup(t, func(c *httpapi.Config) { c.Events = svc })
	svc.Store = f.store // before any request
	q.db = f.store.DB()
	if err := jobs.MigrateSQLite(context.Background(), q.db); err != nil {
		t.Fatal(err)
	}
	var err error
	if q.river, err = jobs.NewSQLite(q.db, jobs.Config{}); err != nil {
		t.Fatal(err)
	}
	jobs.RegisterWebhooks(q.river, jobs.WebhookConfig{Store: f.store})
	return &eventsFixture{fixture: f, queue: q}
}

// emit stores an order of m and its event of type typ, created at at.
func (f *eventsFixture) emit(t *testing.T, m *paygate.Merchant, typ string, at time.Time) *paygate.Event {
	t.Helper()
	ctx := context.Background()
	n := fmt.Sprintf("%d", at.UnixNano())
	o := &paygate.Order{MerchantID: m.ID, OutTradeNo: "T" + n, ChannelNo: fmt.Sprintf("PG%d_%s", m.ID, n), Mode: paygate.ModeQR,
		Subject: "Tea", TotalAmount: 1200, Status: paygate.StatusPaid, CreatedAt: at, UpdatedAt: at,
		ExpiresAt: at.Add(time.Hour), PaidAt: at}
	if err := f.store.CreateOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	data := map[string]any{"order": o.View()}
	if typ == paygate.EventRefundSucceeded {
		data["refund"] = (&paygate.Refund{OutRequestNo: "R1", OutTradeNo: o.OutTradeNo, Amount: 100,
			Status: paygate.RefundSucceeded, CreatedAt: at, SucceededAt: at}).View()
	}
	id := "evt_" + n
	payload, err := json.Marshal(map[string]any{"id": id, "type": typ, "created_at": at.Format(time.RFC3339), "data": data})
	if err != nil {
		t.Fatal(err)
	}
	e := &paygate.Event{ID: id, MerchantID: m.ID, OrderID: o.ID, Type: typ, Payload: payload, CreatedAt: at}
	if err := f.store.Tx(ctx, func(tx paygate.StoreTx) error { return tx.CreateEvent(ctx, e) }); err != nil {
		t.Fatal(err)
	}
	return e
}

func (f *eventsFixture) otherMerchant(t *testing.T) *paygate.Merchant {
	t.Helper()
	m := &paygate.Merchant{Name: "Other", AccessKey: "ak_other", SecretKey: "sk_other_0123456789", WebhookSecret: "wh"}
	if err := f.store.CreateMerchant(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

type eventList struct {
	Events []struct {
		ID          string          `json:"id"`
		Type        string          `json:"type"`
		DeliveredAt *string         `json:"delivered_at"`
		DeadAt      *string         `json:"dead_at"`
		Attempts    int             `json:"attempts"`
		Order       json.RawMessage `json:"order"`
	} `json:"events"`
	NextCursor *string `json:"next_cursor"`
}

// listAll pages through GET /api/v1/events with q, 4 at a time; only the
// last page has a null next_cursor.
func (f *eventsFixture) listAll(t *testing.T, q url.Values) []string {
	t.Helper()
	q.Set("limit", "4")
	var ids []string
	for page := 0; ; page++ {
		if page > 20 {
			t.Fatal("paging does not end")
		}
		var out eventList
		if _, err := f.client.Do(context.Background(), "GET", "/api/v1/events", q, nil, &out); err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Events {
			ids = append(ids, e.ID)
		}
		if out.NextCursor == nil {
			return ids
		}
		if len(out.Events) != 4 {
			t.Fatalf("a page of %d events has a next_cursor", len(out.Events))
		}
		q.Set("cursor", *out.NextCursor)
	}
}

func TestListEvents(t *testing.T) {
	t.Parallel()
	f := setupEvents(t)
	ctx := context.Background()
	var newestFirst, refunds, undelivered []string
	for i := range 10 {
		typ := paygate.EventOrderPaid
		if i%3 == 0 {
			typ = paygate.EventRefundSucceeded
		}
		e := f.emit(t, f.merchant, typ, t0.Add(time.Duration(i)*time.Second))
		newestFirst = append([]string{e.ID}, newestFirst...)
		if typ == paygate.EventRefundSucceeded {
			refunds = append([]string{e.ID}, refunds...)
		}
		if i < 6 {
			if err := f.store.RecordWebhookAttempt(ctx, &paygate.WebhookAttempt{EventID: e.ID, StatusCode: 200, Success: true}); err != nil {
				t.Fatal(err)
			}
		} else {
			undelivered = append([]string{e.ID}, undelivered...)
		}
	}
	f.emit(t, f.otherMerchant(t), paygate.EventOrderPaid, t0.Add(time.Hour))

	mustEqualIDs(t, "all", f.listAll(t, url.Values{}), newestFirst)
	mustEqualIDs(t, "refunds", f.listAll(t, url.Values{"type": {paygate.EventRefundSucceeded}}), refunds)
	mustEqualIDs(t, "undelivered", f.listAll(t, url.Values{"undelivered": {"true"}}), undelivered)
	mustEqualIDs(t, "undelivered=false", f.listAll(t, url.Values{"undelivered": {"false"}}), newestFirst)
	mustEqualIDs(t, "late payments", f.listAll(t, url.Values{"type": {paygate.EventOrderLatePayment}}), nil)

	// The shape of one event.
	status, _, b := f.send(t, req{path: "/api/v1/events", query: url.Values{"limit": {"1"}}})
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, b)
	}
	var got struct {
		Events     []map[string]any `json:"events"`
		NextCursor *string          `json:"next_cursor"`
	}
	if err := json.Unmarshal(b, &got); err != nil || len(got.Events) != 1 || got.NextCursor == nil {
		t.Fatalf("list of one: %s", b)
	}
	e := got.Events[0]
	order, _ := e["order"].(map[string]any)
	delete(e, "order")
	// The payload is the webhook's body, byte for byte.
	var raw struct {
		Events []struct {
			Payload json.RawMessage `json:"payload"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	stored, err := f.store.EventByID(ctx, newestFirst[0])
	if err != nil {
		t.Fatal(err)
	}
	if string(raw.Events[0].Payload) != string(stored.Payload) {
		t.Fatalf("payload =\n%s\nwant the stored webhook body\n%s", raw.Events[0].Payload, stored.Payload)
	}
	delete(e, "payload")
	want := map[string]any{"id": newestFirst[0], "type": paygate.EventRefundSucceeded, "created_at": "2026-05-06T07:08:18Z",
		"delivered_at": nil, "dead_at": nil, "attempts": float64(0),
		"refund": map[string]any{"out_request_no": "R1", "out_trade_no": order["out_trade_no"], "amount": "1.00",
			"reason": "", "status": "succeeded", "created_at": "2026-05-06T07:08:18Z", "succeeded_at": "2026-05-06T07:08:18Z"}}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("event JSON =\n%v\nwant\n%v", e, want)
	}
	if order["out_trade_no"] == nil || order["status"] != "paid" || order["total_amount"] != "12.00" {
		t.Fatalf("event's order = %v", order)
	}
}

func mustEqualIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: listed %v, want %v", what, got, want)
	}
}

func TestListEventsValidation(t *testing.T) {
	t.Parallel()
	f := setupEvents(t)
	for _, q := range []url.Values{
		{"type": {"order.created"}},
		{"undelivered": {"yes"}},
		{"limit": {"0"}},
		{"limit": {"101"}},
		{"limit": {"ten"}},
		{"cursor": {"not-a-cursor"}},
		{"cursor": {"bzE6MTI"}}, // an orders cursor
		{"status": {"paid"}},
		{"type": {"order.paid", "order.closed"}},
	} {
		status, hdr, b := f.send(t, req{path: "/api/v1/events", query: q})
		wantError(t, status, hdr, b, http.StatusBadRequest, paygate.EInvalid, "")
	}
}

type eventDetail struct {
	ID               string  `json:"id"`
	DeadAt           *string `json:"dead_at"`
	DeliveredAt      *string `json:"delivered_at"`
	Attempts         int     `json:"attempts"`
	DeliveryAttempts []struct {
		At         string  `json:"at"`
		URL        *string `json:"url"`
		StatusCode *int    `json:"status_code"`
		LatencyMS  int64   `json:"latency_ms"`
		Excerpt    string  `json:"excerpt"`
		Success    bool    `json:"success"`
	} `json:"delivery_attempts"`
}

func TestGetEvent(t *testing.T) {
	t.Parallel()
	f := setupEvents(t)
	ctx := context.Background()
	e := f.emit(t, f.merchant, paygate.EventOrderPaid, t0)
	for _, a := range []*paygate.WebhookAttempt{
		{EventID: e.ID, At: t0.Add(time.Second), URL: "https://shop.example/hook", Excerpt: "circuit open for shop.example"},
		{EventID: e.ID, At: t0.Add(2 * time.Second), URL: "https://shop.example/hook", StatusCode: 500, Latency: 1500 * time.Millisecond, Excerpt: "oops"},
	} {
		if err := f.store.RecordWebhookAttempt(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	var got eventDetail
	if _, err := f.client.Do(ctx, "GET", "/api/v1/events/"+e.ID, nil, nil, &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != e.ID || got.Attempts != 2 || got.DeliveredAt != nil || len(got.DeliveryAttempts) != 2 {
		t.Fatalf("event = %+v", got)
	}
	a0, a1 := got.DeliveryAttempts[0], got.DeliveryAttempts[1]
	if a0.StatusCode != nil || a0.Excerpt != "circuit open for shop.example" || a0.At != "2026-05-06T07:08:10Z" {
		t.Errorf("first attempt = %+v", a0)
	}
	if a1.StatusCode == nil || *a1.StatusCode != 500 || a1.LatencyMS != 1500 || a1.URL == nil || *a1.URL != "https://shop.example/hook" || a1.Success {
		t.Errorf("second attempt = %+v", a1)
	}

	other := f.emit(t, f.otherMerchant(t), paygate.EventOrderPaid, t0.Add(time.Minute))
	status, hdr, b := f.send(t, req{path: "/api/v1/events/" + other.ID})
	wantError(t, status, hdr, b, http.StatusNotFound, paygate.ENotFound, "")
	status, hdr, b = f.send(t, req{path: "/api/v1/events/evt_missing"})
	wantError(t, status, hdr, b, http.StatusNotFound, paygate.ENotFound, "")
	status, hdr, b = f.send(t, req{path: "/api/v1/events/evt-bad!"})
	wantError(t, status, hdr, b, http.StatusBadRequest, paygate.EInvalid, "event id")
}

func TestResendEvent(t *testing.T) {
	t.Parallel()
	f := setupEvents(t)
	ctx := context.Background()
	e := f.emit(t, f.merchant, paygate.EventOrderPaid, t0)
	if err := f.store.MarkEventDead(ctx, e.ID, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	// The queue fails: the event stays dead (one transaction).
	f.queue.mu.Lock()
	f.queue.err = errors.New("queue down")
	f.queue.mu.Unlock()
	status, hdr, b := f.send(t, req{method: "POST", path: "/api/v1/events/" + e.ID + "/resend"})
	wantError(t, status, hdr, b, http.StatusInternalServerError, paygate.EInternal, "")
	if got, _ := f.store.EventByID(ctx, e.ID); got.DeadAt.IsZero() {
		t.Fatal("a failed re-send revived the event")
	}
	f.queue.mu.Lock()
	f.queue.err = nil
	f.queue.mu.Unlock()

	var got eventDetail
	resp, err := f.client.Do(ctx, "POST", "/api/v1/events/"+e.ID+"/resend", nil, nil, &got)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusAccepted || got.ID != e.ID || got.DeadAt != nil {
		t.Fatalf("resend: %d %+v", resp.StatusCode, got)
	}
	want := []paygate.Job{{Kind: paygate.JobDeliverEvent, EventID: e.ID}}
	if jobs := f.queue.Jobs(t); !reflect.DeepEqual(jobs, want) {
		t.Fatalf("enqueued %+v, want %+v", jobs, want)
	}
	if stored, _ := f.store.EventByID(ctx, e.ID); !stored.DeadAt.IsZero() {
		t.Fatal("re-sent event still dead")
	}

	other := f.emit(t, f.otherMerchant(t), paygate.EventOrderPaid, t0.Add(time.Minute))
	status, hdr, b = f.send(t, req{method: "POST", path: "/api/v1/events/" + other.ID + "/resend"})
	wantError(t, status, hdr, b, http.StatusNotFound, paygate.ENotFound, "")
	status, hdr, b = f.send(t, req{method: "POST", path: "/api/v1/events/" + e.ID + "/resend", body: []byte(`{"x":1}`)})
	wantError(t, status, hdr, b, http.StatusBadRequest, paygate.EInvalid, "unknown field")
	if n := len(f.queue.Jobs(t)); n != 1 {
		t.Fatalf("%d jobs enqueued, want 1", n)
	}
}

func TestEventsRoutesNeedEvents(t *testing.T) {
	t.Parallel()
	f := setup(t)
	status, hdr, b := f.send(t, req{path: "/api/v1/events"})
	wantError(t, status, hdr, b, http.StatusNotFound, paygate.ENotFound, "")
}
