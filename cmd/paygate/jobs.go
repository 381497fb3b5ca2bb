package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/paygate/paygate/jobs"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/sqlite"
)

// newQueue migrates River's tables and makes the job queue on the store's
// own database, so jobs commit in the same transactions as the changes that
// cause them.
func newQueue(ctx context.Context, st storeCloser, cfg config, logger *slog.Logger) (*jobs.Queue, error) {
	schedule, err := parseSchedule(cfg.Webhooks.RetrySchedule)
	if err != nil {
		return nil, fmt.Errorf("config: webhooks.retry_schedule: %w", err)
	}
	if cfg.Jobs.RescueAfter != 0 && cfg.Jobs.RescueAfter < cfg.Jobs.JobTimeout {
		return nil, fmt.Errorf("config: jobs.rescue_after (%s) must be at least jobs.job_timeout (%s)", cfg.Jobs.RescueAfter, cfg.Jobs.JobTimeout)
	}
	jc := jobs.Config{Logger: logger, Workers: cfg.Jobs.Workers, PollInterval: cfg.Jobs.PollInterval, WebhookSchedule: schedule,
		JobTimeout: cfg.Jobs.JobTimeout, RescueAfter: cfg.Jobs.RescueAfter, NodeTimeout: cfg.Jobs.NodeTimeout,
		TracerProvider: cfg.tracer}
	switch s := st.(type) {
	case *sqlite.Store:
		if err := jobs.MigrateSQLite(ctx, s.DB()); err != nil {
			return nil, fmt.Errorf("migrate jobs: %w", err)
		}
		return jobs.NewSQLite(s.DB(), jc)
	case *postgres.Store:
		if err := jobs.MigratePostgres(ctx, s.DB()); err != nil {
			return nil, fmt.Errorf("migrate jobs: %w", err)
		}
		return jobs.NewPostgres(s.DB(), jc)
	}
	return nil, fmt.Errorf("jobs: no queue for store %T", st)
}

// parseSchedule reads "10s,30s,1m": positive durations, at least one.
func parseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%q is not a list of positive durations like 10s,1m,1h", s)
		}
		out = append(out, d)
	}
	return out, nil
}
