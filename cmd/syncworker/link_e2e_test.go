package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/sandbox"
	"github.com/vccsync/vccsync/pkg/worker"
)

// publishUser publishes a (possibly partial) snapshot and returns its
// final outcome.
func (e *sfEnv) publishUser(eventID string, u events.User) worker.Outcome {
	e.t.Helper()
	env, err := events.NewUserChanged(eventID, "salesforce/test", time.Now(), u)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := bus.Publish(context.Background(), e.w.sys.js, env); err != nil {
		e.t.Fatal(err)
	}
	return e.w.obs.waitEvent(e.t, eventID)
}

// TestCreatedUserStaysLinkedWhenALaterStepFails: Lena lacks the Contact
// Center Agent permission set, so Salesforce refuses her contact-center
// membership after her VCC user was created. Her event is dead-lettered,
// but the VCC user is linked at once: a later partial deactivation (change
// data capture sends only IsActive) archives her, and the archive,
// reactivate and resync commands find her.
func TestCreatedUserStaysLinkedWhenALaterStepFails(t *testing.T) {
	e := newSFEnv(t)
	lena := sandbox.DemoSFLenaID
	u, _ := e.sf.User(lena)
	full := events.User{ID: lena, Username: events.Val(u.Username), Alias: events.Val(u.Alias), Email: events.Val(u.Email),
		FirstName: events.Val(u.FirstName), LastName: events.Val(u.LastName), IsActive: events.Val(true),
		ProfileID: events.Val(u.ProfileID), SystemModstamp: events.Val(events.Time{Time: u.SystemModstamp})}
	o := e.publishUser("sf-lena-1", full)
	if o.Outcome != "dead_lettered" || o.Class != events.ClassPermanent || !strings.Contains(o.Err.Error(), "FIELD_INTEGRITY_EXCEPTION") {
		t.Fatalf("first event: %q %s %v, want dead-lettered: Salesforce refuses the membership", o.Outcome, o.Class, o.Err)
	}
	rec, ok := e.sb.UserByUsername(u.Username)
	if !ok || !rec.User.Active {
		t.Fatalf("VCC user of Lena: %+v %v, want created and active", rec.User, ok)
	}
	st, ok, err := e.w.sys.db.User(lena)
	if err != nil || !ok || st.VCCUserID != rec.User.UserID {
		t.Fatalf("stored state %+v %v %v: want linked to VCC user %s", st, ok, err, rec.User.UserID)
	}

	// Her event failed after writing: the next one reads VCC in full.
	if _, open, _ := e.w.sys.db.OpenedIntent(lena); !open {
		t.Error("no write intent open after the event that created her failed")
	}

	// She leaves: the change event carries IsActive only.
	leave := events.User{ID: lena, IsActive: events.Val(false), SystemModstamp: events.Val(events.Time{Time: u.SystemModstamp.Add(time.Minute)}),
		ChangedFields: []string{"IsActive"}}
	if o := e.publishUser("cdc-lena-leave", leave); o.Err != nil || o.Outcome != handlers.OutcomeArchived {
		t.Fatalf("partial deactivation: %q %v, want archived", o.Outcome, o.Err)
	}
	if rec, _ := e.sb.User(rec.User.UserID); rec.User.Active {
		t.Fatal("Lena is still active in VCC after she left")
	}

	if _, open, _ := e.w.sys.db.OpenedIntent(lena); open {
		t.Error("write intent still open after a change that read and wrote VCC was recorded")
	}
	e.users["Lena"] = lena
	for _, c := range []struct{ action, want string }{
		{"reactivate", handlers.OutcomeReactivated},
		{"archive", handlers.OutcomeArchived},
		{"resync", handlers.OutcomeUnchanged},
	} {
		if _, o := e.send("Lena", c.action, nil); o.Err != nil || o.Outcome != c.want {
			t.Errorf("%s: %q %v, want %s", c.action, o.Outcome, o.Err, c.want)
		}
	}
	if n := e.sb.Stats().WritesByUser[rec.User.UserID]["POST"]; n != 1 {
		t.Errorf("%d creates of Lena, want 1", n)
	}
}

// TestPartialEventOfAnUnknownUserReadsSalesforce: the first event vccsync
// sees of Omar is a change event that carries only his email. The worker
// reads the rest of him from Salesforce and creates his VCC user.
func TestPartialEventOfAnUnknownUserReadsSalesforce(t *testing.T) {
	e := newSFEnv(t)
	omar := sandbox.DemoSFOmarID
	if err := e.sf.ModifyUser(omar, func(u *sandbox.SFUser) { u.Email = "omar@moved.example" }); err != nil {
		t.Fatal(err)
	}
	u, _ := e.sf.User(omar)
	ev := events.User{ID: omar, Email: events.Val(u.Email), SystemModstamp: events.Val(events.Time{Time: u.SystemModstamp}), ChangedFields: []string{"Email"}}
	o := e.publishUser("cdc-omar-1", ev)
	if o.Err != nil || o.Outcome != handlers.OutcomeCreated || !strings.Contains(o.Detail, "completed from Salesforce") {
		t.Fatalf("partial first event: %q %v (%s), want created from the user read in Salesforce", o.Outcome, o.Err, o.Detail)
	}
	rec, ok := e.sb.UserByUsername(u.Username)
	if !ok || rec.User.Email != "omar@moved.example" || rec.User.Name != u.FirstName+" "+u.LastName || !rec.User.Active {
		t.Fatalf("VCC user %+v %v: want Omar as Salesforce has him", rec.User, ok)
	}
}
