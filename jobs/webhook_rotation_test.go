package jobs_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/client"
)

// TestWebhookSecretRotation: while a rotated webhook secret is in its
// grace, each delivery carries one v1 signature per secret and verifies
// through the client package with either; once the previous secret is
// gone, only the current one verifies.
func TestWebhookSecretRotation(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(t *testing.T) backend) {
		ctx := context.Background()
		clk := &clock{}
		rcv := newReceiver(t, "whsec_unused", clk, always(http.StatusNoContent))
		e := setup(t, open, setupOptions{merchantURL: rcv.url, secret: "whsec_old", clock: clk})
		now := clk.Peek()
		if _, err := e.store.RotateMerchantSecrets(ctx, e.merchant.ID, paygate.SecretRotation{
			WebhookSecret: "whsec_new", WebhookSecretGraceUntil: now.Add(24 * time.Hour), At: now}); err != nil {
			t.Fatal(err)
		}
		first := e.emit(t, "")
		e.settle(t)

		// The previous secret ends (a rotation without grace).
		now = clk.Peek()
		if _, err := e.store.RotateMerchantSecrets(ctx, e.merchant.ID, paygate.SecretRotation{
			WebhookSecret: "whsec_newest", WebhookSecretGraceUntil: now, At: now}); err != nil {
			t.Fatal(err)
		}
		second := e.emit(t, "")
		e.settle(t)

		got := rcv.requests()
		if len(got) != 2 {
			t.Fatalf("the receiver got %d requests, want 2", len(got))
		}
		for i, c := range []struct {
			event     *paygate.Event
			verifies  []string
			refused   []string
			v1Entries int
		}{
			{first, []string{"whsec_new", "whsec_old"}, []string{"whsec_newest", "whsec_other"}, 2},
			{second, []string{"whsec_newest"}, []string{"whsec_new", "whsec_old"}, 1},
		} {
			r := got[i]
			if id := r.header.Get("Paygate-Event-Id"); id != c.event.ID {
				t.Fatalf("request %d is event %s, want %s", i, id, c.event.ID)
			}
			sig := r.header.Get(client.WebhookSignatureHeader)
			if n := strings.Count(sig, "v1="); n != c.v1Entries || strings.Count(sig, "t=") != 1 {
				t.Errorf("request %d: %s = %q, want one t= and %d v1=", i, client.WebhookSignatureHeader, sig, c.v1Entries)
			}
			for _, s := range c.verifies {
				if err := client.VerifyWebhook(s, sig, r.body, time.Hour, clk.Peek()); err != nil {
					t.Errorf("request %d does not verify with %s: %v", i, s, err)
				}
			}
			for _, s := range c.refused {
				if err := client.VerifyWebhook(s, sig, r.body, time.Hour, clk.Peek()); err == nil {
					t.Errorf("request %d verifies with %s, which it must not", i, s)
				}
			}
			if ev := e.event(t, c.event.ID); ev.DeliveredAt.IsZero() {
				t.Errorf("event %s not delivered", c.event.ID)
			}
		}
	})
}
