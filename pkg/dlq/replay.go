package dlq

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/vccsync/vccsync/pkg/events"
)

// Defaults of a replay.
const (
	DefaultMaxReplays = 5   // ReplayOptions.MaxReplays
	DefaultRate       = 100 // ReplayOptions.Rate, publishes per second
)

// maxFailuresInARow stops a replay whose publishes keep failing.
const maxFailuresInARow = 10

// ReplayOptions say how Replay replays.
type ReplayOptions struct {
	// MaxReplays refuses a letter already replayed this many times; at
	// least 1.
	MaxReplays int
	// Rate is the most publishes per second; 0 is no limit.
	Rate float64
	// DryRun publishes and deletes nothing: it says what would be replayed.
	DryRun bool
	// Keep keeps the DLQ copy of a replayed letter.
	Keep bool
}

// check refuses options that cannot run.
func (o ReplayOptions) check() error {
	if o.MaxReplays < 1 {
		return fmt.Errorf("max replays %d: must be at least 1", o.MaxReplays)
	}
	if o.Rate < 0 {
		return fmt.Errorf("rate %g: must be 0 (no limit) or more", o.Rate)
	}
	return nil
}

// ReplayMsg is a dead letter made ready to publish again.
type ReplayMsg struct {
	Msg     *nats.Msg // the original body on the original subject, with the replay headers
	MsgID   string    // Nats-Msg-Id: <original msg id>:replay:<N>
	Replays int       // N: the replays of the letter, this one included
}

// dropOnReplay reports whether a header of a DLQ message is left out of
// its replay: the DLQ headers, the replay headers (set again), and every
// Nats-* header (the id is set again; Nats-Expected-Stream would name the
// DLQ stream). Vccsync-Previous-Error travels on.
func dropOnReplay(name string) bool {
	for _, h := range []string{
		events.HeaderError, events.HeaderErrorClass, events.HeaderOriginalSubject,
		events.HeaderOriginalSequence, events.HeaderDeliveries, events.HeaderFailedAt,
		events.HeaderOriginalMsgID, events.HeaderReplays, events.HeaderReplayedFrom,
	} {
		if strings.EqualFold(name, h) {
			return true
		}
	}
	return len(name) >= 5 && strings.EqualFold(name[:5], "Nats-")
}

// replayIDSuffix separates an id from the replay count.
const replayIDSuffix = ":replay:"

// splitReplayID splits "<id>:replay:<N>" into id and N (0 when id has no
// replay suffix).
func splitReplayID(id string) (string, int) {
	i := strings.LastIndex(id, replayIDSuffix)
	if i < 0 {
		return id, 0
	}
	n, err := strconv.Atoi(id[i+len(replayIDSuffix):])
	if err != nil || n < 1 || strconv.Itoa(n) != id[i+len(replayIDSuffix):] {
		return id, 0
	}
	return id[:i], n
}

// PrepareReplay makes the replay of a dead letter, or says why it is
// refused (refusal is "" when it is not). The replay count is the larger
// of Vccsync-Replays and the count in the original id; the original id is
// Vccsync-Original-Msg-Id, else the envelope's id, else "dlq-<seq>".
func PrepareReplay(l *Letter, maxReplays int) (rm ReplayMsg, refusal string) {
	switch {
	case l.OriginalSubject == "":
		return ReplayMsg{}, "no " + events.HeaderOriginalSubject + " header: where it came from is unknown"
	case strings.HasPrefix(l.OriginalSubject, events.DLQSubjectPrefix):
		return ReplayMsg{}, fmt.Sprintf("%s %s is a DLQ subject", events.HeaderOriginalSubject, l.OriginalSubject)
	case l.ReplaysErr != "":
		return ReplayMsg{}, l.ReplaysErr
	}
	orig := l.OriginalMsgID
	if orig == "" {
		orig = l.EventID
	}
	if orig == "" {
		orig = "dlq-" + strconv.FormatUint(l.Seq, 10)
	}
	base, fromID := splitReplayID(orig)
	replays := max(l.Replays, fromID)
	if replays >= maxReplays {
		last := l.Class
		if last == "" {
			last = "no class"
		}
		return ReplayMsg{}, fmt.Sprintf("replayed %d %s already, the limit is %d (--max-replays); it failed again (%s: %s); purge it, or fix the cause and raise --max-replays",
			replays, plural(replays, "time", "times"), maxReplays, last, l.ErrorLine(120))
	}
	n := replays + 1
	id := base + replayIDSuffix + strconv.Itoa(n)
	h := nats.Header{}
	for k, v := range l.Header {
		if !dropOnReplay(k) {
			h[k] = append([]string(nil), v...)
		}
	}
	h.Set(events.HeaderMsgID, id)
	h.Set(events.HeaderReplays, strconv.Itoa(n))
	h.Set(events.HeaderReplayedFrom, strconv.FormatUint(l.Seq, 10))
	return ReplayMsg{Msg: &nats.Msg{Subject: l.OriginalSubject, Header: h, Data: l.Data}, MsgID: id, Replays: n}, ""
}

// Outcome is what became of one letter in a replay.
type Outcome int

// Outcomes of a replay.
const (
	// Replayed: published and stored in VCCSYNC.
	Replayed Outcome = iota + 1
	// Duplicate: published, and VCCSYNC already had this replay (the same
	// id within its duplicate window).
	Duplicate
	// WouldReplay: a dry run's answer for a letter that would be replayed.
	WouldReplay
	// Refused: not published (see ReplayResult.Refusal); the copy stays.
	Refused
	// Failed: the publish failed (ReplayResult.Err); the copy stays.
	Failed
	// Missing: a sequence given alone is not in the DLQ.
	Missing
)

// ReplayResult is what became of one letter.
type ReplayResult struct {
	Seq     uint64 // DLQ sequence
	Outcome Outcome
	// Subject, MsgID and Replays are where the letter went (or would go),
	// under which id, and its replay count, but for Refused and Missing.
	Subject string
	MsgID   string
	Replays int
	// StreamSeq is its sequence in VCCSYNC (Replayed, Duplicate).
	StreamSeq uint64
	// Refusal says why it was refused.
	Refusal string
	// Err is the publish error (Failed).
	Err error
	// Kept: the DLQ copy was kept on purpose (ReplayOptions.Keep).
	Kept bool
	// DeleteErr: the DLQ copy could not be deleted after the publish.
	DeleteErr error
}

// ReplayCounts are the outcomes of a replay so far.
type ReplayCounts struct {
	DryRun                                      bool
	Replayed, Duplicate, Would, Refused, Failed int
	// Undeleted counts replayed letters whose DLQ copy could not be
	// deleted (they are in Replayed or Duplicate too).
	Undeleted int
}

// OK reports whether every letter was replayed (or would be) and its copy
// deleted as asked.
func (c ReplayCounts) OK() bool { return c.Refused == 0 && c.Failed == 0 && c.Undeleted == 0 }

func (c ReplayCounts) String() string {
	if c.DryRun {
		return fmt.Sprintf("%d would be replayed, %d refused, %d failed", c.Would, c.Refused, c.Failed)
	}
	s := fmt.Sprintf("%d replayed, %d duplicate, %d refused, %d failed", c.Replayed, c.Duplicate, c.Refused, c.Failed)
	if c.Undeleted > 0 {
		s += fmt.Sprintf(" (%d replayed but still in %s)", c.Undeleted, events.DLQStream)
	}
	return s
}

// CheckTarget looks up VCCSYNC, the stream replays go to: without it
// every publish fails. Replay does not look it up itself; call this first
// to say so once, before anything is read.
func (d *DLQ) CheckTarget(ctx context.Context) error {
	_, err := lookupStream(ctx, d.js, events.Stream, d.timeout)
	return err
}

// Replay replays the letters of the plan that match the filter, oldest
// first, as the package documentation says, and calls report (when not
// nil) after each letter and for each sequence of the plan that is not in
// the DLQ, with the counts so far. It stops at the context's end, or when
// ten publishes in a row failed, and returns the counts and why it
// stopped; a refused or failed letter does not stop it (see
// ReplayCounts.OK).
func (d *DLQ) Replay(ctx context.Context, p Plan, f *Filter, o ReplayOptions, report func(ReplayResult, ReplayCounts)) (ReplayCounts, error) {
	c := ReplayCounts{DryRun: o.DryRun}
	if err := o.check(); err != nil {
		return c, err
	}
	if report == nil {
		report = func(ReplayResult, ReplayCounts) {}
	}
	var lim *rate.Limiter
	if o.Rate > 0 && !o.DryRun {
		lim = rate.NewLimiter(rate.Limit(o.Rate), 1)
	}
	inARow := 0
	err := d.Scan(ctx, p, f, func(l *Letter) error {
		rm, refusal := PrepareReplay(l, o.MaxReplays)
		if refusal != "" {
			c.Refused++
			report(ReplayResult{Seq: l.Seq, Outcome: Refused, Refusal: refusal}, c)
			return nil
		}
		res := ReplayResult{Seq: l.Seq, Subject: rm.Msg.Subject, MsgID: rm.MsgID, Replays: rm.Replays}
		if o.DryRun {
			c.Would++
			res.Outcome = WouldReplay
			report(res, c)
			return nil
		}
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				return err
			}
		}
		pctx, cancel := context.WithTimeout(ctx, d.timeout)
		ack, err := d.js.PublishMsg(pctx, rm.Msg, jetstream.WithExpectStream(events.Stream))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.Failed++
			inARow++
			res.Outcome, res.Err = Failed, err
			report(res, c)
			if inARow >= maxFailuresInARow {
				return fmt.Errorf("stopped: %d publishes failed in a row", inARow)
			}
			return nil
		}
		inARow = 0
		res.StreamSeq = ack.Sequence
		if res.Outcome = Replayed; ack.Duplicate {
			res.Outcome = Duplicate
			c.Duplicate++
		} else {
			c.Replayed++
		}
		if o.Keep {
			res.Kept = true
		} else if err := d.Delete(context.WithoutCancel(ctx), l.Seq); err != nil {
			// Not cancelled with ctx: an interrupted replay leaves no copy behind.
			c.Undeleted++
			res.DeleteErr = err
		}
		report(res, c)
		return nil
	}, func(seq uint64) {
		c.Failed++
		report(ReplayResult{Seq: seq, Outcome: Missing}, c)
	})
	return c, err
}
