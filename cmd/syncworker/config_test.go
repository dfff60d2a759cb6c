package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The example configuration in deployments/ loads: every setting is a
// flag, and with its commented-out settings switched on too.
func TestExampleConfigLoads(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deployments", "config", "vccsync.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	uncomment := regexp.MustCompile(`(?m)^(\s*)# ([A-Za-z-]+:( .*)?)$`)
	for name, text := range map[string]string{"as written": string(b), "all settings on": uncomment.ReplaceAllString(string(b), "$1$2")} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vccsync.yaml")
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			_, m, err := parseFlags([]string{"--config", path})
			if err != nil {
				t.Fatalf("%v", err)
			}
			if m == nil || m.DefaultTemplate == "" {
				t.Fatalf("mapping %+v", m)
			}
			if name == "all settings on" && !m.ManagesContactCenters() {
				t.Error("contact centers not read from the mapping")
			}
		})
	}
	if !strings.Contains(string(b), "sf-client-secret-file") {
		t.Error("the example does not show the Salesforce settings")
	}
}
