package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paygate/paygate/jobs"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/sqlite"
)

// dbRefresh is how long the figures read from the database are reused, and
// dbReadTimeout bounds one reading: a scrape never waits long on the
// database, and never fails with it (the last figures stay).
const (
	dbRefresh     = 5 * time.Second
	dbReadTimeout = 2 * time.Second
)

// poolStats is the connection pool's state, read from memory at each scrape.
type poolStats struct {
	inUse, idle, max float64
	waits            float64 // acquisitions that had to wait, ever
	waited           time.Duration
}

// dbMetrics exports what the node's database holds: the webhook backlog and
// dead letters, River's queue per job kind, and the connection pool.
type dbMetrics struct {
	every         time.Duration // how long a reading is reused: dbRefresh
	webhookCounts func(ctx context.Context) (backlog, dead int64, err error)
	backlog       jobs.BacklogFunc
	pool          func() poolStats

	webhookBacklog, deadLetters, queued, oldest         *prometheus.Desc
	poolInUse, poolIdle, poolMax, poolWaits, poolWaited *prometheus.Desc

	mu     sync.Mutex
	readAt time.Time
	events [2]int64 // backlog, dead
	kinds  map[string]jobs.KindBacklog
}

// newDBMetrics is a dbMetrics without its readers.
func newDBMetrics() *dbMetrics {
	return &dbMetrics{
		every:          dbRefresh,
		webhookBacklog: prometheus.NewDesc("paygate_webhook_backlog", "Webhook events neither delivered nor dead-lettered.", nil, nil),
		deadLetters:    prometheus.NewDesc("paygate_webhook_dead_letters", "Webhook events dead-lettered, waiting for a re-send by hand.", nil, nil),
		queued: prometheus.NewDesc("paygate_jobs_queued",
			"Background jobs due and waiting for a worker, by kind.", []string{"kind"}, nil),
		oldest: prometheus.NewDesc("paygate_jobs_oldest_age_seconds",
			"How long the oldest due job of a kind has waited for a worker; 0 when none waits.", []string{"kind"}, nil),
		poolInUse:  prometheus.NewDesc("paygate_db_pool_in_use", "Database connections in use.", nil, nil),
		poolIdle:   prometheus.NewDesc("paygate_db_pool_idle", "Idle database connections.", nil, nil),
		poolMax:    prometheus.NewDesc("paygate_db_pool_max", "Most database connections the pool opens (0: no limit).", nil, nil),
		poolWaits:  prometheus.NewDesc("paygate_db_pool_wait_total", "Connection acquisitions that had to wait for one.", nil, nil),
		poolWaited: prometheus.NewDesc("paygate_db_pool_wait_seconds_total", "Time spent waiting for a database connection.", nil, nil),
	}
}

// watchDatabase registers the database's metrics for st.
func (m *metrics) watchDatabase(st storeCloser) error {
	c := newDBMetrics()
	switch s := st.(type) {
	case *sqlite.Store:
		db := s.DB()
		c.webhookCounts, c.backlog = s.WebhookCounts, jobs.SQLiteBacklog(db)
		c.pool = func() poolStats {
			st := db.Stats()
			return poolStats{inUse: float64(st.InUse), idle: float64(st.Idle), max: float64(st.MaxOpenConnections),
				waits: float64(st.WaitCount), waited: st.WaitDuration}
		}
	case *postgres.Store:
		pool := s.DB()
		c.webhookCounts, c.backlog = s.WebhookCounts, jobs.PostgresBacklog(pool)
		c.pool = func() poolStats {
			st := pool.Stat()
			return poolStats{inUse: float64(st.AcquiredConns()), idle: float64(st.IdleConns()), max: float64(st.MaxConns()),
				waits: float64(st.EmptyAcquireCount()), waited: st.EmptyAcquireWaitTime()}
		}
	default:
		return fmt.Errorf("metrics: no database metrics for store %T", st)
	}
	m.reg.MustRegister(c)
	m.db = c
	return nil
}

// Describe implements prometheus.Collector.
func (c *dbMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.webhookBacklog, c.deadLetters, c.queued, c.oldest,
		c.poolInUse, c.poolIdle, c.poolMax, c.poolWaits, c.poolWaited} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *dbMetrics) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if time.Since(c.readAt) >= c.every {
		c.refresh()
	}
	events, kinds := c.events, c.kinds
	c.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(c.webhookBacklog, float64(events[0]))
	gauge(c.deadLetters, float64(events[1]))
	for _, k := range jobs.Kinds {
		gauge(c.queued, float64(kinds[k].Queued), k)
		gauge(c.oldest, kinds[k].Oldest.Seconds(), k)
	}
	p := c.pool()
	gauge(c.poolInUse, p.inUse)
	gauge(c.poolIdle, p.idle)
	gauge(c.poolMax, p.max)
	ch <- prometheus.MustNewConstMetric(c.poolWaits, prometheus.CounterValue, p.waits)
	ch <- prometheus.MustNewConstMetric(c.poolWaited, prometheus.CounterValue, p.waited.Seconds())
}

// refresh reads the database's figures; on an error the last ones stay
// (the scrape must not fail with the database), and the next scrape tries
// again.
func (c *dbMetrics) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), dbReadTimeout)
	defer cancel()
	backlog, dead, err := c.webhookCounts(ctx)
	if err != nil {
		return
	}
	rows, err := c.backlog(ctx)
	if err != nil {
		return
	}
	kinds := make(map[string]jobs.KindBacklog, len(rows))
	for _, r := range rows {
		kinds[r.Kind] = r
	}
	c.events, c.kinds, c.readAt = [2]int64{backlog, dead}, kinds, time.Now()
}
