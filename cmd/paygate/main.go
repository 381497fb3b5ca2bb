// Command paygate is the payment gateway's one binary: the gateway, the Alipay
// simulator and the operator's tools, each a subcommand (see root.go).
package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		os.Exit(exitCode(err))
	}
}

// run builds the command tree and executes args against it. Cobra reports
// the error on stderr; the caller only decides the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// exitCoder is an error that asks for a specific exit status, such as
// reconcile's 3 for "differences found".
type exitCoder interface {
	ExitCode() int
}

// exitCode maps an error to the process exit status: the error's own code
// when it carries one, else 1.
func exitCode(err error) int {
	var ec exitCoder
	if errors.As(err, &ec) && ec.ExitCode() != 0 {
		return ec.ExitCode()
	}
	return 1
}
