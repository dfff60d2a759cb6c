package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/sandbox"
)

// checkFlags are the flags of a --check against the VCC sandbox at url
// with the given client secret.
func checkFlags(t *testing.T, url, secret string) []string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--vcc-url", url + "/useradmin", "--vcc-token-url", url + "/Auth/connect/token",
		"--vcc-client-id", sandbox.DemoClientID, "--vcc-client-secret-file", file, "--vcc-max-tries", "1"}
}

func TestCheckPrintsOneLinePerCheck(t *testing.T) {
	_, url := demoVCC(t)
	cfg := filepath.Join(t.TempDir(), "vccsync.yaml")
	yaml := "mapping:\n  defaultTemplate: " + sandbox.DemoAgentTemplateUsername + "\n  telephonyRegions:\n    \"EMEA - Primary\": " + sandbox.DemoRegionEMEAPrimary + "\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, secret string
		ok           bool
		want         []string
	}{
		{"all pass", sandbox.DemoClientSecret, true, []string{"ok    vcc-access", "ok    vcc-templates  " + sandbox.DemoAgentTemplateUsername + " (Agent): 40 skills", "ok    vcc-regions"}},
		{"wrong secret", "wrong", false, []string{"FAIL  vcc-access", "invalid_client", "FAIL  vcc-templates"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, m, err := parseFlags(append([]string{"--check", "--config", cfg}, checkFlags(t, url, tc.secret)...))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err = runCheck(o, m, zap.NewNop(), &out)
			if (err == nil) != tc.ok {
				t.Fatalf("runCheck: %v, want ok=%v\n%s", err, tc.ok, out.String())
			}
			if lines := strings.Count(out.String(), "\n"); lines != 3 {
				t.Errorf("%d lines, want one per check (3):\n%s", lines, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestListRegions(t *testing.T) {
	_, url := demoVCC(t)
	o, _, err := parseFlags(append([]string{"--list-regions"}, checkFlags(t, url, sandbox.DemoClientSecret)...))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	m := &handlers.Mapping{DefaultTemplate: sandbox.DemoAgentTemplateUsername, TelephonyRegions: demoMapping().TelephonyRegions}
	if err := runListRegions(o, m, zap.NewNop(), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), sandbox.DemoRegionEMEAPrimary) || !strings.Contains(out.String(), "configured as EMEA - Primary (11)") {
		t.Errorf("output lacks the demo users' region and its configured name:\n%s", out.String())
	}
}
