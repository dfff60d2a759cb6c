package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/vccsync/vccsync/pkg/bridge"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/salesforce"
)

func cdcUsage(w io.Writer, fs func(io.Writer)) {
	fmt.Fprintln(w, `usage: publisher cdc --org-id ID [flags] FILE|-
       publisher cdc --org-id ID --listen ADDR [flags]

Ingests Salesforce Change Data Capture messages for User (UserChangeEvent)
and publishes what they say to the VCCSYNC stream as salesforce.user.changed
events, waiting for the stream's acknowledgement of each.

Input: from FILE or, with -, stdin, either one JSON array of messages or
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

The stream must exist: syncworker creates it; publisher never does.

flags:`)
	fs(w)
}

// cdcSFFlags are the Salesforce REST flags, for gap and overflow events.
type cdcSFFlags struct {
	url, tokenURL, clientID, secretFile string
}

func (s *cdcSFFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.url, "sf-url", os.Getenv("VCCSYNC_SF_URL"), "Salesforce instance `URL`, e.g. https://acme.my.salesforce.com (env VCCSYNC_SF_URL); for gap and overflow events")
	fs.StringVar(&s.tokenURL, "sf-token-url", os.Getenv("VCCSYNC_SF_TOKEN_URL"), "OAuth token `URL`; default <sf-url>/services/oauth2/token (env VCCSYNC_SF_TOKEN_URL)")
	fs.StringVar(&s.clientID, "sf-client-id", os.Getenv("VCCSYNC_SF_CLIENT_ID"), "connected app consumer key (env VCCSYNC_SF_CLIENT_ID)")
	fs.StringVar(&s.secretFile, "sf-client-secret-file", os.Getenv("VCCSYNC_SF_CLIENT_SECRET_FILE"), "`file` holding the connected app consumer secret (env VCCSYNC_SF_CLIENT_SECRET_FILE; else the secret itself in env VCCSYNC_SF_CLIENT_SECRET)")
}

// configured reports whether Salesforce REST access was asked for.
func (s *cdcSFFlags) configured() bool {
	return s.url != "" || s.tokenURL != "" || s.clientID != "" || s.secretFile != ""
}

// client builds the Salesforce REST client; the secret comes from the
// file, else from the environment, never from the command line.
func (s *cdcSFFlags) client(getenv func(string) string) (*salesforce.Client, error) {
	secret := getenv("VCCSYNC_SF_CLIENT_SECRET")
	if s.secretFile != "" {
		b, err := os.ReadFile(s.secretFile)
		if err != nil {
			return nil, fmt.Errorf("--sf-client-secret-file: %w", err)
		}
		secret = strings.TrimRight(string(b), "\r\n")
		if secret == "" {
			return nil, fmt.Errorf("--sf-client-secret-file %s: empty", s.secretFile)
		}
	}
	c, err := salesforce.NewClient(salesforce.Config{BaseURL: s.url, TokenURL: s.tokenURL, ClientID: s.clientID, ClientSecret: secret})
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return c, nil
}

// cdcOptions are the flags of cdc.
type cdcOptions struct {
	nats      natsFlags
	sf        cdcSFFlags
	timeout   time.Duration
	format    string
	schema    string
	ownClient string
	orgID     string
	listen    string
}

func runCDC(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o cdcOptions
	fs := newFlagSet("cdc")
	o.nats.register(fs)
	o.sf.register(fs)
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for the stream's acknowledgement of each event")
	fs.StringVar(&o.format, "format", "detect", "message form: streaming, pubsub or detect (told from each message)")
	fs.StringVar(&o.schema, "schema", "", "Avro schema `file` of UserChangeEvent (JSON), to decode Pub/Sub bitmaps")
	fs.StringVar(&o.ownClient, "own-client", "vccsync", "API client `id` vccsync changes Salesforce with; changes whose changeOrigin names it are ignored (empty: none)")
	fs.StringVar(&o.orgID, "org-id", os.Getenv("VCCSYNC_SF_ORG_ID"), "Salesforce organization `ID` (00D…) the events come from (env VCCSYNC_SF_ORG_ID)")
	fs.StringVar(&o.listen, "listen", "", "serve HTTP on `ADDR` (host:port) instead of reading FILE")
	printUsage := func(w io.Writer) { cdcUsage(w, func(w io.Writer) { printDefaults(w, fs) }) }

	pos, err := parseArgs(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout)
		return exitOK
	case err != nil:
		return usageError(stderr, "cdc", err, printUsage)
	case o.listen == "" && len(pos) == 0:
		return usageError(stderr, "cdc", errors.New("missing FILE (or - for stdin, or --listen ADDR)"), printUsage)
	case o.listen != "" && len(pos) > 0:
		return usageError(stderr, "cdc", fmt.Errorf("--listen serves HTTP: no FILE expected, got %q", pos), printUsage)
	case len(pos) > 1:
		return usageError(stderr, "cdc", fmt.Errorf("one FILE expected, got %d arguments: %q", len(pos), pos), printUsage)
	case o.timeout <= 0:
		return usageError(stderr, "cdc", fmt.Errorf("--timeout %s: must be positive", o.timeout), printUsage)
	}

	cfg, err := o.ingester()
	if err != nil {
		return usageError(stderr, "cdc", err, printUsage)
	}
	if o.sf.configured() {
		c, err := o.sf.client(os.Getenv)
		if err != nil {
			return usageError(stderr, "cdc", err, printUsage)
		}
		cfg.Users = c
	}
	return runCDCWith(ctx, o, cfg, pos, stdin, stdout, stderr, printUsage)
}

// runCDCWith runs cdc with a ready ingester configuration (its Users set
// or not); it adds the publisher and, with --listen, the metrics.
//
//	FILE, stdin ──readCDCInput──▶ bridge.Ingester ──▶ VCCSYNC    one line per message on stdout
//	POST ──▶ bridge.IngestHandler ──┘                             summary on stderr
func runCDCWith(ctx context.Context, o cdcOptions, cfg bridge.IngesterConfig, pos []string, stdin io.Reader, stdout, stderr io.Writer, printUsage func(io.Writer)) int {
	var input io.Reader
	name := ""
	if o.listen == "" {
		r, n, closeInput, err := openInput(pos[0], stdin)
		if err != nil {
			return usageError(stderr, "cdc", err, printUsage)
		}
		defer closeInput()
		input, name = r, n
	}

	nc, js, err := o.nats.stream(ctx, stderr, o.timeout)
	if err != nil {
		fmt.Fprintf(stderr, "publisher cdc: %v\n", err)
		return exitFail
	}
	defer nc.Close()
	cfg.Publisher = bridge.JetStream(js)

	counts := &bridge.Counts{}
	if o.listen != "" {
		return cdcListen(ctx, o.listen, cfg, counts, stdout, stderr)
	}
	in, err := bridge.NewIngester(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "publisher cdc: %v\n", err)
		return exitFail
	}
	err = readCDCInput(ctx, input, func(m cdcMessage) {
		var out bridge.Outcome
		if m.err != nil {
			out = in.Reject(m.err)
		} else {
			out = in.Ingest(ctx, m.body)
		}
		counts.Add(out)
		fmt.Fprintln(stdout, out.Line(m.label))
	})
	if err != nil {
		fmt.Fprintf(stderr, "publisher cdc: %s: %v\n", name, err)
	}
	fmt.Fprintln(stderr, counts)
	if err != nil || counts.Messages(bridge.StatusRejected) > 0 || counts.Messages(bridge.StatusFailed) > 0 {
		return exitFail
	}
	return exitOK
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
