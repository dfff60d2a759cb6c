package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/events"
)

// Headers dlq replay reads and writes besides the DLQ headers of the wire
// contract.
const (
	// dlqHeaderReplays counts the replays of a message. It travels with the
	// replayed message, and back to the DLQ with it when it fails again.
	dlqHeaderReplays = "Vccsync-Replays"
	// dlqHeaderReplayedFrom is the DLQ sequence a replay was made from.
	dlqHeaderReplayedFrom = "Vccsync-Replayed-From"
	// dlqHeaderOriginalMsgID is the Nats-Msg-Id the message had before the
	// worker dead-lettered it (worker.HeaderOriginalMsgID).
	dlqHeaderOriginalMsgID = "Vccsync-Original-Msg-Id"
)

// Defaults of dlq replay.
const (
	dlqDefaultMaxReplays = 5
	dlqDefaultRate       = 100
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
	filter *dlqFilter
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
	if o.filter.empty() && !o.all {
		return exitUsage, fmt.Errorf("%s needs a filter (--class, --type, --user, --since, --until, --seq) or --all for every message", sub)
	}
	if !o.filter.empty() && o.all {
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
func (o *dlqOptions) buildFilter(now time.Time) (*dlqFilter, error) {
	f := &dlqFilter{}
	for _, c := range dlqSplitList(o.classes) {
		switch c {
		case events.ClassPoison, events.ClassPermanent, events.ClassExhausted:
		default:
			return nil, fmt.Errorf("--class %q: want %s, %s or %s", c, events.ClassPoison, events.ClassPermanent, events.ClassExhausted)
		}
		f.classes = append(f.classes, c)
	}
	for _, t := range dlqSplitList(o.types) {
		if strings.ContainsAny(strings.TrimSuffix(t, "*"), "* \t") {
			return nil, fmt.Errorf("--type %q: want an event type, or a prefix ending in *", t)
		}
		f.types = append(f.types, t)
	}
	for _, u := range dlqSplitList(o.users) {
		k, err := events.UserKey(u)
		if err != nil {
			return nil, fmt.Errorf("--user %q: %v", u, err)
		}
		f.users = append(f.users, k)
	}
	var err error
	if o.since != "" {
		if f.since, err = parseDLQTime(o.since, now); err != nil {
			return nil, fmt.Errorf("--since: %w", err)
		}
	}
	if o.until != "" {
		if f.until, err = parseDLQTime(o.until, now); err != nil {
			return nil, fmt.Errorf("--until: %w", err)
		}
	}
	if !f.since.IsZero() && !f.until.IsZero() && !f.since.Before(f.until) {
		return nil, fmt.Errorf("--since %s is not before --until %s", o.since, o.until)
	}
	if f.seqs, err = dlqParseSeqs(dlqSplitList(o.seqs)); err != nil {
		return nil, fmt.Errorf("--seq: %w", err)
	}
	return f, nil
}

// dlqSplitList splits the values of a repeatable flag on commas.
func dlqSplitList(l stringList) []string {
	var out []string
	for _, v := range l {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// parseDLQTime reads an RFC 3339 time, a date (UTC) or a duration before now.
func parseDLQTime(s string, now time.Time) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration before now must be positive", s)
		}
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-11-20T10:15:00Z), a date (2026-11-20) or a duration before now (36h)", s)
}

// dlqSeqRange is an inclusive range of DLQ sequences; single is a sequence
// given alone (reported when it is not in the stream).
type dlqSeqRange struct {
	lo, hi uint64
	single bool
}

// dlqParseSeqs reads sequences and ranges, and returns them sorted, ranges
// merged and sequences inside a range dropped.
func dlqParseSeqs(list []string) ([]dlqSeqRange, error) {
	var ranges, singles []dlqSeqRange
	for _, s := range list {
		a, b, isRange := strings.Cut(s, "-")
		lo, err := strconv.ParseUint(strings.TrimSpace(a), 10, 64)
		if err != nil || lo == 0 {
			return nil, fmt.Errorf("%q: want a sequence (1, 2, …) or a range A-B", s)
		}
		if !isRange {
			singles = append(singles, dlqSeqRange{lo: lo, hi: lo, single: true})
			continue
		}
		hi, err := strconv.ParseUint(strings.TrimSpace(b), 10, 64)
		if err != nil || hi < lo {
			return nil, fmt.Errorf("%q: want a range A-B with A <= B", s)
		}
		ranges = append(ranges, dlqSeqRange{lo: lo, hi: hi})
	}
	slices.SortFunc(ranges, func(x, y dlqSeqRange) int { return dlqCompareUint(x.lo, y.lo) })
	var merged []dlqSeqRange
	for _, r := range ranges {
		if n := len(merged); n > 0 && r.lo <= merged[n-1].hi+1 {
			merged[n-1].hi = max(merged[n-1].hi, r.hi)
			continue
		}
		merged = append(merged, r)
	}
	out := merged
	for _, s := range singles {
		inside := slices.ContainsFunc(merged, func(r dlqSeqRange) bool { return s.lo >= r.lo && s.lo <= r.hi })
		if !inside && !slices.ContainsFunc(out, func(r dlqSeqRange) bool { return r.single && r.lo == s.lo }) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(x, y dlqSeqRange) int { return dlqCompareUint(x.lo, y.lo) })
	return out, nil
}

func dlqCompareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// dlqFilter selects DLQ messages.
type dlqFilter struct {
	classes, types, users []string
	since, until          time.Time
	seqs                  []dlqSeqRange
}

func (f *dlqFilter) empty() bool {
	return len(f.classes) == 0 && len(f.types) == 0 && len(f.users) == 0 &&
		f.since.IsZero() && f.until.IsZero() && len(f.seqs) == 0
}

// match reports whether a message passes every filter but --seq (the
// reader only reads the sequences asked for).
func (f *dlqFilter) match(d *dlqDesc) bool {
	if len(f.classes) > 0 && !slices.Contains(f.classes, d.Class) {
		return false
	}
	if len(f.types) > 0 && !slices.ContainsFunc(f.types, func(t string) bool {
		if p, ok := strings.CutSuffix(t, "*"); ok {
			return d.Type != "" && strings.HasPrefix(d.Type, p)
		}
		return d.Type == t
	}) {
		return false
	}
	if len(f.users) > 0 && !slices.Contains(f.users, d.User) {
		return false
	}
	if !f.since.IsZero() && d.failedAt.Before(f.since) {
		return false
	}
	if !f.until.IsZero() && !d.failedAt.Before(f.until) {
		return false
	}
	return true
}

// dlqOpen connects and looks up the DLQ stream.
func dlqOpen(ctx context.Context, o *dlqOptions, stderr io.Writer) (*dlqReader, func(), error) {
	nc, err := o.nats.connect(stderr)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	lctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	s, err := js.Stream(lctx, events.DLQStream)
	switch {
	case err == nil:
	case errors.Is(err, jetstream.ErrStreamNotFound):
		nc.Close()
		return nil, nil, fmt.Errorf("stream %s not found: is syncworker running (it creates the streams)?", events.DLQStream)
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		nc.Close()
		return nil, nil, fmt.Errorf("stream %s: JetStream is not enabled on this server (or for this account): %w", events.DLQStream, err)
	default:
		nc.Close()
		return nil, nil, fmt.Errorf("look up stream %s: %w", events.DLQStream, err)
	}
	return &dlqReader{js: js, stream: s, timeout: o.timeout}, nc.Close, nil
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
