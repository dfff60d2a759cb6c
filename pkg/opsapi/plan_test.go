package opsapi_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/opsapi"
	"github.com/vccsync/vccsync/pkg/sandbox"
	"github.com/vccsync/vccsync/pkg/vcc"
)

// demoVCC is the VCC sandbox, seeded with the demo account, and a client
// of it.
func demoVCC(t *testing.T) (*sandbox.VCC, *vcc.Client) {
	t.Helper()
	sb := sandbox.NewVCC(sandbox.VCCOptions{})
	if err := sb.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	url, stop, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	client, err := vcc.New(vcc.Config{BaseURL: url + "/useradmin", TokenURL: url + "/Auth/connect/token",
		ClientID: sandbox.DemoClientID, ClientSecret: sandbox.DemoClientSecret, RatePerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	return sb, client
}

func snapshot(id, username string) events.User {
	return events.User{ID: id, Username: events.Val(username), Email: events.Val(username), FirstName: events.Val("Omar"),
		LastName: events.Val("Haddad"), IsActive: events.Val(true), FederationIdentifier: events.Val("ohaddad"),
		ProfileID: events.Val(sandbox.DemoSFAgentProfileID), SystemModstamp: events.Val(events.Time{Time: at})}
}

// TestPlan: the planner reads VCC and the store for real and writes
// nothing: neither VCC, nor contact centers, nor the store.
func TestPlan(t *testing.T) {
	sb, client := demoVCC(t)
	alice, ok := sb.UserByUsername(sandbox.DemoActiveUsername)
	if !ok {
		t.Fatal("no demo user alice")
	}
	m := handlers.Mapping{DefaultTemplate: sandbox.DemoAgentTemplateUsername, AgentIDStart: 5000,
		DefaultContactCenter: sandbox.DemoSFContactCenterLondon}
	st := newMemStore()
	st.agents["1042"] = jane // Jane holds agent ID 1042
	s := serve(t, opsapi.NewService(st, worker{running: true}, opsapi.NewPlanner(client, st, m)), "")
	writes := sb.Stats().Writes

	withAgentID := snapshot(omar, "omar.haddad@demo.example")
	withAgentID.AgentID = events.Val("1042")
	renamed := snapshot(omar, sandbox.DemoActiveUsername)
	renamed.Email = events.Val("alice.new@demo.example")
	for _, tt := range []struct {
		name      string
		u         events.User
		outcome   string
		vccUserID string
		writes    []string // each must be among the reply's writes
		err       string   // the refusal in the reply
		inChanges string   // a field among the changes
	}{
		{name: "a new user", u: snapshot(omar, "omar.haddad@demo.example"), outcome: handlers.OutcomeCreated, vccUserID: "(new)",
			writes:    []string{"POST /users (create omar.haddad@demo.example)", "PUT /users/{userId}/skills", "add " + omar + " to contact center " + sandbox.DemoSFContactCenterLondon},
			inChanges: "agentDisplayId"},
		{name: "a VCC user of the same username", u: renamed, outcome: handlers.OutcomeLinked, vccUserID: alice.User.UserID, writes: []string{"PATCH /users/{userId}"}, inChanges: "email"},
		{name: "an agent ID another user holds", u: withAgentID, outcome: "refused", err: "agent ID held by another Salesforce user: held by Salesforce user " + jane},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := s.viaNATS.Plan(t.Context(), tt.u)
			if err != nil {
				t.Fatal(err)
			}
			if p.UserID != omar || p.Outcome != tt.outcome || p.VCCUserID != tt.vccUserID || !strings.Contains(p.Error, tt.err) ||
				(tt.err == "" && p.Error != "") {
				t.Errorf("plan: %+v", p)
			}
			for _, w := range tt.writes {
				if !slices.Contains(p.Writes, w) {
					t.Errorf("writes %q lack %q", p.Writes, w)
				}
			}
			if tt.inChanges != "" && !slices.ContainsFunc(p.Changes, func(c events.FieldChange) bool { return c.Field == tt.inChanges }) {
				t.Errorf("changes %+v lack %s", p.Changes, tt.inChanges)
			}
		})
	}
	if got := sb.Stats().Writes; got != writes {
		t.Errorf("plans wrote to VCC %d times", got-writes)
	}
	if _, ok := sb.UserByUsername("omar.haddad@demo.example"); ok {
		t.Error("a plan created a VCC user")
	}
	if len(st.users) != 0 || len(st.steps) != 0 || len(st.intents) != 0 || len(st.agents) != 1 {
		t.Errorf("a plan changed the store: %+v", st)
	}
}

// TestPlanRefused: what the service will not plan.
func TestPlanRefused(t *testing.T) {
	_, client := demoVCC(t)
	st := newMemStore()
	s := serve(t, opsapi.NewService(st, worker{running: true}, opsapi.NewPlanner(client, st, handlers.Mapping{DefaultTemplate: sandbox.DemoAgentTemplateUsername})), "")
	var e *opsapi.Error
	if _, err := s.viaNATS.Plan(t.Context(), events.User{ID: "0015e000001Omar"}); !errors.As(err, &e) || e.Code != "400" || !strings.Contains(e.Message, "not a Salesforce user ID") {
		t.Errorf("an invalid snapshot: %v, want a 400 error", err)
	}
	if msg, err := s.nc.Request(events.PlanSubject, []byte("{"), 5*time.Second); err != nil || msg.Header.Get("Nats-Service-Error-Code") != "400" ||
		!strings.HasPrefix(msg.Header.Get("Nats-Service-Error"), "plan request: ") {
		t.Errorf("a request that is not JSON: %v %v", msg.Header, err)
	}
	if _, err := s.viaHTTP.Plan(t.Context(), snapshot(omar, "omar.haddad@demo.example")); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("plan over HTTP: %v, want errors.ErrUnsupported", err)
	}
	st.fail = errDisk
	if _, err := s.viaNATS.Plan(t.Context(), snapshot(omar, "omar.haddad@demo.example")); !errors.As(err, &e) || e.Code != "500" || !strings.Contains(e.Message, "disk on fire") {
		t.Errorf("a store that cannot be read: %v, want a 500 error", err)
	}
	if _, err := opsapi.NewService(st, worker{}, nil).Plan(t.Context(), snapshot(omar, "x@y")); !errors.Is(err, opsapi.ErrNoPlanner) {
		t.Errorf("a service without a planner: %v", err)
	}
}
