package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics is the node's Prometheus registry and the counters the use cases
// report through gateway.Observer. Each node has its own registry (no
// global state), served at /metrics.
type metrics struct {
	reg          *prometheus.Registry
	latePayments *prometheus.CounterVec
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
