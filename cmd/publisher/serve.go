package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
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

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/bridge"
	"github.com/vccsync/vccsync/pkg/bus"
)

// Defaults and bounds of serve's flags.
const (
	serveDefaultListen  = "127.0.0.1:8443"
	serveDefaultPath    = "/salesforce/outbound"
	serveDefaultMaxBody = 1 << 20
	serveDefaultTimeout = 30 * time.Second
	// serveSalesforceWait is how long Salesforce waits for the answer.
	serveSalesforceWait = 60 * time.Second
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
  415  a Content-Type other than text/xml (Salesforce sends SOAP 1.1 as
       text/xml; charset=utf-8); nothing is published
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
	orgs      cli.OrgIDs
	tokenFile string
	basicFile string
	tlsCert   string
	tlsKey    string
	clientCA  string
	maxBody   cli.ByteSize
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
	if len(o.orgs.IDs) == 0 {
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
		add("--max-body %s: must be between %s and %s", o.maxBody, cli.ByteSize(serveMinMaxBody), cli.ByteSize(serveMaxMaxBody))
	}
	switch o.logFormat {
	case "auto", "json", "console":
	default:
		add("--log-format %q: want auto, json or console", o.logFormat)
	}

	cfg := &serveConfig{o: *o}
	token, tokenErr := bridge.ReadToken(o.tokenFile, getenv("VCCSYNC_OUTBOUND_TOKEN"))
	if tokenErr != nil {
		problems = append(problems, tokenErr.Error())
	}
	basic, basicErr := bridge.ReadBasicAuth(o.basicFile, getenv("VCCSYNC_OUTBOUND_BASIC_AUTH"))
	if basicErr != nil {
		problems = append(problems, basicErr.Error())
	}
	if tokenErr == nil && basicErr == nil && token == "" && basic == "" {
		add("give --auth-token-file or --basic-auth-file (or both): the organization ID alone does not authenticate Salesforce")
	}
	cfg.auth = bridge.NewAuth(token, basic)
	var err error
	if cfg.tls, err = bridge.TLSConfig(o.tlsCert, o.tlsKey, o.clientCA); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return cfg, nil
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
			log := cli.Logger(o.logFormat, a.Stderr)
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
		OrgIDs: o.orgs.IDs, Auth: cfg.auth, MaxBody: int64(o.maxBody), Timeout: o.timeout,
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
	routes := bridge.Routes(o.path, h, func() error {
		if s := nc.Status(); s != nats.CONNECTED {
			return fmt.Errorf("nats: %s", s)
		}
		return nil
	}, promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	logServing(cfg, ln, log)
	if err := bridge.Serve(ctx, ln, routes, bridge.ServerConfig{TLS: cfg.tls, Timeout: o.timeout, Log: log}); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// logServing says where and how serve listens, and warns when it serves
// plain HTTP beyond the loopback: Salesforce posts to HTTPS only.
func logServing(cfg *serveConfig, ln net.Listener, log *zap.Logger) {
	o := cfg.o
	scheme := "http"
	if cfg.tls != nil {
		scheme = "https"
	} else if bridge.IsLoopback(ln) {
		log.Warn("serving plain HTTP: Salesforce posts to HTTPS only, so this needs a TLS proxy in front (or --tls-cert and --tls-key)")
	} else {
		log.Warn("serving plain HTTP on a non-loopback address: Salesforce posts to HTTPS only, and tokens and user data cross the network in clear; give --tls-cert and --tls-key or put a TLS proxy in front")
	}
	auth := cfg.auth.Methods()
	if cfg.tls != nil && cfg.tls.ClientCAs != nil {
		auth = append(auth, "client-certificate")
	}
	log.Info("serving Salesforce outbound messages",
		zap.String("url", scheme+"://"+ln.Addr().String()+o.path),
		zap.Strings("org_ids", o.orgs.IDs),
		zap.Strings("auth", auth),
		zap.String("max_body", o.maxBody.String()),
		zap.Duration("timeout", o.timeout))
}
