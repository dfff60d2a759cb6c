package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/preflight"
	"github.com/vccsync/vccsync/pkg/ratelimit"
	"github.com/vccsync/vccsync/pkg/salesforce"
	"github.com/vccsync/vccsync/pkg/sandbox"
	"github.com/vccsync/vccsync/pkg/vcc"
)

// targets are the clients of the systems vccsync writes to, with the
// mapping: real endpoints when configured, else the in-process sandboxes
// and their demo mapping.
type targets struct {
	vcc     *vcc.Client
	sf      *salesforce.Client // nil: Salesforce is not configured
	mapping handlers.Mapping
	closers []func()

	// The in-process sandboxes' endpoints and demo credentials, when used.
	vccSandbox, sfSandbox *sandboxEndpoint
	sfServer              *sandbox.Salesforce // the in-process Salesforce sandbox, when used
}

// sandboxEndpoint is an in-process sandbox's address and the demo client
// it accepts.
type sandboxEndpoint struct {
	url, clientID, secret string
}

func (t *targets) close() {
	for i := len(t.closers) - 1; i >= 0; i-- {
		t.closers[i]()
	}
}

// newTargets builds the clients. observer, if not nil, is told about every
// VCC request; rate, if not nil, about every change of the VCC rate limit
// (requests a minute).
func newTargets(o *options, mapping *handlers.Mapping, log *zap.Logger, observer vcc.RequestObserver, rate func(float64)) (_ *targets, err error) {
	t := &targets{}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	vccCfg, closeSandbox, err := vccConfig(o, log)
	if err != nil {
		return nil, err
	}
	t.closers = append(t.closers, closeSandbox)
	vccCfg.Observer = observer
	if o.vccURL == "" && o.vccRegion == "" {
		t.vccSandbox = &sandboxEndpoint{url: strings.TrimSuffix(vccCfg.BaseURL, "/useradmin"), clientID: vccCfg.ClientID, secret: vccCfg.ClientSecret}
	}
	if vccCfg.RatePerMinute > 0 {
		lim, err := ratelimit.NewAdaptive(ratelimit.Config{Initial: float64(vccCfg.RatePerMinute),
			Floor: float64(o.vccRateMin), Ceiling: float64(max(o.vccRateMax, vccCfg.RatePerMinute))})
		if err != nil {
			return nil, fmt.Errorf("--vcc-rate, --vcc-rate-min, --vcc-rate-max: %w", err)
		}
		vccCfg.Limiter = observedLimiter{lim, rate}
		if rate != nil {
			rate(lim.Rate())
		}
	}
	if t.vcc, err = vcc.New(vccCfg); err != nil {
		return nil, fmt.Errorf("vcc client: %w", err)
	}
	if mapping == nil {
		if o.vccURL != "" || o.vccRegion != "" {
			return nil, errors.New("config: no mapping: the configuration file must say which template VCC users to create users from (see README, Configuration)")
		}
		mapping = demoMapping()
	}
	if t.mapping, err = mapping.Normalized(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if mapping.ManagesContactCenters() || o.sfURL != "" || o.sfTokenURL != "" {
		sfCfg, sfServer, closeSF, err := sfClientConfig(o, log)
		if err != nil {
			return nil, err
		}
		t.closers = append(t.closers, closeSF)
		if sfServer != nil {
			t.sfServer = sfServer
			t.sfSandbox = &sandboxEndpoint{url: sfCfg.BaseURL, clientID: sfCfg.ClientID, secret: sfCfg.ClientSecret}
		}
		if t.sf, err = salesforce.NewClient(sfCfg); err != nil {
			return nil, fmt.Errorf("salesforce client: %w", err)
		}
	}
	return t, nil
}

// observedLimiter is the adaptive VCC limiter that reports each change of
// its rate.
type observedLimiter struct {
	*ratelimit.Adaptive
	rate func(float64)
}

func (l observedLimiter) Observe(throttled bool) {
	l.Adaptive.Observe(throttled)
	if l.rate != nil {
		l.rate(l.Rate())
	}
}

// demoMapping is the mapping of the sandboxes' demo account.
func demoMapping() *handlers.Mapping {
	return &handlers.Mapping{DefaultTemplate: sandbox.DemoAgentTemplateUsername,
		Templates: map[string]string{demoSupervisorProfile: sandbox.DemoSupervisorTemplateUsername}, AgentIDStart: 1000,
		ContactCenters:       map[string]string{demoSupervisorProfile: sandbox.DemoSFContactCenterNewYork},
		DefaultContactCenter: sandbox.DemoSFContactCenterLondon,
		TelephonyRegions: map[string]string{
			"EMEA - Primary (11)":  sandbox.DemoRegionEMEAPrimary,
			"EMEA - Secondary (8)": sandbox.DemoRegionEMEASecondary,
			"NAM EAST (Default)":   sandbox.DemoRegionNAMEast,
			"NAM WEST (16)":        sandbox.DemoRegionNAMWest,
			"Singapore (14)":       sandbox.DemoRegionSingapore,
			"Sydney (12)":          sandbox.DemoRegionSydney,
		}}
}

// checks are the start-up checks of the targets (preflight.Startup, the
// suite vccctl check runs too).
func (t *targets) checks() *preflight.Suite {
	var sf preflight.Salesforce
	if t.sf != nil {
		sf = t.sf
	}
	return preflight.Startup(30*time.Second, t.vcc, t.mapping.TemplateUsernames(), t.mapping.TelephonyRegions, sf)
}

// runCheck is syncworker --check: the start-up checks, one line each;
// an error when one fails.
func runCheck(o *options, mapping *handlers.Mapping, log *zap.Logger, out io.Writer) error {
	t, err := newTargets(o, mapping, log, nil, nil)
	if err != nil {
		return err
	}
	defer t.close()
	if !preflight.Print(out, t.checks().Run(context.Background())) {
		return errors.New("check failed")
	}
	return nil
}

// runListRegions is syncworker --list-regions: the telephony-region GUIDs
// VCC's users carry, to fill in mapping.telephonyRegions.
func runListRegions(o *options, mapping *handlers.Mapping, log *zap.Logger, out io.Writer) error {
	t, err := newTargets(o, mapping, log, nil, nil)
	if err != nil {
		return err
	}
	defer t.close()
	used, err := t.vcc.RegionsInUse(context.Background())
	if err != nil {
		return fmt.Errorf("list the regions VCC users carry: %w", err)
	}
	if len(used) == 0 {
		fmt.Fprintln(out, "no VCC user carries an outbound telephony region")
		return nil
	}
	fmt.Fprintln(out, "outboundTelephonyRegion GUIDs in use (map names to them under mapping.telephonyRegions):")
	for _, r := range used {
		configured := ""
		for name, id := range t.mapping.TelephonyRegions {
			if strings.EqualFold(id, r.Region) {
				configured = "  configured as " + name
			}
		}
		fmt.Fprintf(out, "%s  %6d users  e.g. %v%s\n", r.Region, r.Users, r.Examples, configured)
	}
	return nil
}
