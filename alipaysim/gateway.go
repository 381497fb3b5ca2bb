package alipaysim

import (
	"context"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/paygate/paygate/alipay"
)

// maxHold bounds how long the timeout fault holds an answer.
const maxHold = 60 * time.Second

// serveGateway answers one gateway.do call. Nothing a client sends can make
// it panic out or answer 500: a panic in a handler becomes a 20000
// isp.unknow-error, signed when the app is known.
func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request) {
	traceID := newTraceID()
	w.Header().Set("trace_id", traceID)
	gw := &guardWriter{ResponseWriter: w}
	var form map[string][]string
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic in gateway handler", "panic", v, "trace_id", traceID, "stack", string(debug.Stack()))
			if !gw.wrote {
				s.writeReply(gw, s.panicReply(form), false)
			}
		}
	}()
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		rp := errorReply(failure(alipay.CodeInvalidArgument, subInvalidParam, "仅支持POST或GET请求"))
		rp.status = http.StatusMethodNotAllowed
		s.writeReply(gw, rp, false)
		return
	}
	values, rp := readForm(w, r)
	if rp != nil {
		s.writeReply(gw, *rp, false)
		return
	}
	form = values
	method := values.Get("method")
	f := s.Faults()
	hit := f.appliesTo(method)
	if hit && f.LatencyMS > 0 && !s.wait(r.Context(), time.Duration(f.LatencyMS)*time.Millisecond) {
		if r.Context().Err() == nil { // the simulator is closing, the client still waits
			rp := errorReply(busy())
			rp.status = http.StatusServiceUnavailable
			s.writeReply(gw, rp, false)
		}
		return
	}
	if hit && s.dice.Roll(f.GatewayErrorRate) {
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		gw.WriteHeader(http.StatusBadGateway)
		_, _ = gw.Write([]byte("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\n"))
		return
	}
	res := s.handle(r, values)
	badSign := false
	if res.ran && hit {
		if s.dice.Roll(f.UnknownRate) {
			res.node = busy()
		}
		if f.AmountSkewFen != 0 && res.node != nil {
			skewAmounts(res.node, f.AmountSkewFen)
		}
		badSign = s.dice.Roll(f.BadSignatureRate)
		if s.dice.Roll(f.TimeoutRate) {
			s.wait(r.Context(), maxHold)
		}
	}
	s.log.Debug("gateway call", "method", method, "app_id", values.Get("app_id"), "node", res.key, "trace_id", traceID)
	s.writeReply(gw, res, badSign)
}

// handle authenticates the call and runs its business method.
func (s *Server) handle(r *http.Request, form map[string][]string) reply {
	c, rp := s.authenticate(r, form)
	if rp != nil {
		return *rp
	}
	if s.panicHook != nil {
		s.panicHook(c.method)
	}
	rep := methodReply(c.method, s.dispatch(c))
	rep.ran = true
	return rep
}

// dispatch runs the business method of an authenticated call.
func (s *Server) dispatch(c *call) *node {
	switch c.method {
	case alipay.MethodPrecreate:
		return s.precreate(c)
	case alipay.MethodPay:
		return s.pay(c)
	case alipay.MethodQuery:
		return s.query(c)
	case alipay.MethodCancel:
		return s.cancel(c)
	case alipay.MethodClose:
		return s.closeTrade(c)
	case alipay.MethodRefund:
		return s.refund(c)
	case alipay.MethodRefundQuery:
		return s.refundQuery(c)
	case alipay.MethodBillURL:
		return s.billURL(c)
	}
	return busy() // authenticate admits only known methods
}

// panicReply is the 20000 answer after a panic: signed under the method's
// node when the app and method are known, else unsigned.
func (s *Server) panicReply(form map[string][]string) reply {
	get := func(k string) string {
		if vs := form[k]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	method := get("method")
	if _, ok := s.app(get("app_id")); ok && knownMethod(method) {
		return methodReply(method, busy())
	}
	return unsignedReply(method, busy())
}

// wait sleeps for d unless the request or the server ends first; it reports
// whether the full time passed.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-s.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// persistFailed is the answer when a change could not be journaled: it took
// effect in memory, so the caller must treat the result as unknown.
func (s *Server) persistFailed(err error) *node {
	s.log.Error("persist", "err", err)
	return busy()
}

// guardWriter remembers whether the response was started.
type guardWriter struct {
	http.ResponseWriter
	wrote bool
}

func (g *guardWriter) WriteHeader(code int) {
	g.wrote = true
	g.ResponseWriter.WriteHeader(code)
}

func (g *guardWriter) Write(b []byte) (int, error) {
	g.wrote = true
	return g.ResponseWriter.Write(b)
}
