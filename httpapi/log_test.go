package httpapi_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/paygate/paygate/httpapi"
)

func TestRequestLog(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var sig string
	r := req{method: "POST", path: "/api/v1/orders", body: []byte(orderBody), header: func(h http.Header) {
		sig = h.Get("X-Signature")
		h.Set("X-Request-Id", "req-from-shop-1")
	}}
	status, hdr, _ := f.send(t, r)
	if status != 201 || hdr.Get("X-Request-Id") != "req-from-shop-1" {
		t.Fatalf("status %d, X-Request-Id %q", status, hdr.Get("X-Request-Id"))
	}
	f.send(t, req{path: listPath, query: url.Values{"status": {"paid"}}, secret: "wrong"})

	lines := f.logs.Lines(t)
	if len(lines) != 2 {
		t.Fatalf("log lines = %d, want one per request: %v", len(lines), lines)
	}
	first := lines[0]
	for k, want := range map[string]any{
		"msg": "http request", "level": "INFO", "method": "POST", "path": "/api/v1/orders",
		"status": float64(201), "access_key": accessKey, "request_id": "req-from-shop-1",
	} {
		if first[k] != want {
			t.Errorf("log %s = %v, want %v", k, first[k], want)
		}
	}
	if _, ok := first["latency_ms"]; !ok {
		t.Error("log line has no latency_ms")
	}
	second := lines[1]
	if second["status"] != float64(401) || second["code"] != "UNAUTHORIZED" || second["path"] != listPath {
		t.Errorf("second line = %v", second)
	}
	if id, _ := second["request_id"].(string); len(id) != 32 {
		t.Errorf("generated request id = %q, want 32 hex digits", id)
	}
	all := f.logs.String()
	for _, secret := range []string{secretKey, sig, "Tea", "total_amount", "status=paid", "whsec_test"} {
		if strings.Contains(all, secret) {
			t.Errorf("log contains %q:\n%s", secret, all)
		}
	}
}

func TestMounts(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "mounted "+r.Method+" "+r.URL.Path)
	})
	f := setup(t, func(c *httpapi.Config) {
		c.Mounts = []httpapi.Mount{{Path: "/gateway.do", Handler: h}, {Path: "/sim/", Handler: h}}
	})
	for _, tt := range []struct{ method, path, want string }{
		{"POST", "/gateway.do", "mounted POST /gateway.do"},
		{"GET", "/sim/trades", "mounted GET /sim/trades"},
		{"POST", "/sim/faults", "mounted POST /sim/faults"},
	} {
		hr, _ := http.NewRequest(tt.method, f.url+tt.path, nil)
		if status, _, b := do(t, hr); status != 200 || string(b) != tt.want {
			t.Errorf("%s %s: %d %q", tt.method, tt.path, status, b)
		}
	}
	// The merchant API is unaffected.
	if status, _, _ := f.send(t, req{path: listPath}); status != 200 {
		t.Fatalf("API beside mounts: %d", status)
	}
}
