package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/paygate/paygate/telemetry"
)

// traced wraps the engine in an OpenTelemetry server span per request
// (otelhttp: W3C trace context read from the caller, status and sizes
// recorded), or returns it as is when tp is nil. Probes are not traced:
// one every few seconds would bury the requests.
//
// otelgin is not used: the module proxy does not serve it for this
// contrib release; routeSpan names the span by gin's route instead.
func traced(tp trace.TracerProvider, engine http.Handler, untraced []string) http.Handler {
	if tp == nil {
		return engine
	}
	return otelhttp.NewHandler(engine, "http",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(telemetry.Propagator()),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()), // metrics are Prometheus's
		otelhttp.WithFilter(func(r *http.Request) bool {
			for _, prefix := range untraced {
				if strings.HasPrefix(r.URL.Path, prefix) {
					return false // a path with a secret in it (Mount.RedactPath)
				}
			}
			return r.URL.Path != "/healthz" && r.URL.Path != "/readyz"
		}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	)
}

// routeSpan names the request's server span "METHOD /route/pattern" (the
// pattern, never the raw path: bounded names) and sets http.route. A
// request no route matches keeps the bare method, as OpenTelemetry's
// conventions ask. It runs first, when gin has routed the request.
func routeSpan(c *gin.Context) {
	// Not recording: tracing off (nothing to name, nothing to allocate),
	// a probe, or a trace not sampled.
	if span := trace.SpanFromContext(c.Request.Context()); span.IsRecording() {
		if route := c.FullPath(); route != "" {
			span.SetName(c.Request.Method + " " + route)
			span.SetAttributes(semconv.HTTPRoute(route))
		}
	}
	c.Next()
}
