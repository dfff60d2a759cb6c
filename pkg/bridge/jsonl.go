package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
)

// LinesOptions tune PublishLines.
type LinesOptions struct {
	// Timeout bounds the wait for each event's acknowledgement.
	Timeout time.Duration
	// MsgIDSuffix, when not empty, is appended to each event's id to make
	// its Nats-Msg-Id, so that an event is stored again within the
	// stream's duplicate window. The event and its id are unchanged.
	MsgIDSuffix string
}

// LineCounts are the outcomes of one PublishLines run.
type LineCounts struct {
	Published, Duplicate, Rejected, Failed int
}

func (c LineCounts) String() string {
	return fmt.Sprintf("%d published, %d duplicate, %d rejected, %d failed", c.Published, c.Duplicate, c.Rejected, c.Failed)
}

// PublishLines reads CloudEvents JSON documents, one per line, from in;
// checks each against the wire contract as syncworker will decode it
// (CheckEvent) and publishes it to js with Nats-Msg-Id = its id (plus
// MsgIDSuffix), waiting for the stream's acknowledgement before the next
// line. Blank lines and # comments are skipped. It writes one line per
// event to out:
//
//	published line=3 id=ID subject=SUBJECT seq=17
//	duplicate line=4 id=ID subject=SUBJECT seq=17   (seq of the stored copy)
//	rejected line=5: VALIDATION ERROR
//	failed line=6 id=ID: PUBLISH ERROR
//
// The error is a read error or an interruption; what happened to each
// event is in the counts and the output.
func PublishLines(ctx context.Context, js jetstream.JetStream, in io.Reader, out io.Writer, o LinesOptions) (LineCounts, error) {
	var c LineCounts
	lines := NewLineReader(in, MaxLineBytes)
	for {
		if err := ctx.Err(); err != nil {
			return c, fmt.Errorf("interrupted after line %d: the lines after it were not read", lines.N())
		}
		line, n, err := lines.Next()
		var tooLong *LineTooLongError
		switch {
		case errors.Is(err, io.EOF):
			return c, nil
		case errors.As(err, &tooLong):
			c.Rejected++
			fmt.Fprintf(out, "rejected line=%d: %v\n", n, err)
			continue
		case err != nil:
			return c, err
		}
		if SkipLine(line) {
			continue
		}

		env, subject, err := CheckEvent(line)
		if err != nil {
			c.Rejected++
			fmt.Fprintf(out, "rejected line=%d: %v\n", n, err)
			continue
		}
		msgID := env.ID + o.MsgIDSuffix
		ids := "id=" + quote(env.ID)
		if o.MsgIDSuffix != "" {
			ids += " msg-id=" + quote(msgID)
		}

		pctx, cancel := context.WithTimeout(ctx, o.Timeout)
		res, err := bus.PublishWithID(pctx, js, env, msgID)
		cancel()
		switch {
		case err != nil:
			c.Failed++
			fmt.Fprintf(out, "failed line=%d %s: %v\n", n, ids, err)
		case res.Duplicate:
			c.Duplicate++
			fmt.Fprintf(out, "duplicate line=%d %s subject=%s seq=%d\n", n, ids, quote(subject), res.Sequence)
		default:
			c.Published++
			fmt.Fprintf(out, "published line=%d %s subject=%s seq=%d\n", n, ids, quote(subject), res.Sequence)
		}
	}
}

// CheckEvent checks one CloudEvents JSON document against the wire
// contract and returns the envelope to publish and its NATS subject. The
// envelope's subject is put in its 18-character form, so that every event
// of a user travels on one subject (and lands in one partition) whichever
// form the source used. The result is decoded once more as syncworker
// will receive it, on its subject, so that nothing is published that the
// worker would dead-letter as poison.
func CheckEvent(doc []byte) (events.Envelope, string, error) {
	ev, err := events.Parse(doc)
	if err != nil {
		return events.Envelope{}, "", err
	}
	env := ev.Envelope
	env.Subject = ev.UserKey
	subject, err := env.NATSSubject()
	if err != nil {
		return events.Envelope{}, "", err
	}
	body, err := env.Marshal()
	if err != nil {
		return events.Envelope{}, "", fmt.Errorf("encode: %w", err)
	}
	if _, err := events.Decode(subject, body); err != nil {
		return events.Envelope{}, "", err
	}
	return env, subject, nil
}
