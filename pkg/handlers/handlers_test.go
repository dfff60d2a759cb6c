package handlers_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/sandbox"
	"github.com/vccsync/vccsync/pkg/store"
	"github.com/vccsync/vccsync/pkg/vcc"
)

const (
	agentProfile = "00e5e000000AgtV"
	supProfile   = "00e5e000000SupV"
	otherProfile = "00e5e000000OthV"
)

// harness is the handlers against the VCC sandbox over HTTP, through the
// real client, with agent IDs reserved in bbolt.
type harness struct {
	url string
	sb  *sandbox.VCC
	api *apiCounter // the requests the sandbox served, by route
	db  *store.DB
	h   *handlers.Handler
	ctx context.Context
	evs int // events applied, for their ids
}

// ids adapts the store to handlers.AgentIDs (the sentinel differs) and
// handlers.Sagas.
type ids struct{ *store.DB }

func (i ids) SetStep(key, saga, step, data string) error {
	return i.DB.SetSagaStep(key, store.SagaStep{Saga: saga, Step: step, Data: data})
}

func (i ids) Step(key, saga string) (string, string, bool, error) {
	s, ok, err := i.DB.SagaStep(key, saga)
	return s.Step, s.Data, ok, err
}

func (i ids) Clear(key, saga string) error { return i.DB.ClearSaga(key, saga) }

func (i ids) OpenIntent(key, eventID string) error {
	return i.DB.OpenIntent(key, store.Intent{EventID: eventID})
}

func (i ids) IntentOpen(key string) (bool, error) {
	_, ok, err := i.DB.OpenedIntent(key)
	return ok, err
}

func (i ids) Link(key, vccUserID string) error { return i.DB.LinkUser(key, vccUserID) }

// settle closes the user's write intent, as the worker's commit does once
// the state a handler returned is recorded.
func (hs *harness) settle(t testing.TB, key string) {
	t.Helper()
	if err := hs.db.Commit(store.Batch{Settled: []string{key}}); err != nil {
		t.Fatal(err)
	}
}

func (i ids) ClaimAgentID(key, id string) error {
	if err := i.DB.ClaimAgentID(key, id); errors.Is(err, store.ErrAgentIDTaken) {
		return fmt.Errorf("%w: %v", handlers.ErrAgentIDTaken, err)
	} else {
		return err
	}
}

func newHarness(t testing.TB, m *handlers.Mapping) *harness {
	t.Helper()
	return newHarnessWith(t, m, sandbox.VCCOptions{})
}

// newHarnessWith is newHarness with a sandbox of those options.
func newHarnessWith(t testing.TB, m *handlers.Mapping, opts sandbox.VCCOptions) *harness {
	t.Helper()
	sb := sandbox.NewVCC(opts)
	if err := sb.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	api := newAPICounter(sb)
	url, stop, err := sandbox.Start("127.0.0.1:0", api)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	client, err := vcc.New(vcc.Config{BaseURL: url + "/useradmin", TokenURL: url + "/Auth/connect/token",
		ClientID: sandbox.DemoClientID, ClientSecret: sandbox.DemoClientSecret, RatePerMinute: -1,
		// Quick retries inside a call, within a budget shorter than the
		// Retry-After the tests send.
		RetryInitial: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, RetryBudget: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if m == nil {
		m = &handlers.Mapping{DefaultTemplate: sandbox.DemoAgentTemplateUsername,
			Templates: map[string]string{supProfile: sandbox.DemoSupervisorTemplateUsername}, AgentIDStart: 1000}
	}
	h, err := handlers.New(client, ids{db}, *m)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{url: url, sb: sb, api: api, db: db, h: h, ctx: context.Background()}
}

func key(id15 string) string { k, _ := events.NormalizeID(id15); return k }

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func person(id15, first, last string, at time.Time) events.User {
	u := first + "." + last + "@acme.example"
	return events.User{ID: key(id15), Username: events.Val(u), Email: events.Val(u), FirstName: events.Val(first),
		LastName: events.Val(last), IsActive: events.Val(true), FederationIdentifier: events.Val(first[:1] + last),
		ProfileID: events.Val(agentProfile), SystemModstamp: events.Val(events.Time{Time: at})}
}

// apply runs one event and counts the sandbox requests it made. After a
// success it closes the user's write intent, as the worker's commit does.
func (hs *harness) apply(t testing.TB, prev handlers.State, u events.User) (handlers.Result, int, error) {
	t.Helper()
	before := hs.sb.Stats()
	hs.evs++
	res, err := hs.h.HandleUser(hs.ctx, u.ID, fmt.Sprintf("ev-%d", hs.evs), prev, u)
	if err == nil {
		hs.settle(t, u.ID)
	}
	after := hs.sb.Stats()
	n := 0
	for m, c := range after.Requests {
		n += c - before.Requests[m]
	}
	return res, n, err
}

func writes(sb *sandbox.VCC) int { return sb.Stats().Writes }

func TestCreateFromTemplate(t *testing.T) {
	for _, tc := range []struct {
		name, profile, agentID, template string
		wantAgentID                      string
		wantRole                         string
	}{
		{"agent with Salesforce agent ID", agentProfile, "1042", sandbox.DemoAgentTemplateUsername, "1042", "Agent"},
		{"agent with allocated ID", agentProfile, "", sandbox.DemoAgentTemplateUsername, "1000", "Agent"},
		{"supervisor by profile", supProfile, "", sandbox.DemoSupervisorTemplateUsername, "1000", "Supervisor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, nil)
			u := person("0055e000001Jane", "Jane", "Smith", t0)
			u.ProfileID = events.Val(tc.profile)
			if tc.agentID != "" {
				u.AgentID = events.Val(tc.agentID)
			}
			res, _, err := hs.apply(t, handlers.State{}, u)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != handlers.OutcomeCreated {
				t.Fatalf("outcome %q, want created", res.Outcome)
			}
			got, ok := hs.sb.User(res.State.VCCUserID)
			if !ok {
				t.Fatalf("VCC user %q not in the sandbox", res.State.VCCUserID)
			}
			tmpl, _ := hs.sb.UserByUsername(tc.template)
			gu, tu := got.User, tmpl.User
			if gu.Username != "Jane.Smith@acme.example" || gu.Name != "Jane Smith" || gu.Email != "Jane.Smith@acme.example" || gu.SSOExternalID != "JSmith" || !gu.Active {
				t.Errorf("identity fields: %+v", gu)
			}
			if gu.Config.Role != tc.wantRole || gu.Config.Role != tu.Config.Role || !gu.Config.ActAsAgent {
				t.Errorf("role %q actAsAgent %v, want the template's %q", gu.Config.Role, gu.Config.ActAsAgent, tu.Config.Role)
			}
			ga, ta := gu.Config.Agent, tu.Config.Agent
			if ga.AgentDisplayID != tc.wantAgentID {
				t.Errorf("agentDisplayId %q, want %q", ga.AgentDisplayID, tc.wantAgentID)
			}
			// Every agent setting is the template's, but what is the
			// person's own: agent ID, phone number and extension.
			want := *ta
			want.AgentDisplayID = ga.AgentDisplayID
			want.TelephonyAddress.TelephoneAddress = ga.TelephonyAddress.TelephoneAddress
			want.TelephonyAddress.TelephonyExtension = ""
			if *ga != want {
				t.Errorf("agent settings not copied from the template:\n got %+v\nwant %+v", *ga, want)
			}
			if gu.Config.Chargeable != tu.Config.Chargeable {
				t.Errorf("chargeable %v, want the template's %v", gu.Config.Chargeable, tu.Config.Chargeable)
			}
			if !slices.Equal(got.Skills, tmpl.Skills) || !slices.Equal(got.Groups, tmpl.Groups) || !slices.Equal(got.CallbackNumbers, tmpl.CallbackNumbers) ||
				!slices.Equal(got.GroupPermissions, tmpl.GroupPermissions) {
				t.Errorf("sub-resources differ from the template: skills %d/%d groups %d/%d callbacks %d/%d group permissions %d/%d",
					len(got.Skills), len(tmpl.Skills), len(got.Groups), len(tmpl.Groups), len(got.CallbackNumbers), len(tmpl.CallbackNumbers),
					len(got.GroupPermissions), len(tmpl.GroupPermissions))
			}
			// One create, which selects the callback number, and the four lists.
			if w := hs.sb.Stats().WritesByUser[gu.UserID]; w["POST"] != 1 || w["PUT"] != 4 || w["PATCH"] != 0 {
				t.Errorf("writes to the new user: %v, want one POST and four PUTs", w)
			}
		})
	}
}

func TestAgentIDAllocationSkipsIDsInUse(t *testing.T) {
	hs := newHarness(t, nil)
	// The demo account uses 1001 (active) and 1003 (archived); the start is 1000.
	var got []string
	for i, name := range []string{"Aaa", "Bbb", "Ccc", "Ddd"} {
		u := person(fmt.Sprintf("0055e00000%05d", i), name, "Test", t0)
		res, _, err := hs.apply(t, handlers.State{}, u)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, res.State.AgentID)
	}
	if want := []string{"1000", "1002", "1004", "1005"}; !slices.Equal(got, want) {
		t.Errorf("agent IDs %v, want %v", got, want)
	}
}

func TestConvergence(t *testing.T) {
	hs := newHarness(t, nil)
	jane := person("0055e000001Jane", "Jane", "Smith", t0)
	created, _, err := hs.apply(t, handlers.State{}, jane)
	if err != nil {
		t.Fatal(err)
	}
	id := created.State.VCCUserID

	t.Run("same snapshot again: no request at all", func(t *testing.T) {
		res, n, err := hs.apply(t, created.State, jane)
		if err != nil || res.Outcome != handlers.OutcomeUnchanged || n != 0 {
			t.Errorf("outcome %q, %d requests, err %v; want unchanged, 0 requests", res.Outcome, n, err)
		}
	})
	t.Run("state lost (crash before commit): linked by username, nothing written", func(t *testing.T) {
		w := writes(hs.sb)
		res, _, err := hs.apply(t, handlers.State{}, jane)
		if err != nil || res.State.VCCUserID != id || writes(hs.sb) != w {
			t.Errorf("outcome %q link %q err %v, %d writes; want the same user and no write", res.Outcome, res.State.VCCUserID, err, writes(hs.sb)-w)
		}
	})
	t.Run("email changed: one PATCH with only the email", func(t *testing.T) {
		u := jane
		u.Email = events.Val("jane@new.example")
		u.SystemModstamp = events.Val(events.Time{Time: t0.Add(time.Minute)})
		before := hs.sb.Stats().WritesByUser[id]["PATCH"]
		res, _, err := hs.apply(t, created.State, u)
		if err != nil || res.Outcome != handlers.OutcomeUpdated {
			t.Fatalf("outcome %q err %v", res.Outcome, err)
		}
		if got := hs.sb.Stats().WritesByUser[id]["PATCH"] - before; got != 1 {
			t.Errorf("%d PATCHes, want 1", got)
		}
		if len(res.Changes) != 1 || res.Changes[0] != (handlers.Change{Field: "email", Old: "Jane.Smith@acme.example", New: "jane@new.example"}) {
			t.Errorf("changes %+v", res.Changes)
		}
		created = res
	})
	t.Run("older snapshot: stale, no request", func(t *testing.T) {
		res, n, err := hs.apply(t, created.State, jane)
		if err != nil || res.Outcome != handlers.OutcomeStale || n != 0 {
			t.Errorf("outcome %q, %d requests, err %v; want stale, 0", res.Outcome, n, err)
		}
		if res.State.Snapshot.Email.Get() != "jane@new.example" {
			t.Error("a stale snapshot changed the state")
		}
	})
	t.Run("deactivated: archived", func(t *testing.T) {
		u := events.User{ID: jane.ID, IsActive: events.Val(false), SystemModstamp: events.Val(events.Time{Time: t0.Add(2 * time.Minute)})}
		res, _, err := hs.apply(t, created.State, u)
		if err != nil || res.Outcome != handlers.OutcomeArchived {
			t.Fatalf("outcome %q err %v", res.Outcome, err)
		}
		if got, _ := hs.sb.User(id); got.User.Active {
			t.Error("VCC user still active")
		}
		again, n, err := hs.apply(t, res.State, u)
		if err != nil || again.Outcome != handlers.OutcomeUnchanged || n != 0 {
			t.Errorf("second deactivation: outcome %q, %d requests, err %v", again.Outcome, n, err)
		}
		created = res
	})
	t.Run("reactivated: reverted to active", func(t *testing.T) {
		u := events.User{ID: jane.ID, IsActive: events.Val(true), SystemModstamp: events.Val(events.Time{Time: t0.Add(3 * time.Minute)})}
		res, _, err := hs.apply(t, created.State, u)
		if err != nil || res.Outcome != handlers.OutcomeReactivated {
			t.Fatalf("outcome %q err %v", res.Outcome, err)
		}
		if got, _ := hs.sb.User(id); !got.User.Active {
			t.Error("VCC user not active again")
		}
	})
}

func TestLinkExistingUser(t *testing.T) {
	hs := newHarness(t, nil)
	u := person("0055e000001Alic", "Alice", "Archer", t0)
	u.Username, u.Email = events.Val(sandbox.DemoActiveUsername), events.Val(sandbox.DemoActiveUsername)
	existing, _ := hs.sb.UserByUsername(sandbox.DemoActiveUsername)
	res, _, err := hs.apply(t, handlers.State{}, u)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != handlers.OutcomeLinked || res.State.VCCUserID != existing.User.UserID {
		t.Fatalf("outcome %q link %q, want linked to %s", res.Outcome, res.State.VCCUserID, existing.User.UserID)
	}
	after, _ := hs.sb.UserByUsername(sandbox.DemoActiveUsername)
	if hs.sb.Stats().WritesByMethod["POST"] != 0 {
		t.Error("a user was created although one exists with the same username")
	}
	if !slices.Equal(after.Skills, existing.Skills) || !slices.Equal(after.CallbackNumbers, existing.CallbackNumbers) {
		t.Error("linking rewrote the existing user's sub-resources")
	}
	if res.State.AgentID != "1001" {
		t.Errorf("agent ID %q, want the VCC user's 1001", res.State.AgentID)
	}
}

func TestInterruptedCreateIsCompleted(t *testing.T) {
	hs := newHarness(t, nil)
	tmpl, _ := hs.sb.UserByUsername(sandbox.DemoAgentTemplateUsername)
	// The create reached VCC and the skills were copied, then the worker
	// failed before the groups, callback numbers, group permissions and the
	// selected callback number: the create step is still recorded.
	rec, err := hs.sb.AddUser(sandbox.VCCUserRecord{User: sandbox.VCCUser{Username: "Omar.Haddad@acme.example", Name: "Omar Haddad",
		Email: "Omar.Haddad@acme.example", Active: true, SSOExternalID: "OHaddad", Config: sandbox.VCCAccountConfig{Role: "Agent", ActAsAgent: true,
			Agent: &sandbox.VCCAgentConfig{AgentDisplayID: "1000"}}}, Skills: tmpl.Skills})
	if err != nil {
		t.Fatal(err)
	}
	k := key("0055e000001Omar")
	if err := hs.db.SetSagaStep(k, store.SagaStep{Saga: "create", Step: "create-and-copy", Data: sandbox.DemoAgentTemplateUsername}); err != nil {
		t.Fatal(err)
	}
	res, _, err := hs.apply(t, handlers.State{}, person("0055e000001Omar", "Omar", "Haddad", t0))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != handlers.OutcomeCreated {
		t.Errorf("outcome %q, want created (the create is finished)", res.Outcome)
	}
	got, _ := hs.sb.User(rec.User.UserID)
	if res.State.VCCUserID != rec.User.UserID || !slices.Equal(got.Groups, tmpl.Groups) || !slices.Equal(got.CallbackNumbers, tmpl.CallbackNumbers) ||
		!slices.Equal(got.GroupPermissions, tmpl.GroupPermissions) ||
		got.User.Config.Agent.TelephonyAddress.SelectedCallbackNumberID != tmpl.User.Config.Agent.TelephonyAddress.SelectedCallbackNumberID {
		t.Errorf("outcome %q; groups %d, callbacks %d, group permissions %d, selected callback %q: want the template's",
			res.Outcome, len(got.Groups), len(got.CallbackNumbers), len(got.GroupPermissions), got.User.Config.Agent.TelephonyAddress.SelectedCallbackNumberID)
	}
	w := hs.sb.Stats().WritesByUser[rec.User.UserID]
	if w["POST"] != 0 || w["PUT"] != 3 || w["PATCH"] != 1 {
		t.Errorf("writes %v: want no create, three PUTs (groups, callback numbers, group permissions; the skills were already right) and the PATCH selecting the callback number", w)
	}
	if _, ok, _ := hs.db.SagaStep(k, "create"); ok {
		t.Error("create step still recorded after it was completed")
	}
}

func TestNoWriteOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mapping *handlers.Mapping
		user    events.User
		want    string
	}{
		{"out of scope", &handlers.Mapping{Templates: map[string]string{supProfile: sandbox.DemoSupervisorTemplateUsername}},
			person("0055e000001Jane", "Jane", "Smith", t0), handlers.OutcomeOutOfScope},
		{"inactive and never provisioned", nil,
			func() events.User {
				u := person("0055e000001Jane", "Jane", "Smith", t0)
				u.IsActive = events.Val(false)
				return u
			}(),
			handlers.OutcomeNotProvisioned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, tc.mapping)
			res, _, err := hs.apply(t, handlers.State{}, tc.user)
			if err != nil || res.Outcome != tc.want || writes(hs.sb) != 0 {
				t.Errorf("outcome %q err %v writes %d; want %q and no write", res.Outcome, err, writes(hs.sb), tc.want)
			}
		})
	}
}

func TestPermanentRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mapping *handlers.Mapping
		prepare func(hs *harness)
		user    events.User
		want    string
	}{
		{"partial event for an unknown user", nil, nil,
			events.User{ID: key("0055e000001Jane"), IsActive: events.Val(true)},
			"Username, Email, LastName or FirstName unknown"},
		{"template missing in VCC", &handlers.Mapping{DefaultTemplate: "nobody@acme.example"}, nil,
			person("0055e000001Jane", "Jane", "Smith", t0), `template VCC user "nobody@acme.example" not found`},
		{"Salesforce agent ID held by another user", nil,
			func(hs *harness) { _ = hs.db.ClaimAgentID(key("0055e000001Omar"), "1042") },
			func() events.User {
				u := person("0055e000001Jane", "Jane", "Smith", t0)
				u.AgentID = events.Val("1042")
				return u
			}(),
			"NVM Agent Id 1042 of Salesforce user 0055e000001JaneAAC is already the agent ID of another user"},
		{"Salesforce agent ID used in VCC", nil, nil,
			func() events.User {
				u := person("0055e000001Jane", "Jane", "Smith", t0)
				u.AgentID = events.Val("1001")
				return u
			}(),
			"409"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, tc.mapping)
			if tc.prepare != nil {
				tc.prepare(hs)
			}
			_, _, err := hs.apply(t, handlers.State{}, tc.user)
			if err == nil {
				t.Fatal("accepted")
			}
			var temp interface{ Temporary() bool }
			if !errors.As(err, &temp) || temp.Temporary() {
				t.Errorf("error %v is not classified permanent", err)
			}
			if !contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if writes(hs.sb) != 0 {
				t.Errorf("%d writes, want none", writes(hs.sb))
			}
		})
	}
}

func TestTransientErrorsAreClassified(t *testing.T) {
	hs := newHarness(t, nil)
	hs.sb.SetDown(true)
	_, _, err := hs.apply(t, handlers.State{}, person("0055e000001Jane", "Jane", "Smith", t0))
	var temp interface{ Temporary() bool }
	if err == nil || !errors.As(err, &temp) || !temp.Temporary() {
		t.Fatalf("error %v: want a temporary error while VCC is down", err)
	}
	hs.sb.SetDown(false)
	// A Retry-After past the call's retry budget comes back at once, for
	// the worker to delay the whole message.
	hs.sb.FailNext(1, 429, 7*time.Second)
	_, _, err = hs.apply(t, handlers.State{}, person("0055e000001Jane", "Jane", "Smith", t0))
	var ra interface{ RetryAfter() time.Duration }
	if err == nil || !errors.As(err, &ra) || ra.RetryAfter() != 7*time.Second {
		t.Fatalf("error %v: want Retry-After 7s carried", err)
	}
}

func TestMappingValidation(t *testing.T) {
	for _, tc := range []struct {
		m    handlers.Mapping
		want string
	}{
		{handlers.Mapping{}, "no template users"},
		{handlers.Mapping{DefaultTemplate: "t", UsernameSource: "Alias"}, `usernameSource: "Alias"`},
		{handlers.Mapping{Templates: map[string]string{"0055e000001Jane": "t"}}, "is not a Salesforce profile ID"},
		{handlers.Mapping{DefaultTemplate: "t", AgentIDStart: -5}, "agentIdStart: -5"},
	} {
		if _, err := handlers.New(nil, nil, tc.m); err == nil || !contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) error %v, want %q", tc.m, err, tc.want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestUnknownIsActiveNeverArchives(t *testing.T) {
	hs := newHarness(t, nil)
	jane := person("0055e000001Jane", "Jane", "Smith", t0)
	created, _, err := hs.apply(t, handlers.State{}, jane)
	if err != nil {
		t.Fatal(err)
	}
	// A state whose snapshot lost IsActive (written by an older build, or
	// cleared by hand), then a change that does not mention it.
	st := created.State
	st.Snapshot.IsActive = events.Field[bool]{}
	u := events.User{ID: jane.ID, Email: events.Val("jane@new.example"), SystemModstamp: events.Val(events.Time{Time: t0.Add(time.Minute)})}
	res, _, err := hs.apply(t, st, u)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := hs.sb.User(st.VCCUserID); !got.User.Active || got.User.Email != "jane@new.example" || res.Outcome != handlers.OutcomeUpdated {
		t.Errorf("outcome %q, active %v, email %q: want updated, still active", res.Outcome, got.User.Active, got.User.Email)
	}
}

// VCC lets only an admin API client delete users: a non-admin client's
// delete is refused with VCC's own message, and nothing is deleted.
func TestDeleteNeedsAdminClient(t *testing.T) {
	hs := newHarness(t, nil)
	if err := hs.sb.AddClient(sandbox.VCCClient{ID: "supervisor-client", Secret: "s3cret",
		Scopes: []string{"users:read", "users:write"}, Admin: false}); err != nil {
		t.Fatal(err)
	}
	archived, _ := hs.sb.UserByUsername(sandbox.DemoArchivedUsername)
	url := strings.TrimSuffix(hs.url, "/")
	client, err := vcc.New(vcc.Config{BaseURL: url + "/useradmin", TokenURL: url + "/Auth/connect/token",
		ClientID: "supervisor-client", ClientSecret: "s3cret", RatePerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	h, err := handlers.New(client, ids{hs.db}, handlers.Mapping{DefaultTemplate: sandbox.DemoAgentTemplateUsername})
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := events.NewCommand("c1", key("0055e000001Bobb"), events.ActionDelete, "alice", "", events.CommandParams{Confirm: true})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := cmd.Marshal()
	ev, err := events.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.HandleCommand(context.Background(), ev.UserKey, ev.ID, handlers.State{VCCUserID: archived.User.UserID}, *ev.Command)
	var perm *handlers.PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "delete refused by VCC") || !strings.Contains(err.Error(), "403") {
		t.Fatalf("error %v: want a permanent refusal carrying VCC's 403", err)
	}
	if _, ok := hs.sb.User(archived.User.UserID); !ok {
		t.Error("the user was deleted by a non-admin client")
	}
}

// A change made by hand in VCC is not seen by HandleUser when nothing
// changed in Salesforce (no read), and is put back by VerifyUser.
func TestVerifyUserFindsDrift(t *testing.T) {
	hs := newHarness(t, nil)
	jane := person("0055e000001Jane", "Jane", "Smith", t0)
	created, _, err := hs.apply(t, handlers.State{}, jane)
	if err != nil {
		t.Fatal(err)
	}
	id := created.State.VCCUserID
	if err := hs.sb.ModifyUser(id, func(r *sandbox.VCCUserRecord) { r.User.Email = "changed@by.hand" }); err != nil {
		t.Fatal(err)
	}
	if res, n, _ := hs.apply(t, created.State, jane); res.Outcome != handlers.OutcomeUnchanged || n != 0 {
		t.Fatalf("HandleUser: %q with %d requests, want unchanged without reading", res.Outcome, n)
	}
	res, err := hs.h.VerifyUser(hs.ctx, jane.ID, "verify", created.State, jane)
	if err != nil || res.Outcome != handlers.OutcomeUpdated {
		t.Fatalf("VerifyUser: %q %v", res.Outcome, err)
	}
	if got, _ := hs.sb.User(id); got.User.Email != "Jane.Smith@acme.example" {
		t.Errorf("email %q, want Salesforce's back", got.User.Email)
	}
}
