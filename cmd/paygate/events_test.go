package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/sqlite"
)

// eventsCLI is a database the events commands run on, with a merchant and
// the store opened beside them, as a running server holds it.
type eventsCLI struct {
	where []string // --data DIR or --config FILE
	st    storeCloser
	creds merchantCredentials
}

func newEventsCLI(t *testing.T, kind string) *eventsCLI {
	t.Helper()
	e := &eventsCLI{}
	if kind == "sqlite" {
		e.where = []string{"--data", dataDirWithKey(t)}
	} else {
		dbURL, _ := postgresSchemaURL(t)
		e.where = []string{"--config", writeConfig(t, "database:\n  url: "+dbURL+"\nsecrets:\n  master_key: "+newMasterKeyHex(t)+"\n")}
	}
	stdout, stderr, err := runCmd(t, append([]string{"merchant", "create", "--name", "shop", "--json"}, e.where...)...)
	if err != nil {
		t.Fatalf("merchant create: %v\n%s", err, stderr)
	}
	e.creds = decodeOneCreds(t, stdout)
	d := dataFlags{dataDir: defaultDataDir}
	if e.where[0] == "--data" {
		d.dataDir = e.where[1]
	} else {
		d.configPath = e.where[1]
	}
	cfg, err := d.resolve()
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := loadSealer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if e.st, err = openStore(t.Context(), cfg.Database.URL, sealer); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	return e
}

func (e *eventsCLI) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	stdout, _, err := runCmd(t, append(args, e.where...)...)
	return stdout, err
}

// emit stores a paid order of the merchant and its order.paid event.
func (e *eventsCLI) emit(t *testing.T, outTradeNo string) *paygate.Event {
	t.Helper()
	ctx := context.Background()
	m, err := e.st.MerchantByAccessKey(ctx, e.creds.AccessKey)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	o := &paygate.Order{MerchantID: m.ID, OutTradeNo: outTradeNo, ChannelNo: "PG" + outTradeNo, Mode: paygate.ModeQR,
		Subject: "tea", TotalAmount: 100, Status: paygate.StatusPaid, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.st.CreateOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"id": "evt_" + outTradeNo, "type": paygate.EventOrderPaid, "data": map[string]any{"order": o.View()}})
	ev := &paygate.Event{ID: "evt_" + outTradeNo, MerchantID: m.ID, OrderID: o.ID, Type: paygate.EventOrderPaid, Payload: payload, CreatedAt: now}
	if err := e.st.Tx(ctx, func(tx paygate.StoreTx) error { return tx.CreateEvent(ctx, ev) }); err != nil {
		t.Fatal(err)
	}
	return ev
}

// deliveryJobs counts the delivery jobs queued for River.
func (e *eventsCLI) deliveryJobs(t *testing.T) int {
	t.Helper()
	const q = `SELECT count(*) FROM river_job WHERE kind = 'deliver_event' AND state = 'available'`
	var n int
	var err error
	switch s := e.st.(type) {
	case *sqlite.Store:
		err = s.DB().QueryRowContext(t.Context(), q).Scan(&n)
	case *postgres.Store:
		err = s.DB().QueryRow(t.Context(), q).Scan(&n)
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEventsCommands(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := newEventsCLI(t, kind)
			ctx := context.Background()
			dead := e.emit(t, "T_DEAD")
			if err := e.st.MarkEventDead(ctx, dead.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
			done := e.emit(t, "T_DONE")
			if err := e.st.RecordWebhookAttempt(ctx, &paygate.WebhookAttempt{EventID: done.ID, StatusCode: 200, Success: true}); err != nil {
				t.Fatal(err)
			}

			out, err := e.run(t, "events", "list")
			if err != nil {
				t.Fatalf("events list: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") {
				t.Fatalf("events list printed:\n%s", out)
			}
			for _, want := range []string{dead.ID, "dead", "T_DEAD", done.ID, "delivered", "T_DONE"} {
				if !strings.Contains(out, want) {
					t.Errorf("events list lacks %q:\n%s", want, out)
				}
			}

			out, err = e.run(t, "events", "list", "--undelivered", "--type", "order.paid", "--merchant", e.creds.AccessKey, "--json")
			if err != nil {
				t.Fatalf("events list --json: %v", err)
			}
			var l eventLine
			if err := json.Unmarshal([]byte(out), &l); err != nil {
				t.Fatalf("not one JSON event: %v\n%s", err, out)
			}
			if l.ID != dead.ID || l.State != "dead" || l.OutTradeNo != "T_DEAD" || l.DeadAt == "" {
				t.Fatalf("undelivered events = %s", out)
			}
			if out, err := e.run(t, "events", "list", "--type", "order.closed"); err != nil || strings.Count(out, "\n") != 1 {
				t.Fatalf("order.closed events: %v\n%s", err, out)
			}

			out, err = e.run(t, "events", "resend", dead.ID, "--merchant", e.creds.AccessKey)
			if err != nil {
				t.Fatalf("events resend: %v", err)
			}
			if !strings.Contains(out, dead.ID) || !strings.Contains(out, "queued") {
				t.Errorf("events resend printed %q", out)
			}
			got, err := e.st.EventByID(ctx, dead.ID)
			if err != nil || !got.DeadAt.IsZero() {
				t.Fatalf("after resend: %+v, %v; want the event alive", got, err)
			}
			if n := e.deliveryJobs(t); n != 1 {
				t.Fatalf("%d delivery jobs queued, want 1", n)
			}

			for _, c := range []struct {
				args []string
				want string
			}{
				{[]string{"events", "resend", "evt_missing"}, "not found"},
				{[]string{"events", "list", "--merchant", "ak_nobody"}, "ak_nobody"},
				{[]string{"events", "list", "--type", "order.created"}, "--type"},
				{[]string{"events", "list", "--limit", "0"}, "--limit"},
				{[]string{"events", "resend"}, "arg"},
			} {
				if _, err := e.run(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%v: err = %v, want one mentioning %q", c.args, err, c.want)
				}
			}
			if n := e.deliveryJobs(t); n != 1 {
				t.Fatalf("%d delivery jobs queued after the failures, want still 1", n)
			}
		})
	}
}
