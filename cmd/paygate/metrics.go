package main

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/recon"
)

// metrics is the node's Prometheus registry and the counters the use cases
// report through gateway.Observer. Each node has its own registry (no
// global state), served at /metrics.
type metrics struct {
	reg          *prometheus.Registry
	latePayments *prometheus.CounterVec
	recon        *reconMetrics
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		latePayments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paygate_late_payments_total",
			Help: "Payments that reached the channel for orders already closed, by what was done (refunded, kept).",
		}, []string{"action"}),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), m.latePayments)
	return m
}

// LatePayment implements gateway.Observer.
func (m *metrics) LatePayment(action string) { m.latePayments.WithLabelValues(action).Inc() }

// handler serves the registry.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// reconMetrics exports the reconciliation metrics from the store's kept
// reports, read at most every reconRefresh: the daily job and `paygate
// reconcile` beside the node (another process) both show.
type reconMetrics struct {
	store     paygate.ReconStore
	repairs   prometheus.Counter
	diffs     *prometheus.Desc
	lastOK    *prometheus.Desc
	mu        sync.Mutex
	readAt    time.Time
	open      map[string]int
	lastOKAt  time.Time
	lastKnown bool
}

const reconRefresh = 15 * time.Second

// watchReconciliation registers the reconciliation metrics, read from st.
func (m *metrics) watchReconciliation(st paygate.ReconStore) {
	m.recon = &reconMetrics{
		store: st,
		repairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paygate_reconciliation_repairs_total",
			Help: "Differences repaired by this node's reconciliations (by Alipay's word).",
		}),
		diffs: prometheus.NewDesc("paygate_reconciliation_differences",
			"Differences left open by the newest successful reconciliation, by kind.", []string{"kind"}, nil),
		lastOK: prometheus.NewDesc("paygate_reconciliation_last_success_timestamp_seconds",
			"When the newest successful reconciliation finished (Unix seconds); 0 when none has.", nil, nil),
	}
	m.reg.MustRegister(m.recon, m.recon.repairs)
}

// Reconciled implements recon.Observer.
func (m *metrics) Reconciled(r *paygate.Reconciliation) {
	if m.recon == nil {
		return
	}
	m.recon.repairs.Add(float64(r.Repairs))
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
	for _, k := range recon.Kinds {
		ch <- prometheus.MustNewConstMetric(c.diffs, prometheus.GaugeValue, float64(c.open[k]), k)
	}
	last := 0.0
	if c.lastKnown {
		last = float64(c.lastOKAt.UnixMilli()) / 1000
	}
	ch <- prometheus.MustNewConstMetric(c.lastOK, prometheus.GaugeValue, last)
}

// refresh reads the newest successful report; on a store error the last
// values stay (the scrape must not fail with the database).
func (c *reconMetrics) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	reps, err := c.store.ListReconciliations(ctx, 40)
	if err != nil {
		return
	}
	var newest *paygate.Reconciliation
	for _, r := range reps {
		if r.Status == paygate.ReconDone && (newest == nil || r.FinishedAt.After(newest.FinishedAt)) {
			newest = r
		}
	}
	c.readAt = time.Now()
	if newest == nil {
		c.open, c.lastKnown = nil, false
		return
	}
	full, err := c.store.Reconciliation(ctx, newest.Day)
	if err != nil {
		return
	}
	open := map[string]int{}
	for _, d := range full.Differences {
		if !d.Repaired {
			open[d.Kind]++
		}
	}
	c.open, c.lastOKAt, c.lastKnown = open, newest.FinishedAt, true
}
