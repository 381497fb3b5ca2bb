package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipaysim"
)

// TestE2EWebhookEgress: the node's webhook deliveries follow
// webhooks.allow_private_networks and webhooks.allow_http as wired by
// newApp. A paid order whose notify_url is a receiver on 127.0.0.1 over
// http is refused before any connection by serve's defaults (the attempt
// says why, the event is dead-lettered), and delivered once both are
// allowed, as the demo allows them.
func TestE2EWebhookEgress(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		for _, c := range []struct {
			name          string
			private, http bool
			refusal       string // "": delivered
		}{
			{"defaults", false, false, "refused: plain http webhook URLs are not allowed (webhooks.allow_http is off)"},
			{"http allowed", false, true, "refused: 127.0.0.1 is a loopback address (webhooks.allow_private_networks is off)"},
			{"both allowed", true, true, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				var conns, requests atomic.Int32
				rcv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests.Add(1) }))
				rcv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
					if s == http.StateNew {
						conns.Add(1)
					}
				}
				rcv.Start()
				t.Cleanup(rcv.Close)
				e := e2e(t, kind, func(cfg *config, _ *alipaysim.Config) {
					cfg.Webhooks.AllowPrivateNetworks, cfg.Webhooks.AllowHTTP = c.private, c.http
					cfg.Jobs.PollInterval = 100 * time.Millisecond
				})
				req := e2eQR("WH1", "1.00")
				req.NotifyURL = rcv.URL + "/hooks"
				o := e2eCreate(t, e.a, req, http.StatusCreated)
				e.pay(t, o.QRCode)
				e2eWaitStatus(t, e.a, "WH1", "paid")

				ctx := context.Background()
				var ev *paygate.Event
				e2eEventually(t, "the order.paid event's delivery to end", func() bool {
					list, err := e.app.store.ListEvents(ctx, paygate.EventFilter{MerchantID: e.idA, Type: paygate.EventOrderPaid})
					if err != nil {
						t.Fatal(err)
					}
					if len(list) == 1 && (!list[0].DeliveredAt.IsZero() || !list[0].DeadAt.IsZero()) {
						ev = list[0]
						return true
					}
					return false
				})
				attempts, err := e.app.store.WebhookAttempts(ctx, ev.ID)
				if err != nil {
					t.Fatal(err)
				}
				if c.refusal == "" {
					if ev.DeliveredAt.IsZero() || len(attempts) != 1 || !attempts[0].Success || requests.Load() != 1 {
						t.Fatalf("event delivered at %v, attempts %+v, %d requests: want delivered once", ev.DeliveredAt, attempts, requests.Load())
					}
					return
				}
				if ev.DeadAt.IsZero() || len(attempts) != 1 || !strings.HasPrefix(attempts[0].Excerpt, c.refusal) {
					t.Fatalf("event dead at %v, attempts %+v: want dead-lettered with one attempt saying %q", ev.DeadAt, attempts, c.refusal)
				}
				if n := conns.Load(); n != 0 || !strings.HasPrefix(attempts[0].URL, rcv.URL) {
					t.Fatalf("the receiver got %d connections (want 0); the attempt's URL is %q", n, attempts[0].URL)
				}
			})
		}
	})
}
