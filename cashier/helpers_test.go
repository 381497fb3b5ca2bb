package cashier_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/cashier"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/postgres/pgtest"
	"github.com/paygate/paygate/sqlite"
	"github.com/paygate/paygate/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// stores runs fn on SQLite and on PostgreSQL (skipped without
// PAYGATE_TEST_POSTGRES_URL, failed so in CI), in parallel.
func stores(t *testing.T, fn func(t *testing.T, st paygate.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "paygate.db"), sealer(t), sqlite.WithMigrate())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testenv.Postgres(t)
		fn(t, pgtest.Open(t, sealer(t), postgres.WithMigrate()))
	})
}

func sealer(t *testing.T) *paygate.Sealer {
	t.Helper()
	k := make([]byte, paygate.MasterKeySize)
	rand.Read(k)
	s, err := paygate.NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixture is a cashier served over real HTTP on a real store.
type fixture struct {
	st       paygate.Store
	h        *cashier.Handler
	srv      *httptest.Server
	merchant *paygate.Merchant
}

func setup(t *testing.T, st paygate.Store, edit ...func(*cashier.Config)) *fixture {
	t.Helper()
	cfg := cashier.Config{Store: st, PollInterval: 50 * time.Millisecond, Heartbeat: 200 * time.Millisecond}
	for _, e := range edit {
		e(&cfg)
	}
	h, err := cashier.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		h.Drain() // ends the streams, so Close does not wait for them
		srv.Close()
	})
	m := &paygate.Merchant{Name: "Tea & Cake <Shop>", AccessKey: "ak_" + rand.Text(), SecretKey: "sk", WebhookSecret: "wh", CreatedAt: time.Now()}
	if err := st.CreateMerchant(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, h: h, srv: srv, merchant: m}
}

// order stores a pending QR order with a cashier token, as the gateway
// makes one, changed by edit.
func (f *fixture) order(t *testing.T, edit func(o *paygate.Order)) *paygate.Order {
	t.Helper()
	tok, err := paygate.NewCashierToken()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	o := &paygate.Order{
		MerchantID: f.merchant.ID, OutTradeNo: "otn_" + rand.Text()[:10], ChannelNo: "PG" + rand.Text(), Mode: paygate.ModeQR,
		Subject: "Oolong 乌龙", TotalAmount: 990, Status: paygate.StatusPending, QRCode: "https://qr.alipay.com/bax0" + rand.Text(),
		CashierToken: tok, ReturnURL: "https://shop.example/thanks?o=1", CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(15 * time.Minute),
	}
	if edit != nil {
		edit(o)
	}
	if err := f.st.CreateOrder(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return o
}

// move changes the stored order as the gateway would: one transition in a
// transaction.
func (f *fixture) move(t *testing.T, o *paygate.Order, to paygate.OrderStatus, at time.Time) {
	t.Helper()
	err := f.st.Tx(context.Background(), func(tx paygate.StoreTx) error {
		cur, err := tx.OrderForUpdate(context.Background(), o.ID)
		if err != nil {
			return err
		}
		if err := cur.Transition(to, at); err != nil {
			return err
		}
		if to == paygate.StatusRefunded {
			cur.RefundedAmount = cur.TotalAmount
		}
		return tx.UpdateOrder(context.Background(), cur)
	})
	if err != nil {
		t.Fatalf("move order to %s: %v", to, err)
	}
}

func (f *fixture) get(t *testing.T, path string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// stream is an open event stream read line by line.
type stream struct {
	resp   *http.Response
	events chan streamEvent // closed at the stream's end
}

type streamEvent struct {
	name string
	data map[string]any
}

// open starts GET path as an event stream; it fails t unless the answer is
// 200 text/event-stream.
func (f *fixture) open(t *testing.T, path string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		resp.Body.Close()
		t.Fatalf("stream %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &stream{resp: resp, events: make(chan streamEvent, 16)}
	go s.read()
	t.Cleanup(func() { resp.Body.Close() })
	return s
}

// read parses the stream: "event:" and "data:" lines up to a blank line
// make one event; comments are heartbeats, passed on as name ":ping".
func (s *stream) read() {
	defer close(s.events)
	sc := bufio.NewScanner(s.resp.Body)
	var ev streamEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.name != "" {
				s.events <- ev
			}
			ev = streamEvent{}
		case strings.HasPrefix(line, ":"):
			s.events <- streamEvent{name: ":ping"}
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.data)
		}
	}
}

// next returns the next status event (skipping heartbeats), or fails t
// after d; ok is false when the stream ended.
func (s *stream) next(t *testing.T, d time.Duration) (streamEvent, bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return ev, false
			}
			if ev.name == ":ping" {
				continue
			}
			return ev, true
		case <-deadline:
			t.Fatalf("no event within %s", d)
		}
	}
}

// ends waits for the stream to end, failing t after d.
func (s *stream) ends(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("the stream did not end within %s", d)
		}
	}
}
