package cashier

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/paygate/paygate"
)

// Stream timings.
const (
	// writeWindow bounds each write to a stream: a client that stops
	// reading is dropped instead of holding the handler.
	writeWindow = 10 * time.Second
	// retryMillis is the reconnection delay the stream asks browsers for.
	retryMillis = 3000
)

// serveEvents is GET /pay/{token}/events: text/event-stream with a "status"
// event now and at every change ({"state": …, "final": …, "has_qr": …,
// "codes": …, and "wallet": alipay|wechat once paid),
// a comment every Heartbeat, ending after the final state, at
// MaxStreamAge (the browser reconnects), when the client leaves, or at
// Drain.
func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request, token string) {
	select {
	case <-h.drain:
		h.refuseStream(w, "this node is shutting down")
		return
	default:
	}
	o, err := h.cfg.Store.OrderByCashierToken(r.Context(), token)
	if paygate.ErrorCode(err) == paygate.ENotFound || (err == nil && o.Mode != paygate.ModeQR) {
		h.writeNotFound(w)
		return
	}
	if err != nil {
		h.log.WarnContext(r.Context(), "cashier: read order for a stream", "err", err)
		h.writeUnavailable(w)
		return
	}
	if n := h.streams.Add(1); n > int64(h.cfg.MaxStreams) {
		h.streams.Add(-1)
		h.refuseStream(w, "too many open streams")
		return
	}
	defer h.streams.Add(-1)

	// The server's write timeout is for answers, not streams: each write
	// gets its own deadline (send). (Its read timeout no longer applies:
	// net/http lifts it once the request is read.)
	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("X-Accel-Buffering", "no") // a proxy must pass events on at once
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	sent := snapshotOf(o, h.cfg.Now())
	if !h.send(w, rc, "retry: "+strconv.Itoa(retryMillis)+"\n"+event(sent)) || sent.Final {
		return
	}
	snaps, unsubscribe := h.hub.subscribe(token)
	defer unsubscribe()
	beat := time.NewTicker(h.cfg.Heartbeat)
	defer beat.Stop()
	age := time.NewTimer(h.cfg.MaxStreamAge)
	defer age.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-h.drain:
			return
		case <-age.C:
			return
		case <-beat.C:
			if !h.send(w, rc, ": ping\n\n") {
				return
			}
		case s, ok := <-snaps:
			if !ok {
				return // settled (its final state came first) or drained
			}
			if s.same(sent) {
				continue
			}
			sent = s
			if !h.send(w, rc, event(s)) || s.Final {
				return
			}
		}
	}
}

// event is one "status" event.
func event(s snapshot) string {
	data, _ := json.Marshal(s) // plain fields: cannot fail
	return "event: status\ndata: " + string(data) + "\n\n"
}

// send writes and flushes msg within writeWindow; false when the client is
// gone.
func (h *Handler) send(w http.ResponseWriter, rc *http.ResponseController, msg string) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(writeWindow))
	if _, err := w.Write([]byte(msg)); err != nil {
		return false
	}
	return rc.Flush() == nil
}

// refuseStream answers 503: the page's script retries later (a browser's
// EventSource gives up on an error status, so the script reconnects).
func (h *Handler) refuseStream(w http.ResponseWriter, why string) {
	w.Header().Set("Retry-After", "5")
	http.Error(w, why+"; retry shortly", http.StatusServiceUnavailable)
}
