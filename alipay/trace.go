package alipay

import (
	"context"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// methodKey is the context key of the OpenAPI method a request calls.
type methodKey struct{}

// withMethod tells the transport which OpenAPI method the request calls:
// it is in the signed form body, which a transport must not read.
func withMethod(ctx context.Context, method string) context.Context {
	return context.WithValue(ctx, methodKey{}, method)
}

// MethodFromContext is the OpenAPI method of a request this client sends
// ("alipay.trade.precreate"), or "" (a bill download, or another caller).
func MethodFromContext(ctx context.Context) string {
	m, _ := ctx.Value(methodKey{}).(string)
	return m
}

// TracedTransport wraps base (nil: http.DefaultTransport) so that every
// call the client makes through it is an OpenTelemetry client span with
// the HTTP attributes (otelhttp), named by the OpenAPI method
// ("alipay.trade.precreate"; a bill download is "alipay.bill.download").
// prop (nil: W3C trace context) writes the trace context on the request.
// With tp nil it returns base unchanged.
func TracedTransport(base http.RoundTripper, tp trace.TracerProvider, prop propagation.TextMapPropagator) http.RoundTripper {
	if tp == nil {
		return base
	}
	if base == nil {
		base = http.DefaultTransport
	}
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	return otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(prop),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if m := MethodFromContext(r.Context()); m != "" {
				return m
			}
			return "alipay.bill.download"
		}),
	)
}
