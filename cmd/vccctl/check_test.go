package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vccsync/vccsync/pkg/sandbox"
)

// TestCheck: vccctl check runs syncworker's start-up checks from the
// configuration file, one line per check, exit status 0 when all pass and
// 1 when one fails.
func TestCheck(t *testing.T) {
	w := newRecWorld(t)
	code, stdout, stderr := runCLI(t, nil, "check", "--config", w.config)
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %s\n%s", code, stderr, stdout)
	}
	for _, want := range []string{"ok    vcc-access ", "ok    vcc-templates  " + sandbox.DemoAgentTemplateUsername + " (Agent)", "vcc-regions", "ok    salesforce "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if n := strings.Count(stdout, "\n"); n != 4 {
		t.Errorf("%d lines, want one per check (4):\n%s", n, stdout)
	}

	// A wrong VCC secret, given in the environment over the file's.
	wrong := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrong, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VCCSYNC_VCC_CLIENT_SECRET_FILE", wrong)
	code, stdout, _ = runCLI(t, nil, "check", "--config", w.config)
	if code != exitFail || !strings.Contains(stdout, "FAIL  vcc-access") || !strings.Contains(stdout, "ok    salesforce") {
		t.Errorf("wrong secret: exit %d\n%s", code, stdout)
	}

	// A mapping with contact centers needs Salesforce.
	b, err := os.ReadFile(w.config)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "sf-") {
			lines = append(lines, l)
		}
	}
	noSF := filepath.Join(t.TempDir(), "no-sf.yaml")
	if err := os.WriteFile(noSF, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, nil, "check", "--config", noSF)
	if code != exitUsage || !strings.Contains(stderr, "the mapping names contact centers") {
		t.Errorf("no Salesforce: exit %d, %s", code, stderr)
	}
}
