package main

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/spf13/cobra"
)

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the production gateway",
		Long: "Run one gateway node: the merchant API, Alipay's notification endpoint, health and\n" +
			"readiness. Several nodes may share one PostgreSQL (and Redis for nonces). On SIGTERM\n" +
			"the node turns unready, drains, and lets in-flight requests finish.",
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
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("serve: listen: %w", err)
	}
	fmt.Fprintf(stdout, "paygate listening on http://%s\n", printableAddr(ln.Addr()))
	logger.Info("paygate serving", "addr", ln.Addr().String(), "database", redactURL(cfg.Database.URL))
	return a.serve(ctx, ln)
}
