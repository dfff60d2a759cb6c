package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/sandbox"
)

// TestReconcileFixesDrift: a change made by hand in VCC is found by
// vccctl reconcile and put back by the worker.
func TestReconcileFixesDrift(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	e := newSFEnv(t)
	omar := sandbox.DemoSFOmarID
	e.publishSF(omar, "sf-1")
	rec, ok := e.sb.UserByUsername("omar.haddad@demo.example")
	if !ok {
		t.Fatal("Omar not provisioned")
	}
	if err := e.sb.ModifyUser(rec.User.UserID, func(r *sandbox.VCCUserRecord) { r.User.Email = "changed@by.hand" }); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	secret := filepath.Join(dir, "vcc-secret")
	config := filepath.Join(dir, "vccsync.yaml")
	if err := os.WriteFile(secret, []byte(sandbox.DemoClientSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `mapping:
  defaultTemplate: ` + sandbox.DemoAgentTemplateUsername + `
  templates:
    "00e5e000000SupV": ` + sandbox.DemoSupervisorTemplateUsername + `
  agentIdStart: 1000
  contactCenters:
    "00e5e000000SupV": ` + sandbox.DemoSFContactCenterNewYork + `
  defaultContactCenter: ` + sandbox.DemoSFContactCenterLondon + "\n"
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"reconcile", "--config", config, "--nats-url", e.w.sys.natsURL,
		"--vcc-url", e.url + "/useradmin", "--vcc-token-url", e.url + "/Auth/connect/token",
		"--vcc-client-id", sandbox.DemoClientID, "--vcc-client-secret-file", secret, "--allow-archives"}, e.extra...)
	out, err := exec.Command(buildVccctl(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("reconcile: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "user="+omar) || !strings.Contains(string(out), "changed@by.hand") {
		t.Fatalf("reconcile did not plan Omar's email:\n%s", out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if got, _ := e.sb.User(rec.User.UserID); got.User.Email == "omar.haddad@demo.example" {
			break
		}
		if time.Now().After(deadline) {
			got, _ := e.sb.User(rec.User.UserID)
			t.Fatalf("email %q: the worker did not put Salesforce's back\n%s", got.User.Email, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
