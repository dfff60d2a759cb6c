package main

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/opsapi"
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
	bin := buildVccctl(t)

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

// TestCmdWait: vccctl cmd --wait follows a command to syncworker's outcome
// and sets the exit status: applied or unchanged 0; refused by VCC 1, with
// VCC's message and the class; a command dead-lettered as poison (it does
// not decode) is found through the history entry the worker writes for it.
func TestCmdWait(t *testing.T) {
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
	ann := e.users["Ann"]
	bin := buildVccctl(t)
	// vccctl runs a command with --wait and returns its stdout, then its
	// stderr, and its exit status.
	vccctl := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--user", ann, "--as", "ops", "--wait", "--wait-timeout", "20s")...)
		cmd.Env = append(cmd.Environ(), "VCCSYNC_NATS_URL="+e.w.sys.natsURL)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return string(out) + stderr.String(), 0
		case errors.As(err, &ee):
			return string(out) + stderr.String(), ee.ExitCode()
		}
		t.Fatal(err)
		return "", 0
	}

	out, code := vccctl("cmd", "set-webrtc", "--disable")
	if code != 0 || !regexp.MustCompile(`(?m)^published id=cmd-\S+ action=set-webrtc .*\n(applied|unchanged) id=cmd-\S+ outcome=\w+`).MatchString(out) {
		t.Errorf("set-webrtc --wait: exit %d:\n%s", code, out)
	}
	t.Logf("set-webrtc --wait:\n%s", out)

	// Deleting an active user: VCC refuses; the outcome says so, as JSON.
	out, code = vccctl("cmd", "delete", "--confirm", "--json")
	out, hint, _ := strings.Cut(out, "\nvccctl cmd delete: ")
	if !strings.HasPrefix(hint, "refused: the command is in the dead-letter queue") {
		t.Errorf("delete --json: stderr %q, want the refusal and what to do", hint)
	}
	var doc struct {
		Status string
		ID     string
		Wait   struct{ Result, Outcome, ErrorClass, Error string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("delete --json: %v\n%s", err, out)
	}
	if code != 1 || doc.Status != "published" || doc.Wait.Result != "refused" || doc.Wait.Outcome != "dead_lettered" ||
		doc.Wait.ErrorClass != events.ClassPermanent || !strings.Contains(doc.Wait.Error, "delete refused") {
		t.Errorf("delete --wait --json: exit %d, %+v\n%s", code, doc, out)
	}
	out, code = vccctl("cmd", "delete", "--confirm")
	if code != 1 || !regexp.MustCompile(`(?m)^refused id=cmd-\S+ class=permanent error="delete refused.*\nvccctl cmd delete: refused: `).MatchString(out) {
		t.Errorf("delete --wait: exit %d:\n%s", code, out)
	}
	t.Logf("delete --wait:\n%s", out)

	// A command that does not decode is dead-lettered as poison; the
	// worker's history entry for it ends the wait.
	id := "cmd-poison-1"
	msg := &nats.Msg{Subject: events.CommandSubject(ann, events.ActionUnlock), Header: nats.Header{}, Data: []byte(`{"not":"a command"}`)}
	msg.Header.Set(events.HeaderMsgID, id)
	if _, err := e.w.sys.js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(e.w.sys.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	item, _, err := opsapi.NewClient(nc).WaitApplied(ctx, ann, id)
	if err != nil || opsapi.ResultOf(item) != opsapi.DeadLettered || item.ErrorClass != events.ClassPoison || item.Action != events.ActionUnlock {
		t.Errorf("poison command: %+v %v, want dead-lettered as poison", item, err)
	}
}
