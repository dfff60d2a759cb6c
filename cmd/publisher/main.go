// Command publisher is vccsync's bridge and operator CLI: it puts Salesforce
// user events and admin commands on the VCCSYNC stream that syncworker
// consumes.
//
//	JSON Lines (file or stdin) ─▶ events.Parse ─▶ bus.Publish ─▶ JetStream VCCSYNC
//	                               │ rejected        Nats-Msg-Id = event id, wait for PubAck
//	                               ▼
//	                         one line per event on stdout, summary on stderr
//
//	publisher cmd ACTION --user ID [parameters] ─▶ events.NewCommand ─▶ checks ─▶ bus.Publish
//	                                                 (as syncworker decodes it)   id printed, --id retries
//
// Every subcommand lives in its own file and is listed in commands. Only
// main calls os.Exit; run returns the exit status.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // something was rejected or failed, or NATS was unusable
	exitUsage = 2 // bad command line or unreadable input
)

// command is one subcommand of publisher.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands lists the subcommands in the order usage shows them.
var commands = []command{
	{name: "publish", summary: "publish events from a JSON Lines file (or stdin) to JetStream", run: runPublish},
	{name: "cmd", summary: "publish one admin command for a user (archive, delete, set-webrtc, …)", run: runCmd},
	{name: "serve", summary: "receive Salesforce outbound messages (SOAP over HTTPS) and publish them", run: runServe},
	{name: "sync", summary: "provision one user now: read, match, plan, apply (or --dry-run)", run: runSync},
	{name: "status", summary: "what vccsync knows of a user (asks syncworker)", run: runStatus},
	{name: "history", summary: "what vccsync did for a user, newest first (asks syncworker)", run: runHistory},
	{name: "cdc", summary: "ingest Salesforce Change Data Capture messages for User (file, stdin or HTTP)", run: runCDC},
	{name: "dlq", summary: "list, show, replay and purge dead-lettered messages (VCCSYNC_DLQ)", run: runDLQ},
	{name: "reconcile", summary: "compare every Salesforce user with VCC, print the plan, publish the fixes", run: runReconcile},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the process exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	stdout, stderr = &lockedWriter{w: stdout}, &lockedWriter{w: stderr}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "publisher: missing command")
		usage(stderr)
		return exitUsage
	}
	switch name := args[0]; name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c, ok := lookup(args[1]); ok {
				return c.run(ctx, []string{"-h"}, stdin, stdout, stderr)
			}
			fmt.Fprintf(stderr, "publisher: unknown command %q\n", args[1])
			usage(stderr)
			return exitUsage
		}
		usage(stdout)
		return exitOK
	default:
		c, ok := lookup(name)
		if !ok {
			fmt.Fprintf(stderr, "publisher: unknown command %q\n", name)
			usage(stderr)
			return exitUsage
		}
		return c.run(ctx, args[1:], stdin, stdout, stderr)
	}
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: publisher <command> [flags] [arguments]

publisher is the bridge and operator CLI of vccsync: it publishes Salesforce
user events and admin commands to the VCCSYNC JetStream stream that
syncworker consumes. It never creates streams: syncworker does.

commands:`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, `
Run 'publisher help <command>' or 'publisher <command> -h' for its flags.

exit status: 0 success, 1 something was rejected or failed, 2 usage error`)
}
