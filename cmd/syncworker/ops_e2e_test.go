package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/sandbox"
)

// TestQuarantineWhileVCCIsDown: VCC goes down; the worker pauses its
// consumer instead of dead-lettering, says so in the status view, and
// when VCC comes back resumes by itself and applies everything.
func TestQuarantineWhileVCCIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
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
	views := statusView{db: e.w.sys.db, w: e.w.sys.worker}

	vcc.SetDown(true)
	const n = 14
	publishNewUsers(t, e.w.sys.js, "Q", n)
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cons, err := e.w.sys.js.Consumer(ctx, events.Stream, "syncworker")
		if err != nil {
			t.Fatal(err)
		}
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Paused {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the consumer was not paused while VCC was down")
		}
		time.Sleep(50 * time.Millisecond)
	}
	st, err := views.status("0055e0000Q00000")
	if err != nil || !st.Worker.Quarantined || st.Worker.Reason == "" {
		t.Errorf("status while VCC is down: %+v %v", st.Worker, err)
	}
	if got := e.w.obs.byOutcome()["dead_lettered"]; got != 0 {
		t.Fatalf("%d messages dead-lettered during the outage", got)
	}

	vcc.SetDown(false)
	e.w.obs.waitFor(t, n, 60*time.Second)
	if got := e.w.obs.byOutcome(); got["created"] != n {
		t.Errorf("after VCC came back: %v, want %d created", got, n)
	}
	if on, _, _ := e.w.sys.worker.Quarantined(); on {
		t.Error("still quarantined")
	}
}

// TestReplayLoopHitsTheLimit: a command VCC keeps refusing is replayed
// from the DLQ, fails again and returns with its replay counter, until the
// replay limit refuses it.
func TestReplayLoopHitsTheLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
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
	bin := buildPublisher(t)

	// Deleting an active user: refused every time.
	if _, o := e.send("Ann", "delete", map[string]any{"confirm": true}); o.Class != events.ClassPermanent {
		t.Fatalf("first delete: %q %q", o.Outcome, o.Class)
	}
	dead := func() int { return e.w.obs.byOutcome()["dead_lettered"] }
	for replay := 1; replay <= 2; replay++ {
		out, err := exec.Command(bin, "dlq", "replay", "--nats-url", e.w.sys.natsURL, "--user", e.users["Ann"], "--max-replays", "2").CombinedOutput()
		if err != nil {
			t.Fatalf("replay %d: %v\n%s", replay, err, out)
		}
		e.w.obs.waitFor(t, 2+replay, 20*time.Second) // provision, first delete, each replay
		if dead() != 1+replay {
			t.Fatalf("after replay %d: %d dead letters, want %d", replay, dead(), 1+replay)
		}
	}
	out, err := exec.Command(bin, "dlq", "replay", "--nats-url", e.w.sys.natsURL, "--user", e.users["Ann"], "--max-replays", "2").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "replayed 2 times already, the limit is 2") {
		t.Fatalf("third replay: %v, want refused by the limit:\n%s", err, out)
	}
	t.Logf("third replay refused:\n%s", out)
	list, err := exec.Command(bin, "dlq", "list", "--nats-url", e.w.sys.natsURL, "--user", e.users["Ann"]).CombinedOutput()
	if err != nil || !strings.Contains(string(list), "permanent  vccsync.command.delete") || !strings.Contains(string(list), "delete refused: VCC user") {
		t.Errorf("the refused command is not in the DLQ with its reason: %v\n%s", err, list)
	}
}
