// Command vcc-sandbox runs the in-process VCC User Admin API v4 stand-in of
// package sandbox on its own, for trying the sync worker or a client by hand.
// With -salesforce-listen it also runs the Salesforce stand-in; with
// -outbound-url that org sends outbound messages for its user changes, and
// with -pubsub-listen it serves the org's Pub/Sub API (plaintext gRPC),
// whose /data/UserChangeEvent topic carries change events for them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vccsync/vccsync/pkg/sandbox"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "vcc-sandbox:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("vcc-sandbox", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8090", "address to listen on")
	seedDemo := fs.Bool("seed-demo", true, "seed the demo account (client, callback numbers, template users)")
	tokenLifetime := fs.Duration("token-lifetime", 2*time.Hour, "access token lifetime")
	rateLimit := fs.Int("rate-limit", 0, "VCC's fair-usage limit: requests a minute (sliding window) before 429s without Retry-After; 0: none")
	demoPassword := fs.String("demo-password", "", "password of every demo user at "+sandbox.VCCLoginPath+" (empty: none, every login fails)")
	sfListen := fs.String("salesforce-listen", "", "address of the Salesforce sandbox (empty: not started)")
	outboundURL := fs.String("outbound-url", "", "listener the Salesforce sandbox sends outbound messages to (empty: none)")
	pubsubListen := fs.String("pubsub-listen", "", "address of the Salesforce sandbox's Pub/Sub API, plaintext gRPC (empty: not started; needs -salesforce-listen)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pubsubListen != "" && *sfListen == "" {
		return errors.New("-pubsub-listen needs -salesforce-listen: the Pub/Sub API is the Salesforce sandbox's")
	}
	stop, err := startVCC(*listen, sandbox.VCCOptions{TokenLifetime: *tokenLifetime, RateLimitPerMinute: *rateLimit}, *seedDemo, *demoPassword)
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	stopSF, outboundDone := func() error { return nil }, make(chan error, 1)
	outboundDone <- nil
	if *sfListen != "" {
		if stopSF, err = startSalesforce(ctx, *sfListen, *pubsubListen, *seedDemo, *outboundURL, outboundDone); err != nil {
			return errors.Join(err, stop())
		}
	}
	<-ctx.Done()
	fmt.Println("vcc-sandbox: shutting down")
	<-outboundDone
	return errors.Join(stopSF(), stop())
}

// startVCC starts the VCC sandbox and prints how to reach it.
func startVCC(listen string, opts sandbox.VCCOptions, seedDemo bool, demoPassword string) (func() error, error) {
	vcc := sandbox.NewVCC(opts)
	if seedDemo {
		if err := vcc.SeedDemo(); err != nil {
			return nil, err
		}
		if demoPassword != "" {
			for _, u := range vcc.Users() {
				if err := vcc.SetPassword(u.User.UserID, demoPassword); err != nil {
					return nil, err
				}
			}
		}
	}
	url, stop, err := vcc.Start(listen)
	if err != nil {
		return nil, err
	}
	fmt.Printf("VCC sandbox listening on %s\n", url)
	fmt.Printf("  token endpoint: %s%s\n", url, sandbox.VCCTokenPath)
	fmt.Printf("  API root:       %s%s (Accept: %s)\n", url, sandbox.VCCAPIRoot, sandbox.VCCAcceptV4)
	fmt.Printf("  login:          POST %s%s {\"username\":...,\"password\":...} (locks after %d failures)\n",
		url, sandbox.VCCLoginPath, sandbox.VCCLockAfterFailedLogins)
	if opts.RateLimitPerMinute > 0 {
		fmt.Printf("  fair usage:     %d requests a minute, then 429 without Retry-After\n", opts.RateLimitPerMinute)
	}
	if seedDemo {
		fmt.Printf("  demo client:    id %s, secret %s, scopes %s %s\n",
			sandbox.DemoClientID, sandbox.DemoClientSecret, sandbox.VCCScopeRead, sandbox.VCCScopeWrite)
		fmt.Printf("  templates:      %s, %s\n", sandbox.DemoAgentTemplateUsername, sandbox.DemoSupervisorTemplateUsername)
	}
	return stop, nil
}

// startSalesforce starts the Salesforce sandbox, with pubsubListen its
// Pub/Sub API, and with outboundURL its outbound-message sender, whose end
// is sent on outboundDone (which holds one value to take first).
func startSalesforce(ctx context.Context, listen, pubsubListen string, seedDemo bool, outboundURL string, outboundDone chan error) (func() error, error) {
	sf := sandbox.NewSalesforce(sandbox.SalesforceOptions{})
	if seedDemo {
		if err := sf.SeedDemo(); err != nil {
			return nil, err
		}
	}
	var (
		ps    *sandbox.PubSub
		sfURL string
		stop  func() error
		err   error
	)
	if pubsubListen != "" {
		// Served through the Pub/Sub sandbox, so that the change events of
		// REST writes name the API and the client (changeOrigin).
		ps = sandbox.NewPubSub(sf, sandbox.PubSubOptions{})
		sfURL, stop, err = ps.StartSalesforce(listen)
	} else {
		sfURL, stop, err = sf.Start(listen)
	}
	if err != nil {
		return nil, err
	}
	fmt.Printf("Salesforce sandbox listening on %s (org %s)\n", sfURL, sf.OrgID())
	fmt.Printf("  token endpoint: %s%s\n", sfURL, sandbox.SFTokenPath)
	fmt.Printf("  SSO check:      POST %s%s {\"userId\":...}\n", sfURL, sandbox.SFSSOCheckPath)
	if seedDemo {
		fmt.Printf("  demo client:    id %s, secret %s (client credentials, runs as %s)\n",
			sandbox.DemoSFClientID, sandbox.DemoSFClientSecret, sandbox.DemoSFUsername)
	}
	if ps != nil {
		addr, stopPS, err := ps.Start(pubsubListen)
		if err != nil {
			return nil, errors.Join(err, stop())
		}
		stopSF := stop
		stop = func() error {
			stopPS()
			ps.Close()
			return stopSF()
		}
		fmt.Printf("Salesforce Pub/Sub API sandbox listening on %s (plaintext gRPC, service eventbus.v1.PubSub)\n", addr)
		fmt.Printf("  topic:          %s (schema id %s)\n", sandbox.PubSubTopicUser, ps.SchemaID())
		fmt.Printf("  metadata:       accesstoken (from the token endpoint), instanceurl %s, tenantid %s\n", sfURL, sf.OrgID())
	}
	if outboundURL != "" {
		sender, err := sandbox.NewOutboundSender(sf, sandbox.OutboundOptions{URL: outboundURL})
		if err != nil {
			return nil, errors.Join(err, stop())
		}
		<-outboundDone
		go func() { outboundDone <- sender.Run(ctx) }()
		fmt.Printf("  outbound:       user changes are sent to %s\n", outboundURL)
	}
	return stop, nil
}
