// Command vccctl is the operator CLI of vccsync: admin commands for a
// user, what vccsync knows and did (status, history), provisioning one
// user now (sync), the dead-letter queue, reconcile, and the start-up
// checks. It talks to syncworker through NATS: the VCCSYNC stream and the
// operators' service (pkg/opsapi).
//
//	vccctl cmd ACTION --user ID [--wait] ─▶ events.NewCommand ─▶ checks ─▶ bus.Publish ─▶ VCCSYNC
//	                                            --wait: opsapi.Client.WaitApplied ◀─ syncworker's history
//	vccctl status|history USER ────────────────▶ opsapi.Client ◀──▶ NATS micro "vccsync" (syncworker)
//	vccctl sync USER ── Salesforce REST ─▶ snapshot ─▶ VCCSYNC ─▶ wait for the outcome (or --dry-run: plan)
//	vccctl dlq list|show|replay|purge ─────────▶ pkg/dlq ◀──▶ VCCSYNC_DLQ
//	vccctl reconcile ── Salesforce, VCC ─▶ pkg/reconcile ─▶ VCCSYNC
//	vccctl check ── --config's mapping ─▶ pkg/preflight ─▶ VCC, Salesforce
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
	a := &cli.App{Name: "vccctl", Stdin: stdin, Stdout: stdout, Stderr: stderr, Sections: []string{"mapping"}}
	return a.Execute(ctx, newRoot(a, dlqRunEnv), args)
}

// newRoot is the command tree.
func newRoot(a *cli.App, env dlqEnv) *cobra.Command {
	root := a.Root("the operator CLI of vccsync", rootLong)
	root.AddCommand(
		cmdCommand(a),
		viewCommand(a, "status"),
		viewCommand(a, "history"),
		dlqCommand(a, env),
		syncCommand(a),
		reconcileCommand(a),
		checkCommand(a),
	)
	return root
}

const rootLong = `vccctl is the operator CLI of vccsync: it publishes admin commands for a
Salesforce user to the VCCSYNC JetStream stream (and waits for their outcome
with --wait), asks syncworker what it knows and did for a user, provisions
one user now, lists, replays and purges dead-lettered messages, reconciles
Salesforce with VCC, and runs the start-up checks. It never creates streams:
syncworker does.

The global flags (--nats-*, --config) go before or after the command.
Settings come, in order, from the flag, the VCCSYNC_* environment variable
(the flag name in upper case, - as _), the configuration file (--config or
VCCSYNC_CONFIG: syncworker's, whose nats-listen gives --nats-url when
nothing else does), and the default.

Exit status:
  0  success (a command applied or unchanged with --wait)
  1  something failed or was refused: a command refused or dead-lettered,
     no outcome in time, a user vccsync does not know, a DLQ message not
     found, a failed check, NATS or the stream unusable
  2  usage error: bad command line, flag value or configuration`
