package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newMigrateCmd(stdout, _ io.Writer) *cobra.Command {
	var d dataFlags
	cmd := &cobra.Command{
		Use:   "migrate [--config FILE | --data DIR]",
		Short: "Apply database migrations (serve and demo apply them too) and check the master key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := d.resolve()
			if err != nil {
				return err
			}
			st, err := openData(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			fmt.Fprintf(stdout, "migrations applied to %s\n", redactURL(cfg.Database.URL))
			return nil
		},
	}
	d.register(cmd)
	return cmd
}
