package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/opsapi"
)

// viewCommand is `vccctl status USER` or `vccctl history USER`: what
// vccsync knows of a user, or did for it, as syncworker answers (pkg/opsapi).
// A user vccsync does not know is exit status 1.
func viewCommand(a *cli.App, name string) *cobra.Command {
	var (
		asJSON  bool
		limit   int
		timeout time.Duration
	)
	short, what := "what vccsync knows of a user (asks syncworker)", `what vccsync knows of a Salesforce user: the link to its VCC
user, the last applied Salesforce timestamp, its contact center,
multi-step changes in progress, the last error.`
	if name == "history" {
		short, what = "what vccsync did for a user, newest first (asks syncworker)", `what vccsync did for a Salesforce user, newest first: time,
event, action, who and why, fields old → new, outcome.`
	}
	c := &cobra.Command{
		Use:   name + " [flags] USER",
		Short: short,
		Long: fmt.Sprintf("Asks syncworker (NATS micro service %q, subject %s)\n%s\n\nExit status: 0 answered, 1 a user vccsync does not know (it has applied no\nevent of the user) or no answer, 2 usage error.",
			events.ServiceName, map[string]string{"status": events.StatusSubject, "history": events.HistorySubject}[name], what),
		Args: cli.ExactArgs(1, "one Salesforce user ID"),
		RunE: func(c *cobra.Command, args []string) error {
			key, err := events.UserKey(args[0])
			if err != nil {
				return cli.Usage(err)
			}
			nc, err := a.NATS.Connect(a.Stderr)
			if err != nil {
				return cli.Fail(err)
			}
			defer nc.Close()
			ops := opsapi.NewClient(nc)
			ctx, cancel := context.WithTimeout(c.Context(), timeout)
			defer cancel()
			if name == "status" {
				st, err := ops.Status(ctx, key)
				if err != nil {
					return cli.Fail(err)
				}
				if asJSON {
					printJSON(a.Stdout, st)
				} else {
					printStatus(a.Stdout, st)
				}
				return unknownUser(key, st.Known)
			}
			h, err := ops.History(ctx, key, limit)
			if err != nil {
				return cli.Fail(err)
			}
			if asJSON {
				printJSON(a.Stdout, h)
			} else {
				printHistory(a.Stdout, key, h)
			}
			if len(h) > 0 {
				return nil
			}
			// No history: a user vccsync knows may have none (events that
			// changed nothing keep none); one it does not know is an error.
			st, err := ops.Status(ctx, key)
			if err != nil {
				return cli.Fail(err)
			}
			return unknownUser(key, st.Known)
		},
	}
	fs := c.Flags()
	fs.BoolVar(&asJSON, "json", false, "print the reply as JSON")
	fs.DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for syncworker's answer")
	if name == "history" {
		fs.IntVar(&limit, "limit", 20, "entries, newest first (0: every entry kept)")
	}
	return c
}

// unknownUser is the error of a user vccsync has applied no event of.
func unknownUser(key string, known bool) error {
	if known {
		return nil
	}
	return cli.Failf("%s: unknown to vccsync: it has applied no event of this user", key)
}

func printJSON(w io.Writer, v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintln(w, string(b))
}

func printStatus(w io.Writer, st events.UserStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	row("Salesforce user", st.UserID)
	if !st.Known {
		row("known", "no: vccsync has applied no event of this user")
	}
	row("VCC user", st.VCCUserID)
	row("agent ID", st.AgentID)
	if st.Active != nil {
		row("active in Salesforce", fmt.Sprint(*st.Active))
	}
	row("alias", st.Alias)
	row("contact center", st.ContactCenter)
	row("last applied change", ts(st.Checkpoint))
	row("last event", st.LastEventID)
	row("last outcome", st.LastOutcome)
	row("last error", st.LastError)
	row("updated", ts(st.UpdatedAt))
	row("events applied", fmt.Sprint(st.Applied))
	for _, p := range st.PendingSteps {
		row("in progress", fmt.Sprintf("%s: step %s since %s (resumes on the next event)", p.Saga, p.Step, p.At.UTC().Format(time.RFC3339)))
	}
	worker := "consuming"
	if !st.Worker.Consuming {
		worker = "not consuming"
	}
	if st.Worker.Quarantined {
		worker = "quarantined: " + st.Worker.Reason
	}
	row("worker", worker)
	_ = tw.Flush()
}

func printHistory(w io.Writer, key string, h []events.HistoryItem) {
	if len(h) == 0 {
		fmt.Fprintf(w, "no history for %s\n", key)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tWHAT\tOUTCOME\tCHANGES / ERROR")
	for _, e := range h {
		what := e.Type
		if e.Action != "" {
			what = e.Action
			if e.RequestedBy != "" {
				what += " by " + e.RequestedBy
			}
			if e.Reason != "" {
				what += " (" + e.Reason + ")"
			}
		}
		var changes []string
		for _, c := range e.Changes {
			changes = append(changes, fmt.Sprintf("%s %q → %q", c.Field, c.Old, c.New))
		}
		if e.Error != "" {
			changes = append(changes, e.Error)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), e.EventID, what, e.Outcome, strings.Join(changes, "; "))
	}
	_ = tw.Flush()
}
