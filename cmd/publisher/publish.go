package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
)

const publishLong = `Publishes events to the VCCSYNC stream, one CloudEvents JSON document per
line (JSON Lines), read from FILE or, with -, from stdin. Blank lines and
lines starting with # are skipped; a line may be up to 4 MiB long.

Each line is checked against the wire contract (events.Parse) first; an
invalid line is reported and not published. A valid event is published on
its subject (vccsync.user.<18-character user ID>.changed or .cmd.<action>)
with Nats-Msg-Id = its id, and publisher waits for the stream's
acknowledgement before the next line. An id the stream has already seen
within its duplicate window (2 minutes by default) is stored once and
reported as duplicate.

One line per event on stdout:
  published line=3 id=ID subject=SUBJECT seq=17
  duplicate line=4 id=ID subject=SUBJECT seq=17   (seq of the stored copy)
  rejected line=5: VALIDATION ERROR
  failed line=6 id=ID: PUBLISH ERROR
and a summary on stderr: N published, N duplicate, N rejected, N failed.

--msg-id-suffix S publishes with Nats-Msg-Id = id+S (reported as msg-id=...):
use it to publish an event again on purpose, within the duplicate window
(e.g. a replay). The event and its id are unchanged, so syncworker's ledger
still recognises an event it has already applied.

Exit status: 0 when nothing was rejected or failed, 1 otherwise (or when
NATS or the stream is unusable), 2 for a usage error or unreadable FILE.

The stream must exist: syncworker creates it; publisher never does.`

// publishOptions are the flags of publish.
type publishOptions struct {
	timeout     time.Duration
	msgIDSuffix string
}

// publishCounts are the outcomes of one publish run.
type publishCounts struct {
	published, duplicate, rejected, failed int
}

func (c publishCounts) String() string {
	return fmt.Sprintf("%d published, %d duplicate, %d rejected, %d failed", c.published, c.duplicate, c.rejected, c.failed)
}

// publishCommand is `publisher publish FILE|-`.
func publishCommand(a *cli.App) *cobra.Command {
	var o publishOptions
	c := &cobra.Command{
		Use:   "publish [flags] FILE|-",
		Short: "publish events from a JSON Lines file (or stdin) to JetStream",
		Long:  publishLong,
		Args: func(_ *cobra.Command, pos []string) error {
			switch {
			case len(pos) == 0:
				return cli.Usagef("missing FILE (or - for stdin)")
			case len(pos) > 1:
				return cli.Usagef("one FILE expected, got %d arguments: %q", len(pos), pos)
			}
			return nil
		},
		RunE: func(c *cobra.Command, pos []string) error {
			if o.timeout <= 0 {
				return cli.Usagef("--timeout %s: must be positive", o.timeout)
			}
			in, name, closeInput, err := openInput(pos[0], a.Stdin)
			if err != nil {
				return cli.Usage(err)
			}
			defer closeInput()
			nc, js, err := a.NATS.Stream(c.Context(), a.Stderr, o.timeout)
			if err != nil {
				return cli.Fail(err)
			}
			defer nc.Close()

			counts, err := publishLines(c.Context(), js, in, a.Stdout, o)
			if err != nil {
				fmt.Fprintf(a.Stderr, "publisher publish: %s: %v\n", name, err)
			}
			fmt.Fprintln(a.Stderr, counts)
			if err != nil || counts.rejected > 0 || counts.failed > 0 {
				return cli.Exit(cli.ExitFail)
			}
			return nil
		},
	}
	c.Flags().DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for the stream's acknowledgement of each event")
	c.Flags().StringVar(&o.msgIDSuffix, "msg-id-suffix", "", "publish with Nats-Msg-Id = event id + `S`, to publish again within the duplicate window")
	return c
}

// openInput opens FILE, or stdin for "-".
func openInput(arg string, stdin io.Reader) (io.Reader, string, func(), error) {
	if arg == "-" {
		return stdin, "stdin", func() {}, nil
	}
	f, err := os.Open(arg)
	if err != nil {
		return nil, "", nil, fmt.Errorf("open input: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, "", nil, fmt.Errorf("open input: %w", err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, "", nil, fmt.Errorf("open input: %s is a directory", arg)
	}
	return f, arg, func() { _ = f.Close() }, nil
}

// publishLines validates and publishes each line of in, writing one line
// per event to out. The error is a read error or an interruption; what
// happened to each event is in the counts and the output.
func publishLines(ctx context.Context, js jetstream.JetStream, in io.Reader, out io.Writer, o publishOptions) (publishCounts, error) {
	var c publishCounts
	lines := newLineReader(in, maxLineBytes)
	for {
		if err := ctx.Err(); err != nil {
			return c, fmt.Errorf("interrupted after line %d: the lines after it were not read", lines.n)
		}
		line, n, err := lines.next()
		var tooLong *lineTooLongError
		switch {
		case errors.Is(err, io.EOF):
			return c, nil
		case errors.As(err, &tooLong):
			c.rejected++
			fmt.Fprintf(out, "rejected line=%d: %v\n", n, err)
			continue
		case err != nil:
			return c, err
		}
		if skipLine(line) {
			continue
		}

		env, subject, err := validate(line)
		if err != nil {
			c.rejected++
			fmt.Fprintf(out, "rejected line=%d: %v\n", n, err)
			continue
		}
		msgID := env.ID + o.msgIDSuffix
		ids := "id=" + cli.Value(env.ID)
		if o.msgIDSuffix != "" {
			ids += " msg-id=" + cli.Value(msgID)
		}

		pctx, cancel := context.WithTimeout(ctx, o.timeout)
		res, err := bus.PublishWithID(pctx, js, env, msgID)
		cancel()
		switch {
		case err != nil:
			c.failed++
			fmt.Fprintf(out, "failed line=%d %s: %v\n", n, ids, err)
		case res.Duplicate:
			c.duplicate++
			fmt.Fprintf(out, "duplicate line=%d %s subject=%s seq=%d\n", n, ids, cli.Value(subject), res.Sequence)
		default:
			c.published++
			fmt.Fprintf(out, "published line=%d %s subject=%s seq=%d\n", n, ids, cli.Value(subject), res.Sequence)
		}
	}
}

// validate checks a line against the wire contract and returns the envelope
// to publish and its NATS subject. The envelope's subject is put in its
// 18-character form, so that every event of a user travels on one subject
// (and lands in one partition) whichever form the source used. The result
// is decoded once more as syncworker will receive it, on its subject, so
// that nothing is published that the worker would dead-letter as poison.
func validate(line []byte) (events.Envelope, string, error) {
	ev, err := events.Parse(line)
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
