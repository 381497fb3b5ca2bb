package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/paygate/paygate/httpapi"
)

func get(t *testing.T, u string) (int, map[string]any) {
	t.Helper()
	hr, _ := http.NewRequest("GET", u, nil)
	status, _, b := do(t, hr)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: not JSON: %s", u, b)
	}
	return status, m
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var readyErr error
	f := setup(t, func(c *httpapi.Config) {
		c.Ready = func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			return readyErr
		}
	})
	if status, m := get(t, f.url+"/healthz"); status != 200 || m["status"] != "ok" {
		t.Fatalf("healthz: %d %v", status, m)
	}
	if status, m := get(t, f.url+"/readyz"); status != 200 || m["status"] != "ok" {
		t.Fatalf("readyz: %d %v", status, m)
	}
	mu.Lock()
	readyErr = errors.New("database unreachable")
	mu.Unlock()
	if status, m := get(t, f.url+"/readyz"); status != 503 || m["reason"] != "database unreachable" {
		t.Fatalf("readyz, database down: %d %v", status, m)
	}
	if status, _ := get(t, f.url+"/healthz"); status != 200 {
		t.Fatalf("healthz must not depend on readiness: %d", status)
	}
}

func TestDrain(t *testing.T) {
	t.Parallel()
	f := setup(t)
	block, started := make(chan struct{}), make(chan struct{}, 1)
	f.orders.set(func(f *fakeOrders) { f.block, f.started = block, started })
	var wg sync.WaitGroup
	var inflight int
	var body []byte
	first := make(chan struct{})
	wg.Go(func() {
		defer close(first)
		inflight, _, body = f.send(t, req{method: "POST", path: "/api/v1/orders", body: []byte(orderBody)})
	})
	waitStarted(t, started, first, func() string { return fmt.Sprintf("%d %s", inflight, body) })

	f.api.Drain()
	if status, m := get(t, f.url+"/readyz"); status != 503 || m["reason"] != "draining" {
		t.Fatalf("readyz while draining: %d %v", status, m)
	}
	status, hdr, b := f.send(t, req{path: listPath})
	wantError(t, status, hdr, b, http.StatusServiceUnavailable, "DRAINING", "shutting down")
	if status, _ := get(t, f.url+"/healthz"); status != 200 {
		t.Fatalf("healthz while draining: %d", status)
	}

	close(block)
	wg.Wait()
	if inflight != http.StatusCreated {
		t.Fatalf("in-flight request: %d, want 201", inflight)
	}
	if n := countCalls(f.orders, "ListOrders"); n != 0 {
		t.Fatalf("ListOrders ran %d times while draining", n)
	}
}
