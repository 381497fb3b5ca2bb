package jobs_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/jobs"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/postgres/pgtest"
	"github.com/paygate/paygate/sqlite"
	"github.com/paygate/paygate/testenv"
)

// schedule is the tests' compressed retry schedule: 4 attempts in 0.6 s.
var schedule = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}

// backend is one store with what a queue on it needs.
type backend struct {
	store    paygate.Store
	newQueue func(cfg jobs.Config) (*jobs.Queue, error)
	// pendingJobs counts the delivery jobs River has not finished.
	pendingJobs func() (int, error)
	// jobSnoozes counts the snoozes of an event's delivery jobs, as River
	// records them in each job's metadata.
	jobSnoozes func(eventID string) (int, error)
	// countJobs runs a count(*) query (the same SQL on both databases).
	countJobs func(query string) (int, error)
}

const (
	pendingSQL      = `SELECT count(*) FROM river_job WHERE kind = 'deliver_event' AND state NOT IN ('completed', 'discarded', 'cancelled')`
	snoozesSQLite   = `SELECT coalesce(sum(json_extract(metadata, '$.snoozes')), 0) FROM river_job WHERE kind = 'deliver_event' AND json_extract(args, '$.event_id') = ?`
	snoozesPostgres = `SELECT coalesce(sum((metadata->>'snoozes')::int), 0) FROM river_job WHERE kind = 'deliver_event' AND args->>'event_id' = $1`
)

// storeKinds runs fn on SQLite, and on PostgreSQL when
// PAYGATE_TEST_POSTGRES_URL is set (required in CI).
func storeKinds(t *testing.T, fn func(t *testing.T, open func(t *testing.T) backend)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, openSQLite)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testenv.Postgres(t)
		fn(t, openPostgres)
	})
}

func newSealer(t *testing.T) *paygate.Sealer {
	t.Helper()
	key := make([]byte, paygate.MasterKeySize)
	rand.Read(key)
	s, err := paygate.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openSQLite(t *testing.T) backend {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "paygate.db"), newSealer(t), sqlite.WithMigrate())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := jobs.MigrateSQLite(ctx, st.DB()); err != nil {
		t.Fatalf("river migrations: %v", err)
	}
	return backend{
		store:       st,
		newQueue:    func(cfg jobs.Config) (*jobs.Queue, error) { return jobs.NewSQLite(st.DB(), cfg) },
		pendingJobs: func() (int, error) { return countSQL(st.DB(), pendingSQL) },
		jobSnoozes:  func(id string) (int, error) { return countSQL(st.DB(), snoozesSQLite, id) },
		countJobs:   func(q string) (int, error) { return countSQL(st.DB(), q) },
	}
}

func countSQL(db *sql.DB, query string, args ...any) (n int, err error) {
	err = db.QueryRow(query, args...).Scan(&n)
	return n, err
}

func openPostgres(t *testing.T) backend {
	t.Helper()
	st := pgtest.Open(t, newSealer(t), postgres.WithMigrate())
	if err := jobs.MigratePostgres(context.Background(), st.DB()); err != nil {
		t.Fatalf("river migrations: %v", err)
	}
	return backend{
		store:       st,
		newQueue:    func(cfg jobs.Config) (*jobs.Queue, error) { return jobs.NewPostgres(st.DB(), cfg) },
		pendingJobs: func() (int, error) { return countPgx(st.DB(), pendingSQL) },
		jobSnoozes:  func(id string) (int, error) { return countPgx(st.DB(), snoozesPostgres, id) },
		countJobs:   func(q string) (int, error) { return countPgx(st.DB(), q) },
	}
}

func countPgx(pool *pgxpool.Pool, query string, args ...any) (n int, err error) {
	err = pool.QueryRow(context.Background(), query, args...).Scan(&n)
	return n, err
}

// clock is the worker's clock: real time plus an offset that grows by a
// minute at every reading, so that each attempt is signed at another second.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time {
	return time.Now().Add(time.Duration(c.offset.Add(int64(time.Minute))))
}

// Peek is the clock's time without moving it.
func (c *clock) Peek() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// receiver is a merchant's webhook endpoint: it verifies every request's
// signature and answers with reply.
type receiver struct {
	t      *testing.T
	url    string
	secret string
	clock  *clock

	mu    sync.Mutex
	got   []received
	reply func(n int) (status int, body string) // n counts requests from 1
}

type received struct {
	header   http.Header
	body     []byte
	signedAt int64
	// verifyErr is both header sets' verification, paygateErr and
	// standardErr each set's alone (the other one removed).
	verifyErr, paygateErr, standardErr error
}

func newReceiver(t *testing.T, secret string, clk *clock, reply func(n int) (int, string)) *receiver {
	t.Helper()
	r := &receiver{t: t, secret: secret, clock: clk, reply: reply}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		sig := req.Header.Get(client.WebhookSignatureHeader)
		now := r.clock.Peek()
		rec := received{header: req.Header.Clone(), body: body,
			verifyErr:   client.VerifyWebhookHeaders(r.secret, req.Header, body, 0, now),
			paygateErr:  client.VerifyWebhook(r.secret, sig, body, 0, now),
			standardErr: client.VerifyStandardWebhook([]byte(r.secret), req.Header, body, 0, now)}
		if ts, ok := strings.CutPrefix(strings.Split(sig, ",")[0], "t="); ok {
			rec.signedAt, _ = strconv.ParseInt(ts, 10, 64)
		}
		r.mu.Lock()
		r.got = append(r.got, rec)
		status, text := r.reply(len(r.got))
		r.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, text)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL + "/hooks/paygate"
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func (r *receiver) setReply(reply func(n int) (int, string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reply = reply
}

func always(status int) func(int) (int, string) {
	return func(int) (int, string) { return status, http.StatusText(status) }
}

// env is a running queue with the delivery worker, on one store.
type env struct {
	backend
	queue    *jobs.Queue
	merchant *paygate.Merchant
	clock    *clock
	events   *jobs.EventService
	breakers *jobs.Breakers
}

type setupOptions struct {
	merchantURL string
	secret      string // default: random
	clock       *clock // default: a new one
	breakers    jobs.BreakerConfig
	schedule    []time.Duration // default: schedule
	// egress is where deliveries may go. The tests' receivers are
	// httptest servers on 127.0.0.1, over http: default both allowed.
	egress *jobs.EgressPolicy
}

func setup(t *testing.T, open func(t *testing.T) backend, opts setupOptions) *env {
	t.Helper()
	ctx := context.Background()
	if opts.clock == nil {
		opts.clock = &clock{}
	}
	if opts.secret == "" {
		opts.secret = "whsec_" + rand.Text()
	}
	e := &env{backend: open(t), clock: opts.clock}
	e.merchant = e.newMerchant(t, opts.merchantURL, opts.secret)
	if opts.schedule == nil {
		opts.schedule = schedule
	}
	q, err := e.newQueue(jobs.Config{PollInterval: 100 * time.Millisecond, WebhookSchedule: opts.schedule})
	if err != nil {
		t.Fatal(err)
	}
	if opts.breakers.Wait == 0 {
		opts.breakers.Wait = 100 * time.Millisecond
	}
	if opts.egress == nil {
		opts.egress = &jobs.EgressPolicy{AllowPrivateNetworks: true, AllowHTTP: true}
	}
	e.breakers = jobs.NewBreakers(opts.breakers)
	jobs.RegisterWebhooks(q, jobs.WebhookConfig{Store: e.store, Breakers: e.breakers, Now: e.clock.Now, Egress: *opts.egress})
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop queue: %v", err)
		}
	})
	e.queue = q
	e.events = &jobs.EventService{Store: e.store, Queue: q}
	return e
}

// newMerchant adds a merchant with notifyURL and secret.
func (e *env) newMerchant(t *testing.T, notifyURL, secret string) *paygate.Merchant {
	t.Helper()
	m := &paygate.Merchant{Name: "shop", AccessKey: "ak_" + rand.Text(), SecretKey: "sk",
		WebhookSecret: secret, NotifyURL: notifyURL, CreatedAt: time.Now()}
	if err := e.store.CreateMerchant(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// emit creates a paid order notifying notifyURL (empty: the merchant's)
// and its order.paid event, and enqueues the event's delivery, all in one
// transaction as the gateway does.
func (e *env) emit(t *testing.T, notifyURL string) *paygate.Event {
	t.Helper()
	return e.emitFor(t, e.merchant, notifyURL)
}

// emitFor is emit for merchant m.
func (e *env) emitFor(t *testing.T, m *paygate.Merchant, notifyURL string) *paygate.Event {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	o := &paygate.Order{MerchantID: m.ID, OutTradeNo: "T" + rand.Text(), ChannelNo: "PG" + rand.Text(),
		Mode: paygate.ModeQR, Subject: "coffee", TotalAmount: 1234, Status: paygate.StatusPaid, NotifyURL: notifyURL,
		TradeNo: "2026" + rand.Text(), CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour), PaidAt: now}
	id := "evt_" + strings.ToLower(rand.Text())
	payload, err := json.Marshal(map[string]any{"id": id, "type": paygate.EventOrderPaid,
		"created_at": now.Format(time.RFC3339), "data": map[string]any{"order": o.View()}})
	if err != nil {
		t.Fatal(err)
	}
	ev := &paygate.Event{ID: id, MerchantID: m.ID, Type: paygate.EventOrderPaid, Payload: payload, CreatedAt: now}
	err = e.store.Tx(ctx, func(tx paygate.StoreTx) error {
		if err := tx.CreateOrder(ctx, o); err != nil {
			return err
		}
		ev.OrderID = o.ID
		if err := tx.CreateEvent(ctx, ev); err != nil {
			return err
		}
		return e.queue.Enqueue(ctx, tx, paygate.Job{Kind: paygate.JobDeliverEvent, EventID: id})
	})
	if err != nil {
		t.Fatalf("emit: %v", err)
	}
	return ev
}

func (e *env) event(t *testing.T, id string) *paygate.Event {
	t.Helper()
	ev, err := e.store.EventByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func (e *env) attempts(t *testing.T, id string) []*paygate.WebhookAttempt {
	t.Helper()
	list, err := e.store.WebhookAttempts(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// settle waits until River has no delivery job left to run.
func (e *env) settle(t *testing.T) {
	t.Helper()
	eventually(t, "delivery jobs to finish", func() bool {
		n, err := e.pendingJobs()
		if err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
}

// eventually waits up to 15 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	// A bound against hanging, not a speed check: under -race on a machine
	// shared by several runs, 20 events of 4 attempts each took over 15 s.
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func delivered(t *testing.T, e *env, id string) func() bool {
	return func() bool { return !e.event(t, id).DeliveredAt.IsZero() }
}

func dead(t *testing.T, e *env, id string) func() bool {
	return func() bool { return !e.event(t, id).DeadAt.IsZero() }
}

// checkRequest checks one webhook request against the event.
func checkRequest(t *testing.T, r received, ev *paygate.Event) {
	t.Helper()
	if r.verifyErr != nil || r.paygateErr != nil || r.standardErr != nil {
		t.Errorf("signatures: both sets %v; Paygate-Signature alone %v; Standard Webhooks alone %v", r.verifyErr, r.paygateErr, r.standardErr)
	}
	if got, want := r.header.Get(client.StandardTimestampHeader), strconv.FormatInt(r.signedAt, 10); got != want {
		t.Errorf("webhook-timestamp = %q; want Paygate-Signature's t, %s", got, want)
	}
	if string(r.body) != string(ev.Payload) {
		t.Errorf("body = %s\nwant the stored payload %s", r.body, ev.Payload)
	}
	for k, want := range map[string]string{
		"Content-Type": "application/json", "User-Agent": jobs.WebhookUserAgent, jobs.EventIDHeader: ev.ID,
		client.StandardIDHeader: ev.ID,
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestWebhookDelivered(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) backend) {
		e := setup(t, open, setupOptions{})
		rcv := newReceiver(t, e.merchant.WebhookSecret, e.clock, always(http.StatusNoContent))
		ev := e.emit(t, rcv.url)
		eventually(t, "delivery", delivered(t, e, ev.ID))
		e.settle(t)

		got := rcv.requests()
		if len(got) != 1 {
			t.Fatalf("receiver got %d requests, want 1", len(got))
		}
		checkRequest(t, got[0], ev)
		stored := e.event(t, ev.ID)
		if stored.Attempts != 1 || !stored.DeadAt.IsZero() {
			t.Fatalf("event: attempts %d, dead %v", stored.Attempts, stored.DeadAt)
		}
		a := e.attempts(t, ev.ID)
		if len(a) != 1 || !a[0].Success || a[0].StatusCode != 204 || a[0].URL != rcv.url || a[0].Latency <= 0 {
			t.Fatalf("attempts = %+v", a)
		}

		// A duplicate job for the delivered event sends nothing.
		if err := e.queue.EnqueueNow(context.Background(), paygate.Job{Kind: paygate.JobDeliverEvent, EventID: ev.ID}); err != nil {
			t.Fatal(err)
		}
		e.settle(t)
		if n := len(rcv.requests()); n != 1 {
			t.Fatalf("after a duplicate job the receiver got %d requests, want 1", n)
		}
		if n := len(e.attempts(t, ev.ID)); n != 1 {
			t.Fatalf("after a duplicate job %d attempts are recorded, want 1", n)
		}
		// A second opinion on the real delivery: Python's hmac, given only
		// the Standard Webhooks form of the secret (and the secret itself
		// for Paygate-Signature).
		if err := testenv.VerifyWebhookInPython(t, client.StandardWebhookSecret(e.merchant.WebhookSecret), e.merchant.WebhookSecret,
			got[0].header, got[0].body); err != nil {
			t.Errorf("independent verification of a delivery: %v", err)
		}
	})
}

func TestWebhookMerchantURL(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) backend) {
		clk, secret := &clock{}, "whsec_merchant"
		rcv := newReceiver(t, secret, clk, always(http.StatusOK))
		e := setup(t, open, setupOptions{merchantURL: rcv.url, secret: secret, clock: clk})
		ev := e.emit(t, "") // the order has no URL of its own
		eventually(t, "delivery", delivered(t, e, ev.ID))
		if got := rcv.requests(); len(got) != 1 {
			t.Fatalf("merchant's endpoint got %d requests, want 1", len(got))
		}
	})
}

func TestWebhookRetriedThenAcknowledged(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) backend) {
		e := setup(t, open, setupOptions{})
		long := "upstream failure: " + strings.Repeat("x", 300)
		rcv := newReceiver(t, e.merchant.WebhookSecret, e.clock, func(n int) (int, string) {
			if n <= 2 {
				return http.StatusInternalServerError, long
			}
			return http.StatusOK, "ok"
		})
		ev := e.emit(t, rcv.url)
		eventually(t, "delivery", delivered(t, e, ev.ID))
		e.settle(t)

		got := rcv.requests()
		if len(got) != 3 {
			t.Fatalf("receiver got %d requests, want 3", len(got))
		}
		for i, r := range got {
			checkRequest(t, r, ev)
			if i > 0 && r.signedAt <= got[i-1].signedAt {
				t.Errorf("attempt %d signed at %d, not after attempt %d (%d): not re-signed", i+1, r.signedAt, i, got[i-1].signedAt)
			}
		}
		a := e.attempts(t, ev.ID)
		if len(a) != 3 {
			t.Fatalf("%d attempts recorded, want 3", len(a))
		}
		for i, want := range []int{500, 500, 200} {
			if a[i].StatusCode != want || a[i].Success != (want == 200) || a[i].Latency <= 0 || a[i].URL != rcv.url {
				t.Errorf("attempt %d = %+v, want status %d", i+1, a[i], want)
			}
			if i > 0 && !a[i].At.After(a[i-1].At) {
				t.Errorf("attempt %d at %v, not after attempt %d", i+1, a[i].At, i)
			}
		}
		if a[0].Excerpt != long[:paygate.MaxExcerpt] || a[2].Excerpt != "ok" {
			t.Errorf("excerpts %q, %q", a[0].Excerpt, a[2].Excerpt)
		}
		if ev := e.event(t, ev.ID); ev.Attempts != 3 || !ev.DeadAt.IsZero() {
			t.Errorf("event: attempts %d, dead %v", ev.Attempts, ev.DeadAt)
		}
	})
}

func TestWebhookDeadLetteredThenResent(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) backend) {
		e := setup(t, open, setupOptions{})
		rcv := newReceiver(t, e.merchant.WebhookSecret, e.clock, always(http.StatusServiceUnavailable))
		ev := e.emit(t, rcv.url)
		eventually(t, "dead-letter", dead(t, e, ev.ID))
		e.settle(t)

		attempts := len(schedule) + 1
		if n := len(rcv.requests()); n != attempts {
			t.Fatalf("receiver got %d requests, want %d", n, attempts)
		}
		stored := e.event(t, ev.ID)
		if stored.Attempts != attempts || !stored.DeliveredAt.IsZero() {
			t.Fatalf("dead event: attempts %d, delivered %v", stored.Attempts, stored.DeliveredAt)
		}
		undelivered, err := e.events.ListEvents(context.Background(), paygate.EventFilter{MerchantID: e.merchant.ID, Undelivered: true})
		if err != nil || len(undelivered) != 1 || undelivered[0].ID != ev.ID {
			t.Fatalf("undelivered events = %v, %v; want the dead one", undelivered, err)
		}

		// The endpoint is back: a re-send by hand delivers the event.
		rcv.setReply(always(http.StatusOK))
		revived, err := e.events.ResendEvent(context.Background(), e.merchant.ID, ev.ID)
		if err != nil {
			t.Fatalf("ResendEvent: %v", err)
		}
		if !revived.DeadAt.IsZero() {
			t.Fatalf("resent event still dead at %v", revived.DeadAt)
		}
		eventually(t, "delivery of the re-sent event", delivered(t, e, ev.ID))
		got := rcv.requests()
		if len(got) != attempts+1 {
			t.Fatalf("receiver got %d requests, want %d", len(got), attempts+1)
		}
		checkRequest(t, got[len(got)-1], ev)
		if stored := e.event(t, ev.ID); stored.Attempts != attempts+1 || !stored.DeadAt.IsZero() {
			t.Fatalf("re-sent event: attempts %d, dead %v", stored.Attempts, stored.DeadAt)
		}

		// Another merchant cannot re-send it.
		if _, err := e.events.ResendEvent(context.Background(), e.merchant.ID+1000, ev.ID); paygate.ErrorCode(err) != paygate.ENotFound {
			t.Fatalf("another merchant's re-send: %v, want not found", err)
		}
	})
}

func TestWebhookNoEndpoint(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) backend) {
		e := setup(t, open, setupOptions{}) // the merchant has no URL either
		ev := e.emit(t, "")
		eventually(t, "the event given up", dead(t, e, ev.ID))
		e.settle(t)
		a := e.attempts(t, ev.ID)
		if len(a) != 1 || a[0].Excerpt != "no webhook URL configured" || a[0].URL != "" || a[0].StatusCode != 0 || a[0].Success {
			t.Fatalf("attempts = %+v, want one saying no URL is configured", a)
		}
		if stored := e.event(t, ev.ID); stored.Attempts != 1 || !stored.DeliveredAt.IsZero() {
			t.Fatalf("event: attempts %d, delivered %v", stored.Attempts, stored.DeliveredAt)
		}
	})
}

// TestWebhookBreaker sends 20 events to a dead endpoint: its circuit opens
// after Failures requests; the other deliveries are snoozed, spending no
// attempt, until the retry schedule has passed, and then given up with one
// attempt saying why; another endpoint is served meanwhile.
func TestWebhookBreaker(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) backend) {
		const failures = 5
		e := setup(t, open, setupOptions{breakers: jobs.BreakerConfig{Failures: failures, OpenFor: time.Minute}})
		deadRcv := newReceiver(t, e.merchant.WebhookSecret, e.clock, always(http.StatusBadGateway))
		liveRcv := newReceiver(t, e.merchant.WebhookSecret, e.clock, always(http.StatusOK))
		var evs []*paygate.Event
		for range 20 {
			evs = append(evs, e.emit(t, deadRcv.url))
		}
		for _, ev := range evs {
			eventually(t, "dead-letter", dead(t, e, ev.ID))
		}
		live := e.emit(t, liveRcv.url)
		eventually(t, "delivery to the live endpoint", delivered(t, e, live.ID))
		e.settle(t)

		u, _ := url.Parse(deadRcv.url)
		givenUp := "circuit open for " + u.Host + " for longer than the retry schedule (600ms); given up"
		n := len(deadRcv.requests())
		t.Logf("the dead endpoint got %d requests for 20 events", n)
		if n < 1 || n > failures {
			t.Fatalf("the dead endpoint got %d requests, want 1 to %d", n, failures)
		}
		sent, neverSent := 0, 0
		for _, ev := range evs {
			a := e.attempts(t, ev.ID)
			for i, at := range a {
				switch {
				case at.StatusCode == http.StatusBadGateway:
					sent++
				case i == len(a)-1 && at.Excerpt == givenUp && at.StatusCode == 0:
				default:
					t.Fatalf("unexpected attempt %+v", at)
				}
			}
			if last := a[len(a)-1]; last.Excerpt != givenUp && len(a) != len(schedule)+1 {
				t.Fatalf("attempts %+v: neither all spent nor given up", a)
			}
			if a[0].Excerpt == givenUp {
				// Snoozed behind the open circuit all along: one attempt.
				neverSent++
				if len(a) != 1 {
					t.Fatalf("an event never sent has %d attempts, want 1 (snoozes spend none)", len(a))
				}
			}
		}
		if sent != n || neverSent < 20-n {
			t.Fatalf("%d attempts sent, %d events never sent; the endpoint got %d requests", sent, neverSent, n)
		}
		if n := len(liveRcv.requests()); n != 1 {
			t.Fatalf("the live endpoint got %d requests, want 1", n)
		}
	})
}

// TestWebhookBreakerSnoozes opens an endpoint's circuit for longer than
// the test: the deliveries that come meanwhile are snoozed (River counts
// the snoozes in each job), spend no attempt, and are given up with one
// attempt saying why once the retry schedule's span has passed.
func TestWebhookBreakerSnoozes(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) backend) {
		e := setup(t, open, setupOptions{
			breakers: jobs.BreakerConfig{Failures: 1, OpenFor: time.Hour},
			// Long enough that the later jobs run (and snooze) before it ends.
			schedule: []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second},
		})
		rcv := newReceiver(t, e.merchant.WebhookSecret, e.clock, always(http.StatusServiceUnavailable))
		first := e.emit(t, rcv.url)
		eventually(t, "the first attempt", func() bool { return len(e.attempts(t, first.ID)) == 1 })
		later := []*paygate.Event{e.emit(t, rcv.url), e.emit(t, rcv.url)}
		for _, ev := range append(later, first) {
			eventually(t, "dead-letter", dead(t, e, ev.ID))
		}
		e.settle(t)

		u, _ := url.Parse(rcv.url)
		givenUp := "circuit open for " + u.Host + " for longer than the retry schedule (6s); given up"
		for _, ev := range later {
			a := e.attempts(t, ev.ID)
			if len(a) != 1 || a[0].Excerpt != givenUp {
				t.Fatalf("an event that came while its circuit was open has attempts %+v, want one saying %q", a, givenUp)
			}
			n, err := e.jobSnoozes(ev.ID)
			if err != nil {
				t.Fatal(err)
			}
			if n < 1 {
				t.Fatalf("the delivery of %s was never snoozed", ev.ID)
			}
		}
		if a := e.attempts(t, first.ID); len(a) != 2 || a[0].StatusCode != http.StatusServiceUnavailable || a[1].Excerpt != givenUp {
			t.Fatalf("the first event has attempts %+v, want its failure, then given up", a)
		}
		if n := len(rcv.requests()); n != 1 {
			t.Fatalf("the endpoint got %d requests, want 1", n)
		}
	})
}

// TestWebhookBreakerResumes: once an endpoint's circuit closes again, the
// deliveries that waited behind it are each delivered with one attempt.
func TestWebhookBreakerResumes(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) backend) {
		e := setup(t, open, setupOptions{
			breakers: jobs.BreakerConfig{Failures: 1, OpenFor: time.Second},
			schedule: []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second},
		})
		rcv := newReceiver(t, e.merchant.WebhookSecret, e.clock, func(n int) (int, string) {
			if n == 1 {
				return http.StatusServiceUnavailable, "down"
			}
			return http.StatusOK, "ok"
		})
		first := e.emit(t, rcv.url)
		eventually(t, "the first attempt", func() bool { return len(e.attempts(t, first.ID)) == 1 })
		later := []*paygate.Event{e.emit(t, rcv.url), e.emit(t, rcv.url)}
		for _, ev := range append(later, first) {
			eventually(t, "delivery", delivered(t, e, ev.ID))
		}
		e.settle(t)
		for _, ev := range later {
			if a := e.attempts(t, ev.ID); len(a) != 1 || !a[0].Success {
				t.Fatalf("an event sent after its circuit opened has attempts %+v, want one, delivered", a)
			}
		}
		if n := len(rcv.requests()); n != 4 {
			t.Fatalf("the endpoint got %d requests, want 4 (the failure, then each event once)", n)
		}
	})
}

// TestWebhookBreakerPerMerchant: merchant 2's deliveries failing against a
// host open merchant 2's circuit only; merchant 1's deliveries to the same
// host keep flowing.
func TestWebhookBreakerPerMerchant(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) backend) {
		const failures = 2
		e := setup(t, open, setupOptions{breakers: jobs.BreakerConfig{Failures: failures, OpenFor: time.Minute}})
		var toM1, toM2 atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/m1" {
				toM1.Add(1)
				return // 200
			}
			toM2.Add(1)
			http.NotFound(w, r)
		}))
		t.Cleanup(srv.Close)
		m2 := e.newMerchant(t, "", "whsec_"+rand.Text())
		var m2Events []*paygate.Event
		for range 4 {
			m2Events = append(m2Events, e.emitFor(t, m2, srv.URL+"/m2"))
		}
		eventually(t, "merchant 2's circuit to open", func() bool {
			return e.breakers.State(jobs.EndpointKey(m2.ID, srv.URL+"/m2")) == "open"
		})
		var m1Events []*paygate.Event
		for range 3 {
			m1Events = append(m1Events, e.emit(t, srv.URL+"/m1"))
		}
		for _, ev := range m1Events {
			eventually(t, "merchant 1's delivery", delivered(t, e, ev.ID))
			if a := e.attempts(t, ev.ID); len(a) != 1 || !a[0].Success {
				t.Fatalf("merchant 1's event has attempts %+v, want one, delivered", a)
			}
		}
		for _, ev := range m2Events {
			eventually(t, "merchant 2's dead-letter", dead(t, e, ev.ID))
		}
		e.settle(t)
		if n := toM1.Load(); n != 3 {
			t.Fatalf("merchant 1's endpoint got %d requests, want 3", n)
		}
		if n := toM2.Load(); n < 1 || n > failures {
			t.Fatalf("merchant 2's endpoint got %d requests, want 1 to %d", n, failures)
		}
		if st := e.breakers.State(jobs.EndpointKey(e.merchant.ID, srv.URL+"/m1")); st != "closed" {
			t.Fatalf("merchant 1's circuit is %s, want closed", st)
		}
	})
}

// TestWebhookClientErrorsRetried: a receiver that answers 4xx (or a
// redirect, which is not followed) has not acknowledged: the event is
// retried on the schedule and dead-lettered, never delivered.
func TestWebhookClientErrorsRetried(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusFound} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			storeKinds(t, func(t *testing.T, open func(*testing.T) backend) {
				e := setup(t, open, setupOptions{})
				rcv := newReceiver(t, e.merchant.WebhookSecret, e.clock, always(status))
				ev := e.emit(t, rcv.url)
				eventually(t, "dead-letter", dead(t, e, ev.ID))
				e.settle(t)
				if n := len(rcv.requests()); n != len(schedule)+1 {
					t.Fatalf("receiver got %d requests, want %d", n, len(schedule)+1)
				}
				for _, a := range e.attempts(t, ev.ID) {
					if a.Success || a.StatusCode != status {
						t.Fatalf("attempt %+v, want a failed one with status %d", a, status)
					}
				}
				if stored := e.event(t, ev.ID); !stored.DeliveredAt.IsZero() || stored.Attempts != len(schedule)+1 {
					t.Fatalf("event: delivered %v, attempts %d", stored.DeliveredAt, stored.Attempts)
				}
			})
		})
	}
}

func TestEventServiceScoping(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) backend) {
		e := setup(t, open, setupOptions{})
		rcv := newReceiver(t, e.merchant.WebhookSecret, e.clock, always(http.StatusOK))
		ev := e.emit(t, rcv.url)
		eventually(t, "delivery", delivered(t, e, ev.ID))
		ctx := context.Background()
		got, attempts, err := e.events.Event(ctx, e.merchant.ID, ev.ID)
		if err != nil || got.ID != ev.ID || len(attempts) != 1 {
			t.Fatalf("Event = %v, %v, %v", got, attempts, err)
		}
		if _, _, err := e.events.Event(ctx, 0, ev.ID); err != nil {
			t.Fatalf("the operator's Event: %v", err)
		}
		if _, _, err := e.events.Event(ctx, e.merchant.ID+1, ev.ID); paygate.ErrorCode(err) != paygate.ENotFound {
			t.Fatalf("another merchant's Event: %v, want not found", err)
		}
		if _, err := e.events.ResendEvent(ctx, e.merchant.ID, "evt_missing"); paygate.ErrorCode(err) != paygate.ENotFound {
			t.Fatalf("ResendEvent of a missing event: %v, want not found", err)
		}
		// A delivered event may be re-sent too: the merchant lost it.
		if _, err := e.events.ResendEvent(ctx, e.merchant.ID, ev.ID); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the second delivery", func() bool { return len(rcv.requests()) == 2 })
		eventually(t, "delivery", delivered(t, e, ev.ID))
	})
}
