package dst

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"syscall"

	"github.com/paygate/paygate/faultstore"
)

// Addresses the in-memory network answers; nothing is ever dialled.
const (
	simURL    = "http://127.0.0.1:9/gateway.do"
	notifyURL = "http://127.0.0.1:9/notify/alipay"
)

// Net is an http.RoundTripper that hands each request straight to a
// handler in the caller's goroutine: /gateway.do to the simulator, anything
// else to the gateway's notification endpoint. Calls to the simulator can be
// failed before they arrive (connection refused: nothing happened) or after
// it answered (connection reset: it happened, the answer is lost).
type Net struct {
	Sim    http.Handler
	Notify http.Handler

	mu     sync.Mutex
	fault  func(method string) faultstore.When
	onCall func(method string)
	count  int
}

// OnCall sets fn to run before each channel call reaches the simulator (a
// buyer acting between two calls, say); nil removes it.
func (n *Net) OnCall(fn func(method string)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.onCall = fn
}

// SetFaults decides each later channel call's fault by its API method
// (alipay.trade.pay, ...); nil injects nothing.
func (n *Net) SetFaults(fn func(method string) faultstore.When) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.fault = fn
}

// Injected is how many channel calls were failed.
func (n *Net) Injected() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.count
}

// RoundTrip serves req in process.
func (n *Net) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	h := n.Notify
	w := faultstore.None
	if req.URL.Path == "/gateway.do" {
		h = n.Sim
		method := methodOf(req, body)
		n.mu.Lock()
		hook := n.onCall
		if n.fault != nil {
			w = n.fault(method)
			if w != faultstore.None {
				n.count++
			}
		}
		n.mu.Unlock()
		if hook != nil {
			hook(method)
		}
	}
	if h == nil {
		return nil, errors.New("dst: no handler for " + req.URL.Path)
	}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	if w == faultstore.Before {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	in := req.Clone(req.Context())
	in.Body = io.NopCloser(bytes.NewReader(body))
	in.ContentLength = int64(len(body))
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:40000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, in)
	if w == faultstore.After {
		return nil, &net.OpError{Op: "read", Net: "tcp", Addr: addr, Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// methodOf reads the API method of a gateway.do call from the query or the
// form body.
func methodOf(req *http.Request, body []byte) string {
	if m := req.URL.Query().Get("method"); m != "" {
		return m
	}
	form, _ := url.ParseQuery(string(body))
	return form.Get("method")
}
