package handlers_test

import (
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/sandbox"
	"github.com/vccsync/vccsync/pkg/store"
	"github.com/vccsync/vccsync/pkg/vcc"
)

var (
	onePatch     = map[string]int{"PATCH /users/{userId}": 1}
	readAndPatch = map[string]int{"GET /users/{userId}": 1, "PATCH /users/{userId}": 1}
)

// lastPatch returns the body of the last PATCH VCC user id was sent.
func lastPatch(t *testing.T, sb *sandbox.VCC, id string) map[string]any {
	t.Helper()
	ws := sb.WritesTo(id)
	for i := len(ws) - 1; i >= 0; i-- {
		if ws[i].Method == "PATCH" {
			var body map[string]any
			if err := json.Unmarshal(ws[i].Body, &body); err != nil {
				t.Fatal(err)
			}
			return body
		}
	}
	t.Fatalf("no PATCH of %s", id)
	return nil
}

// An update of a user whose stored state can be trusted (no write intent
// open from before it) is one PATCH of the fields that differ from what
// was synced, no read; with ReadBeforeWrite (the path before) a read and
// the PATCH.
func TestUpdateOfSyncedUserIsOnePatch(t *testing.T) {
	later := func(u events.User, d time.Duration) events.User {
		u.SystemModstamp = events.Val(events.Time{Time: t0.Add(d)})
		return u
	}
	for _, tc := range []struct {
		name    string
		change  func(events.User) events.User
		outcome string
		body    map[string]any // the PATCH sent
	}{
		{"email change", func(u events.User) events.User { u.Email = events.Val("jane@new.example"); return u },
			handlers.OutcomeUpdated, map[string]any{"email": "jane@new.example"}},
		{"last name change", func(u events.User) events.User { u.LastName = events.Val("Smith-Jones"); return u },
			handlers.OutcomeUpdated, map[string]any{"name": "Jane Smith-Jones"}},
		{"deactivation", func(u events.User) events.User { u.IsActive = events.Val(false); return u },
			handlers.OutcomeArchived, map[string]any{"active": false}},
	} {
		for _, readFirst := range []bool{false, true} {
			name := tc.name
			if readFirst {
				name += ", read before write"
			}
			t.Run(name, func(t *testing.T) {
				hs := newHarness(t, nil)
				hs.h.SetCaches(handlers.CacheOptions{ReadBeforeWrite: readFirst})
				jane := person("0055e000001Jane", "Jane", "Smith", t0)
				created := hs.mustCreate(t, jane)
				id := created.State.VCCUserID
				ev := later(tc.change(jane), time.Minute)
				var res handlers.Result
				var err error
				m := hs.measure(t, func() { res, _, err = hs.apply(t, created.State, ev) })
				if err != nil || res.Outcome != tc.outcome {
					t.Fatalf("outcome %q %v, want %q", res.Outcome, err, tc.outcome)
				}
				want := onePatch
				if readFirst {
					want = readAndPatch
				}
				if !maps.Equal(m.routes, want) {
					t.Errorf("requests %v, want %v", m.routes, want)
				}
				if body := lastPatch(t, hs.sb, id); !maps.Equal(body, tc.body) {
					t.Errorf("PATCH %v, want %v", body, tc.body)
				}
				got, _ := hs.sb.User(id)
				if got.User.Email != ev.Email.Get() || got.User.Name != ev.Name() || got.User.Active != ev.IsActive.Get() {
					t.Errorf("VCC user %q %q active %v: want %q %q active %v", got.User.Email, got.User.Name, got.User.Active,
						ev.Email.Get(), ev.Name(), ev.IsActive.Get())
				}
				if s := res.State.Synced; s["email"] != got.User.Email || s["name"] != got.User.Name || res.State.AgentID != created.State.AgentID {
					t.Errorf("synced %v agent ID %q: want VCC's email and name, agent ID %q", s, res.State.AgentID, created.State.AgentID)
				}
				// Settled: the same snapshot again costs nothing.
				if res, n, _ := hs.apply(t, res.State, ev); res.Outcome != handlers.OutcomeUnchanged || n != 0 {
					t.Errorf("same snapshot again: %q with %d requests, want unchanged without a call", res.Outcome, n)
				}
			})
		}
	}

	t.Run("reactivation", func(t *testing.T) {
		hs := newHarness(t, nil)
		jane := person("0055e000001Jane", "Jane", "Smith", t0)
		created := hs.mustCreate(t, jane)
		left := later(jane, time.Minute)
		left.IsActive = events.Val(false)
		archived, _, err := hs.apply(t, created.State, left)
		if err != nil || archived.Outcome != handlers.OutcomeArchived {
			t.Fatalf("deactivation: %q %v", archived.Outcome, err)
		}
		var res handlers.Result
		m := hs.measure(t, func() { res, _, err = hs.apply(t, archived.State, later(jane, 2*time.Minute)) })
		if err != nil || res.Outcome != handlers.OutcomeReactivated || !maps.Equal(m.routes, onePatch) {
			t.Fatalf("reactivation: %q %v after %v, want reactivated with one PATCH", res.Outcome, err, m.routes)
		}
		if got, _ := hs.sb.User(created.State.VCCUserID); !got.User.Active {
			t.Error("VCC user still archived")
		}
	})

	// The state a run returned accounts for its writes although the
	// worker has not committed it (the intent is still open): trusted.
	t.Run("fresh state, intent still open", func(t *testing.T) {
		hs := newHarness(t, nil)
		jane := person("0055e000001Jane", "Jane", "Smith", t0)
		created, err := hs.h.HandleUser(hs.ctx, jane.ID, "e1", handlers.State{}, jane)
		if err != nil || !created.State.Fresh {
			t.Fatalf("create: %v, fresh %v", err, created.State.Fresh)
		}
		ev := later(jane, time.Minute)
		ev.Email = events.Val("jane@new.example")
		var res handlers.Result
		m := hs.measure(t, func() { res, err = hs.h.HandleUser(hs.ctx, jane.ID, "e2", created.State, ev) })
		if err != nil || res.Outcome != handlers.OutcomeUpdated || !maps.Equal(m.routes, onePatch) {
			t.Fatalf("%q %v after %v, want updated with one PATCH", res.Outcome, err, m.routes)
		}
	})
}

// A crash between a write and its commit leaves the intent open: the
// next update does not trust the stored state, reads VCC and writes
// everything that differs (the lost write's effect included), then the
// updates after it are one PATCH again.
func TestUpdateWithOpenIntentReadsFirst(t *testing.T) {
	hs := newHarness(t, nil)
	jane := person("0055e000001Jane", "Jane", "Smith", t0)
	created := hs.mustCreate(t, jane)
	id := created.State.VCCUserID
	// A deactivation was written to VCC, then the worker died before
	// recording it.
	if err := hs.sb.ModifyUser(id, func(r *sandbox.VCCUserRecord) { r.User.Active = false }); err != nil {
		t.Fatal(err)
	}
	if err := hs.db.OpenIntent(jane.ID, store.Intent{EventID: "lost"}); err != nil {
		t.Fatal(err)
	}
	prev := created.State
	prev.Fresh = false // loaded from the store by the restarted worker
	ev := jane
	ev.Email, ev.SystemModstamp = events.Val("jane@new.example"), events.Val(events.Time{Time: t0.Add(time.Minute)})
	var (
		res handlers.Result
		err error
	)
	m := hs.measure(t, func() { res, _, err = hs.apply(t, prev, ev) })
	if err != nil || res.Outcome != handlers.OutcomeReactivated || !maps.Equal(m.routes, readAndPatch) {
		t.Fatalf("%q %v after %v: want VCC read, then reactivated with the new email (%v)", res.Outcome, err, m.routes, readAndPatch)
	}
	if got, _ := hs.sb.User(id); !got.User.Active || got.User.Email != "jane@new.example" {
		t.Errorf("VCC user active %v email %q: want active with the new email", got.User.Active, got.User.Email)
	}
	if body := lastPatch(t, hs.sb, id); body["active"] != true || body["email"] != "jane@new.example" {
		t.Errorf("PATCH %v: want the email and active together", body)
	}
	// Settled: the next update trusts the state again.
	ev.Email, ev.SystemModstamp = events.Val("jane@newer.example"), events.Val(events.Time{Time: t0.Add(2 * time.Minute)})
	m = hs.measure(t, func() { res, _, err = hs.apply(t, res.State, ev) })
	if err != nil || res.Outcome != handlers.OutcomeUpdated || !maps.Equal(m.routes, onePatch) {
		t.Errorf("after settling: %q %v after %v, want updated with one PATCH", res.Outcome, err, m.routes)
	}
}

// A change made by hand in VCC to a field Salesforce did not change is not
// written by the update (no read), but VCC's reply to its PATCH shows it:
// recorded in the state, it is put back by the user's next event.
func TestUpdateReplyShowsDrift(t *testing.T) {
	hs := newHarness(t, nil)
	jane := person("0055e000001Jane", "Jane", "Smith", t0)
	created := hs.mustCreate(t, jane)
	id := created.State.VCCUserID
	if err := hs.sb.ModifyUser(id, func(r *sandbox.VCCUserRecord) { r.User.Name = "Changed By Hand" }); err != nil {
		t.Fatal(err)
	}
	ev := jane
	ev.Email, ev.SystemModstamp = events.Val("jane@new.example"), events.Val(events.Time{Time: t0.Add(time.Minute)})
	res, n, err := hs.apply(t, created.State, ev)
	if err != nil || res.Outcome != handlers.OutcomeUpdated || n != 1 || res.State.Synced["name"] != "Changed By Hand" {
		t.Fatalf("%q %v after %d requests, synced name %q: want updated with one PATCH, VCC's name recorded", res.Outcome, err, n, res.State.Synced["name"])
	}
	ev.SystemModstamp = events.Val(events.Time{Time: t0.Add(2 * time.Minute)})
	var m measured
	m = hs.measure(t, func() { res, _, err = hs.apply(t, res.State, ev) })
	if err != nil || res.Outcome != handlers.OutcomeUpdated || !maps.Equal(m.routes, onePatch) {
		t.Fatalf("next event: %q %v after %v, want the name written back with one PATCH", res.Outcome, err, m.routes)
	}
	if got, _ := hs.sb.User(id); got.User.Name != "Jane Smith" {
		t.Errorf("name %q, want Salesforce's back", got.User.Name)
	}
}

// A linked user deleted in VCC behind vccsync's back answers the PATCH
// with a 404: the event is not lost, the user is found by username as
// after a read's 404 (not read again by its ID): created again when
// active, "not provisioned" when inactive.
func TestUpdateOfUserDeletedInVCC(t *testing.T) {
	for _, active := range []bool{true, false} {
		name := map[bool]string{true: "email change", false: "deactivation"}[active]
		t.Run(name, func(t *testing.T) {
			hs := newHarness(t, nil)
			jane := person("0055e000001Jane", "Jane", "Smith", t0)
			created := hs.mustCreate(t, jane)
			id := created.State.VCCUserID
			admin, err := vcc.New(vcc.Config{BaseURL: hs.url + "/useradmin", TokenURL: hs.url + "/Auth/connect/token",
				ClientID: sandbox.DemoClientID, ClientSecret: sandbox.DemoClientSecret, RatePerMinute: -1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := admin.ArchiveUser(hs.ctx, id); err != nil {
				t.Fatal(err)
			}
			if err := admin.DeleteUser(hs.ctx, id); err != nil {
				t.Fatal(err)
			}
			ev := jane
			ev.Email, ev.IsActive = events.Val("jane@new.example"), events.Val(active)
			ev.SystemModstamp = events.Val(events.Time{Time: t0.Add(time.Minute)})
			var res handlers.Result
			m := hs.measure(t, func() { res, _, err = hs.apply(t, created.State, ev) })
			if err != nil {
				t.Fatal(err)
			}
			// The user index forgets the deleted user's username with its
			// ID, so no lookup is needed either (as after a read's 404).
			if m.routes["PATCH /users/{userId}"] < 1 || m.routes["GET /users/{userId}"] != 0 {
				t.Errorf("requests %v: want the PATCH's 404, no read by ID", m.routes)
			}
			if !active {
				if res.Outcome != handlers.OutcomeNotProvisioned || res.State.VCCUserID != "" {
					t.Errorf("%q link %q, want not provisioned and unlinked", res.Outcome, res.State.VCCUserID)
				}
				return
			}
			if res.Outcome != handlers.OutcomeCreated || res.State.VCCUserID == "" || res.State.VCCUserID == id {
				t.Fatalf("%q link %q, want created again (was %s)", res.Outcome, res.State.VCCUserID, id)
			}
			got, ok := hs.sb.User(res.State.VCCUserID)
			if !ok || got.User.Email != "jane@new.example" || !got.User.Active {
				t.Errorf("VCC user %+v: want active with the new email", got.User)
			}
		})
	}
}
