package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/jobs"
)

// metricFamilies are the families issue 9 names, with their label names
// (sorted): dashboards and alert rules are written against them.
var metricFamilies = map[string][]string{
	"paygate_http_requests_total":                           {"code", "method", "route"},
	"paygate_http_request_duration_seconds":                 {"method", "route"},
	"paygate_orders_total":                                  {"mode", "status"},
	"paygate_refunds_total":                                 {"status"},
	"paygate_payment_amount_fen_total":                      {"mode"},
	"paygate_channel_calls_total":                           {"method", "outcome"},
	"paygate_channel_call_duration_seconds":                 {"method"},
	"paygate_channel_breaker_state":                         {"app_id"},
	"paygate_notifications_total":                           {"result"},
	"paygate_auth_failures_total":                           {"reason"},
	"paygate_rate_limited_total":                            {"scope"},
	"paygate_webhook_deliveries_total":                      {"result"},
	"paygate_webhook_delivery_duration_seconds":             nil,
	"paygate_webhook_backlog":                               nil,
	"paygate_webhook_dead_letters":                          nil,
	"paygate_jobs_queued":                                   {"kind"},
	"paygate_jobs_oldest_age_seconds":                       {"kind"},
	"paygate_compensations_total":                           {"result"},
	"paygate_db_pool_in_use":                                nil,
	"paygate_db_pool_idle":                                  nil,
	"paygate_db_pool_wait_total":                            nil,
	"paygate_db_pool_wait_seconds_total":                    nil,
	"paygate_db_pool_max":                                   nil,
	"paygate_reconciliation_differences":                    {"channel", "kind"},
	"paygate_reconciliation_last_success_timestamp_seconds": {"channel"},
	"paygate_reconciliation_repairs_total":                  {"channel"},
	"paygate_late_payments_total":                           {"action"},
	"paygate_build_info":                                    {"goversion", "version"},
}

// scrape is the node's /metrics, parsed.
type scrape map[string]*dto.MetricFamily

func (e *e2eEnv) scrape(t *testing.T) scrape {
	t.Helper()
	rec := httptest.NewRecorder()
	e.app.metrics.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// value sums the samples of family name whose labels include want (a
// counter's or gauge's value, a histogram's count).
func (s scrape) value(name string, want map[string]string) float64 {
	f, ok := s[name]
	if !ok {
		return -1
	}
	total := 0.0
next:
	for _, m := range f.Metric {
		labels := labelMap(m)
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total
}

func labelMap(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.Label {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// checkFamilies fails unless every family of metricFamilies is present,
// with exactly its label names on every series.
func (s scrape) checkFamilies(t *testing.T) {
	t.Helper()
	for name, want := range metricFamilies {
		f, ok := s[name]
		if !ok || len(f.Metric) == 0 {
			t.Errorf("family %s is missing", name)
			continue
		}
		for _, m := range f.Metric {
			var got []string
			for k := range labelMap(m) {
				got = append(got, k)
			}
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s has labels %v, want %v", name, got, want)
				break
			}
		}
	}
}

// TestE2EMetrics: after real traffic (QR orders paid through the simulator,
// a barcode order, a refund, a forged request, a forged notification, a
// rate-limited request, a request to no route), /metrics holds every
// family issue 9 names, the counts moved as the traffic implies, and no
// label value is unbounded: routes are the router's patterns, and no label
// holds an order number, a channel number or an access key.
func TestE2EMetrics(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		var hooks atomic.Int64
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hooks.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(hook.Close)
		e := e2e(t, kind, func(cfg *config, _ *alipaysim.Config) {
			cfg.Webhooks.AllowPrivateNetworks, cfg.Webhooks.AllowHTTP = true, true // the receiver is on loopback
			cfg.Jobs.PollInterval = 100 * time.Millisecond
			// One failed authentication fences the address: the next lookup
			// of an unknown key from it is refused 429.
			cfg.RateLimit.AuthFailuresPerSecond, cfg.RateLimit.AuthFailuresBurst = 0.001, 1
		})
		e.app.metrics.db.every = 0 // read the database at every scrape
		start := e.scrape(t)
		start.checkFamilies(t)
		for name := range metricFamilies {
			// The pool's waits count from its opening, before any traffic.
			if strings.HasSuffix(name, "_total") && !strings.HasPrefix(name, "paygate_db_pool_") && start.value(name, nil) != 0 {
				t.Errorf("%s starts at %v, want 0", name, start.value(name, nil))
			}
		}

		// Traffic.
		ctx := context.Background()
		nos := []string{"MQR_ONE_7781", "MQR_TWO_7782", "MBC_THREE_7783"}
		for i, amount := range []string{"12.34", "5.00"} {
			req := e2eQR(nos[i], amount)
			req.NotifyURL = hook.URL + "/hook"
			o := e2eCreate(t, e.a, req, http.StatusCreated)
			e.pay(t, o.QRCode)
			e2eWaitStatus(t, e.a, nos[i], "paid")
		}
		bc := client.CreateOrderRequest{OutTradeNo: nos[2], Subject: "sandwich", TotalAmount: "25.00", Mode: "barcode", AuthCode: "280000000000000001"}
		if o := e2eCreate(t, e.a, bc, http.StatusCreated); o.Status != "paid" {
			t.Fatalf("barcode order is %s", o.Status)
		}
		if _, err := e.a.Refund(ctx, nos[1], client.RefundRequest{OutRequestNo: "MRF_7784", Amount: "5.00"}); err != nil {
			t.Fatalf("refund: %v", err)
		}
		e2eWaitStatus(t, e.a, nos[1], "refunded")
		if got := e.postNotify(t, url.Values{"app_id": {e2eAppID}, "out_trade_no": {e.stored(t, e.idA, nos[0]).ChannelNo},
			"trade_status": {"TRADE_SUCCESS"}, "total_amount": {"12.34"}, "sign_type": {"RSA2"}, "sign": {"Zm9yZ2Vk"}}); got != "failure" {
			t.Fatalf("forged notification answered %q", got)
		}
		if status, _ := e.rawRequest(t, "GET", "/api/v1/nothing/"+nos[0], nil, func(http.Header) {}); status != http.StatusNotFound {
			t.Fatalf("no route: %d", status)
		}
		forged := e.credsA
		forged.SecretKey = "sk_forged"
		if status, _ := e.rawRequest(t, "GET", "/api/v1/orders/"+nos[0], nil, e.signer(forged, "GET", "/api/v1/orders/"+nos[0], nil, time.Now(), "forgednonce1")); status != http.StatusUnauthorized {
			t.Fatalf("forged request: %d", status)
		}
		unknown := forged
		unknown.AccessKey = "ak_nobody_7785"
		if status, _ := e.rawRequest(t, "GET", "/api/v1/orders", nil, e.signer(unknown, "GET", "/api/v1/orders", nil, time.Now(), "forgednonce2")); status != http.StatusTooManyRequests {
			t.Fatalf("request from a fenced address: %d, want 429", status)
		}
		e2eEventually(t, "webhooks delivered", func() bool {
			return hooks.Load() >= 3 && e.scrape(t).value("paygate_webhook_deliveries_total", map[string]string{"result": "delivered"}) >= 3
		})
		e2eEventually(t, "the barcode order's event dead-lettered (its merchant has no webhook URL)", func() bool {
			return e.scrape(t).value("paygate_webhook_dead_letters", nil) >= 1
		})

		s := e.scrape(t)
		s.checkFamilies(t)
		atLeast := func(name string, labels map[string]string, want float64) {
			t.Helper()
			if got := s.value(name, labels) - start.value(name, labels); got < want {
				t.Errorf("%s%v moved by %v, want at least %v", name, labels, got, want)
			}
		}
		exactly := func(name string, labels map[string]string, want float64) {
			t.Helper()
			if got := s.value(name, labels) - start.value(name, labels); got != want {
				t.Errorf("%s%v moved by %v, want %v", name, labels, got, want)
			}
		}
		l := func(kv ...string) map[string]string {
			m := map[string]string{}
			for i := 0; i < len(kv); i += 2 {
				m[kv[i]] = kv[i+1]
			}
			return m
		}
		exactly("paygate_orders_total", l("mode", "qr", "status", "pending"), 2)
		exactly("paygate_orders_total", l("mode", "qr", "status", "paid"), 2)
		exactly("paygate_orders_total", l("mode", "qr", "status", "refunded"), 1)
		exactly("paygate_orders_total", l("mode", "barcode", "status", "pending"), 1)
		exactly("paygate_orders_total", l("mode", "barcode", "status", "paid"), 1)
		exactly("paygate_orders_total", l("status", "closed"), 0)
		exactly("paygate_payment_amount_fen_total", l("mode", "qr"), 1734)
		exactly("paygate_payment_amount_fen_total", l("mode", "barcode"), 2500)
		exactly("paygate_refunds_total", l("status", "pending"), 1)
		exactly("paygate_refunds_total", l("status", "succeeded"), 1)
		exactly("paygate_refunds_total", l("status", "failed"), 0)
		exactly("paygate_channel_calls_total", l("method", "alipay.trade.precreate", "outcome", "success"), 2)
		exactly("paygate_channel_calls_total", l("method", "alipay.trade.pay", "outcome", "success"), 1)
		atLeast("paygate_channel_calls_total", l("method", "alipay.trade.refund", "outcome", "success"), 1)
		exactly("paygate_channel_calls_total", l("outcome", "error"), 0)
		atLeast("paygate_channel_call_duration_seconds", l("method", "alipay.trade.precreate"), 2)
		atLeast("paygate_notifications_total", l("result", "applied"), 2)
		exactly("paygate_notifications_total", l("result", "refused_signature"), 1)
		exactly("paygate_auth_failures_total", l("reason", "bad_signature"), 1)
		exactly("paygate_auth_failures_total", nil, 1)
		exactly("paygate_rate_limited_total", l("scope", "auth_failures"), 1)
		exactly("paygate_rate_limited_total", nil, 1)
		atLeast("paygate_http_requests_total", l("route", "/api/v1/orders", "method", "POST", "code", "201"), 3)
		exactly("paygate_http_requests_total", l("route", "/api/v1/orders/:out_trade_no/refunds", "method", "POST", "code", "201"), 1)
		exactly("paygate_http_requests_total", l("route", "/api/v1/orders/:out_trade_no", "method", "GET", "code", "401"), 1)
		exactly("paygate_http_requests_total", l("route", "unmatched", "method", "GET", "code", "404"), 1)
		atLeast("paygate_http_requests_total", l("route", "/notify/alipay", "method", "POST", "code", "200"), 3)
		atLeast("paygate_http_request_duration_seconds", l("route", "/api/v1/orders", "method", "POST"), 3)
		atLeast("paygate_webhook_deliveries_total", l("result", "delivered"), 3)
		atLeast("paygate_webhook_delivery_duration_seconds", nil, 3)
		atLeast("paygate_webhook_deliveries_total", l("result", "dead"), 1)
		if got := s.value("paygate_channel_breaker_state", l("app_id", e2eAppID)); got != 0 {
			t.Errorf("breaker state %v, want 0 (closed)", got)
		}
		if got := s.value("paygate_build_info", l("goversion", runtime.Version())); got != 1 {
			t.Errorf("paygate_build_info{goversion=%q} = %v, want 1", runtime.Version(), got)
		}
		for _, k := range []string{"deliver_event", "compensate_order", "resolve_refund", "reconcile_day"} {
			if s.value("paygate_jobs_queued", l("kind", k)) < 0 {
				t.Errorf("paygate_jobs_queued{kind=%q} missing", k)
			}
		}

		// Bounded labels: routes are the router's patterns; no label holds
		// a number of the traffic or a key.
		routes := map[string]bool{"unmatched": true}
		for _, r := range e.app.api.Routes() {
			routes[r.Path] = true
		}
		secrets := append(slices.Clone(nos), "MRF_7784", e.credsA.AccessKey, e.credsB.AccessKey, "ak_nobody_7785")
		for _, no := range nos {
			secrets = append(secrets, e.stored(t, e.idA, no).ChannelNo)
		}
		for name, f := range s {
			if !strings.HasPrefix(name, "paygate_") {
				continue
			}
			for _, m := range f.Metric {
				for k, v := range labelMap(m) {
					if k == "route" && !routes[v] {
						t.Errorf("%s: route %q is not a route pattern", name, v)
					}
					for _, secret := range secrets {
						if strings.Contains(v, secret) {
							t.Errorf("%s: label %s=%q holds %q", name, k, v, secret)
						}
					}
				}
			}
		}
		if t.Failed() {
			return
		}
		t.Logf("scrape after traffic (%s):\n%s", kind, excerpt(t, e))
	})
}

// excerpt is the paygate series of /metrics that are not zero, as text.
func excerpt(t *testing.T, e *e2eEnv) string {
	rec := httptest.NewRecorder()
	e.app.metrics.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	var b strings.Builder
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "paygate_") && !strings.HasSuffix(line, " 0") && !strings.Contains(line, "_bucket{") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// TestDBMetricsDatabaseDown: a scrape while the database does not answer
// succeeds, with the last figures read.
func TestDBMetricsDatabaseDown(t *testing.T) {
	c := newDBMetrics()
	c.every = 0
	down := false
	c.webhookCounts = func(context.Context) (int64, int64, error) {
		if down {
			return 0, 0, errors.New("database unreachable")
		}
		return 7, 2, nil
	}
	c.backlog = func(context.Context) ([]jobs.KindBacklog, error) {
		if down {
			return nil, errors.New("database unreachable")
		}
		return []jobs.KindBacklog{{Kind: "deliver_event", Queued: 3, Oldest: 4 * time.Second}}, nil
	}
	c.pool = func() poolStats { return poolStats{max: 10} }
	m := &metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(c)
	for _, d := range []bool{false, true} {
		down = d
		rec := httptest.NewRecorder()
		m.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body := rec.Body.String()
		for _, want := range []string{"paygate_webhook_backlog 7", "paygate_webhook_dead_letters 2",
			`paygate_jobs_queued{kind="deliver_event"} 3`, `paygate_jobs_oldest_age_seconds{kind="deliver_event"} 4`,
			`paygate_jobs_queued{kind="resolve_refund"} 0`, "paygate_db_pool_max 10"} {
			if rec.Code != http.StatusOK || !strings.Contains(body, want+"\n") {
				t.Errorf("database down %v: %d, lacks %q:\n%s", d, rec.Code, want, body)
			}
		}
	}
}
