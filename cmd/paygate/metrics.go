package main

import (
	"context"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/console"
	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/httpapi"
	"github.com/paygate/paygate/jobs"
	"github.com/paygate/paygate/recon"
)

// metrics is the node's Prometheus registry and the counters the use cases
// report through small interfaces (gateway.Observer, gateway.FlowObserver,
// gateway.ChannelObserver, httpapi.Observer, jobs.WebhookObserver,
// jobs.CompensationObserver), so that no domain package imports
// client_golang. Each node has its own registry (no global state), served
// at /metrics. Every family is present from the start: the label values
// known in advance are set at zero; what the database holds is read at
// scrape time (metrics_db.go).
type metrics struct {
	reg          *prometheus.Registry
	latePayments *prometheus.CounterVec
	recon        *reconMetrics
	db           *dbMetrics
	breakers     []console.Breaker // the channel's, for the console's health page

	httpRequests      *prometheus.CounterVec
	httpDuration      *prometheus.HistogramVec
	orders            *prometheus.CounterVec
	refunds           *prometheus.CounterVec
	paidAmount        *prometheus.CounterVec
	channelCalls      *prometheus.CounterVec
	channelDuration   *prometheus.HistogramVec
	notifications     *prometheus.CounterVec
	authFailures      *prometheus.CounterVec
	rateLimited       *prometheus.CounterVec
	webhookDeliveries *prometheus.CounterVec
	webhookDuration   prometheus.Histogram
	compensations     *prometheus.CounterVec
}

// latencyBuckets cover an API call from a millisecond to a barcode payment
// decided after a minute (seconds).
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}

func newMetrics() *metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		latePayments: counter("paygate_late_payments_total",
			"Payments that reached the channel for orders already closed, by what was done (refunded, kept).", "action"),
		httpRequests: counter("paygate_http_requests_total",
			"HTTP requests answered, by route pattern (unmatched: no route), method and status code.", "route", "method", "code"),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "paygate_http_request_duration_seconds",
			Help: "Time to answer an HTTP request, by route pattern and method.", Buckets: latencyBuckets}, []string{"route", "method"}),
		orders: counter("paygate_orders_total",
			"Orders entering a status (pending at creation, paid, closed, refunded), by mode.", "mode", "status"),
		refunds: counter("paygate_refunds_total",
			"Refunds entering a status (pending at creation, succeeded, failed).", "status"),
		paidAmount: counter("paygate_payment_amount_fen_total",
			"Money paid, in fen (1/100 yuan), counted when an order becomes paid, by mode.", "mode"),
		channelCalls: counter("paygate_channel_calls_total",
			"Calls to Alipay by OpenAPI method and outcome (success, paying, failed, unknown, error); retries inside one call.", "method", "outcome"),
		channelDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "paygate_channel_call_duration_seconds",
			Help: "Time of a call to Alipay, retries included, by OpenAPI method.", Buckets: latencyBuckets}, []string{"method"}),
		notifications: counter("paygate_notifications_total",
			"Alipay notifications handled, by result (applied, duplicate, deferred, refused_signature, refused_mismatch, error).", "result"),
		authFailures: counter("paygate_auth_failures_total",
			"Merchant API requests refused 401, by reason.", "reason"),
		rateLimited: counter("paygate_rate_limited_total",
			"Requests refused 429, by the limit's scope (ip, merchant, auth_failures, unknown_key, notify).", "scope"),
		webhookDeliveries: counter("paygate_webhook_deliveries_total",
			"Webhook delivery attempts by result (delivered, failed, dead, refused).", "result"),
		webhookDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "paygate_webhook_delivery_duration_seconds",
			Help: "Time of a webhook request to a merchant's endpoint.", Buckets: prometheus.DefBuckets}),
		compensations: counter("paygate_compensations_total",
			"Background looks at undecided orders and refunds, by result (settled, pending, error).", "result"),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.latePayments, m.httpRequests, m.httpDuration, m.orders, m.refunds, m.paidAmount, m.channelCalls,
		m.channelDuration, m.notifications, m.authFailures, m.rateLimited, m.webhookDeliveries, m.webhookDuration,
		m.compensations, buildInfo())
	m.zero()
	return m
}

// zero makes every series whose labels are known in advance, at zero.
func (m *metrics) zero() {
	for _, a := range []string{"refunded", "kept"} {
		m.latePayments.WithLabelValues(a)
	}
	for _, mode := range []paygate.Mode{paygate.ModeQR, paygate.ModeBarcode} {
		m.paidAmount.WithLabelValues(string(mode))
		for _, st := range []paygate.OrderStatus{paygate.StatusPending, paygate.StatusPaid, paygate.StatusClosed, paygate.StatusRefunded} {
			m.orders.WithLabelValues(string(mode), string(st))
		}
	}
	for _, st := range []paygate.RefundStatus{paygate.RefundPending, paygate.RefundSucceeded, paygate.RefundFailed} {
		m.refunds.WithLabelValues(string(st))
	}
	for _, method := range gateway.ChannelMethods {
		m.channelDuration.WithLabelValues(method)
		for _, o := range gateway.ChannelOutcomes {
			m.channelCalls.WithLabelValues(method, o)
		}
	}
	zeroAll(m.notifications, gateway.NotifyResults)
	zeroAll(m.authFailures, httpapi.AuthReasons)
	zeroAll(m.rateLimited, httpapi.RateLimitScopes)
	zeroAll(m.webhookDeliveries, jobs.WebhookResults)
	zeroAll(m.compensations, jobs.CompensationResults)
}

func zeroAll(c *prometheus.CounterVec, values []string) {
	for _, v := range values {
		c.WithLabelValues(v)
	}
}

// zeroCodes are the status codes every route starts with at zero, so that
// an error ratio reads 0, not nothing, before the first error.
var zeroCodes = []string{"200", "500"}

// watchRoutes starts the HTTP families at zero for every route of the
// server, and for unmatched requests.
func (m *metrics) watchRoutes(routes []httpapi.Route) {
	routes = append(routes, httpapi.Route{Method: "GET", Path: httpapi.RouteUnmatched})
	for _, r := range routes {
		m.httpDuration.WithLabelValues(r.Path, r.Method)
		for _, code := range zeroCodes {
			m.httpRequests.WithLabelValues(r.Path, r.Method, code)
		}
	}
}

// buildInfo is paygate_build_info{version,goversion} 1.
func buildInfo() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "paygate_build_info", Help: "Always 1; the labels name the running build.",
		ConstLabels: prometheus.Labels{"version": buildVersion(), "goversion": runtime.Version()},
	}, func() float64 { return 1 })
}

// buildVersion is the running build's module version, "(devel)" for a
// build from a work tree.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// watchBreaker exports the breaker's state of the channel account (an
// Alipay app id, a WeChat Pay mchid; the metric's app_id label): read from
// state (gateway.ResilientChannel.State) at each scrape. The console's
// health page reads the same (m.breakers), named "channel account".
func (m *metrics) watchBreaker(channel, account string, state func() string) {
	m.breakers = append(m.breakers, console.Breaker{Name: channel + " " + account, State: state})
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "paygate_channel_breaker_state", Help: "The circuit breaker of a channel account (app_id: the Alipay app id or the WeChat Pay mchid): 0 closed, 1 half-open, 2 open.",
		ConstLabels: prometheus.Labels{"app_id": account},
	}, func() float64 { return gateway.BreakerStates[state()] }))
}

// LatePayment implements gateway.Observer.
func (m *metrics) LatePayment(action string) { m.latePayments.WithLabelValues(action).Inc() }

// OrderMoved implements gateway.FlowObserver.
func (m *metrics) OrderMoved(mode, status string, amount paygate.Money) {
	m.orders.WithLabelValues(mode, status).Inc()
	if status == string(paygate.StatusPaid) {
		m.paidAmount.WithLabelValues(mode).Add(float64(amount))
	}
}

// RefundMoved implements gateway.FlowObserver.
func (m *metrics) RefundMoved(status string) { m.refunds.WithLabelValues(status).Inc() }

// Notification implements gateway.FlowObserver.
func (m *metrics) Notification(result string) { m.notifications.WithLabelValues(result).Inc() }

// ChannelCall implements gateway.ChannelObserver.
func (m *metrics) ChannelCall(method, outcome string, d time.Duration) {
	m.channelCalls.WithLabelValues(method, outcome).Inc()
	m.channelDuration.WithLabelValues(method).Observe(d.Seconds())
}

// Request implements httpapi.Observer.
func (m *metrics) Request(route, method string, code int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// AuthFailure implements httpapi.Observer.
func (m *metrics) AuthFailure(reason string) { m.authFailures.WithLabelValues(reason).Inc() }

// RateLimited implements httpapi.Observer.
func (m *metrics) RateLimited(scope string) { m.rateLimited.WithLabelValues(scope).Inc() }

// WebhookDelivery implements jobs.WebhookObserver.
func (m *metrics) WebhookDelivery(result string, d time.Duration) {
	m.webhookDeliveries.WithLabelValues(result).Inc()
	if d > 0 {
		m.webhookDuration.Observe(d.Seconds())
	}
}

// Compensation implements jobs.CompensationObserver.
func (m *metrics) Compensation(result string) { m.compensations.WithLabelValues(result).Inc() }

// handler serves the registry.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// reconMetrics exports the reconciliation metrics of each configured
// channel (label channel) from the store's kept reports, read at most every
// reconRefresh: the daily jobs and `paygate reconcile` beside the node
// (another process) both show.
type reconMetrics struct {
	store    paygate.ReconStore
	channels []paygate.Channel
	repairs  *prometheus.CounterVec
	diffs    *prometheus.Desc
	lastOK   *prometheus.Desc
	mu       sync.Mutex
	readAt   time.Time
	state    map[paygate.Channel]reconState
}

// reconState is what the newest successful report of a channel says.
type reconState struct {
	open     map[string]int
	lastOKAt time.Time
}

const reconRefresh = 15 * time.Second

// watchReconciliation registers the reconciliation metrics of channels,
// read from st.
func (m *metrics) watchReconciliation(st paygate.ReconStore, channels []paygate.Channel) {
	m.recon = &reconMetrics{
		store: st, channels: channels,
		repairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paygate_reconciliation_repairs_total",
			Help: "Differences repaired by this node's reconciliations (by the channel's word), by the channel whose bill found them.",
		}, []string{"channel"}),
		diffs: prometheus.NewDesc("paygate_reconciliation_differences",
			"Differences left open by the newest successful reconciliation of a channel's bill, by channel and kind.", []string{"channel", "kind"}, nil),
		lastOK: prometheus.NewDesc("paygate_reconciliation_last_success_timestamp_seconds",
			"When the newest successful reconciliation of a channel's bill finished (Unix seconds); 0 when none has.", []string{"channel"}, nil),
	}
	for _, ch := range channels {
		m.recon.repairs.WithLabelValues(string(ch)) // a series from the start
	}
	m.reg.MustRegister(m.recon, m.recon.repairs)
}

// Reconciled implements recon.Observer.
func (m *metrics) Reconciled(r *paygate.Reconciliation) {
	if m.recon == nil {
		return
	}
	m.recon.repairs.WithLabelValues(string(r.Channel)).Add(float64(r.Repairs))
	m.recon.mu.Lock()
	m.recon.readAt = time.Time{} // read the new report at the next scrape
	m.recon.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (c *reconMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.diffs
	ch <- c.lastOK
}

// Collect implements prometheus.Collector.
func (c *reconMetrics) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.readAt) > reconRefresh {
		c.refresh()
	}
	for _, channel := range c.channels {
		st, known := c.state[channel]
		for _, k := range recon.Kinds {
			ch <- prometheus.MustNewConstMetric(c.diffs, prometheus.GaugeValue, float64(st.open[k]), string(channel), k)
		}
		last := 0.0
		if known {
			last = float64(st.lastOKAt.UnixMilli()) / 1000
		}
		ch <- prometheus.MustNewConstMetric(c.lastOK, prometheus.GaugeValue, last, string(channel))
	}
}

// refresh reads each channel's newest successful report; on a store error
// the last values stay (the scrape must not fail with the database).
func (c *reconMetrics) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	reps, err := c.store.ListReconciliations(ctx, "", 40)
	if err != nil {
		return
	}
	newest := map[paygate.Channel]*paygate.Reconciliation{}
	for _, r := range reps {
		if n := newest[r.Channel]; r.Status == paygate.ReconDone && (n == nil || r.FinishedAt.After(n.FinishedAt)) {
			newest[r.Channel] = r
		}
	}
	state := map[paygate.Channel]reconState{}
	for ch, r := range newest {
		full, err := c.store.Reconciliation(ctx, r.Day, ch)
		if err != nil {
			return
		}
		open := map[string]int{}
		for _, d := range full.Differences {
			if !d.Repaired {
				open[d.Kind]++
			}
		}
		state[ch] = reconState{open: open, lastOKAt: r.FinishedAt}
	}
	c.state, c.readAt = state, time.Now()
}
