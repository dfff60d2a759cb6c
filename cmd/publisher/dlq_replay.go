package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/vccsync/vccsync/pkg/events"
)

func dlqReplayUsage(w io.Writer, flags func(io.Writer)) {
	fmt.Fprintln(w, `usage: publisher dlq replay [flags] FILTERS|--all

Publishes dead-lettered messages again, oldest first, to the VCCSYNC
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

`+dlqFiltersDoc+`

flags:`)
	flags(w)
}

func registerDLQReplay(o *dlqOptions, fs *flag.FlagSet) {
	o.registerFilters(fs)
	fs.BoolVar(&o.all, "all", false, "replay every message of the DLQ (instead of a filter)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print what would be replayed, and where, and publish nothing")
	fs.BoolVar(&o.keep, "keep", false, "keep the DLQ copy of a replayed message")
	fs.Float64Var(&o.rate, "rate", dlqDefaultRate, "publish at most `N` messages per second (0: no limit)")
	fs.IntVar(&o.maxReplays, "max-replays", dlqDefaultMaxReplays, "refuse a message already replayed `N` times")
}

// dlqReplay is a DLQ message made ready to publish again.
type dlqReplay struct {
	msg   *nats.Msg
	msgID string
	n     int
}

// dlqDropOnReplay reports whether a header of a DLQ message is left out of
// its replay: the DLQ headers, the replay headers (set again), and every
// Nats-* header (the id is set again; Nats-Expected-Stream would name the
// DLQ stream).
func dlqDropOnReplay(name string) bool {
	for _, h := range []string{
		events.HeaderError, events.HeaderErrorClass, events.HeaderOriginalSubject,
		events.HeaderOriginalSequence, events.HeaderDeliveries, events.HeaderFailedAt,
		dlqHeaderOriginalMsgID, dlqHeaderReplays, dlqHeaderReplayedFrom,
	} {
		if strings.EqualFold(name, h) {
			return true
		}
	}
	return len(name) >= 5 && strings.EqualFold(name[:5], "Nats-")
}

// dlqReplayIDSuffix separates an id from the replay count.
const dlqReplayIDSuffix = ":replay:"

// dlqSplitReplayID splits "<id>:replay:<N>" into id and N (0 when id has
// no replay suffix).
func dlqSplitReplayID(id string) (string, int) {
	i := strings.LastIndex(id, dlqReplayIDSuffix)
	if i < 0 {
		return id, 0
	}
	n, err := strconv.Atoi(id[i+len(dlqReplayIDSuffix):])
	if err != nil || n < 1 || strconv.Itoa(n) != id[i+len(dlqReplayIDSuffix):] {
		return id, 0
	}
	return id[:i], n
}

// dlqBuildReplay makes the replay of a DLQ message, or says why it is
// refused.
func dlqBuildReplay(m *dlqMsg, d *dlqDesc, maxReplays int) (dlqReplay, string) {
	switch {
	case d.OriginalSubject == "":
		return dlqReplay{}, "no " + events.HeaderOriginalSubject + " header: where it came from is unknown"
	case strings.HasPrefix(d.OriginalSubject, events.DLQSubjectPrefix):
		return dlqReplay{}, fmt.Sprintf("%s %s is a DLQ subject", events.HeaderOriginalSubject, d.OriginalSubject)
	case d.replaysErr != "":
		return dlqReplay{}, d.replaysErr
	}
	orig := d.OriginalMsgID
	if orig == "" {
		orig = d.EventID
	}
	if orig == "" {
		orig = "dlq-" + strconv.FormatUint(m.seq, 10)
	}
	base, fromID := dlqSplitReplayID(orig)
	replays := max(d.Replays, fromID)
	if replays >= maxReplays {
		last := d.Class
		if last == "" {
			last = "no class"
		}
		return dlqReplay{}, fmt.Sprintf("replayed %d %s already, the limit is %d (--max-replays); it failed again (%s: %s); purge it, or fix the cause and raise --max-replays",
			replays, dlqPlural(replays, "time", "times"), maxReplays, last, dlqTruncate(dlqOneLine(d.Error), 120))
	}
	n := replays + 1
	id := base + dlqReplayIDSuffix + strconv.Itoa(n)
	h := nats.Header{}
	for k, v := range m.header {
		if !dlqDropOnReplay(k) {
			h[k] = append([]string(nil), v...)
		}
	}
	h.Set(events.HeaderMsgID, id)
	h.Set(dlqHeaderReplays, strconv.Itoa(n))
	h.Set(dlqHeaderReplayedFrom, strconv.FormatUint(m.seq, 10))
	return dlqReplay{msg: &nats.Msg{Subject: d.OriginalSubject, Header: h, Data: m.data}, msgID: id, n: n}, ""
}

// dlqReplayCounts are the outcomes of a replay run.
type dlqReplayCounts struct {
	dryRun                                      bool
	replayed, duplicate, would, refused, failed int
	undeleted                                   int
}

func (c *dlqReplayCounts) String() string {
	if c.dryRun {
		return fmt.Sprintf("%d would be replayed, %d refused, %d failed", c.would, c.refused, c.failed)
	}
	s := fmt.Sprintf("%d replayed, %d duplicate, %d refused, %d failed", c.replayed, c.duplicate, c.refused, c.failed)
	if c.undeleted > 0 {
		s += fmt.Sprintf(" (%d replayed but still in %s)", c.undeleted, events.DLQStream)
	}
	return s
}

// dlqMaxFailuresInARow stops a replay whose publishes keep failing.
const dlqMaxFailuresInARow = 10

func runDLQReplay(ctx context.Context, o *dlqOptions, _ []string, env dlqEnv, _ io.Reader, stdout, stderr io.Writer) int {
	r, closeConn, err := dlqOpen(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "publisher dlq replay: %v\n", err)
		return exitFail
	}
	defer closeConn()
	if !o.dryRun {
		if err := checkStream(ctx, r.js, o.timeout); err != nil {
			fmt.Fprintf(stderr, "publisher dlq replay: %v\n", err)
			return exitFail
		}
	}
	p, err := r.plan(ctx, o.filter)
	if err != nil {
		fmt.Fprintf(stderr, "publisher dlq replay: %v\n", err)
		return exitFail
	}
	var lim *rate.Limiter
	if o.rate > 0 && !o.dryRun {
		lim = rate.NewLimiter(rate.Limit(o.rate), 1)
	}
	lo, hi := p.bounds()
	prog := newDLQProgress(stderr, env.isTerminal(stderr), env.now, "replay", lo, hi)
	c := &dlqReplayCounts{dryRun: o.dryRun}
	inARow := 0

	err = r.scan(ctx, p, o.filter, func(m *dlqMsg, d *dlqDesc) error {
		defer prog.update(m.seq, c.String)
		rp, refusal := dlqBuildReplay(m, d, o.maxReplays)
		if refusal != "" {
			c.refused++
			prog.printf(stdout, "refused seq=%d: %s\n", m.seq, refusal)
			return nil
		}
		if o.dryRun {
			c.would++
			prog.printf(stdout, "would replay seq=%d to subject %s as msg-id %s (replays=%d)\n", m.seq, value(rp.msg.Subject), value(rp.msgID), rp.n)
			return nil
		}
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				return err
			}
		}
		pctx, cancel := context.WithTimeout(ctx, o.timeout)
		ack, err := r.js.PublishMsg(pctx, rp.msg, jetstream.WithExpectStream(events.Stream))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.failed++
			inARow++
			prog.printf(stdout, "failed seq=%d subject=%s msg-id=%s: publish: %v (the DLQ copy is kept)\n", m.seq, value(rp.msg.Subject), value(rp.msgID), err)
			if inARow >= dlqMaxFailuresInARow {
				return fmt.Errorf("stopped: %d publishes failed in a row", inARow)
			}
			return nil
		}
		inARow = 0
		status := "replayed"
		if ack.Duplicate {
			status = "duplicate"
			c.duplicate++
		} else {
			c.replayed++
		}
		line := fmt.Sprintf("%s seq=%d subject=%s msg-id=%s replays=%d stream-seq=%d", status, m.seq, value(rp.msg.Subject), value(rp.msgID), rp.n, ack.Sequence)
		if o.keep {
			line += " dlq-copy=kept"
		} else {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.timeout)
			err := r.stream.DeleteMsg(dctx, m.seq)
			cancel()
			if err != nil {
				c.undeleted++
				line += fmt.Sprintf(" dlq-copy=kept: delete failed: %v (a replay of it within the duplicate window is a duplicate)", err)
			}
		}
		prog.printf(stdout, "%s\n", line)
		return nil
	}, func(seq uint64) {
		c.failed++
		prog.printf(stdout, "failed seq=%d: not in %s (replayed, purged or expired?)\n", seq, events.DLQStream)
	})
	prog.finish()
	if err != nil {
		fmt.Fprintf(stderr, "publisher dlq replay: %v\n", dlqInterrupted(err))
	}
	fmt.Fprintln(stderr, c)
	if err != nil || c.refused > 0 || c.failed > 0 || c.undeleted > 0 {
		return exitFail
	}
	return exitOK
}

func dlqPurgeUsage(w io.Writer, flags func(io.Writer)) {
	fmt.Fprintln(w, `usage: publisher dlq purge [flags] FILTERS|--all

Deletes the messages of VCCSYNC_DLQ that match the filters, for good.
It first counts them, then asks for confirmation: type yes. Without a
terminal on stdin it needs --yes. It prints how many were deleted.

Run 'publisher dlq list' with the same filters to see what would go.

Exit status: 0 when every message was deleted (or none matched), 1 when a
delete failed, the confirmation was not given or NATS was unusable, 2 for
a usage error (no filter, or no --yes without a terminal).

purge needs a filter, or --all to delete every message:

`+dlqFiltersDoc+`

flags:`)
	flags(w)
}

func registerDLQPurge(o *dlqOptions, fs *flag.FlagSet) {
	o.registerFilters(fs)
	fs.BoolVar(&o.all, "all", false, "delete every message of the DLQ (instead of a filter)")
	fs.BoolVar(&o.yes, "yes", false, "delete without asking")
}

func runDLQPurge(ctx context.Context, o *dlqOptions, _ []string, env dlqEnv, stdin io.Reader, stdout, stderr io.Writer) int {
	r, closeConn, err := dlqOpen(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "publisher dlq purge: %v\n", err)
		return exitFail
	}
	defer closeConn()
	p, err := r.plan(ctx, o.filter)
	if err != nil {
		fmt.Fprintf(stderr, "publisher dlq purge: %v\n", err)
		return exitFail
	}
	var seqs []uint64
	h := newDLQHistogram()
	err = r.scan(ctx, p, o.filter, func(m *dlqMsg, d *dlqDesc) error {
		seqs = append(seqs, m.seq)
		h.add(d)
		return nil
	}, func(seq uint64) {
		fmt.Fprintf(stderr, "publisher dlq purge: seq %d: not in %s\n", seq, events.DLQStream)
	})
	if err != nil {
		fmt.Fprintf(stderr, "publisher dlq purge: %v; nothing deleted\n", dlqInterrupted(err))
		return exitFail
	}
	if len(seqs) == 0 {
		fmt.Fprintf(stdout, "deleted 0 messages from %s: none matches\n", events.DLQStream)
		return exitOK
	}
	if !o.yes {
		var classes []string
		for _, c := range dlqSorted(h.byClass) {
			classes = append(classes, fmt.Sprintf("%d %s", c.Count, c.Reason))
		}
		fmt.Fprintf(stderr, "Delete %d %s from %s for good (%s, seq %d to %d)? Type yes to delete: ",
			len(seqs), dlqPlural(len(seqs), "message", "messages"), events.DLQStream, strings.Join(classes, ", "), seqs[0], seqs[len(seqs)-1])
		answer, _ := bufio.NewReader(stdin).ReadString('\n')
		if strings.TrimSpace(answer) != "yes" {
			fmt.Fprintln(stderr, "publisher dlq purge: not confirmed; nothing deleted")
			return exitFail
		}
	}
	prog := newDLQProgress(stderr, env.isTerminal(stderr), env.now, "purge", seqs[0], seqs[len(seqs)-1])
	deleted, failed := 0, 0
	status := func() string { return fmt.Sprintf("%d deleted, %d failed", deleted, failed) }
	var stopped error
	for _, seq := range seqs {
		if err := ctx.Err(); err != nil {
			stopped = err
			break
		}
		dctx, cancel := context.WithTimeout(ctx, o.timeout)
		err := r.stream.DeleteMsg(dctx, seq)
		cancel()
		if err != nil {
			failed++
			prog.printf(stderr, "publisher dlq purge: seq %d: delete: %v\n", seq, err)
		} else {
			deleted++
		}
		prog.update(seq, status)
	}
	prog.finish()
	if stopped != nil {
		fmt.Fprintf(stderr, "publisher dlq purge: %v\n", dlqInterrupted(stopped))
	}
	fmt.Fprintf(stdout, "deleted %d %s from %s\n", deleted, dlqPlural(deleted, "message", "messages"), events.DLQStream)
	if failed > 0 || stopped != nil {
		return exitFail
	}
	return exitOK
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
