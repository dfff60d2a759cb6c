// Command syncworker is the vccsync daemon: it consumes Salesforce user
// events and admin commands from NATS JetStream and applies them to Vonage
// Contact Center, exactly once in effect.
//
//	flags ─▶ config ─▶ logger, metrics registry
//	              │
//	              ├─ store (bbolt)          <data-dir>/vccsync.db
//	              ├─ NATS: embedded JetStream (<data-dir>/jetstream, 127.0.0.1:4222) or --nats-url
//	              │     └─ streams VCCSYNC + VCCSYNC_DLQ, durable pull consumer
//	              ├─ VCC: --vcc-url, or the in-process sandbox seeded with a demo account
//	              ├─ handlers (mapping) ◀── worker ──▶ store, DLQ
//	              └─ run group: worker · HTTP (/metrics /healthz /readyz) · signals · [demo]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/run"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/vccsync/vccsync/internal/buildinfo"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/metrics"
	"github.com/vccsync/vccsync/pkg/preflight"
	"github.com/vccsync/vccsync/pkg/ratelimit"
	"github.com/vccsync/vccsync/pkg/salesforce"
	"github.com/vccsync/vccsync/pkg/sandbox"
	"github.com/vccsync/vccsync/pkg/store"
	"github.com/vccsync/vccsync/pkg/vcc"
	"github.com/vccsync/vccsync/pkg/worker"
)

func main() {
	tuneGC()
	if err := runMain(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "syncworker:", err)
		os.Exit(1)
	}
}

// options are the flags; every one can also come from VCCSYNC_<NAME> or the
// configuration file.
type options struct {
	config, dataDir                  string
	natsURL, natsListen, natsCreds   string
	natsCA, natsCert, natsKey        string
	natsSync                         string
	httpListen                       string
	vccURL, vccTokenURL, vccRegion   string
	vccClientID, vccSecretFile       string
	vccRate, vccMaxTries             int
	vccRateMin, vccRateMax           int
	vccRetryInitial, vccRetryMax     time.Duration
	vccRetryBudget                   time.Duration
	vccIndexMaxAge, vccTemplateAge   time.Duration
	sandboxListen                    string
	sfSandboxListen                  string
	sfURL, sfTokenURL, sfClientID    string
	sfSecretFile, sfUsername         string
	sfKeyFile, sfJWTAudience         string
	concurrency, batchSize, attempts int
	streamReplicas                   int
	ackWait, dupWindow, retryMax     time.Duration
	retryInitial                     time.Duration
	logFormat, logLevel              string
	demo, leaversFirst               bool
	check, listRegions               bool
	version, pprof                   bool
	vccAcceptMultiAccountArchive     bool
	vccRateSet, dataDirSet           bool
}

func parseFlags(args []string) (*options, *handlers.Mapping, error) {
	var o options
	fs := flag.NewFlagSet("syncworker", flag.ContinueOnError)
	fs.StringVar(&o.config, "config", os.Getenv("VCCSYNC_CONFIG"), "YAML configuration file: any flag by name, plus mapping (env VCCSYNC_CONFIG)")
	fs.StringVar(&o.dataDir, "data-dir", "vccsync-data", "directory for the bbolt state and the embedded JetStream store")
	fs.StringVar(&o.natsURL, "nats-url", "", "NATS server or cluster URL(s); empty starts an embedded JetStream server")
	fs.StringVar(&o.natsListen, "nats-listen", "127.0.0.1:4222", "client address of the embedded NATS server")
	fs.StringVar(&o.natsSync, "nats-sync", "always", "when the embedded JetStream server syncs to disk: always (before every acknowledgement) or an interval such as 2m (faster; an OS crash or power loss can lose what was acknowledged since the last sync)")
	fs.StringVar(&o.natsCreds, "nats-creds", "", "NATS credentials file")
	fs.StringVar(&o.natsCA, "nats-ca", "", "CA certificate for NATS TLS")
	fs.StringVar(&o.natsCert, "nats-cert", "", "client certificate for NATS TLS")
	fs.StringVar(&o.natsKey, "nats-key", "", "client key for NATS TLS")
	fs.StringVar(&o.httpListen, "http-listen", "127.0.0.1:9470", "address of /metrics, /healthz and /readyz")
	fs.StringVar(&o.vccURL, "vcc-url", "", "VCC User Admin API root, e.g. https://emea.api.cc.vonage.com/useradmin; empty with no --vcc-region runs the in-process sandbox")
	fs.StringVar(&o.vccTokenURL, "vcc-token-url", "", "VCC token endpoint, e.g. https://emea.cc.vonage.com/Auth/connect/token")
	fs.StringVar(&o.vccRegion, "vcc-region", "", "VCC region (emea, nam, apac): sets --vcc-url and --vcc-token-url")
	fs.StringVar(&o.vccClientID, "vcc-client-id", "", "VCC API client id")
	fs.StringVar(&o.vccSecretFile, "vcc-client-secret-file", "", "file holding the VCC API client secret (else env VCCSYNC_VCC_CLIENT_SECRET)")
	fs.IntVar(&o.vccRate, "vcc-rate", 160, "VCC requests per minute to start from (Vonage's own figure; the sandbox default is 6000): the limiter backs off on VCC's 429s and probes upward while none come, within --vcc-rate-min and --vcc-rate-max; 0 or less: unlimited")
	fs.IntVar(&o.vccRateMin, "vcc-rate-min", int(ratelimit.DefaultFloor), "fewest VCC requests per minute the adaptive limiter backs off to")
	fs.IntVar(&o.vccRateMax, "vcc-rate-max", int(ratelimit.DefaultCeiling), "most VCC requests per minute the adaptive limiter probes up to (VCC's limit is per account: lower it to leave room for other integrations)")
	fs.IntVar(&o.vccMaxTries, "vcc-max-tries", vcc.DefaultMaxTries, "requests one VCC call may send, retries of transient failures (5xx, 429, network) included; 1: no retry")
	fs.DurationVar(&o.vccRetryInitial, "vcc-retry-initial", vcc.DefaultRetryInitial, "wait before a VCC call's first retry (doubles each time, at least VCC's Retry-After)")
	fs.DurationVar(&o.vccRetryMax, "vcc-retry-max", vcc.DefaultRetryMax, "longest wait between two tries of a VCC call")
	fs.DurationVar(&o.vccRetryBudget, "vcc-retry-budget", vcc.DefaultRetryBudget, "longest time one VCC call spends trying; then the message is retried later as a whole")
	fs.DurationVar(&o.vccIndexMaxAge, "vcc-index-max-age", handlers.DefaultUserIndexMaxAge, "how long the listing of the VCC account's users (usernames and agent IDs in use, every page) is trusted before a create lists it again; a refused create lists it at once")
	fs.DurationVar(&o.vccTemplateAge, "vcc-template-max-age", handlers.DefaultTemplateMaxAge, "how long a template user and its lists, once read, are reused for creates before they are read again")
	fs.StringVar(&o.sfURL, "sf-url", "", "Salesforce instance URL (e.g. https://acme.my.salesforce.com), for contact-center membership and aliases")
	fs.StringVar(&o.sfTokenURL, "sf-token-url", "", "Salesforce OAuth token endpoint (default <sf-url>/services/oauth2/token)")
	fs.StringVar(&o.sfClientID, "sf-client-id", "", "Salesforce connected app consumer key")
	fs.StringVar(&o.sfSecretFile, "sf-client-secret-file", "", "file holding the connected app's secret (else env VCCSYNC_SF_CLIENT_SECRET)")
	fs.StringVar(&o.sfUsername, "sf-username", "", "Salesforce integration user, for the JWT bearer flow")
	fs.StringVar(&o.sfKeyFile, "sf-private-key-file", "", "PEM RSA key of the connected app's certificate: use the JWT bearer flow")
	fs.StringVar(&o.sfJWTAudience, "sf-jwt-audience", salesforce.DefaultJWTAudience, "aud of the JWT bearer assertion: https://login.salesforce.com, or https://test.salesforce.com for a sandbox org; never the org's My Domain, whatever --sf-token-url is")
	fs.StringVar(&o.sfSandboxListen, "sf-sandbox-listen", "127.0.0.1:0", "address of the in-process Salesforce sandbox (when no Salesforce endpoint is configured)")
	fs.StringVar(&o.sandboxListen, "sandbox-listen", "127.0.0.1:0", "address of the in-process VCC sandbox (when no VCC endpoint is configured)")
	fs.IntVar(&o.concurrency, "concurrency", 16, "users applied in parallel")
	fs.IntVar(&o.batchSize, "batch-size", 256, "messages per pull request, and the most recorded in one bbolt commit")
	fs.BoolVar(&o.leaversFirst, "leavers-first", true, "take access changes (deactivations, and reactivations reverting them) on a consumer of their own, ahead of a backlog of other changes")
	fs.IntVar(&o.attempts, "max-attempts", 10, "failed attempts of a transiently failing message before it is dead-lettered (exhausted)")
	fs.DurationVar(&o.ackWait, "ack-wait", 30*time.Second, "JetStream AckWait of the consumer")
	fs.IntVar(&o.streamReplicas, "stream-replicas", 1, "replicas of the VCCSYNC and VCCSYNC_DLQ streams (3 on a three-node JetStream cluster)")
	fs.DurationVar(&o.dupWindow, "duplicate-window", 2*time.Minute, "JetStream duplicate window of the VCCSYNC stream")
	fs.DurationVar(&o.retryInitial, "retry-initial", time.Second, "delay before the first retry of a transient failure (doubles each time)")
	fs.DurationVar(&o.retryMax, "retry-max", 5*time.Minute, "longest delay between retries")
	fs.StringVar(&o.logFormat, "log-format", "auto", "auto (console on a terminal, else JSON), json or console")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&o.demo, "demo", false, "publish the demo story after start and print the per-user results (without --data-dir, in a temporary directory removed on exit)")
	fs.BoolVar(&o.version, "version", false, "print the build (module version, VCS revision, Go version) and exit")
	fs.BoolVar(&o.pprof, "pprof", false, "serve Go's profiler at /debug/pprof/ on --http-listen (opt-in: it exposes the process's internals; keep the listener private)")
	fs.BoolVar(&o.check, "check", false, "run the start-up checks (VCC token and reads, template users, region GUIDs, Salesforce), print one line per check and exit 0 when all pass, 1 otherwise")
	fs.BoolVar(&o.listRegions, "list-regions", false, "print the outboundTelephonyRegion GUIDs VCC's users carry, to fill in mapping.telephonyRegions, and exit")
	fs.BoolVar(&o.vccAcceptMultiAccountArchive, "vcc-accept-archive-multiple-accounts", false, "archive a VCC user who belongs to several VCC accounts in all of them (VCC's acceptArchiveInMultipleAccounts); without it such an archive is refused and dead-lettered with VCC's reason")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	m, err := loadConfig(fs, o.config)
	if err != nil {
		return nil, nil, err
	}
	o.vccRateSet = isSet(fs, "vcc-rate")
	o.dataDirSet = isSet(fs, "data-dir")
	return &o, m, nil
}

func runMain(args []string) error {
	o, mapping, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log, err := newLogger(o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	switch {
	case o.version:
		fmt.Println("syncworker", buildinfo.Read())
		return nil
	case o.check:
		return runCheck(o, mapping, log, os.Stdout)
	case o.listRegions:
		return runListRegions(o, mapping, log, os.Stdout)
	}

	var demo *demoRun
	var observe func(worker.Outcome)
	if o.demo {
		if !o.dataDirSet {
			// A demo without --data-dir keeps nothing: its data go to a
			// temporary directory removed when it stops.
			if o.dataDir, err = os.MkdirTemp("", "vccsync-demo."); err != nil {
				return fmt.Errorf("demo data directory: %w", err)
			}
			defer func() { _ = os.RemoveAll(o.dataDir) }()
		}
		demo = newDemo(log)
		observe = demo.observe
	}
	sys, err := newSystem(o, mapping, log, observe)
	if err != nil {
		return err
	}
	defer sys.close()

	if demo != nil {
		if err := demoEndpoints(os.Stdout, o, sys); err != nil {
			return err
		}
	}
	log.Info("syncworker running", zap.Int("concurrency", o.concurrency), zap.Int("batch_size", o.batchSize))
	err = sys.run(log, demo)
	if errors.Is(err, run.ErrSignal) {
		log.Info("stopped", zap.String("reason", err.Error()))
		return nil
	}
	return err
}

// run runs the worker, the HTTP server, the start-up checks and, when
// given, the demo story, until a signal or one of them fails.
func (sys *system) run(log *zap.Logger, demo *demoRun) error {
	var g run.Group
	{
		ctx, cancel := context.WithCancel(context.Background())
		g.Add(func() error { return sys.worker.Run(ctx) }, func(error) { cancel() })
	}
	g.Add(func() error {
		if err := sys.http.Serve(sys.httpLn); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}, func(error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sys.http.Shutdown(ctx)
	})
	{
		ctx, cancel := context.WithCancel(context.Background())
		g.Add(func() error { sys.preflight(ctx, log); <-ctx.Done(); return nil }, func(error) { cancel() })
	}
	if demo != nil {
		ctx, cancel := context.WithCancel(context.Background())
		g.Add(func() error { demo.run(ctx, sys.js, sys.targets.sfServer, os.Stdout); <-ctx.Done(); return nil }, func(error) { cancel() })
	}
	g.Add(run.SignalHandler(context.Background(), syscall.SIGINT, syscall.SIGTERM))
	return g.Run()
}

// system is every part of a running syncworker, wired.
type system struct {
	db      *store.DB
	natsURL string
	js      jetstream.JetStream
	worker  *worker.Worker[handlers.State]
	checks  *preflight.Suite // the start-up checks, for /readyz
	targets *targets
	metrics *metrics.Metrics
	http    *http.Server
	httpLn  net.Listener
	closers []func() // in reverse order of opening
}

// preflight runs the start-up checks, logs each result, and re-runs the
// failed ones every 30s until they pass; /readyz names each check that has
// not passed.
func (s *system) preflight(ctx context.Context, log *zap.Logger) {
	report := func(r preflight.Result) {
		switch {
		case r.Err == nil:
			log.Info("start-up check passed", zap.String("check", r.Name), zap.String("detail", r.Detail))
		case r.OK():
			log.Warn("start-up check passed with a warning", zap.String("check", r.Name), zap.Error(r.Err))
		default:
			log.Error("start-up check failed: not ready until it passes (re-checked every 30s)", zap.String("check", r.Name), zap.Error(r.Err))
		}
	}
	for _, r := range s.checks.Run(ctx) {
		report(r)
	}
	s.checks.Watch(ctx, 30*time.Second, report)
}

func (s *system) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// vccConfig returns the VCC client configuration: real endpoints when
// configured, else an in-process sandbox seeded with the demo account.
func vccConfig(o *options, log *zap.Logger) (vcc.Config, func(), error) {
	cfg := vcc.Config{BaseURL: o.vccURL, TokenURL: o.vccTokenURL, ClientID: o.vccClientID, RatePerMinute: o.vccRate,
		MaxTries: o.vccMaxTries, RetryInitial: o.vccRetryInitial, RetryMax: o.vccRetryMax, RetryBudget: o.vccRetryBudget,
		AcceptArchiveInMultipleAccounts: o.vccAcceptMultiAccountArchive}
	if o.vccRate <= 0 {
		cfg.RatePerMinute = -1 // the client's "unlimited"; its 0 means "default"
	}
	if o.vccRegion != "" {
		base, token, err := vcc.RegionURLs(o.vccRegion)
		if err != nil {
			return cfg, nil, fmt.Errorf("--vcc-region: %w", err)
		}
		if cfg.BaseURL == "" {
			cfg.BaseURL = base
		}
		if cfg.TokenURL == "" {
			cfg.TokenURL = token
		}
	}
	if cfg.BaseURL != "" {
		secret, err := readSecret(o.vccSecretFile, "VCCSYNC_VCC_CLIENT_SECRET")
		if err != nil {
			return cfg, nil, err
		}
		cfg.ClientSecret = secret
		return cfg, func() {}, nil
	}
	sb := sandbox.NewVCC(sandbox.VCCOptions{})
	if err := sb.SeedDemo(); err != nil {
		return cfg, nil, fmt.Errorf("seed VCC sandbox: %w", err)
	}
	url, stop, err := sb.Start(o.sandboxListen)
	if err != nil {
		return cfg, nil, fmt.Errorf("VCC sandbox: %w", err)
	}
	log.Warn("NO VCC ENDPOINT CONFIGURED: using the in-process VCC SANDBOX with a demo account; nothing reaches a real contact center",
		zap.String("sandbox_url", url))
	cfg.BaseURL, cfg.TokenURL = url+"/useradmin", url+"/Auth/connect/token"
	cfg.ClientID, cfg.ClientSecret = sandbox.DemoClientID, sandbox.DemoClientSecret
	if !o.vccRateSet {
		cfg.RatePerMinute = 6000 // the sandbox has no fair-usage limit to respect
	}
	return cfg, func() { _ = stop() }, nil
}

// parseSync reads --nats-sync: "always" is 0, else a positive duration.
func parseSync(v string) (time.Duration, error) {
	if strings.EqualFold(strings.TrimSpace(v), "always") {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--nats-sync %q: want always or a positive duration such as 2m", v)
	}
	return d, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	var port int
	if _, err := fmt.Sscan(p, &port); err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	return host, port, nil
}

// newLogger builds the zap logger: JSON in production, console on a terminal.
func newLogger(format, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	terminal := false
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		terminal = true
	}
	if format == "auto" {
		format = "json"
		if terminal {
			format = "console"
		}
	}
	var cfg zap.Config
	switch format {
	case "json":
		cfg = zap.NewProductionConfig()
	case "console":
		cfg = zap.NewDevelopmentConfig()
		cfg.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
		if terminal { // colour only where it is shown, never in a file or journal
			cfg.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
		cfg.Development = false
	default:
		return nil, fmt.Errorf("--log-format: %q, want auto, json or console", format)
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.EncoderConfig.EncodeTime = zapcore.TimeEncoderOfLayout("2006-01-02T15:04:05.000Z07:00") // RFC 3339, milliseconds
	return cfg.Build()
}
