package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/opsapi"
)

// runSync is `publisher sync USER`: provision one user on demand. It reads
// the user from Salesforce now, then either asks syncworker for the plan
// (--dry-run) or publishes the snapshot and follows it to its outcome.
func runSync(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var (
		nf      natsFlags
		sf      cdcSFFlags
		dryRun  bool
		timeout time.Duration
	)
	fs := newFlagSet("sync")
	nf.register(fs)
	sf.register(fs)
	fs.BoolVar(&dryRun, "dry-run", false, "print what syncing the user would do, writing nothing")
	fs.DurationVar(&timeout, "timeout", 60*time.Second, "how long to wait for syncworker to apply the user")
	printUsage := func(w io.Writer) {
		fmt.Fprintf(w, `usage: publisher sync [flags] USER

Provisions one Salesforce user now, step by step:
  read   the user from Salesforce over REST (--sf-* flags)
  match  the VCC user it is linked to, or none
  plan   what differs, and the calls that fix it
  apply  syncworker applies it as any Salesforce change (in order with the
         user's other events), and the outcome is read back from its history
With --dry-run, syncworker plans it (reading VCC and Salesforce, writing
nothing) and nothing is published.

flags:
`)
		printDefaults(w, fs)
	}
	pos, err := parseArgs(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout)
		return exitOK
	case err != nil:
		return usageError(stderr, "sync", err, printUsage)
	case len(pos) != 1:
		return usageError(stderr, "sync", errors.New("one Salesforce user ID expected"), printUsage)
	case !sf.configured():
		return usageError(stderr, "sync", errors.New("reading the user needs Salesforce: give --sf-url, --sf-client-id and the client secret"), printUsage)
	}
	key, err := events.UserKey(pos[0])
	if err != nil {
		return usageError(stderr, "sync", err, printUsage)
	}
	client, err := sf.client(os.Getenv)
	if err != nil {
		return usageError(stderr, "sync", err, printUsage)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	u, err := client.GetUser(ctx, key)
	if err != nil {
		fmt.Fprintf(stderr, "publisher sync: read %s from Salesforce: %v\n", key, err)
		return exitFail
	}
	fmt.Fprintf(stdout, "read   Salesforce user %s: active %v, profile %s, last modified %s\n",
		key, u.IsActive.Get(), u.ProfileID.Get(), u.Modstamp().UTC().Format(time.RFC3339))

	nc, err := nf.connect(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "publisher sync: %v\n", err)
		return exitFail
	}
	defer nc.Close()

	ops := opsapi.NewClient(nc)
	if dryRun {
		p, err := ops.Plan(ctx, u)
		if err != nil {
			fmt.Fprintf(stderr, "publisher sync: plan: %v\n", err)
			return exitFail
		}
		printMatch(stdout, p.VCCUserID)
		printChanges(stdout, "plan  ", p.Changes, p.Note)
		for _, w := range p.Writes {
			fmt.Fprintf(stdout, "plan   would %s\n", w)
		}
		if p.Error != "" {
			fmt.Fprintf(stdout, "plan   refused: %s\n", p.Error)
			return exitFail
		}
		fmt.Fprintf(stdout, "plan   outcome %s (dry run: nothing was written)\n", p.Outcome)
		return exitOK
	}

	id := fmt.Sprintf("sf-sync-%s-%d", key, time.Now().UnixNano()) // each run its own event
	env, err := events.NewUserChanged(id, "operator/sync", time.Now(), u)
	if err != nil {
		fmt.Fprintf(stderr, "publisher sync: %v\n", err)
		return exitFail
	}
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintf(stderr, "publisher sync: jetstream: %v\n", err)
		return exitFail
	}
	res, err := bus.Publish(ctx, js, env)
	if err != nil {
		fmt.Fprintf(stderr, "publisher sync: publish: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "apply  published %s (seq %d); waiting for syncworker\n", id, res.Sequence)
	item, st, err := ops.WaitApplied(ctx, key, id)
	if err != nil {
		fmt.Fprintf(stderr, "publisher sync: %v (it stays queued: see publisher status %s)\n", err, key)
		return exitFail
	}
	printMatch(stdout, st.VCCUserID)
	printChanges(stdout, "plan  ", item.Changes, "")
	if item.Error != "" {
		fmt.Fprintf(stdout, "apply  %s: %s\n", item.Outcome, item.Error)
		return exitFail
	}
	fmt.Fprintf(stdout, "apply  %s\n", item.Outcome)
	return exitOK
}

func printMatch(w io.Writer, vccID string) {
	switch vccID {
	case "":
		fmt.Fprintln(w, "match  no VCC user")
	case "(new)":
		fmt.Fprintln(w, "match  no VCC user: one will be created")
	default:
		fmt.Fprintf(w, "match  VCC user %s\n", vccID)
	}
}

func printChanges(w io.Writer, prefix string, changes []events.FieldChange, note string) {
	if len(changes) == 0 {
		fmt.Fprintf(w, "%s nothing differs\n", prefix)
	}
	for _, c := range changes {
		fmt.Fprintf(w, "%s %s %q → %q\n", prefix, c.Field, c.Old, c.New)
	}
	if note = strings.TrimSpace(note); note != "" {
		fmt.Fprintf(w, "%s note: %s\n", prefix, note)
	}
}
