package opsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/opsapi"
)

const (
	jane15 = "0055e000001Jane"
	jane   = "0055e000001JaneAAC"
	omar   = "0055e000001OmarAAC"
)

var at = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// janeStore knows Jane: linked, an alias change in progress, a finished
// password reset, a write intent open, two history entries.
func janeStore() *memStore {
	m := newMemStore()
	m.users[jane] = opsapi.User{
		State: handlers.State{VCCUserID: "vcc-1", AgentID: "1042", Checkpoint: at, Synced: map[string]string{"contactCenter": "04v5e000000LdnCAAS"},
			Snapshot: events.User{ID: jane, Alias: events.Val("jsmith"), IsActive: events.Val(true)}},
		LastEventID: "cmd-2", Outcome: handlers.OutcomeUpdated, UpdatedAt: at.Add(time.Minute), Applied: 2,
	}
	// The reset-password email of cmd-1 was sent: done, not in progress.
	m.steps[jane] = []events.PendingStep{{Saga: "alias", Step: "add", At: at}, {Saga: "reset-password/cmd-1", Step: "sent", Data: "vcc-1", At: at}}
	m.intents[jane] = opsapi.Intent{EventID: "cmd-2", At: at.Add(time.Minute)}
	m.history[jane] = []events.HistoryItem{
		{At: at.Add(time.Minute), EventID: "cmd-2", Type: "vccsync.command.change-alias", Action: "change-alias", RequestedBy: "alice",
			Reason: "marriage", Outcome: handlers.OutcomeUpdated, Changes: []events.FieldChange{{Field: "alias", Old: "jsmith", New: "jdoe"}}},
		{At: at, EventID: "ev-1", Type: events.TypeUserChanged, Outcome: handlers.OutcomeCreated},
	}
	return m
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStatusAndHistory: one client, over NATS and HTTP, gets the same
// answers, and the same errors.
func TestStatusAndHistory(t *testing.T) {
	since := at.Add(2 * time.Minute)
	st := janeStore()
	s := serve(t, opsapi.NewService(st, worker{running: false, reason: "VCC down", since: since}, nil), "v1.2.3")
	ctx := t.Context()
	for name, c := range map[string]*opsapi.Client{"nats": s.viaNATS, "http": s.viaHTTP} {
		t.Run(name, func(t *testing.T) {
			got, err := c.Status(ctx, jane15) // the 15-character form works too
			if err != nil {
				t.Fatal(err)
			}
			active := true
			cp, upd := at, at.Add(time.Minute)
			want := events.UserStatus{UserID: jane, Known: true, VCCUserID: "vcc-1", AgentID: "1042", Checkpoint: &cp,
				ContactCenter: "04v5e000000LdnCAAS", Alias: "jsmith", Active: &active, LastEventID: "cmd-2", LastOutcome: "updated",
				UpdatedAt: &upd, Applied: 2, PendingSteps: []events.PendingStep{{Saga: "alias", Step: "add", At: at},
					{Saga: "write-intent", Step: "unrecorded writes possible: VCC is read in full before the next change", Data: "cmd-2", At: upd}},
				Worker: events.WorkerStatus{Consuming: false, Quarantined: true, Reason: "VCC down", Since: &since}}
			if g, w := asJSON(t, got), asJSON(t, want); g != w {
				t.Errorf("status\n got %s\nwant %s", g, w)
			}

			got, err = c.Status(ctx, omar)
			if err != nil || got.Known || got.UserID != omar || got.PendingSteps != nil || !got.Worker.Quarantined {
				t.Errorf("status of an unknown user: %+v, %v", got, err)
			}

			h, err := c.History(ctx, jane, 1)
			if err != nil || len(h) != 1 || asJSON(t, h[0]) != asJSON(t, st.history[jane][0]) {
				t.Errorf("history, limit 1: %+v, %v", h, err)
			}
			h, err = c.History(ctx, jane, 0)
			if err != nil || len(h) != 2 || h[1].EventID != "ev-1" {
				t.Errorf("history, every entry: %+v, %v", h, err)
			}
			h, err = c.History(ctx, omar, 0)
			if err != nil || len(h) != 0 {
				t.Errorf("history of an unknown user: %+v, %v", h, err)
			}

			for _, call := range []func() error{
				func() error { _, err := c.Status(ctx, "0015e000001Jane"); return err },
				func() error { _, err := c.History(ctx, "nonsense", 0); return err },
			} {
				var e *opsapi.Error
				if err := call(); !errors.As(err, &e) || e.Code != "400" || !strings.Contains(e.Message, "not a Salesforce user ID") {
					t.Errorf("a bad user ID: %v, want a 400 error", err)
				}
			}
		})
	}
}

// TestStoreFailure: a store that cannot be read answers 500 with the cause.
func TestStoreFailure(t *testing.T) {
	st := janeStore()
	st.fail = errDisk
	s := serve(t, opsapi.NewService(st, worker{running: true}, nil), "")
	for name, c := range map[string]*opsapi.Client{"nats": s.viaNATS, "http": s.viaHTTP} {
		_, err := c.Status(t.Context(), jane)
		var e *opsapi.Error
		if !errors.As(err, &e) || e.Code != "500" || e.Message != "read state of "+jane+": disk on fire" {
			t.Errorf("%s: status: %v, want a 500 error", name, err)
		}
		if _, err := c.History(t.Context(), jane, 0); !errors.As(err, &e) || e.Code != "500" {
			t.Errorf("%s: history: %v, want a 500 error", name, err)
		}
	}
}

// TestNATSContract: the micro service keeps the names and subjects deployed
// clients use, says its version, and takes a bare user ID as well as JSON.
func TestNATSContract(t *testing.T) {
	plan := func(context.Context, events.User) (events.PlanReply, error) { return events.PlanReply{}, nil }
	for _, tt := range []struct {
		name      string
		plan      opsapi.PlanFunc
		endpoints []string
	}{
		{"without a planner", nil, []string{"history " + events.HistorySubject, "status " + events.StatusSubject}},
		{"with a planner", plan, []string{"history " + events.HistorySubject, "plan " + events.PlanSubject, "status " + events.StatusSubject}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(t, opsapi.NewService(janeStore(), worker{running: true}, tt.plan), "v0.4.1-0.20261120100000-0123456789ab")
			msg, err := s.nc.Request("$SRV.INFO."+events.ServiceName, nil, 5*time.Second)
			if err != nil {
				t.Fatalf("the service is not discoverable: %v", err)
			}
			var info micro.Info
			if err := json.Unmarshal(msg.Data, &info); err != nil {
				t.Fatal(err)
			}
			var eps []string
			for _, e := range info.Endpoints {
				eps = append(eps, e.Name+" "+e.Subject)
			}
			slices.Sort(eps)
			if info.Name != "vccsync" || info.Version != "0.4.1-0.20261120100000-0123456789ab" || !slices.Equal(eps, tt.endpoints) {
				t.Errorf("info: %s %s %v, want vccsync 0.4.1-… %v", info.Name, info.Version, eps, tt.endpoints)
			}
		})
	}
	// The subjects themselves are the contract.
	if events.ServiceName != "vccsync" || events.StatusSubject != "vccsync.svc.status" || events.HistorySubject != "vccsync.svc.history" ||
		events.PlanSubject != "vccsync.svc.plan" {
		t.Error("a service name or subject changed: deployed clients use them")
	}

	s := serve(t, opsapi.NewService(janeStore(), worker{running: true}, nil), "(devel)")
	for _, body := range []string{jane15, " " + jane + "\n", `{"userId":"` + jane15 + `"}`} {
		msg, err := s.nc.Request(events.StatusSubject, []byte(body), 5*time.Second)
		var st events.UserStatus
		if err != nil || json.Unmarshal(msg.Data, &st) != nil || st.VCCUserID != "vcc-1" {
			t.Errorf("status of %q: %v", body, err)
		}
	}
	msg, err := s.nc.Request(events.HistorySubject, []byte(`{"userId":"`+jane+`","limit":1}`), 5*time.Second)
	var h []events.HistoryItem
	if err != nil || json.Unmarshal(msg.Data, &h) != nil || len(h) != 1 {
		t.Errorf("history, limit 1: %s %v", msg.Data, err)
	}
	msg, err = s.nc.Request(events.HistorySubject, []byte(`{"userId":"nonsense"}`), 5*time.Second)
	if err != nil || msg.Header.Get("Nats-Service-Error-Code") != "400" {
		t.Errorf("bad user: %v %v", msg.Header, err)
	}
}

func TestSemVer(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.3":                             "1.2.3",
		"1.2.3":                              "1.2.3",
		"v0.0.0-20261120100000-abcdef123456": "0.0.0-20261120100000-abcdef123456",
		"v2.0.0+incompatible":                "2.0.0+incompatible",
		"v1.2.4-0.20261120100000-abcdef123456+dirty": "1.2.4-0.20261120100000-abcdef123456+dirty",
		"(devel)": opsapi.DevelVersion,
		"":        opsapi.DevelVersion,
		"v1.2":    opsapi.DevelVersion,
		"v1.02.3": opsapi.DevelVersion,
	} {
		if got := opsapi.SemVer(in); got != want {
			t.Errorf("SemVer(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNoAnswer: nothing serves the subjects or the listener.
func TestNoAnswer(t *testing.T) {
	nc := startNATS(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := opsapi.NewClient(nc).Status(ctx, jane)
	if !errors.Is(err, opsapi.ErrNoAnswer) || !strings.Contains(err.Error(), "no answer on vccsync.svc.status") ||
		!strings.Contains(err.Error(), "is syncworker running?") {
		t.Errorf("status over NATS: %v", err)
	}
	_, err = opsapi.NewHTTPClient("http://127.0.0.1:1", nil).History(ctx, jane, 0)
	if !errors.Is(err, opsapi.ErrNoAnswer) {
		t.Errorf("history over HTTP: %v", err)
	}
}
