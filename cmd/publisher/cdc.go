package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/bridge"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/pubsub"
	"github.com/vccsync/vccsync/pkg/salesforce"
)

const cdcLong = `Ingests Salesforce Change Data Capture messages for User (UserChangeEvent)
and publishes what they say to the VCCSYNC stream as salesforce.user.changed
events, waiting for the stream's acknowledgement of each.

With --subscribe it subscribes to the topic (--topic, default
/data/UserChangeEvent) with Salesforce's Pub/Sub API (gRPC,
api.pubsub.salesforce.com:7443), logged in with the --sf-* settings: it
fetches each event's Avro schema once, asks for up to 100 events at a time
and more as it publishes them, and stores the replay id of each event in
--replay-file only after the stream acknowledged it, so a restart resumes
right after the last event published. On errors it resubscribes with
backoff from that position. When Salesforce refuses the stored replay id
(older than its 72 hours, or invalid) it says so at error level, goes on
from the latest events and reads every user over REST and publishes their
snapshots, as for an overflow. Events are handled one at a time, in order;
one that cannot be decoded is logged with its replay id and passed over.
--metrics-listen serves /metrics (vccsync_pubsub_…, vccsync_cdc_…) and
/healthz. SIGINT or SIGTERM stops it; exit status 0, 1 when it could not go
on, 2 for a usage error.

Input otherwise: from FILE or, with -, stdin, either one JSON array of messages or
JSON Lines (one message, or an array of messages, per line; blank lines and
lines starting with # are skipped). With --listen, an HTTP endpoint instead:
POST one message or a JSON array of them; the answer comes after every
acknowledgement: 200, 400 with the errors of rejected messages, or 500 when
a publish or a Salesforce read failed (post again: what was published is a
duplicate). GET /healthz answers ok, GET /metrics serves the Prometheus
metrics (vccsync_cdc_…). The endpoint does not authenticate:
bind it to localhost or a private network, next to the CDC subscriber.

A message is either form (--format, default: told from its shape):
  streaming  the Streaming API (CometD) message
             {"channel":"/data/UserChangeEvent","data":{"payload":{…},"event":{…}}}
  pubsub     a Pub/Sub API event payload decoded from Avro into JSON,
             {"ChangeEventHeader":{…},"Username":…}; its changedFields and
             nulledFields are bitmaps over the schema's field positions, so
             give the event's Avro schema (GetSchema's JSON) with --schema.

What each change becomes:
  CREATE, UNDELETE  an event with every field the message has
  UPDATE            an event with the changed fields only; a field is
                    cleared (null) only when nulledFields says so
  several recordIds one event per user, with the same data
  DELETE            ignored: Salesforce users are deactivated, never deleted
  own change        ignored: changeOrigin names --own-client (vccsync's own
                    writes to Salesforce)
  GAP_…             the users are read over REST and published as snapshots
  GAP_OVERFLOW      every user is read over REST and published

Event ids are derived, so ingesting a message again publishes duplicates:
  cdc-<user ID>-<transactionKey>-<sequenceNumber>   a change
  sf-snapshot-<user ID>-<SystemModstamp in ms>      a user read over REST

One line per message on stdout (msg=N for an array element; post=N msg=N
with --listen):
  published line=2 change=UPDATE published=1 duplicate=0 ids=ID
  duplicate line=3 change=UPDATE published=0 duplicate=1 ids=ID
  ignored line=4 change=DELETE: REASON
  gap line=5 change=GAP_UPDATE read=2 published=2 duplicate=0
  overflow line=6 change=GAP_OVERFLOW read=N published=N duplicate=0
  rejected line=7: ERROR
  failed line=8 change=UPDATE published=0 duplicate=0: ERROR
and a summary on stderr.

Exit status: 0 when nothing was rejected or failed, 1 otherwise (or when
NATS or the stream is unusable), 2 for a usage error or unreadable FILE.

The stream must exist: syncworker creates it; publisher never does.`

// cdcOptions are the flags of cdc.
type cdcOptions struct {
	sf        cli.Salesforce
	timeout   time.Duration
	format    string
	schema    string
	ownClient string
	orgID     string
	listen    string
	sub       subscribeOptions
}

// cdcCommand is `publisher cdc FILE|-` and `publisher cdc --listen ADDR`.
func cdcCommand(a *cli.App) *cobra.Command {
	var o cdcOptions
	c := &cobra.Command{
		Use:   "cdc --org-id ID [flags] FILE|-  |  cdc --org-id ID --listen ADDR [flags]  |  cdc --org-id ID --subscribe --sf-… [flags]",
		Short: "ingest Salesforce Change Data Capture for User (Pub/Sub API subscription, file, stdin or HTTP)",
		Long:  cdcLong,
		RunE: func(c *cobra.Command, pos []string) error {
			if o.sub.on {
				return o.subscribe(c.Context(), a, pos)
			}
			switch {
			case o.listen == "" && len(pos) == 0:
				return cli.Usagef("missing FILE (or - for stdin, or --listen ADDR)")
			case o.listen != "" && len(pos) > 0:
				return cli.Usagef("--listen serves HTTP: no FILE expected, got %q", pos)
			case len(pos) > 1:
				return cli.Usagef("one FILE expected, got %d arguments: %q", len(pos), pos)
			case o.timeout <= 0:
				return cli.Usagef("--timeout %s: must be positive", o.timeout)
			}
			cfg, err := o.ingester()
			if err != nil {
				return cli.Usage(err)
			}
			if o.sf.Configured() {
				client, err := o.sf.Client(a.Getenv, a.Stderr)
				if err != nil {
					return cli.Usage(err)
				}
				cfg.Users = client
			}
			return runCDCWith(c.Context(), a, o, cfg, pos)
		},
	}
	fs := c.Flags()
	o.sf.Register(fs, "; for gap and overflow events")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for the stream's acknowledgement of each event")
	fs.StringVar(&o.format, "format", "detect", "message form: streaming, pubsub or detect (told from each message)")
	fs.StringVar(&o.schema, "schema", "", "Avro schema `file` of UserChangeEvent (JSON), to decode Pub/Sub bitmaps")
	fs.StringVar(&o.ownClient, "own-client", "vccsync", "API client `id` vccsync changes Salesforce with; changes whose changeOrigin names it are ignored (empty: none)")
	fs.StringVar(&o.orgID, "org-id", "", "Salesforce organization `ID` (00D…) the events come from (env VCCSYNC_SF_ORG_ID)")
	fs.StringVar(&o.listen, "listen", "", "serve HTTP on `ADDR` (host:port) instead of reading FILE")
	fs.BoolVar(&o.sub.on, "subscribe", false, "subscribe to the change events with Salesforce's Pub/Sub API instead of reading FILE (needs the --sf-* login)")
	fs.StringVar(&o.sub.topic, "topic", pubsub.DefaultTopic, "with --subscribe: the Pub/Sub topic")
	fs.StringVar(&o.sub.addr, "pubsub-addr", pubsub.DefaultAddr, "with --subscribe: the Pub/Sub API endpoint (`host:port`)")
	fs.BoolVar(&o.sub.plaintext, "pubsub-plaintext", false, "with --subscribe: no TLS, for a sandbox on loopback only (the access token would travel in clear)")
	fs.StringVar(&o.sub.replayFile, "replay-file", "vccsync-publisher/replay.db", "with --subscribe: bbolt `file` keeping the replay id of the last event published, to resume after")
	fs.StringVar(&o.sub.start, "start", "latest", "with --subscribe and no stored replay id: start with the events from now on (latest) or the oldest Salesforce keeps (earliest, up to 72 hours)")
	fs.StringVar(&o.sub.metricsAddr, "metrics-listen", "", "with --subscribe: serve GET /metrics and /healthz on `ADDR`")
	cli.MarkSettings(fs, "topic", "pubsub-addr", "replay-file")
	cli.MarkSettingEnv(fs, "org-id", "VCCSYNC_SF_ORG_ID")
	_ = c.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]cobra.Completion{"detect", "streaming", "pubsub"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// subscribe checks the flags of cdc --subscribe and runs it.
func (o *cdcOptions) subscribe(ctx context.Context, a *cli.App, pos []string) error {
	switch {
	case len(pos) > 0:
		return cli.Usagef("--subscribe reads from Salesforce: no FILE expected, got %q", pos)
	case o.listen != "":
		return cli.Usagef("--subscribe and --listen go separately: give --metrics-listen for /metrics and /healthz")
	case o.format != "detect" && o.format != "pubsub":
		return cli.Usagef("--format %s: --subscribe receives the Pub/Sub form", o.format)
	case o.schema != "":
		return cli.Usagef("--schema: --subscribe reads each event's schema from Salesforce")
	case !o.sf.Configured():
		return cli.Usagef("--subscribe needs the Salesforce login: --sf-url (or --sf-token-url), --sf-client-id and the secret or key")
	case o.timeout <= 0:
		return cli.Usagef("--timeout %s: must be positive", o.timeout)
	}
	cfg, err := o.ingester()
	if err != nil {
		return cli.Usage(err)
	}
	client, err := o.sf.Client(a.Getenv, a.Stderr)
	if err != nil {
		return cli.Usage(err)
	}
	return runSubscribe(ctx, a, *o, cfg, client)
}

// runCDCWith runs cdc with a ready ingester configuration (its Users set
// or not); it adds the publisher and, with --listen, the metrics.
//
//	FILE, stdin ──ReadMessages─▶ bridge.Ingester ──▶ VCCSYNC    one line per message on stdout
//	POST ──▶ bridge.IngestHandler ──┘                             summary on stderr
func runCDCWith(ctx context.Context, a *cli.App, o cdcOptions, cfg bridge.IngesterConfig, pos []string) error {
	stdout, stderr := a.Stdout, a.Stderr
	var input io.Reader
	name := ""
	if o.listen == "" {
		r, n, closeInput, err := openInput(pos[0], a.Stdin)
		if err != nil {
			return cli.Usage(err)
		}
		defer closeInput()
		input, name = r, n
	}

	nc, js, err := a.NATS.Stream(ctx, stderr, o.timeout)
	if err != nil {
		return cli.Fail(err)
	}
	defer nc.Close()
	cfg.Publisher = bridge.JetStream(js)

	counts := &bridge.Counts{}
	if o.listen != "" {
		return cdcListen(ctx, o.listen, cfg, counts, stdout, stderr)
	}
	in, err := bridge.NewIngester(cfg)
	if err != nil {
		return cli.Fail(err)
	}
	err = bridge.ReadMessages(ctx, input, func(m bridge.Message) {
		var out bridge.Outcome
		if m.Err != nil {
			out = in.Reject(m.Err)
		} else {
			out = in.Ingest(ctx, m.Body)
		}
		counts.Add(out)
		fmt.Fprintln(stdout, out.Line(m.Label))
	})
	if err != nil {
		fmt.Fprintf(stderr, "publisher cdc: %s: %v\n", name, err)
	}
	fmt.Fprintln(stderr, counts)
	if err != nil || counts.Messages(bridge.StatusRejected) > 0 || counts.Messages(bridge.StatusFailed) > 0 {
		return cli.Exit(cli.ExitFail)
	}
	return nil
}

// ingester checks the decoding flags and builds the ingester's
// configuration, without its publisher and Salesforce client.
func (o *cdcOptions) ingester() (bridge.IngesterConfig, error) {
	format, err := salesforce.ParseCDCFormat(o.format)
	if err != nil {
		return bridge.IngesterConfig{}, fmt.Errorf("--format: %w", err)
	}
	switch org, err := events.NormalizeID(o.orgID); {
	case o.orgID == "":
		return bridge.IngesterConfig{}, errors.New("--org-id is required: the Salesforce organization ID (00D…) the events come from")
	case err != nil:
		return bridge.IngesterConfig{}, fmt.Errorf("--org-id: %w", err)
	case org[:3] != "00D":
		return bridge.IngesterConfig{}, fmt.Errorf("--org-id: %q is not an organization ID (00D…)", o.orgID)
	}
	var schema *salesforce.CDCSchema
	if o.schema != "" {
		b, err := os.ReadFile(o.schema)
		if err != nil {
			return bridge.IngesterConfig{}, fmt.Errorf("--schema: %w", err)
		}
		if schema, err = salesforce.ParseCDCSchema(b); err != nil {
			return bridge.IngesterConfig{}, fmt.Errorf("--schema %s: %w", o.schema, err)
		}
	}
	return bridge.IngesterConfig{
		Decoder: &salesforce.CDCDecoder{OrgID: o.orgID, OwnClient: o.ownClient, Format: format, Schema: schema},
		Timeout: o.timeout,
	}, nil
}
