package postgres

import (
	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// WithTracer has every query, batch and copy of the pool traced by t.
func WithTracer(t pgx.QueryTracer) Option { return func(c *config) { c.tracer = t } }

// WithTracing traces the store's statements as OpenTelemetry client spans
// (otelpgx: named by the operation, "SELECT", "INSERT"…, with the statement
// text and never its arguments), only under a span the caller already has:
// a request's or a job's work. River's polling and the heartbeats, which
// run outside any span, make none. tp nil leaves tracing off.
func WithTracing(tp trace.TracerProvider) Option {
	if tp == nil {
		return func(*config) {}
	}
	return WithTracer(otelpgx.NewTracer(
		otelpgx.WithTracerProvider(tp),
		otelpgx.WithMeterProvider(metricnoop.NewMeterProvider()), // pool metrics are Prometheus's
		otelpgx.WithDisableConnectionDetailsInAttributes(),
	))
}
