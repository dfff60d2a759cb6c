package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/opsapi"
)

// cmdCommand is `vccctl cmd ACTION`: one subcommand per action. The
// common flags are cmd's (persistent: before or after the action); every
// parameter flag is registered on cmd too, hidden, so that a parameter of
// another action is refused by name (checkFlags) rather than as unknown.
func cmdCommand(a *cli.App) *cobra.Command {
	o := &cmdOptions{given: map[string]bool{}}
	c := &cobra.Command{
		Use:   "cmd ACTION --user ID [parameters] [--reason TEXT] [--as WHO] [--id ID] [--wait [--json]]",
		Short: "publish one admin command for a user (archive, delete, set-webrtc, …)",
		Long:  cmdLong(),
	}
	c.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown action %q; actions: %s", args[0], strings.Join(events.Actions, ", "))
		if err := events.ValidateCommand(args[0], events.CommandParams{}); err != nil {
			msg = strings.TrimPrefix(err.Error(), "type: ")
		}
		return cli.Usagef("%s", msg)
	}
	c.RunE = func(*cobra.Command, []string) error {
		return cli.Usagef("missing ACTION; actions: %s", strings.Join(events.Actions, ", "))
	}
	// A flag cmd does not know, before the action: name the action's flags.
	c.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		if spec, ok := guessAction(a.Args()); ok {
			return cli.Usage(flagError(spec, err))
		}
		return cli.Usage(err)
	})
	o.registerCommon(c.PersistentFlags())
	params := pflag.NewFlagSet("params", pflag.ContinueOnError)
	o.registerParams(params)
	params.VisitAll(func(f *pflag.Flag) { f.Hidden = true })
	c.PersistentFlags().AddFlagSet(params)
	for _, spec := range actions {
		c.AddCommand(actionCommand(a, o, spec, params))
	}
	return c
}

// actionCommand is `vccctl cmd ACTION`: its own parameter flags, shown.
func actionCommand(a *cli.App, o *cmdOptions, spec actionSpec, params *pflag.FlagSet) *cobra.Command {
	syn := ""
	switch {
	case strings.Contains(spec.synopsis, " | "):
		syn = " (" + spec.synopsis + ")"
	case spec.synopsis != "":
		syn = " " + spec.synopsis
	}
	c := &cobra.Command{
		Use:   spec.name + " --user ID" + syn + " [--reason TEXT] [--as WHO] [--id ID] [--wait [--json]]",
		Short: actionShort[spec.name],
		Long:  strings.Join(wrap(spec.does, 76), "\n") + "\n\nRun 'vccctl cmd --help' for every action, the output, --wait and how to retry with --id.",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return cli.Usagef("one ACTION expected, got %d arguments: %q", len(args)+1, append([]string{spec.name}, args...))
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			c.Flags().Visit(func(f *pflag.Flag) { o.given[f.Name] = true })
			return o.run(c.Context(), a, spec)
		},
	}
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.Usage(flagError(spec, err)) })
	for _, f := range spec.flags {
		cp := *params.Lookup(f.name)
		cp.Usage, cp.Hidden = f.doc, false
		c.Flags().AddFlag(&cp)
	}
	if c.Flags().Lookup("region") != nil {
		_ = c.RegisterFlagCompletionFunc("region", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			var names []cobra.Completion
			for _, r := range events.TelephonyRegions {
				names = append(names, r.Name)
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		})
	}
	return c
}

// flagError words a flag the action does not know in terms of the flags
// it takes.
func flagError(spec actionSpec, err error) error {
	if name, ok := strings.CutPrefix(err.Error(), "unknown flag: --"); ok {
		return fmt.Errorf("unknown flag --%s; %s", name, spec.flagList())
	}
	return err
}

// guessAction finds the action of a command line whose flags could not be
// parsed, to name its flags in the refusal.
func guessAction(args []string) (actionSpec, bool) {
	for _, a := range args {
		if s, ok := lookupAction(a); ok {
			return s, true
		}
	}
	return actionSpec{}, false
}

// run checks, publishes and, with --wait, waits for the outcome.
func (o *cmdOptions) run(ctx context.Context, a *cli.App, spec actionSpec) error {
	cmd, problems := o.build(spec, time.Now())
	if len(problems) > 0 {
		return cli.Problems(problems)
	}
	nc, js, err := a.NATS.Stream(ctx, a.Stderr, o.timeout)
	if err != nil {
		return cli.Fail(err)
	}
	defer nc.Close()

	pctx, cancel := context.WithTimeout(ctx, o.timeout)
	res, err := bus.Publish(pctx, js, cmd.env)
	cancel()
	if err != nil {
		return cli.Failf("%v\nthe command may or may not be stored; to retry, run the same command with --id %s (a duplicate of it is not a second command)", err, cmd.env.ID)
	}
	out := cmdOutput{Status: "published", ID: cmd.env.ID, Action: spec.name, User: cmd.env.Subject, Subject: cmd.subject, Seq: res.Sequence}
	if res.Duplicate {
		out.Status = "duplicate"
	}
	if !o.json {
		fmt.Fprintf(a.Stdout, "%s id=%s action=%s user=%s subject=%s seq=%d\n", out.Status, cli.Value(out.ID), out.Action, out.User, cli.Value(out.Subject), out.Seq)
	}
	var waitErr error
	if o.wait {
		out.Wait, waitErr = waitFor(ctx, opsapi.NewClient(nc), out.User, out.ID, o.waitTimeout)
		if !o.json {
			printOutcome(a.Stdout, out.ID, out.Wait)
		}
	}
	if o.json {
		enc := json.NewEncoder(a.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return cli.Fail(err)
		}
	}
	switch {
	case waitErr != nil:
		return cli.Failf("%v (it stays queued: see vccctl status %s)", waitErr, out.User)
	case out.Wait != nil && out.Wait.Result != opsapi.Applied && out.Wait.Result != opsapi.Unchanged:
		return cli.Failf("%s: the command is in the dead-letter queue; once the cause is fixed: vccctl dlq replay --user %s", out.Wait.Result, out.User)
	}
	return nil
}

// cmdOutput is what cmd prints with --json.
type cmdOutput struct {
	Status  string       `json:"status"` // published or duplicate
	ID      string       `json:"id"`
	Action  string       `json:"action"`
	User    string       `json:"user"`
	Subject string       `json:"subject"`
	Seq     uint64       `json:"seq"`
	Wait    *waitOutcome `json:"wait,omitempty"`
}

// waitOutcome is the outcome of a command, as --wait reports it.
type waitOutcome struct {
	// Result is applied, unchanged, refused, dead_lettered or timed_out.
	Result     opsapi.Result        `json:"result"`
	Outcome    string               `json:"outcome,omitempty"` // the worker's: updated, archived, unchanged, dead_lettered, ...
	ErrorClass string               `json:"errorClass,omitempty"`
	Error      string               `json:"error,omitempty"`
	Changes    []events.FieldChange `json:"changes,omitempty"`
	At         *time.Time           `json:"at,omitempty"`
}

// waitFor follows the command to its entry in the user's history
// (opsapi.Client.WaitApplied), up to timeout.
func waitFor(ctx context.Context, ops *opsapi.Client, key, id string, timeout time.Duration) (*waitOutcome, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	item, _, err := ops.WaitApplied(ctx, key, id)
	if err != nil {
		return &waitOutcome{Result: opsapi.TimedOut, Error: err.Error()}, err
	}
	w := &waitOutcome{Result: opsapi.ResultOf(item), Outcome: item.Outcome, ErrorClass: item.ErrorClass, Error: item.Error, Changes: item.Changes}
	if !item.At.IsZero() {
		at := item.At.UTC()
		w.At = &at
	}
	return w, nil
}

// printOutcome writes the outcome line:
//
//	applied id=ID outcome=OUTCOME [changes="field: old → new; …"]
//	unchanged id=ID outcome=unchanged
//	refused id=ID class=permanent error="…"
//	dead_lettered id=ID class=CLASS error="…"
func printOutcome(w io.Writer, id string, o *waitOutcome) {
	if o.Result == opsapi.TimedOut {
		return // the error says it
	}
	line := fmt.Sprintf("%s id=%s", o.Result, cli.Value(id))
	switch o.Result {
	case opsapi.Applied, opsapi.Unchanged:
		line += " outcome=" + cli.Value(o.Outcome)
		var changes []string
		for _, c := range o.Changes {
			changes = append(changes, fmt.Sprintf("%s: %s → %s", c.Field, orNone(c.Old), orNone(c.New)))
		}
		if len(changes) > 0 {
			line += " changes=" + cli.Value(strings.Join(changes, "; "))
		}
	default:
		if o.ErrorClass != "" {
			line += " class=" + o.ErrorClass
		}
		line += " error=" + cli.Value(o.Error)
	}
	fmt.Fprintln(w, line)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// cmdLong is cmd's help: every action, the output, --wait, retrying.
func cmdLong() string {
	var b strings.Builder
	b.WriteString(`Publishes one admin command for a Salesforce user to the VCCSYNC stream:
type vccsync.command.ACTION, source operator/WHO, on the subject
vccsync.user.<18-character user ID>.cmd.ACTION, with Nats-Msg-Id = the
command id, and waits for the stream's acknowledgement. syncworker applies it
to the user's VCC user, in order with the user's other events.

Everything is checked before vccctl connects: the action, its flags and
their values (the rules of the command contract), the user ID, and the command
as syncworker will decode it. A refused command is not published.

Actions:
`)
	for _, a := range actions {
		a.usage(&b)
	}
	b.WriteString(`
One line on stdout:
  published id=ID action=ACTION user=USER subject=SUBJECT seq=N
  duplicate id=ID action=ACTION user=USER subject=SUBJECT seq=N   (seq of the stored copy)

--wait then waits (up to --wait-timeout) for syncworker's outcome, read from
the user's history, and prints a second line:
  applied id=ID outcome=OUTCOME changes="field: old → new; …"   exit status 0
  unchanged id=ID outcome=unchanged                              exit status 0
  refused id=ID class=permanent error="VCC's message"            exit status 1
  dead_lettered id=ID class=exhausted|poison error="…"           exit status 1
A refused or dead-lettered command is in the DLQ: fix the cause, then
'vccctl dlq replay --user USER'. No outcome in time: exit status 1, the
command stays queued ('vccctl status USER'). With --json, one JSON document:
  {"status":"published","id":…,"action":…,"user":…,"subject":…,"seq":N,
   "wait":{"result":"applied|unchanged|refused|dead_lettered|timed_out",
           "outcome":…,"errorClass":…,"error":…,"changes":[…],"at":…}}

Retrying safely: every run without --id is a new command with a new id,
printed on that line. To retry a publish that failed or timed out (its outcome
unknown), run the same command again with --id and that id: the same command
id is a duplicate, not a second command. Within the stream's duplicate window
(2 minutes by default) the stream stores it once and vccctl reports
duplicate; later, syncworker recognises the id and does nothing. A command
given the id of an earlier one with other parameters is still that earlier
command.

Exit status: 0 published (or a duplicate of the same --id; with --wait:
applied or unchanged), 1 not published (NATS or the stream unusable, no
acknowledgement) or, with --wait, refused, dead-lettered or no outcome in
time, 2 usage error or refused parameters (nothing published).

The stream must exist: syncworker creates it; vccctl never does.`)
	return b.String()
}

// actionShort is each action's line in the list of actions.
var actionShort = map[string]string{
	events.ActionArchive:                     "archive the VCC user (reactivate reverts it)",
	events.ActionReactivate:                  "revert an archived VCC user to active",
	events.ActionDelete:                      "delete an archived VCC user for good (--confirm)",
	events.ActionSetTelephonyRegion:          "set the agent's telephony region",
	events.ActionSetCallbackNumbers:          "restrict the agent's callback numbers (outbound CLIDs)",
	events.ActionSetWebRTC:                   "let the agent use ContactPad with WebRTC, or not",
	events.ActionSetEnforcedDispositionCodes: "switch enforced disposition codes on or off for the agent",
	events.ActionSetCallRecordingControl:     "let the agent pause and resume call recordings, or not",
	events.ActionSetScreenRecording:          "let the agent record their screen, or not",
	events.ActionSetInteractionCapacity:      "set the agent's interaction capacity, or use the account's",
	events.ActionSetSkillLevel:               "set the agent's level in a skill",
	events.ActionAllowActAsAgent:             "allow or deny a supervisor, admin or wallboard user to act as agent",
	events.ActionUnlock:                      "unlock a user VCC locked after failed logins",
	events.ActionResetPassword:               "send the user a password reset email (at most once)",
	events.ActionChangeAlias:                 "change the Salesforce alias without breaking single sign-on",
	events.ActionResync:                      "bring the VCC user in step with Salesforce now",
}
