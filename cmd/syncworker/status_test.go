package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/sandbox"
)

// TestStatusAndHistory: the worker answers what it knows of a user and
// what it did, over HTTP and as a NATS micro service.
func TestStatusAndHistory(t *testing.T) {
	vcc := sandbox.NewVCC(sandbox.VCCOptions{})
	if err := vcc.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	url, stop, err := vcc.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	e := &cmdEnv{t: t, sb: vcc, url: url, users: map[string]string{}}
	e.w = startWorker(t, t.TempDir(), url, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)))
	e.provision("Ann", "0055e000001CmdA", "ann@acme.example", "00e5e000000AgtV")
	if _, o := e.send("Ann", "set-skill-level", map[string]any{"skill": "s-new", "level": 4}); o.Err != nil {
		t.Fatal(o.Err)
	}
	key := e.users["Ann"]
	go func() { _ = e.w.sys.http.Serve(e.w.sys.httpLn) }()
	base := "http://" + e.w.sys.httpLn.Addr().String()

	var st events.UserStatus
	getJSON(t, base+"/v1/users/0055e000001CmdA/status", http.StatusOK, &st) // the 15-character form works too
	if !st.Known || st.UserID != key || st.VCCUserID != e.vccID("Ann") || st.AgentID == "" || st.Checkpoint == nil ||
		st.LastOutcome != handlers.OutcomeUpdated || !st.Worker.Consuming || st.Applied != 2 {
		t.Errorf("status %+v", st)
	}
	var hist []events.HistoryItem
	getJSON(t, base+"/v1/users/"+key+"/history?limit=1", http.StatusOK, &hist)
	if len(hist) != 1 || hist[0].Action != "set-skill-level" || hist[0].RequestedBy != "alice" || hist[0].Reason != "ticket 42" ||
		len(hist[0].Changes) != 1 || hist[0].Changes[0].New != "4" {
		t.Errorf("newest history entry %+v", hist)
	}
	var bad map[string]string
	getJSON(t, base+"/v1/users/0015e000001CmdA/status", http.StatusBadRequest, &bad)
	if bad["error"] == "" {
		t.Error("a bad user ID got no error")
	}

	// The NATS micro service answers the same, and is discoverable.
	nc, err := nats.Connect(e.w.sys.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msg, err := nc.Request(events.StatusSubject, []byte(key), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var viaNATS events.UserStatus
	if err := json.Unmarshal(msg.Data, &viaNATS); err != nil || viaNATS.VCCUserID != st.VCCUserID {
		t.Errorf("status over NATS: %s (%v)", msg.Data, err)
	}
	ping, err := nc.Request("$SRV.PING."+events.ServiceName, nil, 5*time.Second)
	if err != nil {
		t.Fatalf("service not discoverable: %v", err)
	}
	var info struct{ Name string }
	if err := json.Unmarshal(ping.Data, &info); err != nil || info.Name != events.ServiceName {
		t.Errorf("ping reply %s", ping.Data)
	}
	msg, err = nc.Request(events.HistorySubject, []byte(`{"userId":"nonsense"}`), 5*time.Second)
	if err != nil || msg.Header.Get("Nats-Service-Error-Code") != "400" {
		t.Errorf("bad user over NATS: %v %v", msg.Header, err)
	}
}

func getJSON(t *testing.T, url string, wantStatus int, into any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: %d, want %d", url, resp.StatusCode, wantStatus)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatal(fmt.Errorf("GET %s: %w", url, err))
	}
}
