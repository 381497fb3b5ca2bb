package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the production gateway",
		Long: "Run one gateway node: the merchant API, Alipay's notification endpoint, health and\n" +
			"readiness; /metrics on server.admin_addr when set. Several nodes may share one PostgreSQL\n" +
			"(and Redis for nonces); a SQLite file serves one node. At start it queries Alipay once\n" +
			"and refuses to run when the keys do not match. On SIGTERM the node turns unready,\n" +
			"drains, and lets in-flight requests finish.",
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

func runServe(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	logger, err := newLogger(stderr, cfg.Log.Level)
	if err != nil {
		return err
	}
	a, err := newApp(ctx, cfg, logger, nil)
	if err != nil {
		return err
	}
	defer a.close()
	if err := checkChannel(ctx, a.alipay, cfg, logger); err != nil {
		return err
	}
	if cfg.Server.AdminAddr != "" {
		stop, err := serveAdmin(cfg.Server.AdminAddr, a.metrics, stdout, logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("serve: listen: %w", err)
	}
	fmt.Fprintf(stdout, "paygate listening on http://%s\n", printableAddr(ln.Addr()))
	logger.Info("paygate serving", "addr", ln.Addr().String(), "database", redactURL(cfg.Database.URL))
	return a.serve(ctx, ln)
}

// serveAdmin serves /metrics on addr, apart from the public API, until stop
// is called.
func serveAdmin(addr string, m *metrics, stdout io.Writer, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve: server.admin_addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.handler())
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
