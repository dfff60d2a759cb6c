// Command publisher is vccsync's bridge: it puts Salesforce user changes on
// the VCCSYNC stream that syncworker consumes — outbound messages (serve),
// change events (cdc) and JSON Lines (publish). The operator commands live
// in vccctl.
//
//	Salesforce ──Outbound Messages (SOAP)──▶ publisher serve ─┐
//	Salesforce ──Change Data Capture──────▶ publisher cdc ───┼─▶ bus.Publish ─▶ JetStream VCCSYNC
//	JSON Lines (file or stdin) ───────────▶ publisher publish ┘   Nats-Msg-Id = event id, wait for PubAck
//
// The command line is cobra's (internal/cli): the global flags go before
// or after the subcommand, settings come from flag → VCCSYNC_* → the
// configuration file → default. Only main calls os.Exit; run returns the
// exit status.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vccsync/vccsync/internal/cli"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return execute(ctx, &cli.App{Name: "publisher", Stdin: stdin, Stdout: stdout, Stderr: stderr}, args)
}

// execute builds the command tree for a and runs args.
func execute(ctx context.Context, a *cli.App, args []string) int {
	root := a.Root("the bridge of vccsync: Salesforce changes to the VCCSYNC stream", rootLong)
	root.AddCommand(publishCommand(a), cdcCommand(a), serveCommand(a))
	unknown := root.Args
	root.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 && slices.Contains(operatorCommands, args[0]) {
			return cli.Usagef("%q is an operator command, vccctl's: vccctl %s", args[0], strings.Join(args, " "))
		}
		return unknown(c, args)
	}
	return a.Execute(ctx, root, args)
}

// operatorCommands were publisher's before vccctl had them.
var operatorCommands = []string{"cmd", "status", "history", "dlq", "sync", "reconcile"}

const rootLong = `publisher is the bridge of vccsync: it publishes Salesforce user changes —
outbound messages (serve), change events (cdc) and JSON Lines (publish) — to
the VCCSYNC JetStream stream that syncworker consumes. It never creates
streams: syncworker does. The operator commands (cmd, status, history, dlq,
sync, reconcile, check) are vccctl's.

The global flags (--nats-*, --config) go before or after the command.
Settings come, in order, from the flag, the VCCSYNC_* environment variable,
the configuration file (--config or VCCSYNC_CONFIG) and the default.

Exit status:
  0  success (serve: stopped by a signal)
  1  something was rejected or failed, or NATS or the stream was unusable
  2  usage error: bad command line, flag value, configuration or unreadable
     input`
