package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/httpapi"
)

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the production gateway",
		Long: "Run one gateway node: the merchant API, Alipay's notification endpoint, health and\n" +
			"readiness; /metrics on server.admin_addr when set. Several nodes may share one PostgreSQL\n" +
			"(and Redis for nonces); a SQLite file serves one node. Until its database answers it\n" +
			"waits, unready, trying again with growing pauses; then it queries Alipay once and refuses\n" +
			"to run when the keys do not match. On SIGTERM the node turns unready, drains, and lets\n" +
			"in-flight requests finish.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfigFile(configPath)
			if err != nil {
				return err
			}
			return runServe(cmd.Context(), cfg, stdout, stderr)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file (YAML); every key can be overridden by PAYGATE_<SECTION>_<KEY>")
	return cmd
}

// loadConfigFile loads a config file over the defaults and the environment.
func loadConfigFile(path string) (config, error) {
	d := dataFlags{configPath: path}
	if path == "" {
		return config{}, fmt.Errorf("serve: --config FILE is required (see paygate.example.yaml)")
	}
	return d.resolve()
}

// checkServeConfig refuses what a production node must not run without.
func checkServeConfig(cfg config) error {
	switch {
	case cfg.Alipay.SellerID == "" && !cfg.Alipay.SkipSellerCheck:
		return errors.New("config: alipay.seller_id (your 2088… seller id) is required: every notification's seller_id is checked " +
			"against it; set alipay.skip_seller_check: true to run without that check")
	case cfg.Alipay.SellerID != "" && cfg.Alipay.SkipSellerCheck:
		return errors.New("config: alipay.seller_id and alipay.skip_seller_check: true contradict each other; keep one")
	}
	return checkConsoleConfig(cfg)
}

func runServe(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	logger, err := newLogger(stderr, cfg.Log.Level)
	if err != nil {
		return err
	}
	if err := checkServeConfig(cfg); err != nil {
		return err
	}
	tr, stopTracing, err := startTracing(ctx, logger)
	if err != nil {
		return err
	}
	defer stopTracing() // after the node has stopped: its last spans are flushed
	cfg.tracer = tr.Provider()
	if cfg.Alipay.SkipSellerCheck {
		logger.Warn("alipay.skip_seller_check is set: notifications are not checked against a seller id")
	}
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("serve: listen: %w", err)
	}
	fmt.Fprintf(stdout, "paygate listening on http://%s\n", printableAddr(ln.Addr()))
	// Until the node serves, the listener answers alive, not ready (503):
	// while it waits for its database, and while it checks Alipay's keys.
	stop := serveWhileStarting(ln, httpapi.Starting("starting: waiting for the database, then checking the channel"), logger)
	a, err := waitForApp(ctx, cfg, logger)
	if err == nil && a != nil {
		if err = checkChannel(ctx, a.alipay, cfg, logger); err != nil {
			a.close()
		}
	}
	stop()
	if err != nil || a == nil {
		ln.Close()
		return err
	}
	defer a.close()
	if cfg.Server.Pprof && cfg.Server.AdminAddr == "" {
		ln.Close()
		return errors.New("config: server.pprof needs server.admin_addr: profiles are never served on the public listener")
	}
	if cfg.Server.AdminAddr != "" {
		stop, err := serveAdmin(cfg.Server.AdminAddr, a.metrics, cfg.Server.Pprof, stdout, logger)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}
	logger.Info("paygate serving", "addr", ln.Addr().String(), "database", redactURL(cfg.Database.URL))
	return a.serve(ctx, ln)
}

// Pauses between attempts to reach the database at start: doubling from
// the first to the last.
const (
	startBackoffMin = 500 * time.Millisecond
	startBackoffMax = 30 * time.Second
)

// waitForApp wires the node, waiting for the database as long as it cannot
// be reached (a database starting after the node, a failover): meanwhile the
// listener answers through httpapi.Starting (alive, not ready, 503; see
// runServe), and every attempt is logged. Any other error ends serve at once: waiting does
// not mend a wrong configuration. When ctx ends first it returns nil, nil.
func waitForApp(ctx context.Context, cfg config, logger *slog.Logger) (*app, error) {
	a, err := newApp(ctx, cfg, logger, nil)
	if err == nil || paygate.ErrorCode(err) != paygate.EDatabaseDown {
		return a, err
	}
	const reason = "waiting for the database"
	pause := startBackoffMin
	for attempt := 1; ; attempt++ {
		logger.Warn(reason+": it cannot be reached yet; /readyz answers 503 meanwhile",
			"database", redactURL(cfg.Database.URL), "attempt", attempt, "retry_in", pause.String(), "err", err.Error())
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done(): // a signal: the operator's choice, not a failure
			t.Stop()
			logger.Info("stopped while " + reason)
			return nil, nil
		case <-t.C:
		}
		pause = min(2*pause, startBackoffMax)
		a, err = newApp(ctx, cfg, logger, nil)
		if err == nil {
			logger.Info("the database answers: starting", "attempts", attempt+1)
		}
		if err == nil || paygate.ErrorCode(err) != paygate.EDatabaseDown {
			return a, err
		}
	}
}

// serveWhileStarting serves h on ln until the returned stop, which leaves ln
// open for the node's own server: an Accept blocked in the interim server is
// woken by a deadline, not by closing the listener. ln must have
// SetDeadline (a TCP listener does).
func serveWhileStarting(ln net.Listener, h http.Handler, logger *slog.Logger) (stop func()) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(keepOpen{ln}); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("serving while starting", "err", err.Error())
		}
	}()
	return func() {
		// Shutdown waits for Serve to leave Accept, which closing keepOpen
		// does not do: a deadline in the past does (Serve retries a timeout
		// until it sees the shutdown, then returns).
		d, ok := ln.(interface{ SetDeadline(time.Time) error })
		if ok {
			_ = d.SetDeadline(time.Now())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if ok {
			<-done
			_ = d.SetDeadline(time.Time{})
		}
	}
}

// keepOpen is a listener whose Close leaves the listener open.
type keepOpen struct{ net.Listener }

func (keepOpen) Close() error { return nil }

// serveAdmin serves /metrics on addr, apart from the public API, and with
// withPprof net/http/pprof's handlers under /debug/pprof/, until stop is
// called.
func serveAdmin(addr string, m *metrics, withPprof bool, stdout io.Writer, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve: server.admin_addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.handler())
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index) // and the named profiles: heap, goroutine, allocs…
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin listener", "err", err)
		}
	}()
	fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", printableAddr(ln.Addr()))
	logger.Info("admin listener", "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}
