package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/opsapi"
	"github.com/vccsync/vccsync/pkg/salesforce"
)

// syncCommand is `vccctl sync USER`: provision one user on demand. It
// reads the user from Salesforce now, then either asks syncworker for the
// plan (--dry-run) or publishes the snapshot and follows it to its outcome.
func syncCommand(a *cli.App) *cobra.Command {
	var (
		sf      cli.Salesforce
		dryRun  bool
		timeout time.Duration
	)
	c := &cobra.Command{
		Use:   "sync [flags] USER",
		Short: "provision one user now: read, match, plan, apply (or --dry-run)",
		Long: `Provisions one Salesforce user now, step by step:
  read   the user from Salesforce over REST (--sf-* settings)
  match  the VCC user it is linked to, or none
  plan   what differs, and the calls that fix it
  apply  syncworker applies it as any Salesforce change (in order with the
         user's other events), and the outcome is read back from its history
With --dry-run, syncworker plans it (reading VCC and Salesforce, writing
nothing) and nothing is published.

Exit status: 0 applied (or planned), 1 refused, failed or no outcome in
time, 2 usage error.`,
		Args: cli.ExactArgs(1, "one Salesforce user ID"),
		RunE: func(c *cobra.Command, args []string) error {
			if !sf.Configured() {
				return cli.Usagef("reading the user needs Salesforce: give --sf-url, --sf-client-id and the client secret")
			}
			key, err := events.UserKey(args[0])
			if err != nil {
				return cli.Usage(err)
			}
			client, err := sf.Client(a.Getenv, a.Stderr)
			if err != nil {
				return cli.Usage(err)
			}
			ctx, cancel := context.WithTimeout(c.Context(), timeout)
			defer cancel()
			return runSync(ctx, a, client, key, dryRun)
		},
	}
	fs := c.Flags()
	sf.Register(fs, "")
	sf.RegisterJWT(fs)
	fs.BoolVar(&dryRun, "dry-run", false, "print what syncing the user would do, writing nothing")
	fs.DurationVar(&timeout, "timeout", 60*time.Second, "how long to wait for syncworker to apply the user")
	return c
}

func runSync(ctx context.Context, a *cli.App, client *salesforce.Client, key string, dryRun bool) error {
	stdout := a.Stdout
	u, err := client.GetUser(ctx, key)
	if err != nil {
		return cli.Failf("read %s from Salesforce: %v", key, err)
	}
	fmt.Fprintf(stdout, "read   Salesforce user %s: active %v, profile %s, last modified %s\n",
		key, u.IsActive.Get(), u.ProfileID.Get(), u.Modstamp().UTC().Format(time.RFC3339))

	nc, js, err := a.NATS.JetStream(a.Stderr)
	if err != nil {
		return cli.Fail(err)
	}
	defer nc.Close()

	ops := opsapi.NewClient(nc)
	if dryRun {
		p, err := ops.Plan(ctx, u)
		if err != nil {
			return cli.Failf("plan: %v", err)
		}
		printMatch(stdout, p.VCCUserID)
		printChanges(stdout, "plan  ", p.Changes, p.Note)
		for _, w := range p.Writes {
			fmt.Fprintf(stdout, "plan   would %s\n", w)
		}
		if p.Error != "" {
			fmt.Fprintf(stdout, "plan   refused: %s\n", p.Error)
			return cli.Exit(cli.ExitFail)
		}
		fmt.Fprintf(stdout, "plan   outcome %s (dry run: nothing was written)\n", p.Outcome)
		return nil
	}

	id := fmt.Sprintf("sf-sync-%s-%d", key, time.Now().UnixNano()) // each run its own event
	env, err := events.NewUserChanged(id, events.SourceSync, time.Now(), u)
	if err != nil {
		return cli.Fail(err)
	}
	res, err := bus.Publish(ctx, js, env)
	if err != nil {
		return cli.Failf("publish: %v", err)
	}
	fmt.Fprintf(stdout, "apply  published %s (seq %d); waiting for syncworker\n", id, res.Sequence)
	item, st, err := ops.WaitApplied(ctx, key, id)
	if err != nil {
		return cli.Failf("%v (it stays queued: see vccctl status %s)", err, key)
	}
	printMatch(stdout, st.VCCUserID)
	printChanges(stdout, "plan  ", item.Changes, "")
	if item.Error != "" {
		fmt.Fprintf(stdout, "apply  %s: %s\n", item.Outcome, item.Error)
		return cli.Exit(cli.ExitFail)
	}
	fmt.Fprintf(stdout, "apply  %s\n", item.Outcome)
	return nil
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
