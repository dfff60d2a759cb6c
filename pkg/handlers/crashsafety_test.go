package handlers_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/sandbox"
	"github.com/vccsync/vccsync/pkg/store"
	"github.com/vccsync/vccsync/pkg/vcc"
)

// A deactivation that arrives with other changes writes all of them with
// the archive, in one PATCH.
func TestArchiveConvergesTheWholeUser(t *testing.T) {
	hs := newHarness(t, nil)
	jane := person("0055e000001Jane", "Jane", "Smith", t0)
	created, _, err := hs.apply(t, handlers.State{}, jane)
	if err != nil {
		t.Fatal(err)
	}
	createWrites := len(hs.sb.WritesTo(created.State.VCCUserID))
	left := jane
	left.IsActive, left.Email, left.LastName = events.Val(false), events.Val("jane@left.example"), events.Val("Smith-Jones")
	left.SystemModstamp = events.Val(events.Time{Time: t0.Add(time.Minute)})
	res, _, err := hs.apply(t, created.State, left)
	if err != nil || res.Outcome != handlers.OutcomeArchived {
		t.Fatalf("deactivation: %q %v, want archived", res.Outcome, err)
	}
	got, _ := hs.sb.User(created.State.VCCUserID)
	if got.User.Active || got.User.Email != "jane@left.example" || got.User.Name != "Jane Smith-Jones" {
		t.Errorf("VCC user active %v email %q name %q: want archived with the new email and name", got.User.Active, got.User.Email, got.User.Name)
	}
	patches := 0
	for _, w := range hs.sb.WritesTo(created.State.VCCUserID)[createWrites:] {
		if w.Method == "PATCH" {
			patches++
			var body map[string]any
			_ = json.Unmarshal(w.Body, &body)
			if body["active"] != false || body["email"] != "jane@left.example" {
				t.Errorf("PATCH %s: want active false and the email together", w.Body)
			}
		}
	}
	if patches != 1 {
		t.Errorf("%d PATCHes, want one", patches)
	}

	// Archived users take later changes too.
	moved := left
	moved.Email, moved.SystemModstamp = events.Val("jane@moved.example"), events.Val(events.Time{Time: t0.Add(2 * time.Minute)})
	if res, _, err := hs.apply(t, res.State, moved); err != nil || res.Outcome != handlers.OutcomeUpdated {
		t.Fatalf("email change of an archived user: %q %v, want updated", res.Outcome, err)
	}
	if got, _ := hs.sb.User(created.State.VCCUserID); got.User.Active || got.User.Email != "jane@moved.example" {
		t.Errorf("archived user: active %v email %q, want still archived with the new email", got.User.Active, got.User.Email)
	}
}

// While a write of the user may be unrecorded (an open intent), nothing is
// concluded from the stored state: the handler reads VCC and puts it
// right, for a current event and a stale one alike.
func TestOpenIntentReadsVCC(t *testing.T) {
	for _, stale := range []bool{false, true} {
		name := map[bool]string{false: "current event", true: "stale event"}[stale]
		t.Run(name, func(t *testing.T) {
			hs := newHarness(t, nil)
			jane := person("0055e000001Jane", "Jane", "Smith", t0)
			created, _, err := hs.apply(t, handlers.State{}, jane)
			if err != nil {
				t.Fatal(err)
			}
			id := created.State.VCCUserID
			// A deactivation was written to VCC, then the worker died before
			// recording it: VCC is archived, the stored state says active.
			if err := hs.sb.ModifyUser(id, func(r *sandbox.VCCUserRecord) { r.User.Active = false }); err != nil {
				t.Fatal(err)
			}
			if err := hs.db.OpenIntent(jane.ID, store.Intent{EventID: "lost"}); err != nil {
				t.Fatal(err)
			}
			// The user's next event says what the stored state already says
			// (active: the deactivation was reverted in Salesforce), or is
			// an older snapshot.
			ev := jane
			if stale {
				ev.SystemModstamp = events.Val(events.Time{Time: t0.Add(-time.Minute)})
			}
			prev := created.State
			prev.Fresh = false // loaded from the store by the restarted worker
			res, n, err := hs.apply(t, prev, ev)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := hs.sb.User(id); !got.User.Active || n == 0 {
				t.Fatalf("outcome %q after %d requests, VCC active %v: want VCC read and the user reactivated", res.Outcome, n, got.User.Active)
			}
			want := handlers.OutcomeReactivated
			if stale {
				want = handlers.OutcomeReactivated // stale, but VCC was put back to the applied snapshot
			}
			if res.Outcome != want {
				t.Errorf("outcome %q, want %q (%s)", res.Outcome, want, res.Note)
			}
			if _, open, _ := hs.db.OpenedIntent(jane.ID); open {
				t.Error("intent still open after the state was recorded")
			}
			// Settled: the next identical event reads nothing.
			if res, n, _ := hs.apply(t, res.State, jane); res.Outcome != handlers.OutcomeUnchanged || n != 0 {
				t.Errorf("after settling: %q with %d requests, want unchanged without reading", res.Outcome, n)
			}
		})
	}
}

// A write opens the user's intent before it reaches VCC; a run that writes
// nothing opens none.
func TestWritesOpenTheIntentFirst(t *testing.T) {
	hs := newHarness(t, nil)
	jane := person("0055e000001Jane", "Jane", "Smith", t0)
	taken := jane
	taken.AgentID = events.Val("1001") // Alice's in VCC: the create is refused
	if _, err := hs.h.HandleUser(hs.ctx, jane.ID, "e1", handlers.State{}, taken); err == nil {
		t.Fatal("create succeeded with an agent ID in use")
	}
	if n := hs.sb.Stats().WritesByMethod["POST"]; n != 0 {
		t.Fatalf("%d creates", n)
	}
	in, open, err := hs.db.OpenedIntent(jane.ID)
	if err != nil || !open || in.EventID != "e1" {
		t.Fatalf("intent %+v %v %v: want open by e1 before the create was tried", in, open, err)
	}

	omar := person("0055e000001Omar", "Omar", "Haddad", t0)
	res, err := hs.h.HandleUser(hs.ctx, omar.ID, "e2", handlers.State{}, omar)
	if err != nil || res.Outcome != handlers.OutcomeCreated {
		t.Fatalf("create: %q %v", res.Outcome, err)
	}
	hs.settle(t, omar.ID)
	if _, err := hs.h.HandleUser(hs.ctx, omar.ID, "e3", res.State, omar); err != nil {
		t.Fatal(err)
	}
	if _, open, _ := hs.db.OpenedIntent(omar.ID); open {
		t.Error("a run that wrote nothing opened an intent")
	}
}

// The create is linked in the store at once; a copy of the template that
// fails afterwards leaves the link, and a Partial result that says so.
func TestCreatedUserIsLinkedAtOnce(t *testing.T) {
	hs := newHarness(t, nil)
	// VCC refuses the template's skills for the new user, once.
	var refused atomic.Int32
	wrap := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/skills") && refused.Add(1) == 1 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"message":"skill 7a1e0c55 is not available to this user"}`))
			return
		}
		hs.sb.ServeHTTP(w, r)
	})
	url, stop, err := sandbox.Start("127.0.0.1:0", wrap)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stop() }()
	client, err := vcc.New(vcc.Config{BaseURL: url + "/useradmin", TokenURL: url + "/Auth/connect/token",
		ClientID: sandbox.DemoClientID, ClientSecret: sandbox.DemoClientSecret, RatePerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	h, err := handlers.New(client, ids{hs.db}, handlers.Mapping{DefaultTemplate: sandbox.DemoAgentTemplateUsername, AgentIDStart: 1000})
	if err != nil {
		t.Fatal(err)
	}

	jane := person("0055e000001Jane", "Jane", "Smith", t0)
	res, err := h.HandleUser(hs.ctx, jane.ID, "e1", handlers.State{}, jane)
	if err == nil {
		t.Fatal("the copy of the skills succeeded although VCC refused it")
	}
	st, ok, _ := hs.db.User(jane.ID)
	rec, _ := hs.sb.UserByUsername("Jane.Smith@acme.example")
	if !ok || st.VCCUserID == "" || st.VCCUserID != rec.User.UserID {
		t.Fatalf("stored link %q (%v), want VCC user %q", st.VCCUserID, ok, rec.User.UserID)
	}
	if !res.Partial || res.State.VCCUserID != rec.User.UserID {
		t.Errorf("result %+v: want a partial result carrying the link", res)
	}
	// The next event finishes the copy on the linked user; no second create.
	res, err = h.HandleUser(hs.ctx, jane.ID, "e2", handlers.State{VCCUserID: st.VCCUserID}, jane)
	if err != nil || res.Outcome != handlers.OutcomeCreated {
		t.Fatalf("next event: %q %v, want the create finished", res.Outcome, err)
	}
	got, _ := hs.sb.User(rec.User.UserID)
	tmpl, _ := hs.sb.UserByUsername(sandbox.DemoAgentTemplateUsername)
	if !slices.Equal(got.Skills, tmpl.Skills) || !slices.Equal(got.Groups, tmpl.Groups) || hs.sb.Stats().WritesByMethod["POST"] != 1 {
		t.Errorf("skills %v groups %v, %d creates: want the template's lists and one create", got.Skills, got.Groups, hs.sb.Stats().WritesByMethod["POST"])
	}
}

// Within one batch the state a run returned accounts for its own writes:
// the user's next event trusts it although the intent is still open (the
// commit closes it). A state loaded from the store with the intent open
// is not trusted.
func TestFreshStateTrustedUntilCommitted(t *testing.T) {
	hs := newHarness(t, nil)
	jane := person("0055e000001Jane", "Jane", "Smith", t0)
	created, err := hs.h.HandleUser(hs.ctx, jane.ID, "e1", handlers.State{}, jane)
	if err != nil || !created.State.Fresh {
		t.Fatalf("create: %v, fresh %v", err, created.State.Fresh)
	}
	before := hs.sb.Stats().Requests["GET"]
	if res, err := hs.h.HandleUser(hs.ctx, jane.ID, "e2", created.State, jane); err != nil || res.Outcome != handlers.OutcomeUnchanged {
		t.Fatalf("same snapshot on the fresh state: %q %v", res.Outcome, err)
	}
	if n := hs.sb.Stats().Requests["GET"] - before; n != 0 {
		t.Errorf("%d reads of VCC for a fresh state", n)
	}
	loaded := created.State
	loaded.Fresh = false
	if _, err := hs.h.HandleUser(hs.ctx, jane.ID, "e3", loaded, jane); err != nil {
		t.Fatal(err)
	}
	if n := hs.sb.Stats().Requests["GET"] - before; n == 0 {
		t.Error("a stored state with the intent open was trusted without reading VCC")
	}
}
