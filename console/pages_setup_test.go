package console_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/console"
	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/jobs"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/sqlite"
)

// pagesEnv is env with what the merchants, webhooks and health pages use,
// all real: a River queue on the store's database, started, with the
// webhook worker (allowed to reach loopback over http) and compensation
// registered; gateway.Merchants on that queue; a webhook receiver; a
// channel breaker over an Alipay address where nothing listens; and a log
// the tests read for secrets.
type pagesEnv struct {
	*env
	queue    *jobs.Queue
	events   *jobs.EventService
	hooks    *hookReceiver
	breaker  *gateway.ResilientChannel
	log      *syncBuffer
	draining bool
	mu       sync.Mutex
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// hookReceiver is a merchant's webhook endpoint: it acknowledges every
// delivery and counts them.
type hookReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	ids []string
}

func (h *hookReceiver) received() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ids...)
}

func setupPages(t *testing.T, st paygate.Store) *pagesEnv {
	t.Helper()
	ctx := context.Background()
	p := &pagesEnv{log: &syncBuffer{}, hooks: &hookReceiver{}}
	p.hooks.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		p.hooks.mu.Lock()
		p.hooks.ids = append(p.hooks.ids, r.Header.Get("Paygate-Event-Id"))
		p.hooks.mu.Unlock()
		w.Write([]byte("ok"))
	}))
	t.Cleanup(p.hooks.srv.Close)

	var depth jobs.DepthFunc
	var counts func(ctx context.Context) (int64, int64, error)
	var err error
	jc := jobs.Config{PollInterval: 100 * time.Millisecond, WebhookSchedule: []time.Duration{100 * time.Millisecond}}
	switch s := st.(type) {
	case *sqlite.Store:
		if err := jobs.MigrateSQLite(ctx, s.DB()); err != nil {
			t.Fatal(err)
		}
		p.queue, err = jobs.NewSQLite(s.DB(), jc)
		depth, counts = jobs.SQLiteDepth(s.DB()), s.WebhookCounts
	case *postgres.Store:
		if err := jobs.MigratePostgres(ctx, s.DB()); err != nil {
			t.Fatal(err)
		}
		p.queue, err = jobs.NewPostgres(s.DB(), jc)
		depth, counts = jobs.PostgresDepth(s.DB()), s.WebhookCounts
	default:
		t.Fatalf("no queue for %T", st)
	}
	if err != nil {
		t.Fatal(err)
	}
	jobs.RegisterWebhooks(p.queue, jobs.WebhookConfig{Store: st, Egress: jobs.EgressPolicy{AllowPrivateNetworks: true, AllowHTTP: true}})

	// The breaker's channel points at a closed port: its calls fail, as
	// when Alipay cannot be reached.
	app, ali := keys()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/gateway.do"
	dead.Close()
	ch, err := alipay.New(alipay.Config{AppID: "2021000000000099", GatewayURL: deadURL, PrivateKey: app, AlipayPublicKey: &ali.PublicKey,
		Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	gch, err := gateway.NewAlipayChannel(ch, gateway.AlipayConfig{NotifyURL: "http://127.0.0.1:9/notify/alipay"})
	if err != nil {
		t.Fatal(err)
	}
	p.breaker = gateway.NewResilientChannel(gch, gateway.ResilientConfig{BreakerFailures: 2, BreakerOpen: time.Hour, RetryAttempts: 1})

	p.events = &jobs.EventService{Store: st, Queue: p.queue}
	logger := slog.New(slog.NewJSONHandler(p.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p.env = setup(t, st, func(cfg *console.Config) {
		cfg.Logger = logger
		cfg.Events = p.events
		cfg.Merchants = &gateway.Merchants{Store: st, Jobs: p.queue}
		cfg.Health = console.Health{
			Checks:   []console.HealthCheck{{Name: "database", Check: st.Ping}},
			Breakers: []console.Breaker{{Name: p.breaker.Account(), State: p.breaker.State}},
			Queue: func(ctx context.Context) ([]console.QueueDepth, error) {
				kinds, err := depth(ctx)
				var out []console.QueueDepth
				for _, k := range kinds {
					out = append(out, console.QueueDepth{Kind: k.Kind, Available: k.Available, Running: k.Running,
						Retryable: k.Retryable, Scheduled: k.Scheduled, Discarded: k.Discarded})
				}
				return out, err
			},
			Webhooks: counts,
			Draining: func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.draining },
			Version:  "v1.2.3-test",
			Started:  time.Now().Add(-time.Hour),
		}
	})
	jobs.RegisterCompensation(p.queue, p.svc)
	if err := p.queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.queue.Stop(ctx); err != nil {
			t.Errorf("stop queue: %v", err)
		}
	})
	return p
}

// merchantWith creates a merchant through the service (fresh secrets) and
// returns it with its secrets.
func (p *pagesEnv) merchantWith(t *testing.T, name, url string) *paygate.Merchant {
	t.Helper()
	creds, err := (&gateway.Merchants{Store: p.st}).Create(context.Background(), name, url)
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.st.MerchantByID(context.Background(), creds.Merchant.ID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// eventually polls cond every 50 ms for up to 15 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 15 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// actions are the audit records of the merchant, oldest first.
func (p *pagesEnv) actions(t *testing.T, merchantID int64) []*paygate.OperatorAction {
	t.Helper()
	list, err := p.st.OperatorActions(context.Background(), paygate.OperatorActionFilter{MerchantID: merchantID, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list
}

// field is the value of the named hidden or text input of a page's form.
func (pg page) field(t *testing.T, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `"[^>]*value="([^"]*)"`).FindStringSubmatch(pg.body)
	if m == nil {
		t.Fatalf("no field %s on the page (%d):\n%s", name, pg.status, pg.body)
	}
	return m[1]
}

// inputValue is the value of the input with the id.
func (pg page) inputValue(t *testing.T, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*value="([^"]*)"`).FindStringSubmatch(pg.body)
	if m == nil {
		t.Fatalf("no input #%s on the page (%d):\n%s", id, pg.status, pg.body)
	}
	return m[1]
}
