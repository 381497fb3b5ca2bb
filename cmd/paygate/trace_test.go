package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/paygate/paygate/alipaysim"
)

// TestE2ETrace drives one QR order through the real HTTP stack, the
// gateway and the simulator with an in-memory span exporter, and checks the
// span tree (server span → Alipay client span, → database spans on
// PostgreSQL, → River insert; the compensation job's span linked to the
// request's trace) and that the request's log lines, and its job's, name
// the same trace and request.
func TestE2ETrace(t *testing.T) {
	e2eStores(t, func(t *testing.T, kind string) {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
		e := e2e(t, kind, func(cfg *config, _ *alipaysim.Config) {
			cfg.tracer = tp
			// The compensation job the order enqueues runs soon, and
			// finds the payment whose notification was lost.
			cfg.Jobs.CompensateAfter = 500 * time.Millisecond
			cfg.Jobs.CompensateInterval = 200 * time.Millisecond
			cfg.Jobs.PollInterval = 100 * time.Millisecond
		})
		e.setFaults(t, alipaysim.Faults{NotifyDropRate: 1})
		r := e2eCall(t, e.a, http.MethodPost, "/api/v1/orders", nil, e2eQR("trace_1", "12.34"))
		r.want(t, "create", http.StatusCreated, "")
		rid := r.header.Get("X-Request-Id")
		e.pay(t, r.order(t).QRCode)

		spans := func() []sdktrace.ReadOnlySpan { return rec.Ended() }
		var server sdktrace.ReadOnlySpan
		e2eEventually(t, "the server span", func() bool {
			server = findSpan(spans(), func(s sdktrace.ReadOnlySpan) bool {
				return s.Name() == "POST /api/v1/orders" && s.SpanKind() == trace.SpanKindServer
			})
			return server != nil
		})
		tid := server.SpanContext().TraceID()
		if !hasAttr(server, "http.route", "/api/v1/orders") {
			t.Errorf("server span attributes %v: no http.route", server.Attributes())
		}
		children := func(parent sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
			var out []sdktrace.ReadOnlySpan
			for _, s := range spans() {
				if s.Parent().SpanID() == parent.SpanContext().SpanID() && s.SpanContext().TraceID() == tid {
					out = append(out, s)
				}
			}
			return out
		}
		call := findSpan(children(server), func(s sdktrace.ReadOnlySpan) bool {
			return s.Name() == "alipay.trade.precreate" && s.SpanKind() == trace.SpanKindClient
		})
		if call == nil {
			t.Fatalf("no client span alipay.trade.precreate under the server span:\n%s", spanTree(spans()))
		}
		if !hasAttr(call, "http.request.method", "POST") {
			t.Errorf("alipay span has no HTTP attributes: %v", call.Attributes())
		}
		// The simulator is mounted on the same server: the call arrives
		// as a server span under the client span (W3C trace context).
		if findSpan(children(call), func(s sdktrace.ReadOnlySpan) bool { return s.Name() == "POST /gateway.do" }) == nil {
			t.Errorf("no simulator server span under alipay.trade.precreate:\n%s", spanTree(spans()))
		}
		if findSpan(children(server), func(s sdktrace.ReadOnlySpan) bool { return s.Name() == "river.insert_many" }) == nil {
			t.Errorf("no river.insert_many span under the server span:\n%s", spanTree(spans()))
		}
		if kind == "postgres" {
			db := findSpan(children(server), func(s sdktrace.ReadOnlySpan) bool {
				return s.SpanKind() == trace.SpanKindClient && hasAttrKey(s, "db.query.text")
			})
			if db == nil {
				t.Errorf("no database span under the server span:\n%s", spanTree(spans()))
			}
		}
		// The request's lines: the access line and the domain line.
		lines := logLines(t, e.log.String())
		for _, msg := range []string{"http request", "order recorded"} {
			l := findLine(lines, func(l map[string]any) bool {
				return l["msg"] == msg && l["request_id"] == rid
			})
			if l == nil {
				t.Errorf("no %q line with request_id %s", msg, rid)
				continue
			}
			if l["trace_id"] != tid.String() {
				t.Errorf("%q line: trace_id %v, want %s", msg, l["trace_id"], tid)
			}
		}
		// The job's lines name the request that enqueued it, and the
		// trace of the job's run, which links to the request's trace.
		var settled map[string]any
		e2eEventually(t, "the compensation job's line", func() bool {
			settled = findLine(logLines(t, e.log.String()), func(l map[string]any) bool {
				return l["msg"] == "compensation settled an order" && l["out_trade_no"] == "trace_1"
			})
			return settled != nil
		})
		if settled["request_id"] != rid {
			t.Errorf("job line request_id %v, want the request's %s", settled["request_id"], rid)
		}
		var job sdktrace.ReadOnlySpan
		e2eEventually(t, "the compensation job's span", func() bool {
			job = findSpan(spans(), func(s sdktrace.ReadOnlySpan) bool {
				return s.Name() == "river.work/compensate_order" && s.SpanContext().TraceID().String() == settled["trace_id"]
			})
			return job != nil
		})
		linked := false
		for _, l := range job.Links() {
			linked = linked || l.SpanContext.TraceID() == tid
		}
		if !linked || job.SpanContext().TraceID() == tid {
			t.Errorf("job span %s: links %v, want a link to the request's trace %s (and a trace of its own)", job.Name(), job.Links(), tid)
		}
		t.Logf("span tree (%s):\n%s", kind, spanTree(spans()))
	})
}
func findSpan(spans []sdktrace.ReadOnlySpan, ok func(sdktrace.ReadOnlySpan) bool) sdktrace.ReadOnlySpan {
	for _, s := range spans {
		if ok(s) {
			return s
		}
	}
	return nil
}

func hasAttr(s sdktrace.ReadOnlySpan, key, value string) bool {
	for _, a := range s.Attributes() {
		if string(a.Key) == key && a.Value.Emit() == value {
			return true
		}
	}
	return false
}

func hasAttrKey(s sdktrace.ReadOnlySpan, key string) bool {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return true
		}
	}
	return false
}

// spanTree prints spans as an indented tree by parent, for failures and the
// log of a passing run.
func spanTree(spans []sdktrace.ReadOnlySpan) string {
	byParent := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		ids[s.SpanContext().SpanID()] = true
	}
	var roots []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if p := s.Parent().SpanID(); p.IsValid() && ids[p] {
			byParent[p] = append(byParent[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	var b strings.Builder
	var walk func(s sdktrace.ReadOnlySpan, depth int)
	walk = func(s sdktrace.ReadOnlySpan, depth int) {
		b.WriteString(strings.Repeat("  ", depth) + s.Name() + " [" + s.SpanKind().String() + "] trace " + s.SpanContext().TraceID().String()[:8])
		for _, l := range s.Links() {
			b.WriteString(" link→trace " + l.SpanContext.TraceID().String()[:8])
		}
		b.WriteString("\n")
		kids := byParent[s.SpanContext().SpanID()]
		for i := range kids { // ended spans come last-ended first; show in start order
			for j := i + 1; j < len(kids); j++ {
				if kids[j].StartTime().Before(kids[i].StartTime()) {
					kids[i], kids[j] = kids[j], kids[i]
				}
			}
		}
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return b.String()
}

func logLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func findLine(lines []map[string]any, ok func(map[string]any) bool) map[string]any {
	for _, l := range lines {
		if ok(l) {
			return l
		}
	}
	return nil
}
