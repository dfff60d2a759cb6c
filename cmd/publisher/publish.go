package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/bridge"
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

			counts, err := bridge.PublishLines(c.Context(), js, in, a.Stdout, bridge.LinesOptions{Timeout: o.timeout, MsgIDSuffix: o.msgIDSuffix})
			if err != nil {
				fmt.Fprintf(a.Stderr, "publisher publish: %s: %v\n", name, err)
			}
			fmt.Fprintln(a.Stderr, counts)
			if err != nil || counts.Rejected > 0 || counts.Failed > 0 {
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
