package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/salesforce"
	"github.com/vccsync/vccsync/pkg/sandbox"
)

// sfContactCenters gives the handlers Salesforce's membership and aliases.
type sfContactCenters struct{ c *salesforce.Client }

var _ handlers.ContactCenters = sfContactCenters{}

func (s sfContactCenters) AddMembers(ctx context.Context, ccID string, userIDs []string) ([]handlers.MemberResult, error) {
	res, err := s.c.AddMembers(ctx, ccID, userIDs)
	out := make([]handlers.MemberResult, len(res))
	for i, r := range res {
		out[i] = handlers.MemberResult{UserID: r.UserID, OK: r.OK, Code: r.Code, Message: r.Message}
	}
	return out, err
}

func (s sfContactCenters) RemoveMember(ctx context.Context, ccID, userID string) error {
	return s.c.RemoveMember(ctx, ccID, userID)
}

func (s sfContactCenters) SetAlias(ctx context.Context, userID, alias string) error {
	return s.c.SetAlias(ctx, userID, alias)
}

// sfClientConfig is the Salesforce client configuration: the configured
// endpoint, or, on the embedded default (no VCC endpoint either), an
// in-process Salesforce sandbox seeded with the demo org, returned too (nil
// for a real endpoint).
func sfClientConfig(o *options, log *zap.Logger) (salesforce.Config, *sandbox.Salesforce, func(), error) {
	cfg, ok, err := sfConfig(o)
	if err != nil || ok {
		return cfg, nil, func() {}, err
	}
	if o.vccURL != "" || o.vccRegion != "" {
		return cfg, nil, nil, errors.New("config: the mapping names contact centers but no Salesforce endpoint is configured (--sf-url and credentials)")
	}
	sb := sandbox.NewSalesforce(sandbox.SalesforceOptions{})
	if err := sb.SeedDemo(); err != nil {
		return cfg, nil, nil, fmt.Errorf("seed Salesforce sandbox: %w", err)
	}
	// publisher's example events continue the demo with these users.
	if err := sb.SeedExampleUsers(); err != nil {
		return cfg, nil, nil, fmt.Errorf("seed Salesforce sandbox: %w", err)
	}
	// The demo story's Alice, who exists in VCC already and is linked.
	if _, err := sb.AddUser(sandbox.SFUser{ID: demoAliceID, Username: sandbox.DemoActiveUsername, Email: sandbox.DemoActiveUsername,
		FirstName: "Alice", LastName: "Archer", Alias: "aarcher", IsActive: true, FederationIdentifier: "aarcher",
		ProfileID: sandbox.DemoSFAgentProfileID, NVMAgentID: "1001", PermissionSets: []string{sandbox.SFPermissionSetAgent}}); err != nil {
		return cfg, nil, nil, fmt.Errorf("seed Salesforce sandbox: %w", err)
	}
	url, stop, err := sb.Start(o.sfSandboxListen)
	if err != nil {
		return cfg, nil, nil, fmt.Errorf("Salesforce sandbox: %w", err)
	}
	log.Warn("NO SALESFORCE ENDPOINT CONFIGURED: using the in-process SALESFORCE SANDBOX with a demo org for contact centers",
		zap.String("sandbox_url", url))
	return salesforce.Config{BaseURL: url, ClientID: sandbox.DemoSFClientID, ClientSecret: sandbox.DemoSFClientSecret},
		sb, func() { _ = stop() }, nil
}

// sfConfig is the Salesforce client configuration from the flags; ok is
// false when no Salesforce endpoint is configured.
func sfConfig(o *options) (cfg salesforce.Config, ok bool, err error) {
	if o.sfURL == "" && o.sfTokenURL == "" {
		return cfg, false, nil
	}
	cfg = salesforce.Config{BaseURL: o.sfURL, TokenURL: o.sfTokenURL, ClientID: o.sfClientID, Username: o.sfUsername, JWTAudience: o.sfJWTAudience}
	if o.sfKeyFile != "" {
		if cfg.PrivateKeyPEM, err = os.ReadFile(o.sfKeyFile); err != nil {
			return cfg, false, fmt.Errorf("--sf-private-key-file: %w", err)
		}
		return cfg, true, nil
	}
	if cfg.ClientSecret, err = readSecret(o.sfSecretFile, "VCCSYNC_SF_CLIENT_SECRET"); err != nil {
		return cfg, false, err
	}
	return cfg, true, nil
}
