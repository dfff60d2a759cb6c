package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"

	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/sandbox"
)

// TestDemoConfigWorksAsWritten: the demo.yaml a --demo run writes loads as
// a configuration, and the start-up checks pass against the sandbox with it.
func TestDemoConfigWorksAsWritten(t *testing.T) {
	_, url := demoVCC(t)
	m, err := (&handlers.Mapping{DefaultTemplate: sandbox.DemoAgentTemplateUsername, AgentIDStart: 1000,
		TelephonyRegions: demoMapping().TelephonyRegions}).Normalized()
	if err != nil {
		t.Fatal(err)
	}
	tg := &targets{mapping: m, vccSandbox: &sandboxEndpoint{url: url, clientID: sandbox.DemoClientID, secret: sandbox.DemoClientSecret}}
	path, err := writeDemoConfig(t.TempDir(), "nats://127.0.0.1:4222", tg)
	if err != nil {
		t.Fatal(err)
	}
	o, got, err := parseFlags([]string{"--config", path})
	if err != nil {
		t.Fatal(err)
	}
	if o.vccURL != url+"/useradmin" || o.vccClientID != sandbox.DemoClientID || o.natsURL != "nats://127.0.0.1:4222" {
		t.Errorf("settings: vcc-url %q client %q nats %q", o.vccURL, o.vccClientID, o.natsURL)
	}
	n, err := got.Normalized()
	if diff := cmp.Diff(m, n); err != nil || diff != "" {
		t.Errorf("mapping read back (%v) (-want +got):\n%s", err, diff)
	}
	var out bytes.Buffer
	if err := runCheck(o, got, zap.NewNop(), &out); err != nil || !strings.Contains(out.String(), "ok    vcc-templates") {
		t.Errorf("--check with the demo settings: %v\n%s", err, out.String())
	}
}
