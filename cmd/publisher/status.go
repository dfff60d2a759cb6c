package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/opsapi"
)

// runStatus is `publisher status USER`: what vccsync knows of a user.
func runStatus(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return runView(ctx, "status", args, stdout, stderr)
}

// runHistory is `publisher history USER`: what vccsync did for a user.
func runHistory(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return runView(ctx, "history", args, stdout, stderr)
}

func runView(ctx context.Context, name string, args []string, stdout, stderr io.Writer) int {
	var (
		nats    natsFlags
		asJSON  bool
		limit   int
		timeout time.Duration
	)
	fs := newFlagSet(name)
	nats.register(fs)
	fs.BoolVar(&asJSON, "json", false, "print the reply as JSON")
	fs.DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for syncworker's answer")
	if name == "history" {
		fs.IntVar(&limit, "limit", 20, "entries, newest first (0: every entry kept)")
	}
	printUsage := func(w io.Writer) {
		what := "what vccsync knows of a Salesforce user: the link to its VCC user, the last applied\nSalesforce timestamp, its contact center, multi-step changes in progress, the last error"
		if name == "history" {
			what = "what vccsync did for a Salesforce user, newest first: time, event, action, who and why,\nfields old → new, outcome"
		}
		fmt.Fprintf(w, "usage: publisher %s [flags] USER\n\nAsks the syncworker (NATS micro service %q, subject %s) %s.\n\nflags:\n",
			name, events.ServiceName, map[string]string{"status": events.StatusSubject, "history": events.HistorySubject}[name], what)
		printDefaults(w, fs)
	}
	pos, err := parseArgs(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout)
		return exitOK
	case err != nil:
		return usageError(stderr, name, err, printUsage)
	case len(pos) != 1:
		return usageError(stderr, name, errors.New("one Salesforce user ID expected"), printUsage)
	}
	key, err := events.UserKey(pos[0])
	if err != nil {
		return usageError(stderr, name, err, printUsage)
	}
	nc, err := nats.connect(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "publisher %s: %v\n", name, err)
		return exitFail
	}
	defer nc.Close()
	ops := opsapi.NewClient(nc)
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var reply any
	if name == "status" {
		reply, err = ops.Status(rctx, key)
	} else {
		reply, err = ops.History(rctx, key, limit)
	}
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "publisher %s: %v\n", name, err)
		return exitFail
	case asJSON:
		b, _ := json.Marshal(reply)
		fmt.Fprintln(stdout, string(b))
	case name == "status":
		printStatus(stdout, reply.(events.UserStatus))
	default:
		printHistory(stdout, key, reply.([]events.HistoryItem))
	}
	return exitOK
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
