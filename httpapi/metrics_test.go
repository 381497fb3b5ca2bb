package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/httpapi"
)

// recordingObserver keeps what the server reports.
type recordingObserver struct {
	mu       sync.Mutex
	requests []string // "route method code"
	auth     []string
	limited  []string
}

func (o *recordingObserver) Request(route, method string, code int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = append(o.requests, route+" "+method+" "+http.StatusText(code))
}

func (o *recordingObserver) AuthFailure(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.auth = append(o.auth, reason)
}

func (o *recordingObserver) RateLimited(scope string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.limited = append(o.limited, scope)
}

func (o *recordingObserver) take() (requests, auth, limited []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	requests, auth, limited = o.requests, o.auth, o.limited
	o.requests, o.auth, o.limited = nil, nil, nil
	return
}

// TestObserverRouteLabels: a request is reported under its route pattern,
// never its raw path; a path no route matches, or a method none allows, is
// "unmatched", and a method outside the standard ones is "other".
func TestObserverRouteLabels(t *testing.T) {
	obs := &recordingObserver{}
	f := setup(t, func(c *httpapi.Config) { c.Observer = obs })
	tests := []struct {
		name   string
		method string
		path   string
		want   string
	}{
		{"pattern", "GET", "/api/v1/orders/ORDER_SECRET_42", "/api/v1/orders/:out_trade_no GET Not Found"},
		{"pattern with action", "POST", "/api/v1/orders/ORDER_SECRET_42/close", "/api/v1/orders/:out_trade_no/close POST Not Found"},
		{"unknown path", "GET", "/no/such/ORDER_SECRET_42", "unmatched GET Not Found"},
		{"unknown method", "DELETE", "/api/v1/orders", "unmatched DELETE Method Not Allowed"},
		{"odd method", "BREW", "/api/v1/orders", "unmatched other Method Not Allowed"},
		{"health", "GET", "/healthz", "/healthz GET OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.send(t, req{method: tt.method, path: tt.path})
			requests, _, _ := obs.take()
			if len(requests) != 1 || requests[0] != tt.want {
				t.Fatalf("reported %q, want [%q]", requests, tt.want)
			}
		})
	}
	routes := f.api.Routes()
	if !slices.Contains(routes, httpapi.Route{Method: "GET", Path: "/api/v1/orders/:out_trade_no"}) {
		t.Errorf("Routes() lacks GET /api/v1/orders/:out_trade_no: %v", routes)
	}
	for _, r := range routes {
		if strings.Contains(r.Path, "ORDER_SECRET") {
			t.Errorf("route %v holds a raw path", r)
		}
	}
}

// TestObserverAuthAndLimits: a refused authentication is reported with its
// reason code, a 429 with its limit's scope.
func TestObserverAuthAndLimits(t *testing.T) {
	obs := &recordingObserver{}
	f := setup(t, func(c *httpapi.Config) {
		c.Observer = obs
		c.RateLimit = httpapi.RateLimit{PerSecond: 0.001, Burst: 1}
	})
	nonce := randomNonce()
	tests := []struct {
		name          string
		r             req
		reason, scope string
	}{
		{"bad signature", req{path: "/api/v1/orders", secret: "sk_wrong"}, httpapi.ReasonBadSignature, ""},
		{"unknown key", req{path: "/api/v1/orders", accessKey: "ak_nobody"}, httpapi.ReasonUnknownKey, ""},
		{"old timestamp", req{path: "/api/v1/orders", timestamp: "1000"}, httpapi.ReasonTimestamp, ""},
		{"bad nonce", req{path: "/api/v1/orders", nonce: "x"}, httpapi.ReasonMalformedHeader, ""},
		{"missing header", req{path: "/api/v1/orders", header: func(h http.Header) { h.Del("X-Signature") }}, httpapi.ReasonMissingHeader, ""},
		{"first", req{path: "/api/v1/orders", nonce: nonce}, "", ""},
		{"merchant limit", req{path: "/api/v1/orders"}, "", httpapi.ScopeMerchant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.send(t, tt.r)
			_, auth, limited := obs.take()
			if want := nonEmpty(tt.reason); !slices.Equal(auth, want) {
				t.Errorf("auth failures %q, want %q", auth, want)
			}
			if want := nonEmpty(tt.scope); !slices.Equal(limited, want) {
				t.Errorf("rate limited %q, want %q", limited, want)
			}
		})
	}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// durationObserver keeps each request's reported duration by route.
type durationObserver struct {
	recordingObserver
	mu   sync.Mutex
	took map[string]time.Duration
}

func (o *durationObserver) Request(route, method string, code int, d time.Duration) {
	o.mu.Lock()
	o.took[route] = d
	o.mu.Unlock()
}

// TestObserverEventStreamToFirstByte: an event stream on a mount is
// reported up to its first byte (its length is how long a client watched,
// no latency), and still flushes and takes write deadlines through the
// wrapped writer; any other answer is reported in full.
func TestObserverEventStreamToFirstByte(t *testing.T) {
	t.Parallel()
	obs := &durationObserver{took: map[string]time.Duration{}}
	stream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
			t.Errorf("write deadline through the observer: %v", err)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte(": hello\n\n"))
		if err := rc.Flush(); err != nil {
			t.Errorf("flush through the observer: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
		w.Write([]byte("data: {}\n\n"))
	})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		w.Write([]byte("done"))
	})
	f := setup(t, func(c *httpapi.Config) {
		c.Observer = obs
		c.Mounts = []httpapi.Mount{{Path: "/stream", Handler: stream}, {Path: "/slow", Handler: slow}}
	})
	for _, p := range []string{"/stream", "/slow"} {
		resp, err := http.Get(f.url + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if d := obs.took["/stream"]; d <= 0 || d >= 200*time.Millisecond {
		t.Errorf("stream reported %s, want its time to first byte", d)
	}
	if d := obs.took["/slow"]; d < 300*time.Millisecond {
		t.Errorf("plain answer reported %s, want all of it", d)
	}
}
