package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/vccsync/vccsync/pkg/sandbox"
)

// TestSyncOnDemand: vccctl sync reads a user from Salesforce and, with
// --dry-run, prints the plan and writes nothing; without it, the user is
// provisioned and the outcome read back; again, nothing differs.
func TestSyncOnDemand(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	e := newSFEnv(t)
	bin := buildVccctl(t)
	run := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"sync", "--nats-url", e.w.sys.natsURL}, append(e.extra, args...)...)...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	go func() { _ = e.w.sys.http.Serve(e.w.sys.httpLn) }()

	writes := e.sb.Stats().Writes
	out, code := run("--dry-run", sandbox.DemoSFOmarID)
	for _, want := range []string{"match  no VCC user: one will be created", "would POST /users (create omar.haddad@demo.example)",
		"would add " + sandbox.DemoSFOmarID + " to contact center " + sandbox.DemoSFContactCenterLondon, "plan   outcome created (dry run"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if code != 0 || e.sb.Stats().Writes != writes {
		t.Fatalf("dry run: exit %d, %d VCC writes", code, e.sb.Stats().Writes-writes)
	}
	if _, member := e.sf.Member(sandbox.DemoSFOmarID); member {
		t.Fatal("dry run changed contact-center membership")
	}

	out, code = run(sandbox.DemoSFOmarID)
	if code != 0 || !strings.Contains(out, "apply  created") {
		t.Fatalf("sync: exit %d:\n%s", code, out)
	}
	if _, ok := e.sb.UserByUsername("omar.haddad@demo.example"); !ok {
		t.Fatal("no VCC user after sync")
	}
	if m, ok := e.sf.Member(sandbox.DemoSFOmarID); !ok || m.ContactCenterID != sandbox.DemoSFContactCenterLondon {
		t.Fatal("not in the London contact center after sync")
	}

	writes = e.sb.Stats().Writes
	out, code = run(sandbox.DemoSFOmarID)
	if code != 0 || !strings.Contains(out, "nothing differs") || e.sb.Stats().Writes != writes {
		t.Errorf("second sync: exit %d, %d writes:\n%s", code, e.sb.Stats().Writes-writes, out)
	}

	// A change made by hand in VCC: sync checks VCC in full and puts it back.
	rec, _ := e.sb.UserByUsername("omar.haddad@demo.example")
	if err := e.sb.ModifyUser(rec.User.UserID, func(r *sandbox.VCCUserRecord) { r.User.Email = "changed@by.hand" }); err != nil {
		t.Fatal(err)
	}
	out, code = run(sandbox.DemoSFOmarID)
	if code != 0 || !strings.Contains(out, `email "changed@by.hand" → "omar.haddad@demo.example"`) {
		t.Errorf("sync after a hand edit: exit %d:\n%s", code, out)
	}
	if got, _ := e.sb.User(rec.User.UserID); got.User.Email != "omar.haddad@demo.example" {
		t.Errorf("email %q after sync, want Salesforce's", got.User.Email)
	}

	out, code = run(sandbox.DemoSFLenaID)
	if code != 1 || !strings.Contains(out, "FIELD_INTEGRITY_EXCEPTION") {
		t.Errorf("sync of a user Salesforce refuses: exit %d:\n%s", code, out)
	}
}
