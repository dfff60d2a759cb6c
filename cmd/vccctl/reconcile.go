package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/reconcile"
	"github.com/vccsync/vccsync/pkg/salesforce"
	"github.com/vccsync/vccsync/pkg/vcc"
)

const reconcileLong = `Compares every Salesforce user with VCC and with contact-center membership,
classifies each, prints a summary and the plan and, unless --dry-run,
publishes the salesforce.user.changed events that fix the differences (the
user's Salesforce snapshot; syncworker's handlers do the rest).

Read: every Salesforce user (REST), every VCC user, active and archived
(the paged list API), and the members of each contact center the mapping
names. The mapping comes from the configuration file syncworker reads
(--config, its mapping: section); the settings below are read from the
same file under their flag names, unless given as a flag or in the
VCCSYNC_* environment variable (--org-id: VCCSYNC_SF_ORG_ID). Other
settings of the file are ignored.

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
guard, a read or a publish failed, 2 usage or configuration error.`

// reconcileOptions are the flags of reconcile.
type reconcileOptions struct {
	sf            cli.Salesforce
	vcc           vccSettings
	orgID         string
	dryRun        bool
	jsonOut       bool
	allowArchives bool
	threshold     thresholdFlag
	timeout       time.Duration
}

// thresholdFlag is --archive-threshold.
type thresholdFlag struct{ reconcile.Threshold }

func (thresholdFlag) Type() string { return "threshold" }

// reconcileCommand is `vccctl reconcile`: compare every Salesforce user
// with VCC (pkg/reconcile), print the plan, publish the fixes.
func reconcileCommand(a *cli.App) *cobra.Command {
	o := &reconcileOptions{}
	_ = o.threshold.Set("10%")
	c := &cobra.Command{
		Use:   "reconcile --config FILE [--dry-run] [--json] [--allow-archives] [--archive-threshold 10%]",
		Short: "compare every Salesforce user with VCC, print the plan, publish the fixes",
		Long:  reconcileLong,
		Args:  cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			m, err := loadMapping(a)
			if err != nil {
				return cli.Usage(err)
			}
			if o.timeout <= 0 {
				return cli.Usagef("--timeout %s: must be positive", o.timeout)
			}
			if o.sf.URL == "" && o.sf.TokenURL == "" {
				return cli.Usagef("reading Salesforce users needs --sf-url (or --sf-token-url), --sf-client-id and a secret or key")
			}
			sfc, err := o.sf.Client(a.Getenv, a.Stderr)
			if err != nil {
				return cli.Usage(err)
			}
			vc, err := o.vcc.client(a.Getenv)
			if err != nil {
				return cli.Usage(err)
			}
			r := &reconciler{m: m, sf: sfc, vcc: vc, source: events.SourceReconcile + o.sourceName()}
			return r.run(c.Context(), a, o)
		},
	}
	fs := c.Flags()
	o.sf.Register(fs, "")
	o.sf.RegisterJWT(fs)
	o.vcc.register(fs)
	fs.StringVar(&o.orgID, "org-id", "", "Salesforce organization `ID` (00D…) named in the events' source; default the host of --sf-url (env VCCSYNC_SF_ORG_ID)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the summary and the plan, publish nothing")
	fs.BoolVar(&o.jsonOut, "json", false, "write one JSON document instead of the text output")
	fs.BoolVar(&o.allowArchives, "allow-archives", false, "publish even when the planned archives exceed --archive-threshold")
	fs.Var(&o.threshold, "archive-threshold", "most archives published without --allow-archives: a share of the in-scope users (10% or 0.1) or a count (25)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for the stream's acknowledgement of each event")
	// Every flag of reconcile is a setting, as it has always been.
	cli.MarkSettings(fs, "dry-run", "json", "allow-archives", "archive-threshold", "timeout")
	cli.MarkSettingEnv(fs, "org-id", "VCCSYNC_SF_ORG_ID")
	return c
}

// sourceName is the org ID, else the Salesforce host.
func (o *reconcileOptions) sourceName() string {
	if o.orgID != "" {
		return o.orgID
	}
	for _, raw := range []string{o.sf.URL, o.sf.TokenURL} {
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
func (r *reconciler) run(ctx context.Context, a *cli.App, o *reconcileOptions) error {
	stdout, stderr := a.Stdout, a.Stderr
	fail := cli.Fail
	var js jetstream.JetStream
	if !o.dryRun {
		nc, sjs, err := a.NATS.Stream(ctx, stderr, o.timeout)
		if err != nil {
			return fail(err)
		}
		defer nc.Close()
		js = sjs
	}
	in, err := reconcile.Read(ctx, r.m, r.sf, r.vcc)
	if err != nil {
		return fail(err)
	}
	rep := reconcile.Classify(r.m, in)
	if err := rep.BuildEvents(r.source); err != nil {
		return fail(err)
	}
	rep.Judge(o.threshold.Threshold, o.allowArchives)
	rep.DryRun = o.dryRun
	if !o.jsonOut {
		rep.WriteText(stdout)
	}
	code := cli.ExitOK
	switch {
	case rep.Guard.Exceeded && !o.allowArchives:
		fmt.Fprintf(stderr, "vccctl reconcile: refused: the plan archives %d users, more than the threshold %s; check the mapping's scope and usernameSource, then give --allow-archives (or a higher --archive-threshold)\n",
			rep.Guard.Archives, o.threshold.Describe(rep.InScope))
		code = cli.ExitFail
	case o.dryRun:
		fmt.Fprintf(stderr, "vccctl reconcile: dry run: %d events planned, nothing published\n", rep.Planned())
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
			code = cli.ExitFail
		}
	}
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fail(err)
		}
	}
	return cli.Exit(code)
}
