package jobs

import (
	"context"
	"encoding/json"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	metricnoop "go.opentelemetry.io/otel/metric/noop"

	"github.com/paygate/paygate/telemetry"
)

// metaRequestID is the job metadata key of the enqueuing request's id.
const metaRequestID = "request_id"

// middleware is River's middleware for this queue: the fence (liveness.go),
// the request id carried from the request that enqueued a job to the lines
// its run logs, and, with a tracer provider, otelriver: a span per job run
// named "river.work/KIND", linked (not parented: a job may run hours later)
// to the span that enqueued it through the W3C trace context otelriver
// writes into the job's metadata at insert.
func (c *Config) middleware(f *fence) []rivertype.Middleware {
	mw := []rivertype.Middleware{f, &requestIDMiddleware{}}
	if c.TracerProvider != nil {
		mw = append(mw, otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
			TracerProvider:              c.TracerProvider,
			MeterProvider:               metricnoop.NewMeterProvider(), // queue metrics are Prometheus's
			EnableTracePropagation:      true,
			EnableWorkSpanJobKindSuffix: true,
		}))
	}
	return mw
}

// requestIDMiddleware writes the enqueuing request's id into a job's
// metadata and puts it back into the context of the job's run, so that the
// job's log lines name the request that caused it.
type requestIDMiddleware struct{ river.MiddlewareDefaults }

// InsertMany adds request_id to every job's metadata when ctx carries one.
func (*requestIDMiddleware) InsertMany(ctx context.Context, params []*rivertype.JobInsertParams,
	doInner func(context.Context) ([]*rivertype.JobInsertResult, error)) ([]*rivertype.JobInsertResult, error) {
	if id := telemetry.RequestID(ctx); id != "" {
		for _, p := range params {
			p.Metadata = withMeta(p.Metadata, metaRequestID, id)
		}
	}
	return doInner(ctx)
}

// Work runs the job with the request id its metadata carries.
func (*requestIDMiddleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	var meta struct {
		RequestID string `json:"request_id"`
	}
	if len(job.Metadata) > 0 && json.Unmarshal(job.Metadata, &meta) == nil {
		ctx = telemetry.WithRequestID(ctx, meta.RequestID)
	}
	return doInner(ctx)
}

// withMeta sets key to value in a JSON object, keeping its other keys;
// metadata that is not an object is left as it is.
func withMeta(metadata []byte, key, value string) []byte {
	m := map[string]json.RawMessage{}
	if len(metadata) > 0 {
		if err := json.Unmarshal(metadata, &m); err != nil {
			return metadata
		}
	}
	v, err := json.Marshal(value)
	if err != nil {
		return metadata
	}
	m[key] = v
	out, err := json.Marshal(m)
	if err != nil {
		return metadata
	}
	return out
}
