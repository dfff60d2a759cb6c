package preflight_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/preflight"
	"github.com/vccsync/vccsync/pkg/sandbox"
	"github.com/vccsync/vccsync/pkg/vcc"
)

// demo starts the VCC sandbox with the demo account and returns a client
// with the given secret.
func demo(t *testing.T, secret string) (*sandbox.VCC, *vcc.Client) {
	t.Helper()
	sb := sandbox.NewVCC(sandbox.VCCOptions{})
	if err := sb.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	url, stop, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	c, err := vcc.New(vcc.Config{BaseURL: url + "/useradmin", TokenURL: url + "/Auth/connect/token",
		ClientID: sandbox.DemoClientID, ClientSecret: secret, RatePerMinute: -1, MaxTries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return sb, c
}

var demoRegions = map[string]string{"EMEA - Primary (11)": sandbox.DemoRegionEMEAPrimary}

func TestChecksPassOnTheDemoAccount(t *testing.T) {
	_, c := demo(t, sandbox.DemoClientSecret)
	s := preflight.New(10*time.Second,
		preflight.VCCAccess(c),
		preflight.Templates(c, []string{sandbox.DemoAgentTemplateUsername, sandbox.DemoSupervisorTemplateUsername}),
		preflight.Regions(c, demoRegions))
	var out bytes.Buffer
	if !preflight.Print(&out, s.Run(context.Background())) {
		t.Fatalf("checks failed on the demo account:\n%s", out.String())
	}
	for _, name := range s.Names() {
		if !strings.Contains(out.String(), "ok    "+name) {
			t.Errorf("no ok line for %s:\n%s", name, out.String())
		}
	}
	// The template's lists are counted in full, past VCC's default page of 25.
	if !strings.Contains(out.String(), sandbox.DemoAgentTemplateUsername+" (Agent)") {
		t.Errorf("template line missing:\n%s", out.String())
	}
	if len(s.Failed()) != 0 {
		t.Errorf("Failed() = %v after every check passed", s.Failed())
	}
}

func TestChecksNameWhatFails(t *testing.T) {
	_, c := demo(t, "not-the-secret")
	s := preflight.New(10*time.Second, preflight.VCCAccess(c), preflight.Templates(c, []string{"nobody@example.com"}))
	if err := s.Err(preflight.NameVCCAccess); err != preflight.ErrNotRun {
		t.Fatalf("Err before any run = %v, want ErrNotRun", err)
	}
	var out bytes.Buffer
	if preflight.Print(&out, s.Run(context.Background())) {
		t.Fatalf("checks passed with a wrong secret:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "FAIL  "+preflight.NameVCCAccess) || !strings.Contains(out.String(), "invalid_client") {
		t.Errorf("want a FAIL line naming the check and VCC's invalid_client:\n%s", out.String())
	}
	if got := s.Failed(); len(got) != 2 {
		t.Errorf("Failed() = %v, want both checks", got)
	}
}

func TestMissingTemplateFailsUntilItExists(t *testing.T) {
	sb, c := demo(t, sandbox.DemoClientSecret)
	const name = "template.late@demo.example"
	s := preflight.New(10*time.Second, preflight.Templates(c, []string{sandbox.DemoAgentTemplateUsername, name}))
	s.Run(context.Background())
	err := s.Err(preflight.NameTemplates)
	if err == nil || !strings.Contains(err.Error(), name) {
		t.Fatalf("Err = %v, want the missing template named", err)
	}
	if err := preflight.TemplatesExist(context.Background(), c, []string{name}); err == nil {
		t.Fatal("TemplatesExist passed for a missing template")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	rerunFailed := make(chan struct{}, 1)
	var reruns []preflight.Result
	go func() {
		defer close(done)
		s.Watch(ctx, 20*time.Millisecond, func(r preflight.Result) {
			reruns = append(reruns, r)
			if !r.OK() {
				select {
				case rerunFailed <- struct{}{}:
				default:
				}
			}
		})
	}()
	select {
	case <-rerunFailed:
	case <-ctx.Done():
		t.Fatal("Watch did not re-run the failing check")
	}
	rec := sandbox.VCCUserRecord{User: sandbox.VCCUser{Username: name, Name: "Late Template", Email: name, Active: true,
		Config: sandbox.VCCAccountConfig{Role: sandbox.VCCRoleSupervisor}}}
	if _, err := sb.AddUser(rec); err != nil {
		t.Fatal(err)
	}
	<-done
	if ctx.Err() != nil {
		t.Fatal("Watch did not return once the template existed")
	}
	if err := s.Err(preflight.NameTemplates); err != nil {
		t.Fatalf("Err after the template was created = %v", err)
	}
	if len(reruns) < 2 || reruns[0].OK() || !reruns[len(reruns)-1].OK() {
		t.Errorf("re-runs: want failures then a pass, got %d results", len(reruns))
	}
}

func TestUnseenRegionIsAWarning(t *testing.T) {
	_, c := demo(t, sandbox.DemoClientSecret)
	s := preflight.New(10*time.Second, preflight.Regions(c, map[string]string{
		"EMEA - Primary (11)": sandbox.DemoRegionEMEAPrimary,
		"Sydney (12)":         "0f0f0f0f-0000-4000-8000-000000000012",
	}))
	var out bytes.Buffer
	if !preflight.Print(&out, s.Run(context.Background())) {
		t.Fatalf("an unseen region failed the suite:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "warn  "+preflight.NameRegions) || !strings.Contains(out.String(), "0f0f0f0f-0000-4000-8000-000000000012") {
		t.Errorf("want a warning naming the unseen GUID:\n%s", out.String())
	}
}
