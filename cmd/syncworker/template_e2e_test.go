package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/preflight"
	"github.com/vccsync/vccsync/pkg/sandbox"
)

// TestMissingTemplateQuarantines: the mapping names a template user VCC
// does not have. The start-up check names it, the first create that needs
// it quarantines the worker instead of dead-lettering every create, and
// once an administrator creates the template the worker resumes by itself
// and creates everyone.
func TestMissingTemplateQuarantines(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	sb, url := demoVCC(t)
	const tmpl = "template.new-team@demo.example"
	mapping := &handlers.Mapping{DefaultTemplate: tmpl, AgentIDStart: 1000}
	w := startWorkerWith(t, t.TempDir(), url, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)), nil, mapping)

	ctx := context.Background()
	var failed error
	for _, r := range w.sys.checks.Run(ctx) {
		if r.Name == preflight.NameTemplates {
			failed = r.Err
		}
	}
	if failed == nil || !strings.Contains(failed.Error(), tmpl) {
		t.Fatalf("start-up check of the templates: %v, want a failure naming %s", failed, tmpl)
	}
	if err := w.sys.checks.Err(preflight.NameTemplates); err == nil {
		t.Fatal("/readyz would pass: the templates check is not failing")
	}

	const n = 12
	publishNewUsers(t, w.sys.js, "T", n)
	deadline := time.Now().Add(30 * time.Second)
	for {
		on, reason, _ := w.sys.worker.Quarantined()
		if on {
			if !strings.Contains(reason, tmpl) {
				t.Errorf("quarantine reason %q does not name the template", reason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker was not quarantined by the missing template")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := w.obs.byOutcome()["dead_lettered"]; got != 0 {
		t.Fatalf("%d creates dead-lettered for a missing template", got)
	}

	if _, err := sb.AddUser(sandbox.VCCUserRecord{User: sandbox.VCCUser{Username: tmpl, Name: "New Team Template", Email: tmpl, Active: true,
		Config: sandbox.VCCAccountConfig{Role: sandbox.VCCRoleSupervisor}}}); err != nil {
		t.Fatal(err)
	}
	w.obs.waitFor(t, n, 60*time.Second)
	if got := w.obs.byOutcome(); got["created"] != n {
		t.Errorf("after the template was created: %v, want %d created", got, n)
	}
	w.sys.checks.Run(ctx)
	if err := w.sys.checks.Err(preflight.NameTemplates); err != nil {
		t.Errorf("templates check after the template exists: %v", err)
	}
}

// An administrator edits the template in VCC: creates take the edit once
// the worker's copy is older than --vcc-template-max-age, and not before.
func TestTemplateMaxAgeFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	for _, tc := range []struct {
		maxAge  string
		takesIt bool
	}{{"5m", false}, {"1ms", true}} {
		t.Run(tc.maxAge, func(t *testing.T) {
			sb, url := demoVCC(t)
			w := startWorkerWith(t, t.TempDir(), url, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
				[]string{"--vcc-template-max-age", tc.maxAge}, nil)
			publishNewUsers(t, w.sys.js, "A", 1)
			w.obs.waitFor(t, 1, 30*time.Second)
			tmpl, ok := sb.UserByUsername(sandbox.DemoAgentTemplateUsername)
			if !ok {
				t.Fatal("no demo template")
			}
			before := len(tmpl.Skills)
			if err := sb.ModifyUser(tmpl.User.UserID, func(r *sandbox.VCCUserRecord) { r.Skills = r.Skills[:1] }); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
			publishNewUsers(t, w.sys.js, "B", 1)
			w.obs.waitFor(t, 2, 30*time.Second)
			if got := w.obs.byOutcome()["created"]; got != 2 {
				t.Fatalf("created %d users, want 2 (%v)", got, w.obs.byOutcome())
			}
			b, ok := sb.UserByUsername("b000@acme.example")
			if !ok {
				t.Fatal("the second user is not in VCC")
			}
			want := before
			if tc.takesIt {
				want = 1
			}
			if len(b.Skills) != want {
				t.Errorf("the user created after the template lost all skills but one has %d skills, want %d (template had %d)", len(b.Skills), want, before)
			}
		})
	}
}
