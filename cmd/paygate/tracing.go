package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/paygate/paygate/telemetry"
)

// tracingFlushTimeout bounds the flush of buffered spans at stop.
const tracingFlushTimeout = 5 * time.Second

// startTracing starts OpenTelemetry tracing from the OTEL_* environment
// (see telemetry.Start): on when an OTLP endpoint is set, else off at no
// cost. It returns the provider to hand to newApp (through cfg.tracer,
// nil when off) and the stop that flushes what is still buffered; serve,
// demo and reconcile call stop when the node stops.
func startTracing(ctx context.Context, logger *slog.Logger) (*telemetry.Tracing, func(), error) {
	tr, err := telemetry.Start(ctx, os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	if !tr.Enabled() {
		return tr, func() {}, nil
	}
	// The exporter reports failures (an unreachable collector) through
	// OpenTelemetry's one process-wide handler, raw on stderr by default:
	// route them into the node's JSON log instead.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("tracing: export failed", "reason", "trace_export", "err", err.Error())
	}))
	logger.Info("tracing on: spans exported over OTLP/HTTP", "endpoint", tr.Endpoint)
	return tr, func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tracingFlushTimeout)
		defer cancel()
		if err := tr.Shutdown(ctx); err != nil {
			logger.Warn("tracing: flushing spans at stop", "err", err.Error())
		}
	}, nil
}

// commandSpan starts the root span of a command's work (a reconcile run),
// so that its calls to Alipay and the database are one trace; end ends it.
// Without a provider it does nothing.
func commandSpan(ctx context.Context, tp trace.TracerProvider, name string, attrs ...attribute.KeyValue) (context.Context, func()) {
	if tp == nil {
		return ctx, func() {}
	}
	ctx, span := tp.Tracer("github.com/paygate/paygate/cmd/paygate").Start(ctx, name, trace.WithAttributes(attrs...))
	return ctx, func() { span.End() }
}
