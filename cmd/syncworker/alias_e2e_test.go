package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/sandbox"
)

// sfEnv is a worker with both sandboxes and contact centers in its mapping.
type sfEnv struct {
	*cmdEnv
	sf      *sandbox.Salesforce
	failAdd atomic.Int32 // the next N contact-center adds answer 503
	dataDir string
	extra   []string
	mapping *handlers.Mapping
}

func newSFEnv(t *testing.T) *sfEnv {
	t.Helper()
	vcc := sandbox.NewVCC(sandbox.VCCOptions{})
	if err := vcc.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	vccURL, stopVCC, err := vcc.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stopVCC() })
	sf := sandbox.NewSalesforce(sandbox.SalesforceOptions{})
	if err := sf.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	e := &sfEnv{sf: sf, dataDir: t.TempDir()}
	// A contact-center add can be made to fail, as a crash at that point.
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch && strings.HasSuffix(r.URL.Path, "/composite/sobjects") && e.failAdd.Load() > 0 {
			e.failAdd.Add(-1)
			http.Error(w, `[{"errorCode":"SERVER_UNAVAILABLE","message":"unavailable"}]`, http.StatusServiceUnavailable)
			return
		}
		sf.ServeHTTP(w, r)
	})
	sfURL, stopSF, err := sandbox.Start("127.0.0.1:0", handler)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stopSF() })
	secret := filepath.Join(t.TempDir(), "sf-secret")
	if err := os.WriteFile(secret, []byte(sandbox.DemoSFClientSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	e.extra = []string{"--sf-url", sfURL, "--sf-client-id", sandbox.DemoSFClientID, "--sf-client-secret-file", secret}
	e.mapping = &handlers.Mapping{DefaultTemplate: sandbox.DemoAgentTemplateUsername, AgentIDStart: 1000,
		Templates:            map[string]string{demoSupervisorProfile: sandbox.DemoSupervisorTemplateUsername},
		ContactCenters:       map[string]string{demoSupervisorProfile: sandbox.DemoSFContactCenterNewYork},
		DefaultContactCenter: sandbox.DemoSFContactCenterLondon}
	e.cmdEnv = &cmdEnv{t: t, sb: vcc, url: vccURL, users: map[string]string{}}
	e.start()
	return e
}

func (e *sfEnv) start() {
	e.w = startWorkerWith(e.t, e.dataDir, e.url, zaptest.NewLogger(e.t, zaptest.Level(zap.ErrorLevel)), e.extra, e.mapping)
}

// publishSF publishes the Salesforce sandbox's current record of a user, as
// an outbound message would carry it.
func (e *sfEnv) publishSF(id, eventID string, changed ...string) {
	t := e.t
	u, ok := e.sf.User(id)
	if !ok {
		t.Fatalf("no Salesforce user %s", id)
	}
	ev := events.User{ID: u.ID, Username: events.Val(u.Username), Alias: events.Val(u.Alias), Email: events.Val(u.Email),
		FirstName: events.Val(u.FirstName), LastName: events.Val(u.LastName), IsActive: events.Val(u.IsActive),
		ProfileID: events.Val(u.ProfileID), SystemModstamp: events.Val(events.Time{Time: u.SystemModstamp}), ChangedFields: changed}
	if u.FederationIdentifier != "" {
		ev.FederationIdentifier = events.Val(u.FederationIdentifier)
	}
	if u.NVMAgentID != "" {
		ev.AgentID = events.Val(u.NVMAgentID)
	}
	env, err := events.NewUserChanged(eventID, "salesforce/test", time.Now(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Publish(context.Background(), e.w.sys.js, env); err != nil {
		t.Fatal(err)
	}
	if o := e.w.obs.waitEvent(t, eventID); o.Err != nil {
		t.Fatalf("%s: %v", eventID, o.Err)
	}
}

func (e *sfEnv) ssoOK(id string) {
	e.t.Helper()
	if name, err := e.sf.CheckSSO(id); err != nil {
		e.t.Fatalf("SSO check: %v", err)
	} else if u, _ := e.sf.User(id); !strings.HasPrefix(name, u.Alias+"@") {
		e.t.Fatalf("telephony username %q does not follow the alias %q", name, u.Alias)
	}
}

// TestAliasChangesKeepSSO: a user is added to the contact center of its
// profile; an alias changed in Salesforce and one changed by the
// change-alias command both leave single sign-on working (the user is
// removed and added back); deactivation removes the user.
func TestAliasChangesKeepSSO(t *testing.T) {
	e := newSFEnv(t)
	omar := sandbox.DemoSFOmarID
	e.publishSF(omar, "sf-1")
	if m, ok := e.sf.Member(omar); !ok || m.ContactCenterID != sandbox.DemoSFContactCenterLondon {
		t.Fatalf("Omar: member %+v %v, want London", m, ok)
	}
	e.ssoOK(omar)

	// Changed in Salesforce (Setup): SSO breaks until vccsync re-adds.
	if err := e.sf.ModifyUser(omar, func(u *sandbox.SFUser) { u.Alias = "omar.h" }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sf.CheckSSO(omar); err == nil {
		t.Fatal("SSO still passes after the alias change: the test proves nothing")
	}
	e.publishSF(omar, "sf-2", "Alias")
	e.ssoOK(omar)

	// The change-alias command: remove, change, add back.
	e.users["Omar"] = omar
	if _, o := e.send("Omar", "change-alias", map[string]any{"alias": "ohaddad"}); o.Err != nil || o.Outcome != handlers.OutcomeUpdated {
		t.Fatalf("change-alias: %q %v", o.Outcome, o.Err)
	}
	if u, _ := e.sf.User(omar); u.Alias != "ohaddad" {
		t.Fatalf("alias %q, want ohaddad", u.Alias)
	}
	e.ssoOK(omar)
	if _, o := e.send("Omar", "change-alias", map[string]any{"alias": "ohaddad"}); o.Outcome != handlers.OutcomeUnchanged {
		t.Errorf("second change-alias: %q %v, want unchanged", o.Outcome, o.Err)
	}

	// Deactivated: removed from the contact center.
	if err := e.sf.ModifyUser(omar, func(u *sandbox.SFUser) { u.IsActive = false }); err != nil {
		t.Fatal(err)
	}
	e.publishSF(omar, "sf-3", "IsActive")
	if _, ok := e.sf.Member(omar); ok {
		t.Error("a deactivated user is still a contact-center member")
	}
}

// TestAliasChangeResumesAfterRestart: the worker stops between removing the
// user from the contact center and adding it back; restarted on the same
// data, it finishes the re-add, and SSO works.
func TestAliasChangeResumesAfterRestart(t *testing.T) {
	e := newSFEnv(t)
	tom := sandbox.DemoSFTomID
	e.publishSF(tom, "sf-1")
	e.users["Tom"] = tom

	e.failAdd.Store(1000) // every add fails: the saga stops at the re-add
	id := "cmd-alias-1"
	env := events.Envelope{SpecVersion: events.SpecVersion, ID: id, Source: "operator/alice", Type: events.CommandTypePrefix + "change-alias",
		Subject: tom, Data: []byte(`{"requestedBy":"alice","alias":"tbecker2"}`)}
	if _, err := bus.Publish(context.Background(), e.w.sys.js, env); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, member := e.sf.Member(tom); !member {
			if u, _ := e.sf.User(tom); u.Alias == "tbecker2" {
				break // removed and renamed; the add is failing
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the saga did not reach the re-add")
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.w.stop()
	if _, member := e.sf.Member(tom); member {
		t.Fatal("Tom is a member although every add failed")
	}

	e.failAdd.Store(0)
	e.start()
	if o := e.w.obs.waitEvent(t, id); o.Err != nil || o.Outcome != handlers.OutcomeUpdated {
		t.Fatalf("after the restart: %q %v", o.Outcome, o.Err)
	}
	if m, ok := e.sf.Member(tom); !ok || m.ContactCenterID != sandbox.DemoSFContactCenterLondon {
		t.Fatalf("Tom not back in London: %+v %v", m, ok)
	}
	e.ssoOK(tom)
}
