package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.yaml.in/yaml/v3"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/reconcile"
	"github.com/vccsync/vccsync/pkg/salesforce"
	"github.com/vccsync/vccsync/pkg/vcc"
)

func reconcileUsage(w io.Writer, fs func(io.Writer)) {
	fmt.Fprintln(w, `usage: publisher reconcile --config FILE [--dry-run] [--json] [--allow-archives]
                           [--archive-threshold 10%] [flags]

Compares every Salesforce user with VCC and with contact-center membership,
classifies each, prints a summary and the plan and, unless --dry-run,
publishes the salesforce.user.changed events that fix the differences (the
user's Salesforce snapshot; syncworker's handlers do the rest).

Read: every Salesforce user (REST), every VCC user, active and archived
(the paged list API), and the members of each contact center the mapping
names. The mapping comes from the configuration file syncworker reads
(--config, its mapping: section); the settings below are read from the
same file under their flag names, unless given as a flag or in the
VCCSYNC_* environment variable. Other settings of the file are ignored.

A Salesforce user matches the VCC user whose username (compared
case-insensitively) is the one the mapping derives (usernameSource), as
the worker matches it. What should differ is what the worker would write
(the same function decides both): username, name, email, ssoExternalId
and active, for archived and departing users too.
Classes:
  in_step       active with an active VCC user of the same username, name,
                email and ssoExternalId, or inactive with an archived or no
                VCC user; and in the right contact center when the mapping
                names contact centers
  differs       a VCC user or membership to change (the fields, old → new);
                an inactive user whose VCC user is active is an archive
  missing       active and in scope, no VCC user: it will be created
  vcc_only      a VCC user whose username no Salesforce user has (template
                users excluded): reported, never changed
  ambiguous     several VCC users match (by username and by email), several
                Salesforce users derive the same username, the only match
                is by email, another VCC user holds the user's NVM Agent Id
                (a create would be refused), or no username can be
                derived: reported only
  out_of_scope  no template for its profile and no default template

Plan: one line per user that is not in step or out of scope:
  differs user=ID username=U vcc_user=V action=update|archive|revert|membership event=E changes="email: a → b; …"
  missing user=ID username=U action=create template=T event=E changes="…"
  ambiguous user=ID username=U: REASON
  vcc_only vcc_user=V username=U active=true|false
Event ids: sf-reconcile-<user ID>-<SystemModstamp in ms>, so publishing the
same state again is a duplicate. After publishing, one line per event
(published user=ID event=E seq=N, duplicate …, failed …: ERROR) and the
totals.

Archive guard: when the planned archives exceed --archive-threshold (a
share of the in-scope users, "10%" or "0.1", or an absolute count, "25"),
reconcile prints the plan, refuses and exits 1, publishing nothing (with
--dry-run too), unless --allow-archives is given. It stops a wrong scope or
a wrong usernameSource from archiving a whole contact center.

Exit status: 0 done (or planned, with --dry-run), 1 refused by the archive
guard, a read or a publish failed, 2 usage or configuration error.

flags:`)
	fs(w)
}

// reconcileOptions are the flags of reconcile.
type reconcileOptions struct {
	nats          natsFlags
	sf            cdcSFFlags
	sfUsername    string
	sfKeyFile     string
	orgID         string
	config        string
	vccURL        string
	vccTokenURL   string
	vccRegion     string
	vccClientID   string
	vccSecretFile string
	vccRate       int
	dryRun        bool
	jsonOut       bool
	allowArchives bool
	threshold     reconcile.Threshold
	timeout       time.Duration
}

// reconcileEnv is the environment variable of a flag: VCCSYNC_<NAME>.
func reconcileEnv(flagName string) string {
	return "VCCSYNC_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func runReconcile(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o := reconcileOptions{}
	_ = o.threshold.Set("10%")
	fs := newFlagSet("reconcile")
	o.nats.register(fs)
	o.sf.register(fs)
	fs.StringVar(&o.sfUsername, "sf-username", os.Getenv("VCCSYNC_SF_USERNAME"), "Salesforce integration user, for the JWT bearer flow (env VCCSYNC_SF_USERNAME)")
	fs.StringVar(&o.sfKeyFile, "sf-private-key-file", os.Getenv("VCCSYNC_SF_PRIVATE_KEY_FILE"), "PEM RSA key of the connected app's certificate: use the JWT bearer flow (env VCCSYNC_SF_PRIVATE_KEY_FILE)")
	fs.StringVar(&o.orgID, "org-id", os.Getenv("VCCSYNC_SF_ORG_ID"), "Salesforce organization `ID` (00D…) named in the events' source; default the host of --sf-url (env VCCSYNC_SF_ORG_ID)")
	fs.StringVar(&o.config, "config", os.Getenv("VCCSYNC_CONFIG"), "syncworker's YAML configuration `file`: the mapping, and any flag below by name (env VCCSYNC_CONFIG)")
	fs.StringVar(&o.vccURL, "vcc-url", os.Getenv("VCCSYNC_VCC_URL"), "VCC User Admin API root, e.g. https://emea.api.cc.vonage.com/useradmin (env VCCSYNC_VCC_URL)")
	fs.StringVar(&o.vccTokenURL, "vcc-token-url", os.Getenv("VCCSYNC_VCC_TOKEN_URL"), "VCC token endpoint (env VCCSYNC_VCC_TOKEN_URL)")
	fs.StringVar(&o.vccRegion, "vcc-region", os.Getenv("VCCSYNC_VCC_REGION"), "VCC region (emea, nam, apac): sets --vcc-url and --vcc-token-url (env VCCSYNC_VCC_REGION)")
	fs.StringVar(&o.vccClientID, "vcc-client-id", os.Getenv("VCCSYNC_VCC_CLIENT_ID"), "VCC API client id (env VCCSYNC_VCC_CLIENT_ID)")
	fs.StringVar(&o.vccSecretFile, "vcc-client-secret-file", os.Getenv("VCCSYNC_VCC_CLIENT_SECRET_FILE"), "`file` holding the VCC API client secret (else env VCCSYNC_VCC_CLIENT_SECRET)")
	fs.IntVar(&o.vccRate, "vcc-rate", 160, "VCC requests per minute; 0 or less: unlimited (env VCCSYNC_VCC_RATE)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the summary and the plan, publish nothing")
	fs.BoolVar(&o.jsonOut, "json", false, "write one JSON document instead of the text output")
	fs.BoolVar(&o.allowArchives, "allow-archives", false, "publish even when the planned archives exceed --archive-threshold")
	fs.Var(&o.threshold, "archive-threshold", "most archives published without --allow-archives: a share of the in-scope users (10% or 0.1) or a count (25)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for the stream's acknowledgement of each event")
	printUsage := func(w io.Writer) { reconcileUsage(w, func(w io.Writer) { printDefaults(w, fs) }) }

	pos, err := parseArgs(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout)
		return exitOK
	case err != nil:
		return usageError(stderr, "reconcile", err, printUsage)
	case len(pos) > 0:
		return usageError(stderr, "reconcile", fmt.Errorf("no arguments expected, got %q", pos), printUsage)
	}
	m, err := reconcileLoadConfig(fs, o.config, os.LookupEnv)
	if err != nil {
		return usageError(stderr, "reconcile", err, printUsage)
	}
	if o.timeout <= 0 {
		return usageError(stderr, "reconcile", fmt.Errorf("--timeout %s: must be positive", o.timeout), printUsage)
	}
	sfc, err := o.sfClient()
	if err != nil {
		return usageError(stderr, "reconcile", err, printUsage)
	}
	vc, err := o.vccClient()
	if err != nil {
		return usageError(stderr, "reconcile", err, printUsage)
	}
	r := &reconciler{m: m, sf: sfc, vcc: vc, source: "salesforce/reconcile/" + o.sourceName()}
	return r.run(ctx, o, stdout, stderr)
}

// reconcileLoadConfig reads the mapping from path and fills every flag of
// fs not given on the command line from its VCCSYNC_* environment
// variable, else from the file's setting of that name. A nats-listen setting (syncworker's embedded server) gives
// --nats-url when nothing else does.
func reconcileLoadConfig(fs *flag.FlagSet, path string, lookupEnv func(string) (string, bool)) (handlers.Mapping, error) {
	if path == "" {
		return handlers.Mapping{}, errors.New("--config: required: the mapping comes from syncworker's configuration file")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return handlers.Mapping{}, fmt.Errorf("config: %w", err)
	}
	var fc struct {
		Settings map[string]any    `yaml:",inline"`
		Mapping  *handlers.Mapping `yaml:"mapping"`
	}
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return handlers.Mapping{}, fmt.Errorf("config %s: %w", path, err)
	}
	if fc.Mapping == nil {
		return handlers.Mapping{}, fmt.Errorf("config %s: no mapping section", path)
	}
	m, err := fc.Mapping.Normalized()
	if err != nil {
		return handlers.Mapping{}, fmt.Errorf("config %s: %w", path, err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	fromFile := func(name string) (string, bool) {
		if given[name] {
			return "", false
		}
		if v, ok := lookupEnv(reconcileEnv(name)); ok && v != "" {
			return "", false
		}
		v, ok := fc.Settings[name]
		if !ok || v == nil {
			return "", false
		}
		return fmt.Sprint(v), true
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" || given[f.Name] {
			return
		}
		if v, ok := lookupEnv(reconcileEnv(f.Name)); ok && v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", reconcileEnv(f.Name), err))
			}
			return
		}
		if v, ok := fromFile(f.Name); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("config %s: %s: %w", path, f.Name, err))
			}
		}
	})
	if fs.Lookup("nats-url") != nil {
		if _, ok := fromFile("nats-url"); !ok {
			if listen, ok := fromFile("nats-listen"); ok && !given["nats-url"] {
				if v, set := lookupEnv(reconcileEnv("nats-url")); !set || v == "" {
					if err := fs.Set("nats-url", "nats://"+listen); err != nil {
						errs = append(errs, err)
					}
				}
			}
		}
	}
	return m, errors.Join(errs...)
}

// sfClient builds the Salesforce REST client: client credentials through
// cdc's flags, or the JWT bearer flow with --sf-private-key-file.
func (o *reconcileOptions) sfClient() (*salesforce.Client, error) {
	if o.sf.url == "" && o.sf.tokenURL == "" {
		return nil, errors.New("reading Salesforce users needs --sf-url (or --sf-token-url), --sf-client-id and a secret or key")
	}
	if o.sfKeyFile == "" {
		return o.sf.client(os.Getenv)
	}
	key, err := os.ReadFile(o.sfKeyFile)
	if err != nil {
		return nil, fmt.Errorf("--sf-private-key-file: %w", err)
	}
	c, err := salesforce.NewClient(salesforce.Config{BaseURL: o.sf.url, TokenURL: o.sf.tokenURL, ClientID: o.sf.clientID, Username: o.sfUsername, PrivateKeyPEM: key})
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return c, nil
}

// vccClient builds the VCC client from the --vcc-* settings.
func (o *reconcileOptions) vccClient() (*vcc.Client, error) {
	cfg := vcc.Config{BaseURL: o.vccURL, TokenURL: o.vccTokenURL, ClientID: o.vccClientID, RatePerMinute: o.vccRate}
	if o.vccRate <= 0 {
		cfg.RatePerMinute = -1
	}
	if o.vccRegion != "" {
		base, token, err := vcc.RegionURLs(o.vccRegion)
		if err != nil {
			return nil, fmt.Errorf("--vcc-region: %w", err)
		}
		if cfg.BaseURL == "" {
			cfg.BaseURL = base
		}
		if cfg.TokenURL == "" {
			cfg.TokenURL = token
		}
	}
	if cfg.BaseURL == "" {
		return nil, errors.New("reading VCC users needs --vcc-url or --vcc-region, --vcc-client-id and the client secret")
	}
	cfg.ClientSecret = os.Getenv("VCCSYNC_VCC_CLIENT_SECRET")
	if o.vccSecretFile != "" {
		b, err := os.ReadFile(o.vccSecretFile)
		if err != nil {
			return nil, fmt.Errorf("--vcc-client-secret-file: %w", err)
		}
		cfg.ClientSecret = strings.TrimSpace(string(b))
	}
	c, err := vcc.New(cfg)
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return c, nil
}

// sourceName is the org ID, else the Salesforce host.
func (o *reconcileOptions) sourceName() string {
	if o.orgID != "" {
		return o.orgID
	}
	for _, raw := range []string{o.sf.url, o.sf.tokenURL} {
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			return u.Host
		}
	}
	return "salesforce"
}

// reconciler reads both sides.
type reconciler struct {
	m      handlers.Mapping // normalized
	sf     *salesforce.Client
	vcc    *vcc.Client
	source string
}

// jsPublisher publishes to JetStream with the event id as message id.
type jsPublisher struct{ js jetstream.JetStream }

func (p jsPublisher) Publish(ctx context.Context, env events.Envelope) (uint64, bool, error) {
	ack, err := bus.Publish(ctx, p.js, env)
	if err != nil {
		return 0, false, err
	}
	return ack.Sequence, ack.Duplicate, nil
}

// run reads, classifies, prints and, when asked, publishes.
func (r *reconciler) run(ctx context.Context, o reconcileOptions, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "publisher reconcile: %v\n", err)
		return exitFail
	}
	var js jetstream.JetStream
	if !o.dryRun {
		nc, err := o.nats.connect(stderr)
		if err != nil {
			return fail(err)
		}
		defer nc.Close()
		if js, err = jetstream.New(nc); err != nil {
			return fail(fmt.Errorf("jetstream: %w", err))
		}
		if err := checkStream(ctx, js, o.timeout); err != nil {
			return fail(err)
		}
	}
	in, err := reconcile.Read(ctx, r.m, r.sf, r.vcc)
	if err != nil {
		return fail(err)
	}
	rep := reconcile.Classify(r.m, in)
	if err := rep.BuildEvents(r.source); err != nil {
		return fail(err)
	}
	rep.Judge(o.threshold, o.allowArchives)
	rep.DryRun = o.dryRun
	if !o.jsonOut {
		rep.WriteText(stdout)
	}
	code := exitOK
	switch {
	case rep.Guard.Exceeded && !o.allowArchives:
		fmt.Fprintf(stderr, "publisher reconcile: refused: the plan archives %d users, more than the threshold %s; check the mapping's scope and usernameSource, then give --allow-archives (or a higher --archive-threshold)\n",
			rep.Guard.Archives, o.threshold.Describe(rep.InScope))
		code = exitFail
	case o.dryRun:
		fmt.Fprintf(stderr, "publisher reconcile: dry run: %d events planned, nothing published\n", rep.Planned())
	default:
		rep.Publish(ctx, jsPublisher{js}, o.timeout, func(res reconcile.Published) {
			if !o.jsonOut {
				fmt.Fprintln(stdout, res.Line())
			}
		})
		if !o.jsonOut {
			fmt.Fprintf(stdout, "total published=%d duplicate=%d failed=%d\n", rep.Published.Published, rep.Published.Duplicate, rep.Published.Failed)
		}
		if rep.Published.Failed > 0 {
			code = exitFail
		}
	}
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fail(err)
		}
	}
	return code
}
