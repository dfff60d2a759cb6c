package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/dlq"
	"github.com/vccsync/vccsync/pkg/events"
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
	usage         string // the help's text; {filters} stands for dlqFiltersDoc
	args          string // the usage line's arguments
	run           func(ctx context.Context, a *cli.App, o *dlqOptions, pos []string, env dlqEnv) error
	register      func(o *dlqOptions, fs *pflag.FlagSet)
}

// dlqSubs lists the subcommands in the order help shows them.
var dlqSubs = []dlqSub{
	{name: "list", summary: "one line per message, then a histogram of the reasons", usage: dlqListUsage, args: "[flags]", run: runDLQList, register: registerDLQList},
	{name: "show", summary: "one message: its error, every header and the original body", usage: dlqShowUsage, args: "[flags] SEQ [SEQ…]", run: runDLQShow, register: registerDLQShow},
	{name: "replay", summary: "publish messages again on their original subject (new id, replay counter)", usage: dlqReplayUsage, args: "[flags] FILTERS|--all", run: runDLQReplay, register: registerDLQReplay},
	{name: "purge", summary: "delete messages from the DLQ (asks for confirmation)", usage: dlqPurgeUsage, args: "[flags] FILTERS|--all", run: runDLQPurge, register: registerDLQPurge},
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

const dlqLong = `Operator tools for VCCSYNC_DLQ, the stream syncworker dead-letters messages
to (subjects vccsync.dlq.>). A dead-lettered message keeps the original
body and headers and adds Vccsync-Error, Vccsync-Error-Class (poison,
permanent, exhausted), Vccsync-Original-Subject, Vccsync-Original-Seq,
Vccsync-Deliveries, Vccsync-Failed-At and Vccsync-Original-Msg-Id.

` + dlqFiltersDoc + `

Exit status: 0 success, 1 something failed or was refused, 2 usage error.`

// dlqOptions are the flags of every dlq subcommand (each registers its own).
type dlqOptions struct {
	timeout time.Duration

	classes, types, users, seqs []string
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

func (o *dlqOptions) registerCommon(fs *pflag.FlagSet) {
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for each answer of the server")
}

func (o *dlqOptions) registerFilters(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.classes, "class", nil, "only messages of error `CLASS` (poison, permanent, exhausted); repeatable")
	fs.StringArrayVar(&o.types, "type", nil, "only events of `TYPE` (TYPE* for a prefix); repeatable")
	fs.StringArrayVar(&o.users, "user", nil, "only messages for the Salesforce user `ID` (15 or 18 characters); repeatable")
	fs.StringVar(&o.since, "since", "", "only messages that failed at or after `TIME` (RFC 3339, a date, or a duration ago like 36h)")
	fs.StringVar(&o.until, "until", "", "only messages that failed before `TIME`")
	fs.StringArrayVar(&o.seqs, "seq", nil, "only DLQ sequence `N` or range A-B; repeatable, comma-separated")
}

// dlqRunEnv is the environment of a real run.
var dlqRunEnv = dlqEnv{now: time.Now, isTerminal: cli.IsTerminal}

// dlqCommand is `vccctl dlq list|show|replay|purge`.
func dlqCommand(a *cli.App, env dlqEnv) *cobra.Command {
	c := &cobra.Command{
		Use:   "dlq",
		Short: "list, show, replay and purge dead-lettered messages (VCCSYNC_DLQ)",
		Long:  dlqLong,
	}
	cli.RequireSubcommand(c, "subcommand")
	for _, s := range dlqSubs {
		c.AddCommand(dlqSubCommand(a, s, env))
	}
	return c
}

func dlqSubCommand(a *cli.App, s dlqSub, env dlqEnv) *cobra.Command {
	o := &dlqOptions{}
	c := &cobra.Command{
		Use:   s.name + " " + s.args,
		Short: s.summary,
		Long:  strings.ReplaceAll(s.usage, "{filters}", dlqFiltersDoc),
		RunE: func(c *cobra.Command, pos []string) error {
			if o.timeout <= 0 {
				return cli.Usagef("--timeout %s: must be positive", o.timeout)
			}
			f, err := o.buildFilter(env.now())
			if err != nil {
				return cli.Usage(err)
			}
			o.filter = f
			if err := o.check(s.name, pos, env, a.Stdin); err != nil {
				return err
			}
			return s.run(c.Context(), a, o, pos, env)
		},
	}
	o.registerCommon(c.Flags())
	s.register(o, c.Flags())
	if c.Flags().Lookup("class") != nil {
		_ = c.RegisterFlagCompletionFunc("class", cobra.FixedCompletions([]cobra.Completion{events.ClassPoison, events.ClassPermanent, events.ClassExhausted}, cobra.ShellCompDirectiveNoFileComp))
	}
	return c
}

// check refuses a command line that cannot run, before connecting.
func (o *dlqOptions) check(sub string, pos []string, env dlqEnv, stdin io.Reader) error {
	switch sub {
	case "show":
		if len(pos) == 0 {
			return cli.Usage(errors.New("missing SEQ: the DLQ sequence of the message to show (vccctl dlq list prints it)"))
		}
		return nil
	case "list":
		if len(pos) > 0 {
			return cli.Usage(fmt.Errorf("unexpected arguments %q: list takes only flags (--seq N for sequences)", pos))
		}
		return nil
	}
	if len(pos) > 0 {
		return cli.Usage(fmt.Errorf("unexpected arguments %q: %s takes only flags (--seq N for sequences)", pos, sub))
	}
	if o.filter.Empty() && !o.all {
		return cli.Usage(fmt.Errorf("%s needs a filter (--class, --type, --user, --since, --until, --seq) or --all for every message", sub))
	}
	if !o.filter.Empty() && o.all {
		return cli.Usage(errors.New("--all and a filter: give one or the other"))
	}
	switch sub {
	case "replay":
		if o.maxReplays < 1 {
			return cli.Usage(fmt.Errorf("--max-replays %d: must be at least 1", o.maxReplays))
		}
		if o.rate < 0 {
			return cli.Usage(fmt.Errorf("--rate %g: must be 0 (no limit) or more", o.rate))
		}
	case "purge":
		if !o.yes && !env.isTerminal(stdin) {
			return cli.Usage(errors.New("purge deletes messages for good: give --yes to confirm (stdin is not a terminal, so there is no one to ask)"))
		}
	}
	return nil
}

// buildFilter checks the filter flags.
func (o *dlqOptions) buildFilter(now time.Time) (*dlq.Filter, error) {
	f := &dlq.Filter{}
	for _, p := range []struct {
		flag   string
		values []string
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
func dlqOpen(ctx context.Context, a *cli.App, o *dlqOptions) (*dlq.DLQ, func(), error) {
	nc, js, err := a.NATS.JetStream(a.Stderr)
	if err != nil {
		return nil, nil, err
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
