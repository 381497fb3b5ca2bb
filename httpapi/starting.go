package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/paygate/paygate"
)

// Starting answers while a node waits for its database at start: /healthz
// is 200 (the process is alive: do not restart it), /readyz 503 with reason,
// and every other request 503 DATABASE_UNAVAILABLE with Retry-After, so
// that a load balancer sends nothing here and Alipay, like a shop, retries.
func Starting(reason string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rid := requestID(r.Header.Get("X-Request-Id"))
		h := w.Header()
		h.Set("X-Request-Id", rid)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Type", jsonType)
		var status int
		var v any
		switch r.URL.Path {
		case "/healthz":
			status, v = http.StatusOK, healthJSON{Status: "ok"}
		case "/readyz":
			status, v = http.StatusServiceUnavailable, healthJSON{Status: "unavailable", Reason: reason}
		default:
			h.Set("Retry-After", strconv.Itoa(int(databaseRetryAfter/time.Second)))
			status, v = http.StatusServiceUnavailable, errorBody{Error: errorDetail{
				Code: paygate.EDatabaseDown, Message: "this node is starting: " + reason + "; retry later", RequestID: rid}}
		}
		b, _ := json.Marshal(v) // plain strings: cannot fail
		w.WriteHeader(status)
		_, _ = w.Write(b)
	})
}
