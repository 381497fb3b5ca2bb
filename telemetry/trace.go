// Package telemetry sets up paygate's OpenTelemetry tracing from the
// standard OTEL_* environment variables and carries a request's identity
// (its request id, its trace) into every log line written with its context.
//
// Tracing is off unless an OTLP endpoint is configured: the provider is then
// OpenTelemetry's no-op one, whose spans cost nothing and are never
// recorded. Nothing here is process-wide: the provider is handed to each
// adapter (HTTP server, Alipay client, pgx, River) by the caller.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ServiceName is the service.name spans carry unless OTEL_SERVICE_NAME says
// otherwise.
const ServiceName = "paygate"

// Tracing is a node's tracer provider and how to flush it. The zero value
// and nil are tracing off.
type Tracing struct {
	provider trace.TracerProvider
	shutdown func(context.Context) error
	// Endpoint is where spans go ("" when off), for the start-up log line.
	Endpoint string
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t != nil && t.provider != nil }

// Provider is the tracer provider to hand to adapters: the SDK's when
// tracing is on, else nil (adapters treat nil as "no tracing" and add
// nothing to the request path).
func (t *Tracing) Provider() trace.TracerProvider {
	if !t.Enabled() {
		return nil
	}
	return t.provider
}

// Shutdown flushes the spans still buffered and stops the exporter; ctx
// bounds the wait. Safe on nil and when off.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// Propagator is the W3C trace context (and baggage) propagation paygate
// reads from merchants' requests and writes on its calls to Alipay.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// OrNoop is tp, or the no-op provider when tp is nil.
func OrNoop(tp trace.TracerProvider) trace.TracerProvider {
	if tp == nil {
		return noop.NewTracerProvider()
	}
	return tp
}

// samplers are the OTEL_TRACES_SAMPLER values the Go SDK implements.
var samplers = map[string]bool{
	"always_on": true, "always_off": true, "traceidratio": true,
	"parentbased_always_on": true, "parentbased_always_off": true, "parentbased_traceidratio": true,
}

// Start reads the OTEL_* variables through getenv (os.Getenv in a node) and
// starts tracing, or returns a Tracing that is off:
//   - OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none, or neither
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT nor OTEL_EXPORTER_OTLP_ENDPOINT set: off;
//   - otherwise spans are batched to that endpoint over OTLP/HTTP protobuf
//     (the exporter reads the other OTEL_EXPORTER_OTLP_* settings: headers,
//     timeout, TLS), sampled per OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG
//     (default parentbased_always_on), with service.name from
//     OTEL_SERVICE_NAME (default "paygate") and OTEL_RESOURCE_ATTRIBUTES.
//
// A setting it cannot honour (an unknown sampler, a ratio outside [0, 1],
// a protocol other than http/protobuf, an exporter other than otlp) is an
// error naming the variable, never silently ignored.
func Start(ctx context.Context, getenv func(string) string) (*Tracing, error) {
	if getenv == nil {
		return nil, errors.New("telemetry: getenv is required")
	}
	if v := getenv("OTEL_SDK_DISABLED"); v != "" {
		off, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("telemetry: OTEL_SDK_DISABLED=%q is not true or false", v)
		}
		if off {
			return &Tracing{}, nil
		}
	}
	switch exp := strings.ToLower(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "none":
		return &Tracing{}, nil
	case "", "otlp":
	default:
		return nil, fmt.Errorf("telemetry: OTEL_TRACES_EXPORTER=%q: paygate exports traces with otlp only (or none)", exp)
	}
	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if endpoint == "" {
		endpoint = getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	if endpoint == "" {
		return &Tracing{}, nil
	}
	if err := checkEnv(getenv); err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(ServiceName)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override
		resource.WithTelemetrySDK(),
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	// The SDK reads OTEL_TRACES_SAMPLER(_ARG) itself when no sampler is
	// given; checkEnv made sure it will understand them.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{provider: tp, shutdown: tp.Shutdown, Endpoint: endpoint}, nil
}

// checkEnv refuses the settings the SDK would otherwise ignore with only a
// line on stderr.
func checkEnv(getenv func(string) string) error {
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := getenv(name); p != "" && p != "http/protobuf" {
			return fmt.Errorf("telemetry: %s=%q: paygate exports traces over http/protobuf only", name, p)
		}
	}
	s := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER")))
	if s != "" && !samplers[s] {
		return fmt.Errorf("telemetry: OTEL_TRACES_SAMPLER=%q is not one of always_on, always_off, traceidratio, "+
			"parentbased_always_on, parentbased_always_off, parentbased_traceidratio", s)
	}
	if arg := getenv("OTEL_TRACES_SAMPLER_ARG"); arg != "" && strings.HasSuffix(s, "traceidratio") {
		r, err := strconv.ParseFloat(strings.TrimSpace(arg), 64)
		if err != nil || r < 0 || r > 1 {
			return fmt.Errorf("telemetry: OTEL_TRACES_SAMPLER_ARG=%q is not a ratio from 0 to 1", arg)
		}
	}
	return nil
}
