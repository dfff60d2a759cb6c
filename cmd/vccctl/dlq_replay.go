package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/dlq"
	"github.com/vccsync/vccsync/pkg/events"
)

const dlqReplayUsage = `Publishes dead-lettered messages again, oldest first, to the VCCSYNC
stream: the original body, on its Vccsync-Original-Subject, with the
original headers minus the DLQ ones (Vccsync-Error, Vccsync-Error-Class,
Vccsync-Original-Subject, Vccsync-Original-Seq, Vccsync-Deliveries,
Vccsync-Failed-At, Vccsync-Original-Msg-Id and every Nats-* header), and:
  Nats-Msg-Id            <original msg id>:replay:<N>
  Vccsync-Replays        N: the replays of the message, this one included
  Vccsync-Replayed-From  the DLQ sequence it was replayed from
The new id gets the replay past the stream's duplicate window, which would
drop the original id; the same DLQ message replayed twice has the same id,
so the stream stores it once. The event and its id are unchanged:
syncworker does not record a dead-lettered event in its ledger, so it
applies the replay. A replay that fails again returns to the DLQ with its
headers, Vccsync-Replays included.

After the stream's acknowledgement the DLQ copy is deleted (--keep keeps
it). A message already replayed --max-replays times is refused with the
reason, and so is one without Vccsync-Original-Subject.

One line per message on stdout:
  replayed seq=12 subject=SUBJECT msg-id=ID replays=N stream-seq=345
  duplicate seq=12 subject=SUBJECT msg-id=ID replays=N stream-seq=345
      (the stream already had this replay: the DLQ copy is deleted too)
  would replay seq=12 to subject SUBJECT as msg-id ID (replays=N)
      (--dry-run: nothing is published or deleted)
  refused seq=12: REASON
  failed seq=12 …: ERROR     (the DLQ copy is kept)
and a summary on stderr. A run that lasts more than a second shows its
progress on stderr every second or every 100 messages (a single updating
line on a terminal).

Exit status: 0 when every message was replayed (or would be), 1 when one
was refused or failed (or NATS was unusable), 2 for a usage error.

replay needs a filter, or --all to replay every message:

{filters}`

func registerDLQReplay(o *dlqOptions, fs *pflag.FlagSet) {
	o.registerFilters(fs)
	fs.BoolVar(&o.all, "all", false, "replay every message of the DLQ (instead of a filter)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print what would be replayed, and where, and publish nothing")
	fs.BoolVar(&o.keep, "keep", false, "keep the DLQ copy of a replayed message")
	fs.Float64Var(&o.rate, "rate", dlq.DefaultRate, "publish at most `N` messages per second (0: no limit)")
	fs.IntVar(&o.maxReplays, "max-replays", dlq.DefaultMaxReplays, "refuse a message already replayed `N` times")
}

func runDLQReplay(ctx context.Context, a *cli.App, o *dlqOptions, _ []string, env dlqEnv) error {
	stdout, stderr := a.Stdout, a.Stderr
	d, closeConn, err := dlqOpen(ctx, a, o)
	if err != nil {
		return cli.Fail(err)
	}
	defer closeConn()
	if !o.dryRun {
		if err := d.CheckTarget(ctx); err != nil {
			fmt.Fprintf(stderr, "vccctl dlq replay: %v\n", err)
			return cli.Exit(cli.ExitFail)
		}
	}
	p, err := d.Plan(ctx, o.filter)
	if err != nil {
		return cli.Fail(err)
	}
	lo, hi := p.Bounds()
	prog := newDLQProgress(stderr, env.isTerminal(stderr), env.now, "replay", lo, hi)
	opts := dlq.ReplayOptions{MaxReplays: o.maxReplays, Rate: o.rate, DryRun: o.dryRun, Keep: o.keep}
	c, err := d.Replay(ctx, p, o.filter, opts, func(res dlq.ReplayResult, c dlq.ReplayCounts) {
		prog.printf(stdout, "%s\n", dlqReplayLine(res))
		if res.Outcome != dlq.Missing {
			prog.update(res.Seq, c.String)
		}
	})
	prog.finish()
	if err != nil {
		fmt.Fprintf(stderr, "vccctl dlq replay: %v\n", dlqInterrupted(err))
	}
	fmt.Fprintln(stderr, c)
	if err != nil || !c.OK() {
		return cli.Exit(cli.ExitFail)
	}
	return nil
}

// dlqReplayLine is the output line of one letter of a replay.
func dlqReplayLine(r dlq.ReplayResult) string {
	switch r.Outcome {
	case dlq.Refused:
		return fmt.Sprintf("refused seq=%d: %s", r.Seq, r.Refusal)
	case dlq.WouldReplay:
		return fmt.Sprintf("would replay seq=%d to subject %s as msg-id %s (replays=%d)", r.Seq, cli.Value(r.Subject), cli.Value(r.MsgID), r.Replays)
	case dlq.Failed:
		return fmt.Sprintf("failed seq=%d subject=%s msg-id=%s: publish: %v (the DLQ copy is kept)", r.Seq, cli.Value(r.Subject), cli.Value(r.MsgID), r.Err)
	case dlq.Missing:
		return fmt.Sprintf("failed seq=%d: not in %s (replayed, purged or expired?)", r.Seq, events.DLQStream)
	}
	status := "replayed"
	if r.Outcome == dlq.Duplicate {
		status = "duplicate"
	}
	line := fmt.Sprintf("%s seq=%d subject=%s msg-id=%s replays=%d stream-seq=%d", status, r.Seq, cli.Value(r.Subject), cli.Value(r.MsgID), r.Replays, r.StreamSeq)
	switch {
	case r.Kept:
		line += " dlq-copy=kept"
	case r.DeleteErr != nil:
		line += fmt.Sprintf(" dlq-copy=kept: delete failed: %v (a replay of it within the duplicate window is a duplicate)", r.DeleteErr)
	}
	return line
}

const dlqPurgeUsage = `Deletes the messages of VCCSYNC_DLQ that match the filters, for good.
It first counts them, then asks for confirmation: type yes. Without a
terminal on stdin it needs --yes. It prints how many were deleted.

Run 'vccctl dlq list' with the same filters to see what would go.

Exit status: 0 when every message was deleted (or none matched), 1 when a
delete failed, the confirmation was not given or NATS was unusable, 2 for
a usage error (no filter, or no --yes without a terminal).

purge needs a filter, or --all to delete every message:

{filters}`

func registerDLQPurge(o *dlqOptions, fs *pflag.FlagSet) {
	o.registerFilters(fs)
	fs.BoolVar(&o.all, "all", false, "delete every message of the DLQ (instead of a filter)")
	fs.BoolVar(&o.yes, "yes", false, "delete without asking")
}

func runDLQPurge(ctx context.Context, a *cli.App, o *dlqOptions, _ []string, env dlqEnv) error {
	stdin, stdout, stderr := a.Stdin, a.Stdout, a.Stderr
	d, closeConn, err := dlqOpen(ctx, a, o)
	if err != nil {
		return cli.Fail(err)
	}
	defer closeConn()
	p, err := d.Plan(ctx, o.filter)
	if err != nil {
		return cli.Fail(err)
	}
	var seqs []uint64
	h := dlq.NewHistogram()
	err = d.Scan(ctx, p, o.filter, func(l *dlq.Letter) error {
		seqs = append(seqs, l.Seq)
		h.Add(l)
		return nil
	}, func(seq uint64) {
		fmt.Fprintf(stderr, "vccctl dlq purge: seq %d: not in %s\n", seq, events.DLQStream)
	})
	if err != nil {
		fmt.Fprintf(stderr, "vccctl dlq purge: %v; nothing deleted\n", dlqInterrupted(err))
		return cli.Exit(cli.ExitFail)
	}
	if len(seqs) == 0 {
		fmt.Fprintf(stdout, "deleted 0 messages from %s: none matches\n", events.DLQStream)
		return nil
	}
	if !o.yes && !dlqConfirmPurge(stdin, stderr, seqs, h) {
		fmt.Fprintln(stderr, "vccctl dlq purge: not confirmed; nothing deleted")
		return cli.Exit(cli.ExitFail)
	}
	prog := newDLQProgress(stderr, env.isTerminal(stderr), env.now, "purge", seqs[0], seqs[len(seqs)-1])
	c, stopped := d.Purge(ctx, seqs, func(seq uint64, err error, c dlq.PurgeCounts) {
		if err != nil {
			prog.printf(stderr, "vccctl dlq purge: seq %d: delete: %v\n", seq, err)
		}
		prog.update(seq, func() string { return fmt.Sprintf("%d deleted, %d failed", c.Deleted, c.Failed) })
	})
	prog.finish()
	if stopped != nil {
		fmt.Fprintf(stderr, "vccctl dlq purge: %v\n", dlqInterrupted(stopped))
	}
	fmt.Fprintf(stdout, "deleted %d %s from %s\n", c.Deleted, dlqPlural(c.Deleted, "message", "messages"), events.DLQStream)
	if c.Failed > 0 || stopped != nil {
		return cli.Exit(cli.ExitFail)
	}
	return nil
}

// dlqConfirmPurge asks on stderr and reads the answer from stdin: true
// when it is yes.
func dlqConfirmPurge(stdin io.Reader, stderr io.Writer, seqs []uint64, h *dlq.Histogram) bool {
	var classes []string
	for _, c := range dlq.Sorted(h.ByClass) {
		classes = append(classes, fmt.Sprintf("%d %s", c.Count, c.Reason))
	}
	fmt.Fprintf(stderr, "Delete %d %s from %s for good (%s, seq %d to %d)? Type yes to delete: ",
		len(seqs), dlqPlural(len(seqs), "message", "messages"), events.DLQStream, strings.Join(classes, ", "), seqs[0], seqs[len(seqs)-1])
	answer, _ := bufio.NewReader(stdin).ReadString('\n')
	return strings.TrimSpace(answer) == "yes"
}

// dlqProgress reports the progress of a long run on stderr: nothing in
// the first second, then every second or every 100 messages, whichever
// comes first; on a terminal as a single line updated in place.
type dlqProgress struct {
	w      io.Writer
	tty    bool
	now    func() time.Time
	label  string
	lo, hi uint64

	start, last time.Time
	n, lastN    int
	shown       bool
	line        string
}

func newDLQProgress(w io.Writer, tty bool, now func() time.Time, label string, lo, hi uint64) *dlqProgress {
	t := now()
	return &dlqProgress{w: w, tty: tty, now: now, label: label, lo: lo, hi: hi, start: t, last: t}
}

// update counts one message, at sequence seq, and reports when it is time.
func (p *dlqProgress) update(seq uint64, status func() string) {
	p.n++
	t := p.now()
	if t.Sub(p.start) < time.Second {
		return
	}
	if p.shown && t.Sub(p.last) < time.Second && p.n-p.lastN < 100 {
		return
	}
	p.last, p.lastN, p.shown = t, p.n, true
	elapsed := t.Sub(p.start)
	frac := 1.0
	if p.hi > p.lo && seq >= p.lo {
		frac = min(1, float64(seq-p.lo+1)/float64(p.hi-p.lo+1))
	}
	eta := "-"
	if frac > 0 && frac < 1 {
		eta = time.Duration(float64(elapsed) * (1 - frac) / frac).Round(time.Second).String()
	}
	speed := float64(p.n) / elapsed.Seconds()
	text := fmt.Sprintf("%s: %d messages, seq %d of %d-%d (%.0f%%), %.1f/s, eta %s; %s",
		p.label, p.n, seq, p.lo, p.hi, frac*100, speed, eta, status())
	if !p.tty {
		fmt.Fprintln(p.w, text)
		return
	}
	const width = 24
	done := int(frac * width)
	bar := strings.Repeat("=", done) + strings.Repeat(" ", width-done)
	p.line = fmt.Sprintf("[%s] %s", bar, text)
	fmt.Fprint(p.w, "\r\033[K"+p.line)
}

// printf writes an output line; on a terminal the progress line is taken
// down first and drawn again after it.
func (p *dlqProgress) printf(w io.Writer, format string, args ...any) {
	if p.tty && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		fmt.Fprintf(w, format, args...)
		fmt.Fprint(p.w, p.line)
		return
	}
	fmt.Fprintf(w, format, args...)
}

// finish takes the progress line down.
func (p *dlqProgress) finish() {
	if p.tty && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
