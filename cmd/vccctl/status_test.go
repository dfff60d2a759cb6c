package main

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/vccsync/vccsync/pkg/events"
)

// serveStatus answers the status service as syncworker does.
func serveStatus(t *testing.T, url string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	svc, err := micro.AddService(nc, micro.Config{Name: events.ServiceName, Version: "0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	_ = svc.AddEndpoint("status", micro.HandlerFunc(func(r micro.Request) {
		_ = r.RespondJSON(events.UserStatus{UserID: string(r.Data()[11:29]), Known: true, VCCUserID: "vcc-1", AgentID: "1042",
			Checkpoint: &at, ContactCenter: "04v5e000000LdnCAAS", LastOutcome: "updated", Applied: 3,
			PendingSteps: []events.PendingStep{{Saga: "alias", Step: "add", At: at}}, Worker: events.WorkerStatus{Consuming: true}})
	}), micro.WithEndpointSubject(events.StatusSubject))
	_ = svc.AddEndpoint("history", micro.HandlerFunc(func(r micro.Request) {
		_ = r.RespondJSON([]events.HistoryItem{{At: at, EventID: "cmd-1", Type: "vccsync.command.change-alias", Action: "change-alias",
			RequestedBy: "alice", Reason: "marriage", Outcome: "updated", Changes: []events.FieldChange{{Field: "alias", Old: "jsmith", New: "jdoe"}}}})
	}), micro.WithEndpointSubject(events.HistorySubject))
	// The server must hold the service's subscriptions before another
	// connection asks, or the request finds no responders.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestStatusAndHistoryCommands(t *testing.T) {
	url, _ := startJetStream(t, false)
	serveStatus(t, url)
	code, out, errOut := runCLI(t, nil, "status", "--nats-url", url, "0055e000001Jane")
	if code != 0 {
		t.Fatalf("status: exit %d, %s", code, errOut)
	}
	for _, want := range []string{"0055e000001JaneAAC", "vcc-1", "04v5e000000LdnCAAS", "alias: step add since 2026-11-20T10:00:00Z (resumes on the next event)", "consuming"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, nil, "--nats-url", url, "history", "0055e000001Jane")
	if code != 0 || !strings.Contains(out, `change-alias by alice (marriage)`) || !strings.Contains(out, `alias "jsmith" → "jdoe"`) {
		t.Errorf("history: exit %d:\n%s", code, out)
	}
	code, out, _ = runCLI(t, nil, "status", "--json", "--nats-url", url, "0055e000001Jane")
	if code != 0 || !strings.HasPrefix(out, `{"userId":`) {
		t.Errorf("status --json: exit %d: %s", code, out)
	}
	if code, _, errOut := runCLI(t, nil, "status", "--nats-url", url, "0015e000001Jane"); code != 2 || !strings.Contains(errOut, "not a Salesforce user ID") {
		t.Errorf("bad user: exit %d, %s", code, errOut)
	}
}

func TestStatusWithoutWorker(t *testing.T) {
	url, _ := startJetStream(t, false)
	code, _, errOut := runCLI(t, nil, "status", "--timeout", "300ms", "--nats-url", url, "0055e000001Jane")
	if code != 1 || !strings.Contains(errOut, "is syncworker running?") {
		t.Errorf("exit %d, %s", code, errOut)
	}
}
