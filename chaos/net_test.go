package chaos

// The suite's own network pieces, in the test process: pass-through proxies
// in front of the simulator's gateway.do (Alipay) and /v3/ (WeChat Pay)
// that count the call faults they see (the simulator injects them; the
// proxies only observe), a load balancer for both channels' notifications
// across the gateway nodes (as production puts one in front of replicas),
// and the merchant's webhook receiver.

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paygate/paygate/client"
)

// callKind says how a faultProxy reads the answers it passes on.
type callKind int

const (
	// alipayCalls: gateway.do, where gateway_error_rate is an HTTP 502 and
	// unknown_rate a 20000 answer.
	alipayCalls callKind = iota
	// wechatCalls: WeChat Pay's /v3/, where both gateway_error_rate and
	// unknown_rate are a signed 500 SYSTEM_ERROR (one did nothing, the other
	// took effect: the wire cannot tell them apart, nor can the gateway).
	wechatCalls
)

// faultProxy forwards a channel's calls to the simulator unchanged and
// counts what came back: a gateway error (Alipay: HTTP 502; WeChat Pay: a
// 500, gateway error or unknown), an unknown answer (Alipay's 20000), or
// no answer before the caller gave up (timeout_rate, or latency past the
// call timeout).
type faultProxy struct {
	kind                                    callKind
	calls, gatewayErrors, unknown, timeouts atomic.Int64
	srv                                     *httptest.Server
}

func newFaultProxy(target string, kind callKind) *faultProxy {
	u, err := url.Parse(target)
	if err != nil {
		panic(err)
	}
	fp := &faultProxy{kind: kind}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = u.Host
			if kind == wechatCalls {
				// WeChat Pay's simulator writes a bill's download_url on the
				// Host it was asked at, and the client downloads only from
				// its configured origin: this proxy's.
				pr.Out.Host = pr.In.Host
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			fp.calls.Add(1)
			switch {
			case kind == alipayCalls && resp.StatusCode == http.StatusBadGateway,
				kind == wechatCalls && resp.StatusCode >= 500:
				fp.gatewayErrors.Add(1)
				return nil
			case kind == wechatCalls:
				return nil
			}
			body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
			resp.Body.Close()
			if err != nil {
				return err
			}
			if bytes.Contains(body, []byte(`"code":"20000"`)) {
				fp.unknown.Add(1)
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			fp.calls.Add(1)
			if r.Context().Err() != nil {
				fp.timeouts.Add(1) // the gateway stopped waiting
				return
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	fp.srv = httptest.NewServer(rp)
	return fp
}

// notifyLB forwards the channels' notifications (/notify/alipay,
// /notify/wechat) to the gateway nodes round robin,
// trying the next node when one does not answer (killed, restarting).
type notifyLB struct {
	backends []string
	next     atomic.Uint64
	hc       *http.Client
	srv      *httptest.Server
}

func newNotifyLB(backends []string) *notifyLB {
	lb := &notifyLB{backends: backends, hc: &http.Client{Timeout: 30 * time.Second}}
	lb.srv = httptest.NewServer(http.HandlerFunc(lb.serve))
	return lb
}

func (lb *notifyLB) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n := lb.next.Add(1)
	for i := range lb.backends {
		b := lb.backends[(int(n)+i)%len(lb.backends)]
		req, err := http.NewRequestWithContext(r.Context(), r.Method, b+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			continue
		}
		req.Header = r.Header.Clone()
		resp, err := lb.hc.Do(req)
		if err != nil {
			continue // this node is down: the next one
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		for k, vs := range resp.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(data)
		return
	}
	http.Error(w, "no gateway node answered", http.StatusBadGateway)
}

// receiver is the merchant's webhook endpoint: it verifies every delivery
// with client.VerifyWebhook, records event ids, and fails a share of valid
// deliveries on purpose (HTTP 500) so that paygate's retries are exercised.
type receiver struct {
	secret   string
	failRate float64

	mu         sync.Mutex
	rng        *rand.Rand
	events     map[string]*rxEvent
	deliveries int
	failed     int // answered 500 on purpose
	invalid    int
	invalidEx  []string
	lastAt     time.Time
	srv        *httptest.Server
}

// rxEvent is what the receiver knows of one event id.
type rxEvent struct {
	Type       string
	OutTradeNo string
	Deliveries int // with a valid signature
	Acked      int // answered 2xx
	First      time.Time
}

func newReceiver(secret string, failRate float64, seed uint64) *receiver {
	rx := &receiver{secret: secret, failRate: failRate, rng: rand.New(rand.NewPCG(seed, 0x5eed)), events: map[string]*rxEvent{}}
	rx.srv = httptest.NewServer(http.HandlerFunc(rx.serve))
	return rx
}

func (rx *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	now := time.Now()
	rx.mu.Lock()
	defer rx.mu.Unlock()
	rx.deliveries++
	rx.lastAt = now
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	header := r.Header.Get(client.WebhookSignatureHeader)
	if err := client.VerifyWebhook(rx.secret, header, body, 0, now); err != nil {
		rx.invalid++
		if len(rx.invalidEx) < 5 {
			rx.invalidEx = append(rx.invalidEx, err.Error()+" header="+header+" body="+truncate(string(body), 200))
		}
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	var ev struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data struct {
			Order struct {
				OutTradeNo string `json:"out_trade_no"`
			} `json:"order"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" {
		rx.invalid++
		if len(rx.invalidEx) < 5 {
			rx.invalidEx = append(rx.invalidEx, "undecodable event: "+truncate(string(body), 200))
		}
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	e := rx.events[ev.ID]
	if e == nil {
		e = &rxEvent{Type: ev.Type, OutTradeNo: ev.Data.Order.OutTradeNo, First: now}
		rx.events[ev.ID] = e
	}
	e.Deliveries++
	if rx.failRate > 0 && rx.rng.Float64() < rx.failRate {
		rx.failed++
		http.Error(w, "chaos: failing this delivery on purpose", http.StatusInternalServerError)
		return
	}
	e.Acked++
	w.WriteHeader(http.StatusNoContent)
}

// snapshot copies what the receiver holds.
func (rx *receiver) snapshot() (events map[string]rxEvent, deliveries, failed, invalid int, invalidEx []string, lastAt time.Time) {
	rx.mu.Lock()
	defer rx.mu.Unlock()
	events = make(map[string]rxEvent, len(rx.events))
	for id, e := range rx.events {
		events[id] = *e
	}
	return events, rx.deliveries, rx.failed, rx.invalid, append([]string(nil), rx.invalidEx...), rx.lastAt
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
