package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/bridge"
	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
)

// Defaults and bounds of serve's flags.
const (
	serveDefaultListen  = "127.0.0.1:8443"
	serveDefaultPath    = "/salesforce/outbound"
	serveDefaultMaxBody = 1 << 20
	serveDefaultTimeout = 30 * time.Second
	// serveSalesforceWait is how long Salesforce waits for the answer.
	serveSalesforceWait = 60 * time.Second
	serveMinTokenLength = 16
	serveMaxMaxBody     = 64 << 20
	serveMinMaxBody     = 1 << 10
)

const serveLong = `Serves the endpoint Salesforce sends Outbound Messages on User to (SOAP 1.1
over HTTP POST), and publishes every notification to the VCCSYNC stream as a
salesforce.user.changed event:
  id       the notification Id (04l…), also the Nats-Msg-Id: a notification
           Salesforce delivers again is a duplicate
  source   salesforce/outbound-message/<first 15 characters of the org ID>
  subject  the user ID in its 18-character form
  data     the fields the outbound message definition sends: an absent
           field is unknown, an xsi:nil one null

Each POST to --path is answered with the first of:
  405  not a POST
  401  no valid credentials: Authorization: Bearer TOKEN or ?token=TOKEN
       (--auth-token-file), or basic auth (--basic-auth-file; Salesforce
       sends it for an endpoint URL https://USER:PASSWORD@host/…)
  413  a body larger than --max-body
  400  not an outbound message on User; the fault says what is wrong and
       where; nothing is published
  403  an OrganizationId that no --org-id allows (first 15 characters)
  500  a publish failed or timed out: Salesforce sends the whole message
       again (what was stored already is a duplicate then)
  200  the SOAP Ack, once the stream has acknowledged every notification
Every refusal is a SOAP Fault (text/xml); Salesforce shows its faultstring
in the outbound message queue. A deleted record (an sObject without data) is
skipped: Salesforce deactivates users, it never deletes them. A user that
breaks a rule of the wire contract (say, a non-numeric NVM Agent Id) is
published all the same, so that the message's other notifications go
through: syncworker dead-letters it with the reason.

Every request is answered within --timeout (Salesforce waits 60 seconds).
One log line per message on stderr: organization, notifications, outcome;
never user names or email addresses. GET /healthz answers ok while NATS is
connected; GET /metrics serves the Prometheus metrics (vccsync_outbound_…,
vccsync_bridge_publish_duration_seconds): expose only --path to the
internet. SIGINT or SIGTERM stops accepting, lets the requests in flight
finish, and exits 0.

Salesforce posts to HTTPS endpoints only: give --tls-cert and --tls-key, or
put a TLS proxy in front. The endpoint URL to configure is then e.g.
  https://vccsync.acme.example:8443/salesforce/outbound?token=TOKEN
The stream must exist: syncworker creates it; publisher never does.

Exit status: 0 stopped by a signal, 1 could not listen or serve, 2 usage
error (including unreadable certificate or secret files).`

// serveOptions are the flags of serve.
type serveOptions struct {
	nats      cli.NATS
	listen    string
	path      string
	orgs      serveOrgAllowlist
	tokenFile string
	basicFile string
	tlsCert   string
	tlsKey    string
	clientCA  string
	maxBody   serveByteSize
	timeout   time.Duration
	logFormat string
}

func (o *serveOptions) register(fs *pflag.FlagSet) {
	o.maxBody = serveDefaultMaxBody
	fs.StringVar(&o.listen, "listen", serveDefaultListen, "listen on `ADDR` (host:port)")
	fs.StringVar(&o.path, "path", serveDefaultPath, "URL `path` Salesforce posts to")
	fs.Var(&o.orgs, "org-id", "Salesforce organization `ID` (00D…) whose messages are accepted; repeat it, or separate IDs with commas, for several (env VCCSYNC_SF_ORG_ID); required")
	fs.StringVar(&o.tokenFile, "auth-token-file", "", "`file` holding the shared token, at least 16 characters (env VCCSYNC_OUTBOUND_TOKEN_FILE; else the token in env VCCSYNC_OUTBOUND_TOKEN)")
	fs.StringVar(&o.basicFile, "basic-auth-file", "", "`file` holding user:password for basic auth (env VCCSYNC_OUTBOUND_BASIC_AUTH_FILE; else env VCCSYNC_OUTBOUND_BASIC_AUTH)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate `file` (chain) to serve HTTPS with (env VCCSYNC_OUTBOUND_TLS_CERT)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key `file` of --tls-cert (env VCCSYNC_OUTBOUND_TLS_KEY)")
	fs.StringVar(&o.clientCA, "tls-client-ca", "", "PEM `file` of the certificates a client certificate must chain to (the one the outbound message definition sends); when given, clients without one are refused (env VCCSYNC_OUTBOUND_TLS_CLIENT_CA)")
	fs.Var(&o.maxBody, "max-body", "largest request body accepted: `size` in bytes, or with KiB or MiB (e.g. 512KiB)")
	fs.DurationVar(&o.timeout, "timeout", serveDefaultTimeout, "bound on each request, from reading it to the acknowledgement of its last publish; below Salesforce's 60s")
	fs.StringVar(&o.logFormat, "log-format", "auto", "log format: json, console, or auto (console on a terminal, else json) (env VCCSYNC_LOG_FORMAT)")
	cli.MarkSettings(fs, "log-format")
	for name, env := range map[string]string{
		"org-id": "VCCSYNC_SF_ORG_ID", "auth-token-file": "VCCSYNC_OUTBOUND_TOKEN_FILE", "basic-auth-file": "VCCSYNC_OUTBOUND_BASIC_AUTH_FILE",
		"tls-cert": "VCCSYNC_OUTBOUND_TLS_CERT", "tls-key": "VCCSYNC_OUTBOUND_TLS_KEY", "tls-client-ca": "VCCSYNC_OUTBOUND_TLS_CLIENT_CA",
	} {
		cli.MarkSettingEnv(fs, name, env)
	}
}

// serveConfig is what serve runs with, checked: the options and the
// secrets read from their files or the environment.
type serveConfig struct {
	o    serveOptions
	auth bridge.Auth
	tls  *tls.Config
}

// check checks the options and reads the secrets and certificates; it
// returns every problem found.
func (o *serveOptions) check(getenv func(string) string) (*serveConfig, []string) {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(o.orgs.ids) == 0 {
		add("--org-id is required: the Salesforce organization ID (00D…) whose outbound messages are accepted")
	}
	if !strings.HasPrefix(o.path, "/") || strings.ContainsAny(o.path, "?# \t") {
		add("--path %q: want an absolute URL path such as %s", o.path, serveDefaultPath)
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		add("--listen %q: want host:port, e.g. %s", o.listen, serveDefaultListen)
	}
	if o.timeout <= 0 || o.timeout >= serveSalesforceWait {
		add("--timeout %s: must be positive and below Salesforce's 60s wait", o.timeout)
	}
	if o.maxBody < serveMinMaxBody || o.maxBody > serveMaxMaxBody {
		add("--max-body %s: must be between %s and %s", o.maxBody, serveByteSize(serveMinMaxBody), serveByteSize(serveMaxMaxBody))
	}
	switch o.logFormat {
	case "auto", "json", "console":
	default:
		add("--log-format %q: want auto, json or console", o.logFormat)
	}

	cfg := &serveConfig{o: *o}
	token, tokenErr := serveReadToken(o.tokenFile, getenv)
	if tokenErr != nil {
		problems = append(problems, tokenErr.Error())
	}
	basic, basicErr := serveReadBasicAuth(o.basicFile, getenv)
	if basicErr != nil {
		problems = append(problems, basicErr.Error())
	}
	if tokenErr == nil && basicErr == nil && token == "" && basic == "" {
		add("give --auth-token-file or --basic-auth-file (or both): the organization ID alone does not authenticate Salesforce")
	}
	cfg.auth = bridge.NewAuth(token, basic)
	var err error
	if cfg.tls, err = serveTLSConfig(o.tlsCert, o.tlsKey, o.clientCA); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return cfg, nil
}

// serveReadToken reads the shared token from its file, else from
// VCCSYNC_OUTBOUND_TOKEN; "" when neither is given.
func serveReadToken(path string, getenv func(string) string) (string, error) {
	token, from := getenv("VCCSYNC_OUTBOUND_TOKEN"), "env VCCSYNC_OUTBOUND_TOKEN"
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("--auth-token-file: %w", err)
		}
		token, from = string(b), "--auth-token-file "+path
	}
	token = strings.TrimSpace(token)
	switch {
	case path == "" && token == "":
		return "", nil
	case token == "":
		return "", fmt.Errorf("%s: empty", from)
	case len(token) < serveMinTokenLength:
		return "", fmt.Errorf("%s: the token has %d characters, want at least %d", from, len(token), serveMinTokenLength)
	case strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return "", fmt.Errorf("%s: the token holds white space or control characters", from)
	}
	return token, nil
}

// serveReadBasicAuth reads user:password from its file, else from
// VCCSYNC_OUTBOUND_BASIC_AUTH; "" when neither is given.
func serveReadBasicAuth(path string, getenv func(string) string) (string, error) {
	v, from := getenv("VCCSYNC_OUTBOUND_BASIC_AUTH"), "env VCCSYNC_OUTBOUND_BASIC_AUTH"
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("--basic-auth-file: %w", err)
		}
		v, from = string(b), "--basic-auth-file "+path
	}
	v = strings.TrimRight(v, "\r\n")
	if path == "" && v == "" {
		return "", nil
	}
	user, pass, ok := strings.Cut(v, ":")
	switch {
	case !ok || user == "" || pass == "":
		return "", fmt.Errorf("%s: want one line user:password, with neither empty", from)
	case strings.ContainsAny(v, "\r\n"):
		return "", fmt.Errorf("%s: want one line user:password", from)
	}
	return user + ":" + pass, nil
}

// serveTLSConfig loads the server certificate and, when given, the client
// CAs. nil when TLS is not asked for.
func serveTLSConfig(certFile, keyFile, clientCA string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		if clientCA != "" {
			return nil, errors.New("--tls-client-ca needs --tls-cert and --tls-key: client certificates are checked over HTTPS")
		}
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, errors.New("--tls-cert and --tls-key go together; give both or neither")
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if clientCA != "" {
		b, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--tls-client-ca %s: no PEM certificate in it", clientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// serveOrgAllowlist is the repeatable --org-id: the first 15 characters of each
// organization ID.
type serveOrgAllowlist struct {
	ids []string
}

func (l *serveOrgAllowlist) Type() string { return "org-ids" }

func (l *serveOrgAllowlist) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(l.ids, ",")
}

func (l *serveOrgAllowlist) Set(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		id := strings.TrimSpace(part)
		if _, err := events.NormalizeID(id); err != nil {
			return fmt.Errorf("not a Salesforce organization ID (00D…, 15 or 18 characters): %w", err)
		}
		if !strings.HasPrefix(id, "00D") {
			return fmt.Errorf("%q is not a Salesforce organization ID (00D…): its key prefix is %q", id, id[:3])
		}
		l.ids = append(l.ids, id[:15])
	}
	return nil
}

// serveByteSize is a size flag: bytes, or a number with KiB or MiB.
type serveByteSize int64

func (b serveByteSize) String() string { return sizeString(int(b)) }

func (b serveByteSize) Type() string { return "size" }

func (b *serveByteSize) Set(s string) error {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"B", 1}} {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > serveMaxMaxBody {
		return fmt.Errorf("%q: want bytes, or a number with KiB or MiB (e.g. 1MiB)", s)
	}
	*b = serveByteSize(n * mult)
	return nil
}

// serveLogger logs to w: JSON, or console on a terminal.
func serveLogger(format string, w io.Writer) *zap.Logger {
	if format == "auto" {
		format = "json"
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			format = "console"
		}
	}
	var enc zapcore.Encoder
	if format == "console" {
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeLevel = zapcore.CapitalColorLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	} else {
		enc = zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), zap.InfoLevel))
}

// serveCommand is `publisher serve`: the endpoint of Salesforce's
// outbound messages.
func serveCommand(a *cli.App) *cobra.Command {
	var o serveOptions
	c := &cobra.Command{
		Use:   "serve --org-id ID (--auth-token-file FILE | --basic-auth-file FILE) [flags]",
		Short: "receive Salesforce outbound messages (SOAP over HTTPS) and publish them",
		Long:  serveLong,
		Args:  cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o.nats = a.NATS
			cfg, problems := o.check(a.Getenv)
			if len(problems) > 0 {
				return cli.Problems(problems)
			}
			log := serveLogger(o.logFormat, a.Stderr)
			defer func() { _ = log.Sync() }()
			if err := serveOutbound(c.Context(), cfg, log); err != nil {
				log.Error("publisher serve stopped", zap.Error(err))
				return cli.Exit(cli.ExitFail)
			}
			return nil
		},
	}
	o.register(c.Flags())
	_ = c.RegisterFlagCompletionFunc("log-format", cobra.FixedCompletions([]cobra.Completion{"auto", "json", "console"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// serveOutbound runs the listener until ctx is done.
//
//	Salesforce ──POST SOAP──▶ listener ──▶ bridge.Outbound (auth, size, decode, org) ──Publish──▶ VCCSYNC
//	           ◀──Ack────────                  after every PubAck
//	Prometheus ──GET /metrics──▶ listener;  probes ──GET /healthz──▶ ok while NATS is connected
func serveOutbound(ctx context.Context, cfg *serveConfig, log *zap.Logger) error {
	o := cfg.o
	nc, err := bus.Connect(bus.ConnectConfig{
		URL: o.nats.URL, Name: o.nats.Name + "-serve", CredsFile: o.nats.Creds,
		CACert: o.nats.CA, ClientCert: o.nats.Cert, ClientKey: o.nats.Key,
		Logger: log, RetryOnFailedConnect: true,
	})
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if err := cli.CheckStream(ctx, js, 5*time.Second); err != nil {
		log.Warn("publishing will fail until the stream exists", zap.Error(err))
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := bridge.NewMetrics(reg)
	if err != nil {
		return err
	}
	h, err := bridge.NewOutbound(bridge.OutboundConfig{
		OrgIDs: o.orgs.ids, Auth: cfg.auth, MaxBody: int64(o.maxBody), Timeout: o.timeout,
		Publisher: bridge.JetStream(js), Logger: log, Metrics: m,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	defer ln.Close()
	routes := serveRoutes(o.path, h, func() error {
		if s := nc.Status(); s != nats.CONNECTED {
			return fmt.Errorf("nats: %s", s)
		}
		return nil
	}, promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	return serveListener(ctx, cfg, ln, routes, log)
}

// serveRoutes sends path to h, GET (and HEAD) /healthz to health (200 ok,
// or 503 with the error) and /metrics to metrics, anything else to 404.
// The path is compared as given: it is no ServeMux pattern.
func serveRoutes(path string, h http.Handler, health func() error, metrics http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		get := r.Method == http.MethodGet || r.Method == http.MethodHead
		switch {
		case r.URL.Path == path:
			h.ServeHTTP(w, r)
		case r.URL.Path == "/healthz" && get:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if err := health(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, err)
				return
			}
			fmt.Fprintln(w, "ok")
		case r.URL.Path == "/metrics" && get && metrics != nil:
			metrics.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// serveListener serves h on ln until ctx is done, then lets the requests
// in flight finish.
func serveListener(ctx context.Context, cfg *serveConfig, ln net.Listener, h http.Handler, log *zap.Logger) error {
	o := cfg.o
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         cfg.tls,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       o.timeout,
		WriteTimeout:      o.timeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(log.With(zap.String("component", "http"))),
	}
	scheme := "http"
	if cfg.tls != nil {
		scheme = "https"
	} else if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() {
		log.Warn("serving plain HTTP on a non-loopback address: Salesforce posts to HTTPS only; give --tls-cert and --tls-key or put a TLS proxy in front")
	}
	auth := cfg.auth.Methods()
	if cfg.tls != nil && cfg.tls.ClientCAs != nil {
		auth = append(auth, "client-certificate")
	}
	log.Info("serving Salesforce outbound messages",
		zap.String("url", scheme+"://"+ln.Addr().String()+o.path),
		zap.Strings("org_ids", o.orgs.ids),
		zap.Strings("auth", auth),
		zap.String("max_body", o.maxBody.String()),
		zap.Duration("timeout", o.timeout))

	done := make(chan error, 1)
	go func() {
		if cfg.tls != nil {
			done <- srv.ServeTLS(ln, "", "")
		} else {
			done <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("stopping: finishing the requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), o.timeout+5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still in flight at shutdown were cut", zap.Error(err))
		_ = srv.Close()
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}
