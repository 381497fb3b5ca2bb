package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/httpapi"
)

func TestRateLimit(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *httpapi.Config) { c.RateLimit = httpapi.RateLimit{PerSecond: 0.5, Burst: 2} })
	for i := range 2 {
		if status, _, b := f.send(t, req{path: listPath}); status != 200 {
			t.Fatalf("request %d within burst: %d %s", i+1, status, b)
		}
	}
	status, hdr, b := f.send(t, req{path: listPath})
	wantError(t, status, hdr, b, http.StatusTooManyRequests, "RATE_LIMITED", "Retry-After")
	if ra := hdr.Get("Retry-After"); ra != "2" {
		t.Fatalf("Retry-After = %q, want 2 (one token at 0.5/s)", ra)
	}
	// Another merchant has its own bucket.
	other := &paygate.Merchant{Name: "Other", AccessKey: "ak_other", SecretKey: "sk_other", WebhookSecret: "wh"}
	if err := f.store.CreateMerchant(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if status, _, b := f.send(t, req{path: listPath, accessKey: "ak_other", secret: "sk_other"}); status != 200 {
		t.Fatalf("other merchant: %d %s", status, b)
	}
	f.clock.Add(2 * time.Second)
	if status, _, b := f.send(t, req{path: listPath}); status != 200 {
		t.Fatalf("after Retry-After: %d %s", status, b)
	}
	// Refused requests do not reach the service; forged ones do not count.
	if n := countCalls(f.orders, "ListOrders"); n != 4 {
		t.Fatalf("ListOrders ran %d times, want 4", n)
	}
	for range 5 {
		f.send(t, req{path: listPath, secret: "forged"})
	}
	f.clock.Add(2 * time.Second)
	if status, _, b := f.send(t, req{path: listPath}); status != 200 {
		t.Fatalf("forgeries used up the bucket: %d %s", status, b)
	}
}
