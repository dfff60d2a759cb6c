package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/events"
)

// dlqMsg is a message as VCCSYNC_DLQ stores it.
type dlqMsg struct {
	seq     uint64
	subject string
	stored  time.Time
	header  nats.Header
	data    []byte
}

// dlqDesc is what the DLQ headers and the body say about a message.
type dlqDesc struct {
	Seq             uint64    `json:"seq"`
	Subject         string    `json:"subject"`
	Stored          time.Time `json:"stored"`
	FailedAt        string    `json:"failedAt,omitempty"`
	Class           string    `json:"class,omitempty"`
	Error           string    `json:"error,omitempty"`
	Reason          string    `json:"reason"`
	OriginalSubject string    `json:"originalSubject,omitempty"`
	OriginalSeq     string    `json:"originalSeq,omitempty"`
	OriginalMsgID   string    `json:"originalMsgId,omitempty"`
	Deliveries      string    `json:"deliveries,omitempty"`
	Replays         int       `json:"replays"`
	ReplayedFrom    string    `json:"replayedFrom,omitempty"`
	Type            string    `json:"type,omitempty"`
	EventID         string    `json:"eventId,omitempty"`
	User            string    `json:"user,omitempty"`

	// failedAt is Vccsync-Failed-At, or the stored time when it is
	// missing or unreadable.
	failedAt time.Time
	// replaysErr says why Vccsync-Replays could not be read.
	replaysErr string
}

// dlqDescribe reads the headers and the body of a DLQ message.
func dlqDescribe(m *dlqMsg) *dlqDesc {
	h := m.header
	d := &dlqDesc{
		Seq: m.seq, Subject: m.subject, Stored: m.stored.UTC(),
		FailedAt:        h.Get(events.HeaderFailedAt),
		Class:           h.Get(events.HeaderErrorClass),
		Error:           h.Get(events.HeaderError),
		OriginalSubject: h.Get(events.HeaderOriginalSubject),
		OriginalSeq:     h.Get(events.HeaderOriginalSequence),
		OriginalMsgID:   h.Get(dlqHeaderOriginalMsgID),
		Deliveries:      h.Get(events.HeaderDeliveries),
		ReplayedFrom:    h.Get(dlqHeaderReplayedFrom),
		failedAt:        m.stored.UTC(),
	}
	if t, err := time.Parse(time.RFC3339Nano, d.FailedAt); err == nil {
		d.failedAt = t.UTC()
	}
	if r := h.Get(dlqHeaderReplays); r != "" {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n < 0 {
			d.Replays, d.replaysErr = -1, fmt.Sprintf("%s %q is not a count", dlqHeaderReplays, r)
		} else {
			d.Replays = n
		}
	}
	var env struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	if json.Unmarshal(m.data, &env) == nil {
		d.Type, d.EventID = env.Type, env.ID
	}
	d.User = dlqSubjectUser(d.OriginalSubject)
	d.Reason = dlqReasonOf(d.Class, d.Error)
	return d
}

// dlqSubjectUser is the user of a subject, as an 18-character key when the
// token is a Salesforce user ID: the token after "user"
// (vccsync.user.<id>.…), else the subject's user token.
func dlqSubjectUser(subject string) string {
	if subject == "" {
		return ""
	}
	tok := strings.Split(subject, ".")
	raw := ""
	for i, t := range tok[:len(tok)-1] {
		if t == "user" {
			raw = tok[i+1]
			break
		}
	}
	if raw == "" && len(tok) >= events.UserIDToken {
		raw = tok[events.UserIDToken-1]
	}
	if k, err := events.UserKey(raw); err == nil {
		return k
	}
	return raw
}

// dlqReasonOf is the histogram key of an error: its first clause (up to the
// first ": " or "; "), after "gave up after N attempts" for an exhausted
// message, with quoted text and words holding digits (IDs, counts, status
// codes) blanked so that the same failure of different users counts once.
func dlqReasonOf(class, msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	if class == events.ClassExhausted && strings.HasPrefix(msg, "gave up after ") {
		if _, rest, ok := strings.Cut(msg, ": "); ok {
			msg = rest
		}
	}
	if i := strings.Index(msg, ": "); i >= 0 {
		msg = msg[:i]
	}
	if i := strings.Index(msg, "; "); i >= 0 {
		msg = msg[:i]
	}
	var b strings.Builder
	inQuote := false
	for i, r := range msg {
		switch {
		case r == '"' && (i == 0 || msg[i-1] != '\\'):
			if !inQuote {
				b.WriteString(`"…"`)
			}
			inQuote = !inQuote
		case !inQuote:
			b.WriteRune(r)
		}
	}
	words := strings.Fields(b.String())
	for i, w := range words {
		if strings.ContainsAny(w, "0123456789") {
			words[i] = "#"
		}
	}
	out := dlqTruncate(strings.Join(words, " "), 60)
	if out == "" {
		return "(no error)"
	}
	return out
}

// dlqTruncate shortens s to n characters, ending in … when cut.
func dlqTruncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// dlqReader reads VCCSYNC_DLQ: ranges with an ordered consumer, a
// sequence given alone with a stream get.
type dlqReader struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	timeout time.Duration
}

// dlqPlan is what a scan reads: ranges and single sequences within the
// stream, the single sequences that are not in it, and the stream's
// message count.
type dlqPlan struct {
	ranges  []dlqSeqRange
	missing []uint64
	msgs    uint64
}

// bounds are the first and last sequence the plan may read.
func (p dlqPlan) bounds() (uint64, uint64) {
	if len(p.ranges) == 0 {
		return 0, 0
	}
	return p.ranges[0].lo, p.ranges[len(p.ranges)-1].hi
}

// plan fixes what a scan reads: the sequences of the filter, or every
// message, up to the last one stored now (messages dead-lettered during
// the scan, such as a replay that failed at once, are not read).
func (r *dlqReader) plan(ctx context.Context, f *dlqFilter) (dlqPlan, error) {
	ictx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	info, err := r.stream.Info(ictx)
	if err != nil {
		return dlqPlan{}, fmt.Errorf("stream %s info: %w", events.DLQStream, err)
	}
	st := info.State
	p := dlqPlan{msgs: st.Msgs}
	if len(f.seqs) == 0 {
		if st.Msgs > 0 {
			p.ranges = []dlqSeqRange{{lo: st.FirstSeq, hi: st.LastSeq}}
		}
		return p, nil
	}
	for _, s := range f.seqs {
		if s.single {
			if st.Msgs == 0 || s.lo < st.FirstSeq || s.lo > st.LastSeq {
				p.missing = append(p.missing, s.lo)
			} else {
				p.ranges = append(p.ranges, s)
			}
			continue
		}
		if st.Msgs == 0 {
			continue
		}
		lo, hi := max(s.lo, st.FirstSeq), min(s.hi, st.LastSeq)
		if lo <= hi {
			p.ranges = append(p.ranges, dlqSeqRange{lo: lo, hi: hi})
		}
	}
	return p, nil
}

// scan reads the messages of the plan in order and calls fn for each one
// that matches the filter; missing is called for a single sequence that is
// not in the stream.
func (r *dlqReader) scan(ctx context.Context, p dlqPlan, f *dlqFilter, fn func(*dlqMsg, *dlqDesc) error, missing func(uint64)) error {
	visit := func(m *dlqMsg) error {
		d := dlqDescribe(m)
		if !f.match(d) {
			return nil
		}
		return fn(m, d)
	}
	ms := p.missing
	for _, rg := range p.ranges {
		for len(ms) > 0 && ms[0] < rg.lo {
			missing(ms[0])
			ms = ms[1:]
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !rg.single {
			if err := r.iterate(ctx, rg.lo, rg.hi, visit); err != nil {
				return err
			}
			continue
		}
		m, err := r.get(ctx, rg.lo)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			missing(rg.lo)
			continue
		}
		if err != nil {
			return err
		}
		if err := visit(m); err != nil {
			return err
		}
	}
	for _, s := range ms {
		missing(s)
	}
	return nil
}

// dlqDirectGetHeaders are the headers a direct get adds to the stored ones.
var dlqDirectGetHeaders = []string{
	jetstream.StreamHeader, jetstream.SequenceHeader, jetstream.TimeStampHeaer,
	jetstream.SubjectHeader, jetstream.LastSequenceHeader, "Nats-Num-Pending",
}

// get reads one message by sequence.
func (r *dlqReader) get(ctx context.Context, seq uint64) (*dlqMsg, error) {
	gctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	m, err := r.stream.GetMsg(gctx, seq)
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("read %s seq %d: %w", events.DLQStream, seq, err)
	}
	h := nats.Header{}
	for k, v := range m.Header {
		h[k] = v
	}
	for _, k := range dlqDirectGetHeaders {
		delete(h, k)
	}
	return &dlqMsg{seq: m.Sequence, subject: m.Subject, stored: m.Time, header: h, data: m.Data}, nil
}

// iterate reads the messages from lo to hi with an ordered consumer.
func (r *dlqReader) iterate(ctx context.Context, lo, hi uint64, fn func(*dlqMsg) error) error {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	cons, err := r.js.OrderedConsumer(cctx, events.DLQStream, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{events.DLQSubjectAll},
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       lo,
		InactiveThreshold: time.Minute,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("read %s: consumer: %w", events.DLQStream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read %s: %w", events.DLQStream, err)
	}
	defer it.Stop()
	last := lo - 1
	for {
		nctx, cancel := context.WithTimeout(ctx, r.timeout)
		msg, err := it.Next(jetstream.NextContext(nctx))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
				return r.checkEnd(ctx, last, hi)
			}
			return fmt.Errorf("read %s after seq %d: %w", events.DLQStream, last, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("read %s after seq %d: %w", events.DLQStream, last, err)
		}
		seq := meta.Sequence.Stream
		if seq > hi {
			return nil
		}
		last = seq
		if err := fn(&dlqMsg{seq: seq, subject: msg.Subject(), stored: meta.Timestamp, header: msg.Headers(), data: msg.Data()}); err != nil {
			return err
		}
		if seq >= hi || meta.NumPending == 0 {
			return nil
		}
	}
}

// checkEnd is called when the consumer delivered nothing for a while: it
// is the end of the range when no message after last is left in it (they
// were deleted meanwhile), an error otherwise.
func (r *dlqReader) checkEnd(ctx context.Context, last, hi uint64) error {
	gctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	next, err := r.stream.GetMsg(gctx, last+1, jetstream.WithGetMsgSubject(events.DLQSubjectAll))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("read %s after seq %d: nothing delivered within %s, and the stream cannot be read: %w", events.DLQStream, last, r.timeout, err)
	case next.Sequence > hi:
		return nil
	}
	return fmt.Errorf("read %s after seq %d: nothing delivered within %s though seq %d is stored", events.DLQStream, last, r.timeout, next.Sequence)
}
