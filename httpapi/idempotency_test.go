package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/client"
)

func idemReq(key, body string) req {
	return req{method: "POST", path: "/api/v1/orders", body: []byte(body),
		header: func(h http.Header) { h.Set("Idempotency-Key", key) }}
}

const orderBody = `{"out_trade_no":"I1","subject":"Tea","total_amount":"1.00","mode":"qr"}`

func countCalls(f *fakeOrders, method string) int {
	n := 0
	for _, c := range f.Calls() {
		if c.method == method {
			n++
		}
	}
	return n
}

func TestIdempotencyReplay(t *testing.T) {
	t.Parallel()
	f := setup(t)
	status1, hdr1, body1 := f.send(t, idemReq("key-1", orderBody))
	if status1 != http.StatusCreated || hdr1.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %v %s", status1, hdr1, body1)
	}
	f.clock.Add(time.Hour) // the order would now show another time if it ran again
	status2, hdr2, body2 := f.send(t, idemReq("key-1", orderBody))
	if status2 != status1 || !bytes.Equal(body2, body1) || hdr2.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %q %s; want %d replayed %s", status2, hdr2.Get("Idempotent-Replayed"), body2, status1, body1)
	}
	if n := countCalls(f.orders, "CreateOrder"); n != 1 {
		t.Fatalf("CreateOrder ran %d times, want 1", n)
	}
	// Through the client too.
	o, err := f.client.CreateOrder(context.Background(), qrOrder("I2"), client.WithIdempotencyKey("key-2"))
	if err != nil {
		t.Fatal(err)
	}
	o2, err := f.client.CreateOrder(context.Background(), qrOrder("I2"), client.WithIdempotencyKey("key-2"))
	if err != nil || *o2.CreatedAt != *o.CreatedAt {
		t.Fatalf("client replay: %+v %v", o2, err)
	}
}

func TestIdempotencyReusedKey(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if status, _, b := f.send(t, idemReq("key-1", orderBody)); status != http.StatusCreated {
		t.Fatalf("first: %d %s", status, b)
	}
	status, hdr, b := f.send(t, idemReq("key-1", strings.Replace(orderBody, "1.00", "2.00", 1)))
	wantError(t, status, hdr, b, http.StatusConflict, "IDEMPOTENCY_KEY_REUSED", "key-1")
	// Same body on another path is another request.
	status, hdr, b = f.send(t, req{method: "POST", path: "/api/v1/orders/I1/refunds", body: []byte(orderBody),
		header: func(h http.Header) { h.Set("Idempotency-Key", "key-1") }})
	wantError(t, status, hdr, b, http.StatusConflict, "IDEMPOTENCY_KEY_REUSED", "")
	if n := len(f.orders.Calls()); n != 1 {
		t.Fatalf("service calls = %d, want 1", n)
	}
}

func TestIdempotencyPerMerchant(t *testing.T) {
	t.Parallel()
	f := setup(t)
	other := &paygate.Merchant{Name: "Other", AccessKey: "ak_other", SecretKey: "sk_other", WebhookSecret: "wh"}
	if err := f.store.CreateMerchant(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if status, _, b := f.send(t, idemReq("shared", orderBody)); status != http.StatusCreated {
		t.Fatalf("first merchant: %d %s", status, b)
	}
	r := idemReq("shared", strings.Replace(orderBody, "1.00", "3.00", 1))
	r.accessKey, r.secret = "ak_other", "sk_other"
	if status, hdr, b := f.send(t, r); status != http.StatusCreated || hdr.Get("Idempotent-Replayed") != "" {
		t.Fatalf("second merchant, same key: %d %s", status, b)
	}
}

func TestIdempotencyInFlight(t *testing.T) {
	t.Parallel()
	f := setup(t)
	block, started := make(chan struct{}), make(chan struct{}, 1)
	f.orders.set(func(f *fakeOrders) { f.block, f.started = block, started })
	var wg sync.WaitGroup
	var status1 int
	var body1 []byte
	first := make(chan struct{})
	wg.Go(func() {
		defer close(first)
		status1, _, body1 = f.send(t, idemReq("key-1", orderBody))
	})
	waitStarted(t, started, first, func() string { return fmt.Sprintf("%d %s", status1, body1) })
	status, hdr, b := f.send(t, idemReq("key-1", orderBody))
	wantError(t, status, hdr, b, http.StatusConflict, "IDEMPOTENCY_IN_FLIGHT", "still running")
	close(block)
	wg.Wait()
	if status1 != http.StatusCreated {
		t.Fatalf("first: %d %s", status1, body1)
	}
	// Once it finished, the repeat is a replay.
	status, hdr, b = f.send(t, idemReq("key-1", orderBody))
	if status != http.StatusCreated || hdr.Get("Idempotent-Replayed") != "true" || !bytes.Equal(b, body1) {
		t.Fatalf("after: %d %v %s", status, hdr, b)
	}
	if n := countCalls(f.orders, "CreateOrder"); n != 1 {
		t.Fatalf("CreateOrder ran %d times, want 1", n)
	}
}

func TestIdempotencyServerErrorsNotStored(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		err    error
		status int
	}{
		{"internal", context.DeadlineExceeded, 500},
		{"channel", paygate.Errorf(paygate.EChannel, "alipay down"), 502},
		{"circuit", paygate.Errorf(paygate.EChannelUnavailable, "open"), 503},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.orders.set(func(f *fakeOrders) { f.err = tt.err })
			if status, _, b := f.send(t, idemReq("key-1", orderBody)); status != tt.status {
				t.Fatalf("failing: %d %s", status, b)
			}
			// Retried at once, with the lease not lapsed: it runs again.
			f.orders.set(func(f *fakeOrders) { f.err = nil })
			status, hdr, b := f.send(t, idemReq("key-1", orderBody))
			if status != http.StatusCreated || hdr.Get("Idempotent-Replayed") != "" {
				t.Fatalf("retry: %d %v %s", status, hdr, b)
			}
			if n := countCalls(f.orders, "CreateOrder"); n != 2 {
				t.Fatalf("CreateOrder ran %d times, want 2", n)
			}
			// And that answer is final.
			if status, hdr, _ := f.send(t, idemReq("key-1", orderBody)); status != http.StatusCreated || hdr.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("third: %d %v", status, hdr)
			}
		})
	}
}

func TestIdempotencyClientErrorsStored(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.orders.set(func(f *fakeOrders) { f.err = paygate.Errorf(paygate.EOutTradeNoReused, "I1 has other parameters") })
	status1, _, body1 := f.send(t, idemReq("key-1", orderBody))
	if status1 != http.StatusConflict {
		t.Fatalf("first: %d %s", status1, body1)
	}
	f.orders.set(func(f *fakeOrders) { f.err = nil })
	status, hdr, b := f.send(t, idemReq("key-1", orderBody))
	if status != status1 || !bytes.Equal(b, body1) || hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %v %s", status, hdr, b)
	}
	// An invalid body is a final answer as well.
	bad := `{"out_trade_no":"I 1"}`
	status1, _, body1 = f.send(t, idemReq("key-2", bad))
	status, hdr, b = f.send(t, idemReq("key-2", bad))
	if status1 != 400 || status != 400 || !bytes.Equal(b, body1) || hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("invalid replay: %d %d %v %s", status1, status, hdr, b)
	}
	if n := countCalls(f.orders, "CreateOrder"); n != 1 {
		t.Fatalf("CreateOrder ran %d times, want 1", n)
	}
}

func TestIdempotencyExpires(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if status, _, _ := f.send(t, idemReq("key-1", orderBody)); status != http.StatusCreated {
		t.Fatal(status)
	}
	f.clock.Add(24*time.Hour + time.Minute)
	status, hdr, _ := f.send(t, idemReq("key-1", orderBody))
	if status != http.StatusOK || hdr.Get("Idempotent-Replayed") != "" {
		t.Fatalf("after 24 h: %d %v; want the request to run again (200: the order exists)", status, hdr)
	}
}

func TestIdempotencyKeyForm(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, tt := range []struct{ name, key string }{
		{"empty", ""},
		{"too long", strings.Repeat("k", 256)},
		{"not ASCII", "clé"},
		{"tab", "a\tb"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, b := f.send(t, idemReq(tt.key, orderBody))
			wantError(t, status, hdr, b, http.StatusBadRequest, "INVALID_REQUEST", "Idempotency-Key must be 1 to 255 printable ASCII")
		})
	}
	if status, _, b := f.send(t, idemReq(strings.Repeat("k", 255)+"", orderBody)); status != http.StatusCreated {
		t.Fatalf("255 characters: %d %s", status, b)
	}
	// Ignored on GET.
	r := req{path: listPath, header: func(h http.Header) { h.Set("Idempotency-Key", "") }}
	if status, _, b := f.send(t, r); status != http.StatusOK {
		t.Fatalf("GET with key: %d %s", status, b)
	}
}

func TestPanicIsInternalAndReleasesKey(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.orders.set(func(f *fakeOrders) { f.panicWith = "nil map write in gateway" })
	status, hdr, b := f.send(t, idemReq("key-1", orderBody))
	wantError(t, status, hdr, b, http.StatusInternalServerError, "INTERNAL", "internal error")
	if strings.Contains(string(b), "nil map") {
		t.Fatalf("answer leaks the panic: %s", b)
	}
	lines := f.logs.Lines(t)
	if len(lines) != 1 || !strings.Contains(lines[0]["error"].(string), "nil map write in gateway") {
		t.Fatalf("log = %v, want the panic on the request's line", lines)
	}
	f.orders.set(func(f *fakeOrders) { f.panicWith = "" })
	if status, hdr, b := f.send(t, idemReq("key-1", orderBody)); status != http.StatusCreated || hdr.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry after panic: %d %v %s", status, hdr, b)
	}
}
