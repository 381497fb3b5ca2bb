package main

import (
	"io"

	"github.com/spf13/cobra"
)

// newRootCmd builds the whole command tree. Each call returns a fresh tree,
// so tests can run commands in-process without shared state.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "paygate",
		Short: "A self-hosted payment gateway for Alipay face-to-face payments",
		Long: "paygate is a self-hosted payment gateway for Alipay face-to-face payment (当面付):\n" +
			"a signed merchant API, Alipay's protocol, webhooks, an Alipay simulator and the operator's\n" +
			"tools in one binary.",
		SilenceUsage: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	for _, newCmd := range subcommands() {
		root.AddCommand(newCmd(stdout, stderr))
	}
	return root
}

// subcommandFunc builds one top-level subcommand writing to stdout and stderr.
type subcommandFunc func(stdout, stderr io.Writer) *cobra.Command

// subcommands lists the top-level subcommands, one file each. To add one,
// write newXxxCmd(stdout, stderr io.Writer) *cobra.Command in xxx.go and add
// it here; keep the order of contract.md.
func subcommands() []subcommandFunc {
	return []subcommandFunc{
		newDemoCmd,      // demo.go: gateway + simulator + SQLite in one process
		newServeCmd,     // serve.go: the production gateway
		newSimCmd,       // sim.go: the Alipay simulator alone
		newKeysCmd,      // keys.go: app key pairs
		newMerchantCmd,  // merchant.go: merchant credentials
		newOperatorCmd,  // operators.go: the console's operators
		newEventsCmd,    // events.go: webhook events, listed and re-sent
		newListenCmd,    // listen.go: follow a merchant's events, forward them to a local URL
		newReconcileCmd, // reconcile.go: daily bill diff, exit 3 on differences
		newMigrateCmd,   // migrate.go: database migrations
		newAPICmd,       // api.go: signed merchant API calls from the terminal
		newAlipayCmd,    // alipaycall.go: signed Alipay OpenAPI calls with the app's key
		newBenchCmd,     // bench.go: load and crypto benchmarks
	}
}
