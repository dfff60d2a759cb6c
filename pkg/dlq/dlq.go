package dlq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/events"
)

// JetStream is what the DLQ needs of a JetStream client: streams to read
// and delete from, ordered consumers to read ranges, and publishing for
// replays. A jetstream.JetStream has it.
type JetStream interface {
	Stream(ctx context.Context, name string) (jetstream.Stream, error)
	OrderedConsumer(ctx context.Context, stream string, cfg jetstream.OrderedConsumerConfig) (jetstream.Consumer, error)
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

var _ JetStream = jetstream.JetStream(nil)

// stream is what the DLQ needs of the VCCSYNC_DLQ stream.
type stream interface {
	Info(ctx context.Context, opts ...jetstream.StreamInfoOpt) (*jetstream.StreamInfo, error)
	GetMsg(ctx context.Context, seq uint64, opts ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error)
	DeleteMsg(ctx context.Context, seq uint64) error
}

var _ stream = jetstream.Stream(nil)

// DefaultTimeout bounds each call to the server when Open is given none.
const DefaultTimeout = 10 * time.Second

// DLQ reads and changes the VCCSYNC_DLQ stream.
type DLQ struct {
	js      JetStream
	stream  stream
	timeout time.Duration
}

// Open looks up VCCSYNC_DLQ. Timeout bounds each call to the server
// (DefaultTimeout when zero or less). The error says what to do when the
// stream is missing (syncworker creates it) or JetStream is not enabled;
// it wraps jetstream.ErrStreamNotFound and the like.
func Open(ctx context.Context, js JetStream, timeout time.Duration) (*DLQ, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	s, err := lookupStream(ctx, js, events.DLQStream, timeout)
	if err != nil {
		return nil, err
	}
	return &DLQ{js: js, stream: s, timeout: timeout}, nil
}

// lookupStream looks up a stream syncworker creates.
func lookupStream(ctx context.Context, js JetStream, name string, timeout time.Duration) (jetstream.Stream, error) {
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := js.Stream(lctx, name)
	switch {
	case err == nil:
		return s, nil
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, &wrapped{fmt.Sprintf("stream %s not found: is syncworker running (it creates the streams)?", name), err}
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return nil, fmt.Errorf("stream %s: JetStream is not enabled on this server (or for this account): %w", name, err)
	}
	return nil, fmt.Errorf("look up stream %s: %w", name, err)
}

// wrapped is an error that says msg and wraps err without repeating it.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// Delete deletes one message of the DLQ.
func (d *DLQ) Delete(ctx context.Context, seq uint64) error {
	dctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	return d.stream.DeleteMsg(dctx, seq)
}

// Plan is what a Scan reads: ranges and single sequences within the
// stream, and the single sequences that are not in it.
type Plan struct {
	// Stored is the number of messages the stream held when planned.
	Stored  uint64
	ranges  []SeqRange
	missing []uint64
}

// Bounds are the first and last sequence the plan may read (0, 0 when it
// reads nothing).
func (p Plan) Bounds() (lo, hi uint64) {
	if len(p.ranges) == 0 {
		return 0, 0
	}
	return p.ranges[0].Lo, p.ranges[len(p.ranges)-1].Hi
}

// Plan fixes what a Scan reads: the sequences of the filter, or every
// message, up to the last one stored now (messages dead-lettered during
// the scan, such as a replay that failed at once, are not read).
func (d *DLQ) Plan(ctx context.Context, f *Filter) (Plan, error) {
	ictx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	info, err := d.stream.Info(ictx)
	if err != nil {
		return Plan{}, fmt.Errorf("stream %s info: %w", events.DLQStream, err)
	}
	st := info.State
	p := Plan{Stored: st.Msgs}
	if len(f.Seqs) == 0 {
		if st.Msgs > 0 {
			p.ranges = []SeqRange{{Lo: st.FirstSeq, Hi: st.LastSeq}}
		}
		return p, nil
	}
	for _, s := range f.Seqs {
		if s.Single {
			if st.Msgs == 0 || s.Lo < st.FirstSeq || s.Lo > st.LastSeq {
				p.missing = append(p.missing, s.Lo)
			} else {
				p.ranges = append(p.ranges, s)
			}
			continue
		}
		if st.Msgs == 0 {
			continue
		}
		lo, hi := max(s.Lo, st.FirstSeq), min(s.Hi, st.LastSeq)
		if lo <= hi {
			p.ranges = append(p.ranges, SeqRange{Lo: lo, Hi: hi})
		}
	}
	return p, nil
}

// Scan reads the messages of the plan in order and calls fn for each one
// that matches the filter; missing is called, in order, for a sequence
// given alone that is not in the stream. An error of fn stops the scan
// and is returned as is; so is the context's error.
func (d *DLQ) Scan(ctx context.Context, p Plan, f *Filter, fn func(*Letter) error, missing func(seq uint64)) error {
	visit := func(m Message) error {
		l := Decode(m)
		if !f.Match(l) {
			return nil
		}
		return fn(l)
	}
	ms := p.missing
	for _, rg := range p.ranges {
		for len(ms) > 0 && ms[0] < rg.Lo {
			missing(ms[0])
			ms = ms[1:]
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !rg.Single {
			if err := d.iterate(ctx, rg.Lo, rg.Hi, visit); err != nil {
				return err
			}
			continue
		}
		m, err := d.get(ctx, rg.Lo)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			missing(rg.Lo)
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

// directGetHeaders are the headers a direct get adds to the stored ones.
var directGetHeaders = []string{
	jetstream.StreamHeader, jetstream.SequenceHeader, jetstream.TimeStampHeaer,
	jetstream.SubjectHeader, jetstream.LastSequenceHeader, "Nats-Num-Pending",
}

// get reads one message by sequence.
func (d *DLQ) get(ctx context.Context, seq uint64) (Message, error) {
	gctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	m, err := d.stream.GetMsg(gctx, seq)
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return Message{}, err
		}
		return Message{}, fmt.Errorf("read %s seq %d: %w", events.DLQStream, seq, err)
	}
	h := nats.Header{}
	for k, v := range m.Header {
		h[k] = v
	}
	for _, k := range directGetHeaders {
		delete(h, k)
	}
	return Message{Seq: m.Sequence, Subject: m.Subject, Stored: m.Time, Header: h, Data: m.Data}, nil
}

// iterate reads the messages from lo to hi with an ordered consumer.
func (d *DLQ) iterate(ctx context.Context, lo, hi uint64, fn func(Message) error) error {
	cctx, cancel := context.WithTimeout(ctx, d.timeout)
	cons, err := d.js.OrderedConsumer(cctx, events.DLQStream, jetstream.OrderedConsumerConfig{
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
		nctx, cancel := context.WithTimeout(ctx, d.timeout)
		msg, err := it.Next(jetstream.NextContext(nctx))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
				return d.checkEnd(ctx, last, hi)
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
		if err := fn(Message{Seq: seq, Subject: msg.Subject(), Stored: meta.Timestamp, Header: msg.Headers(), Data: msg.Data()}); err != nil {
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
func (d *DLQ) checkEnd(ctx context.Context, last, hi uint64) error {
	gctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	next, err := d.stream.GetMsg(gctx, last+1, jetstream.WithGetMsgSubject(events.DLQSubjectAll))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("read %s after seq %d: nothing delivered within %s, and the stream cannot be read: %w", events.DLQStream, last, d.timeout, err)
	case next.Sequence > hi:
		return nil
	}
	return fmt.Errorf("read %s after seq %d: nothing delivered within %s though seq %d is stored", events.DLQStream, last, d.timeout, next.Sequence)
}
