package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/dlq"
)

// dlqEnv is what dlq asks of its surroundings: the clock and whether a
// reader or writer is a terminal.
type dlqEnv struct {
	now        func() time.Time
	isTerminal func(any) bool
}

// dlqSub is a subcommand of dlq.
type dlqSub struct {
	name, summary string
	run           func(ctx context.Context, o *dlqOptions, pos []string, env dlqEnv, stdin io.Reader, stdout, stderr io.Writer) int
	register      func(o *dlqOptions, fs *flag.FlagSet)
	usage         func(w io.Writer, flags func(io.Writer))
}

// dlqSubs lists the subcommands in the order usage shows them.
var dlqSubs = []dlqSub{
	{name: "list", summary: "one line per message, then a histogram of the reasons", run: runDLQList, register: registerDLQList, usage: dlqListUsage},
	{name: "show", summary: "one message: its error, every header and the original body", run: runDLQShow, register: registerDLQShow, usage: dlqShowUsage},
	{name: "replay", summary: "publish messages again on their original subject (new id, replay counter)", run: runDLQReplay, register: registerDLQReplay, usage: dlqReplayUsage},
	{name: "purge", summary: "delete messages from the DLQ (asks for confirmation)", run: runDLQPurge, register: registerDLQPurge, usage: dlqPurgeUsage},
}

func lookupDLQSub(name string) (dlqSub, bool) {
	for _, s := range dlqSubs {
		if s.name == name {
			return s, true
		}
	}
	return dlqSub{}, false
}

const dlqFiltersDoc = `Filters (every filter given must match; a filter given several times, or
with comma-separated values, matches any of its values):
  --class CLASS    Vccsync-Error-Class: poison, permanent or exhausted
  --type TYPE      the envelope's type, e.g. salesforce.user.changed;
                   TYPE* matches a prefix (vccsync.command.*)
  --user ID        the Salesforce user (15 or 18 characters) of the
                   original subject's user token
  --since TIME     Vccsync-Failed-At at or after TIME
  --until TIME     Vccsync-Failed-At before TIME
                   TIME is RFC 3339 (2026-11-20T10:15:00Z), a date
                   (2026-11-20, UTC) or a duration before now (36h, 90m)
  --seq N|A-B      DLQ stream sequences; A-B is a range (a sequence given
                   alone that is not in the DLQ is reported)`

func dlqUsage(w io.Writer) {
	fmt.Fprintln(w, `usage: publisher dlq <list|show|replay|purge> [flags] [arguments]

Operator tools for VCCSYNC_DLQ, the stream syncworker dead-letters messages
to (subjects vccsync.dlq.>). A dead-lettered message keeps the original
body and headers and adds Vccsync-Error, Vccsync-Error-Class (poison,
permanent, exhausted), Vccsync-Original-Subject, Vccsync-Original-Seq,
Vccsync-Deliveries, Vccsync-Failed-At and Vccsync-Original-Msg-Id.

subcommands:`)
	for _, s := range dlqSubs {
		fmt.Fprintf(w, "  %-7s %s\n", s.name, s.summary)
	}
	fmt.Fprintln(w, `
`+dlqFiltersDoc+`

Run 'publisher dlq SUBCOMMAND -h' for its flags.

exit status: 0 success, 1 something failed or was refused, 2 usage error`)
}

// dlqOptions are the flags of every dlq subcommand (each registers its own).
type dlqOptions struct {
	nats    natsFlags
	timeout time.Duration

	classes, types, users, seqs stringList
	since, until                string
	all                         bool

	json       bool
	dryRun     bool
	keep       bool
	rate       float64
	maxReplays int
	yes        bool

	// filter is built from the filter flags.
	filter *dlq.Filter
}

func (o *dlqOptions) registerCommon(fs *flag.FlagSet) {
	o.nats.register(fs)
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for each answer of the server")
}

func (o *dlqOptions) registerFilters(fs *flag.FlagSet) {
	fs.Var(&o.classes, "class", "only messages of error `CLASS` (poison, permanent, exhausted); repeatable")
	fs.Var(&o.types, "type", "only events of `TYPE` (TYPE* for a prefix); repeatable")
	fs.Var(&o.users, "user", "only messages for the Salesforce user `ID` (15 or 18 characters); repeatable")
	fs.StringVar(&o.since, "since", "", "only messages that failed at or after `TIME` (RFC 3339, a date, or a duration ago like 36h)")
	fs.StringVar(&o.until, "until", "", "only messages that failed before `TIME`")
	fs.Var(&o.seqs, "seq", "only DLQ sequence `N` or range A-B; repeatable, comma-separated")
}

// dlqRunEnv is the environment of a real run.
var dlqRunEnv = dlqEnv{now: time.Now, isTerminal: dlqIsTerminal}

func runDLQ(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runDLQWith(ctx, args, dlqRunEnv, stdin, stdout, stderr)
}

func runDLQWith(ctx context.Context, args []string, env dlqEnv, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "publisher dlq: missing SUBCOMMAND (list, show, replay or purge)")
		dlqUsage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		dlqUsage(stdout)
		return exitOK
	case "help":
		if len(args) > 1 {
			if s, ok := lookupDLQSub(args[1]); ok {
				return runDLQSub(ctx, s, []string{"-h"}, env, stdin, stdout, stderr)
			}
			fmt.Fprintf(stderr, "publisher dlq: unknown subcommand %q\n", args[1])
			dlqUsage(stderr)
			return exitUsage
		}
		dlqUsage(stdout)
		return exitOK
	}
	s, ok := lookupDLQSub(name)
	if !ok {
		fmt.Fprintf(stderr, "publisher dlq: unknown subcommand %q (want list, show, replay or purge)\n", name)
		dlqUsage(stderr)
		return exitUsage
	}
	return runDLQSub(ctx, s, args[1:], env, stdin, stdout, stderr)
}

func runDLQSub(ctx context.Context, s dlqSub, args []string, env dlqEnv, stdin io.Reader, stdout, stderr io.Writer) int {
	o := &dlqOptions{}
	fs := newFlagSet("dlq " + s.name)
	o.registerCommon(fs)
	s.register(o, fs)
	printUsage := func(w io.Writer) { s.usage(w, func(w io.Writer) { printDefaults(w, fs) }) }
	name := "dlq " + s.name

	pos, err := parseArgs(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout)
		return exitOK
	case err != nil:
		return usageError(stderr, name, err, printUsage)
	case o.timeout <= 0:
		return usageError(stderr, name, fmt.Errorf("--timeout %s: must be positive", o.timeout), printUsage)
	}
	f, err := o.buildFilter(env.now())
	if err != nil {
		return usageError(stderr, name, err, printUsage)
	}
	o.filter = f
	if code, err := o.check(s.name, pos, env, stdin); err != nil {
		if code == exitUsage {
			return usageError(stderr, name, err, printUsage)
		}
		fmt.Fprintf(stderr, "publisher %s: %v\n", name, err)
		return code
	}
	return s.run(ctx, o, pos, env, stdin, stdout, stderr)
}

// check refuses a command line that cannot run, before connecting.
func (o *dlqOptions) check(sub string, pos []string, env dlqEnv, stdin io.Reader) (int, error) {
	switch sub {
	case "show":
		if len(pos) == 0 {
			return exitUsage, errors.New("missing SEQ: the DLQ sequence of the message to show (publisher dlq list prints it)")
		}
		return exitOK, nil
	case "list":
		if len(pos) > 0 {
			return exitUsage, fmt.Errorf("unexpected arguments %q: list takes only flags (--seq N for sequences)", pos)
		}
		return exitOK, nil
	}
	if len(pos) > 0 {
		return exitUsage, fmt.Errorf("unexpected arguments %q: %s takes only flags (--seq N for sequences)", pos, sub)
	}
	if o.filter.Empty() && !o.all {
		return exitUsage, fmt.Errorf("%s needs a filter (--class, --type, --user, --since, --until, --seq) or --all for every message", sub)
	}
	if !o.filter.Empty() && o.all {
		return exitUsage, errors.New("--all and a filter: give one or the other")
	}
	switch sub {
	case "replay":
		if o.maxReplays < 1 {
			return exitUsage, fmt.Errorf("--max-replays %d: must be at least 1", o.maxReplays)
		}
		if o.rate < 0 {
			return exitUsage, fmt.Errorf("--rate %g: must be 0 (no limit) or more", o.rate)
		}
	case "purge":
		if !o.yes && !env.isTerminal(stdin) {
			return exitUsage, errors.New("purge deletes messages for good: give --yes to confirm (stdin is not a terminal, so there is no one to ask)")
		}
	}
	return exitOK, nil
}

// buildFilter checks the filter flags.
func (o *dlqOptions) buildFilter(now time.Time) (*dlq.Filter, error) {
	f := &dlq.Filter{}
	for _, p := range []struct {
		flag   string
		values stringList
		parse  func(string) (string, error)
		into   *[]string
	}{
		{"--class", o.classes, dlq.ParseClass, &f.Classes},
		{"--type", o.types, dlq.ParseType, &f.Types},
		{"--user", o.users, dlq.ParseUser, &f.Users},
	} {
		for _, v := range dlq.SplitList(p.values) {
			v, err := p.parse(v)
			if err != nil {
				return nil, fmt.Errorf("%s %w", p.flag, err)
			}
			*p.into = append(*p.into, v)
		}
	}
	var err error
	if o.since != "" {
		if f.Since, err = dlq.ParseTime(o.since, now); err != nil {
			return nil, fmt.Errorf("--since: %w", err)
		}
	}
	if o.until != "" {
		if f.Until, err = dlq.ParseTime(o.until, now); err != nil {
			return nil, fmt.Errorf("--until: %w", err)
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return nil, fmt.Errorf("--since %s is not before --until %s", o.since, o.until)
	}
	if f.Seqs, err = dlq.ParseSeqs(dlq.SplitList(o.seqs)); err != nil {
		return nil, fmt.Errorf("--seq: %w", err)
	}
	return f, nil
}

// dlqOpen connects and looks up the DLQ stream.
func dlqOpen(ctx context.Context, o *dlqOptions, stderr io.Writer) (*dlq.DLQ, func(), error) {
	nc, err := o.nats.connect(stderr)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	d, err := dlq.Open(ctx, js, o.timeout)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return d, nc.Close, nil
}

// dlqPlural is one or many by n.
func dlqPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// dlqIsTerminal reports whether x (a reader or writer) is a terminal.
func dlqIsTerminal(x any) bool {
	if lw, ok := x.(*lockedWriter); ok {
		x = lw.w
	}
	f, ok := x.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
