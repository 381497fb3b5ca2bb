package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/console"
	"github.com/paygate/paygate/httpapi"
	"github.com/paygate/paygate/jobs"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/redis"
	"github.com/paygate/paygate/sqlite"
)

// newConsole builds the operator console for the node and returns its
// mounts: /dashboard/ and /dashboard (which sends to /dashboard/). The
// session key is derived from the master key, so replicas agree on it; the
// revocation list is in Redis when redis.url is set (shared by replicas),
// else in the store. Its merchant administration re-sends on the node's
// queue and tells the node's merchant cache at once; its health page runs
// checks (/readyz's) and reads what the metrics read.
func newConsole(cfg config, a *app, events *jobs.EventService, checks []console.HealthCheck, trusted []netip.Prefix,
	logger *slog.Logger) ([]httpapi.Mount, error) {
	if cfg.Console.SessionTTL <= 0 {
		return nil, errors.New("config: console.session_ttl must be positive")
	}
	master, err := loadMasterKey(cfg)
	if err != nil {
		return nil, err
	}
	key, err := console.SessionKey(master)
	if err != nil {
		return nil, err
	}
	var revocations paygate.SessionRevocations // nil: the store
	if a.redis != nil {
		revocations = redis.NewSessionRevocations(a.redis, "paygate:session:revoked:")
	}
	health, err := consoleHealth(a, checks)
	if err != nil {
		return nil, err
	}
	c, err := console.New(console.Config{
		Store: a.store, Orders: a.service, Events: events, Merchants: a.merchants, Health: health, Revocations: revocations,
		SessionKey: key, SessionTTL: cfg.Console.SessionTTL, InsecureCookie: cfg.Console.InsecureCookie,
		TrustedProxies: trusted, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/dashboard/", http.StatusMovedPermanently)
	})
	return []httpapi.Mount{{Path: "/dashboard/", Handler: c}, {Path: "/dashboard", Handler: root}}, nil
}

// consoleHealth wires the console's health page to the node: its
// readiness checks, its channel breakers, River's queue and the webhook
// backlog on the node's database, its build and start.
func consoleHealth(a *app, checks []console.HealthCheck) (console.Health, error) {
	h := console.Health{Checks: checks, Breakers: a.metrics.breakers, Version: buildVersion(), Started: a.started,
		Draining: func() bool { return a.api != nil && a.api.Draining() }}
	var depth jobs.DepthFunc
	switch s := a.store.(type) {
	case *sqlite.Store:
		depth, h.Webhooks = jobs.SQLiteDepth(s.DB()), s.WebhookCounts
	case *postgres.Store:
		depth, h.Webhooks = jobs.PostgresDepth(s.DB()), s.WebhookCounts
	default:
		return h, fmt.Errorf("console: no queue depth for store %T", a.store)
	}
	h.Queue = func(ctx context.Context) ([]console.QueueDepth, error) {
		kinds, err := depth(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]console.QueueDepth, len(kinds))
		for i, k := range kinds {
			out[i] = console.QueueDepth{Kind: k.Kind, Available: k.Available, Running: k.Running, Retryable: k.Retryable,
				Scheduled: k.Scheduled, Discarded: k.Discarded}
		}
		return out, nil
	}
	return h, nil
}

// checkConsoleConfig is serve's refusal of a session cookie without Secure
// anywhere but plain http on a loopback address: elsewhere it would travel
// in clear. (The demo sets it whatever its address: it is a demo.)
func checkConsoleConfig(cfg config) error {
	if !cfg.Console.InsecureCookie {
		return nil
	}
	u, err := url.Parse(cfg.Server.PublicURL)
	if err != nil || u.Scheme != "http" || !loopbackHost(u.Hostname()) {
		return fmt.Errorf("config: console.insecure_cookie is only for http:// on a loopback address (the demo); "+
			"server.public_url is %q: serve the console over https and leave insecure_cookie false", cfg.Server.PublicURL)
	}
	return nil
}

// loopbackHost reports whether host is localhost or a loopback address.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
