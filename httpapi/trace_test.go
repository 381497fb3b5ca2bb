package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/httpapi"
)

// Server spans are named by the route pattern, never the raw path; probes
// make none; a caller's trace is continued.
func TestServerSpans(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	f := setup(t, func(c *httpapi.Config) { c.TracerProvider = tp })

	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	f.send(t, req{path: "/api/v1/orders/N-42", header: func(h http.Header) { h.Set("traceparent", parent) }})
	f.send(t, req{path: "/api/v1/nowhere/7"})
	f.send(t, req{path: "/healthz"})

	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2 (none for /healthz): %v", len(spans), spans)
	}
	get, unmatched := spans[0], spans[1]
	if get.Name() != "GET /api/v1/orders/:out_trade_no" || get.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q (%v), want the route pattern", get.Name(), get.SpanKind())
	}
	if got := get.SpanContext().TraceID().String(); got != "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("trace %s: the caller's traceparent was not continued", got)
	}
	if unmatched.Name() != "GET" {
		t.Errorf("unmatched route's span %q, want the bare method", unmatched.Name())
	}
}

// BenchmarkTracing is the cost of a server span per request: an unmatched
// route (the edge, the 404 body, no store), without and with tracing.
func BenchmarkTracing(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			cfg := httpapi.Config{Orders: newFakeOrders(nil), Merchants: nopLookup{}, Idempotency: nopIdem{}, Nonces: httpapi.NewMemoryNonces(nil)}
			if on {
				cfg.TracerProvider = sdktrace.NewTracerProvider() // recording, exporting nowhere
			}
			h := httpapi.New(cfg).Handler()
			r := httptest.NewRequest(http.MethodGet, "/api/v2/nowhere", nil)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
		})
	}
}

type nopLookup struct{}

func (nopLookup) MerchantByAccessKey(context.Context, string) (*paygate.Merchant, error) {
	return nil, paygate.Errorf(paygate.ENotFound, "no merchant")
}

type nopIdem struct{}

func (nopIdem) BeginIdempotent(_ context.Context, r *paygate.IdempotencyRecord) (*paygate.IdempotencyRecord, error) {
	return r, nil
}
func (nopIdem) FinishIdempotent(context.Context, *paygate.IdempotencyRecord) error  { return nil }
func (nopIdem) ReleaseIdempotent(context.Context, *paygate.IdempotencyRecord) error { return nil }
