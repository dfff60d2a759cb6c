package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/sandbox"
	"github.com/vccsync/vccsync/pkg/worker"
)

// outcomes collects what the worker reports, message by message.
type outcomes struct {
	mu    sync.Mutex
	final []worker.Outcome // every outcome but "retried"
	retry int
}

func (o *outcomes) observe(x worker.Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if x.Outcome == "retried" {
		o.retry++
		return
	}
	o.final = append(o.final, x)
}

func (o *outcomes) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.final)
}

func (o *outcomes) waitFor(t *testing.T, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for o.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d of %d messages handled", within, o.count(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (o *outcomes) byOutcome() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := map[string]int{}
	for _, x := range o.final {
		m[x.Outcome]++
	}
	return m
}

// running is a syncworker started on a data dir, stopped by stop.
type running struct {
	sys  *system
	obs  *outcomes
	stop func()
}

// demoVCC is a VCC sandbox with the demo account, stopped when the test
// ends, and its URL.
func demoVCC(t *testing.T) (*sandbox.VCC, string) {
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
	return sb, url
}

// publishNewUsers publishes the first snapshot of n new active users,
// 0055e0000<tag><5 digits>, with usernames <tag><i>@acme.example.
func publishNewUsers(t *testing.T, js jetstream.JetStream, tag string, n int) {
	t.Helper()
	for i := range n {
		id15 := fmt.Sprintf("0055e0000%s%05d", tag, i)
		key, _ := events.NormalizeID(id15)
		u := fmt.Sprintf("%s%03d@acme.example", strings.ToLower(tag), i)
		ev := events.User{ID: key, Username: events.Val(u), Email: events.Val(u), LastName: events.Val(tag),
			IsActive: events.Val(true), SystemModstamp: events.Val(events.Time{Time: e2eT0})}
		env, err := events.NewUserChanged(tag+"-"+id15, "salesforce/test", e2eT0, ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bus.Publish(context.Background(), js, env); err != nil {
			t.Fatal(err)
		}
	}
}

func startWorker(t *testing.T, dataDir, vccURL string, log *zap.Logger) *running {
	t.Helper()
	return startWorkerWith(t, dataDir, vccURL, log, nil, nil)
}

// startWorkerWith starts a worker with more flags and a mapping of its own.
func startWorkerWith(t *testing.T, dataDir, vccURL string, log *zap.Logger, extra []string, mapping *handlers.Mapping) *running {
	t.Helper()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(sandbox.DemoClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, _, err := parseFlags(append([]string{"--data-dir", dataDir, "--nats-listen", "127.0.0.1:-1", "--http-listen", "127.0.0.1:0",
		"--vcc-url", vccURL + "/useradmin", "--vcc-token-url", vccURL + "/Auth/connect/token", "--vcc-client-id", sandbox.DemoClientID,
		"--vcc-client-secret-file", secret, "--vcc-rate", "0", "--batch-size", "64", "--retry-initial", "20ms", "--retry-max", "200ms", "--ack-wait", "5s",
		"--vcc-retry-initial", "20ms", "--vcc-retry-max", "200ms"}, extra...))
	if err != nil {
		t.Fatal(err)
	}
	if mapping == nil {
		mapping = &handlers.Mapping{DefaultTemplate: sandbox.DemoAgentTemplateUsername, AgentIDStart: 1000,
			Templates:        map[string]string{demoSupervisorProfile: sandbox.DemoSupervisorTemplateUsername},
			TelephonyRegions: demoMapping().TelephonyRegions}
	}
	obs := &outcomes{}
	sys, err := newSystem(o, mapping, log, obs.observe)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sys.worker.Run(ctx) }()
	r := &running{sys: sys, obs: obs}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker.Run: %v", err)
			}
			sys.close()
		})
	}
	t.Cleanup(r.stop)
	return r
}

// e2eUser is one of the test's Salesforce users and what should become of them.
type e2eUser struct {
	i   int
	key string
}

func (u e2eUser) username() string { return fmt.Sprintf("user%03d@acme.example", u.i) }

func (u e2eUser) finalEmail() string {
	if u.i%2 == 0 {
		return fmt.Sprintf("user%03d@new.acme.example", u.i)
	}
	return u.username()
}

func (u e2eUser) finalActive() bool { return u.i%7 != 0 }

var e2eT0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func stamp(d time.Duration) events.Field[events.Time] {
	return events.Val(events.Time{Time: e2eT0.Add(d)})
}

// story builds every user's events in publishing order, with the message
// id each is published under: creates, updates, deactivations, duplicates
// (same message id: dropped by JetStream; new message id, same event id:
// caught by the ledger) and out-of-order snapshots (new event ids, older
// timestamps).
func story(users []e2eUser) (envs []events.Envelope, msgIDs []string) {
	add := func(id string, u events.User, msgID string) {
		env, err := events.NewUserChanged(id, "salesforce/test", e2eT0, u)
		if err != nil {
			panic(err)
		}
		envs, msgIDs = append(envs, env), append(msgIDs, msgID)
	}
	for _, u := range users {
		v1 := events.User{ID: u.key, Username: events.Val(u.username()), Email: events.Val(u.username()),
			FirstName: events.Val("User"), LastName: events.Val(fmt.Sprintf("N%03d", u.i)), IsActive: events.Val(true),
			FederationIdentifier: events.Val(fmt.Sprintf("user%03d", u.i)), SystemModstamp: stamp(0)}
		if u.i%5 == 0 {
			v1.AgentID = events.Val(fmt.Sprint(5000 + u.i))
		}
		id1 := fmt.Sprintf("ev-%03d-1", u.i)
		add(id1, v1, id1)
		if u.i%3 == 0 {
			add(id1, v1, id1) // the same message again: the stream's duplicate window drops it
		}
		if u.i%2 == 0 {
			v2 := events.User{ID: u.key, Email: events.Val(u.finalEmail()), SystemModstamp: stamp(time.Minute), ChangedFields: []string{"Email"}}
			id2 := fmt.Sprintf("ev-%03d-2", u.i)
			add(id2, v2, id2)
			if u.i%4 == 0 {
				add(id2, v2, id2+"-redelivered") // past the window: only the ledger catches it
			}
		}
		if u.i%7 == 0 {
			v3 := events.User{ID: u.key, IsActive: events.Val(false), SystemModstamp: stamp(2 * time.Minute)}
			add(fmt.Sprintf("ev-%03d-3", u.i), v3, fmt.Sprintf("ev-%03d-3", u.i))
		}
		if u.i%10 == 0 {
			late := v1
			late.Email = events.Val("outdated@acme.example")
			add(fmt.Sprintf("ev-%03d-late", u.i), late, fmt.Sprintf("ev-%03d-late", u.i))
		}
	}
	return envs, msgIDs
}

func publishAll(t *testing.T, js jetstream.JetStream, envs []events.Envelope, msgIDs []string, suffix string) (published int) {
	t.Helper()
	ctx := context.Background()
	for i, env := range envs {
		res, err := bus.PublishWithID(ctx, js, env, msgIDs[i]+suffix)
		if err != nil {
			t.Fatalf("publish %s: %v", env.ID, err)
		}
		if !res.Duplicate {
			published++
		}
	}
	return published
}

// TestEndToEnd publishes 200 users' events through embedded JetStream into
// the VCC sandbox, with transient VCC faults, duplicates, out-of-order
// snapshots and a poison message; checks VCC user by user; then restarts
// the worker on the same data dir, publishes everything again under new
// message ids and sees no further VCC write.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	sb, vccURL := demoVCC(t)
	dataDir := t.TempDir()
	log := zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))

	users := make([]e2eUser, 200)
	for i := range users {
		k, err := events.NormalizeID(fmt.Sprintf("0055e%010d", i))
		if err != nil {
			t.Fatal(err)
		}
		users[i] = e2eUser{i: i, key: k}
	}
	envs, msgIDs := story(users)

	// VCC misbehaves: 5% of calls fail with 503, and a burst of 429s.
	sb.SetFaults(sandbox.VCCFaults{FailRate: 0.05, FailStatus: 503, ExcludeToken: true})
	w1 := startWorker(t, dataDir, vccURL, log)
	published := publishAll(t, w1.sys.js, envs, msgIDs, "")
	poison := []byte(`{"specversion":"1.0","id":"poison-1","source":"test","type":"salesforce.user.changed","subject":"0055e0000000007","data":{"Id":"0055e0000000007","IsActive":"yes"}}`)
	if _, err := w1.sys.js.Publish(context.Background(), events.UserChangedSubject("0055e0000000007"), poison); err != nil {
		t.Fatal(err)
	}
	published++
	w1.obs.waitFor(t, published, 30*time.Second)
	sb.ClearFaults()

	got := w1.obs.byOutcome()
	t.Logf("first run: %d messages, outcomes %v, %d retries, %d injected VCC faults", published, got, w1.obs.retry, sb.Stats().InjectedFaults)
	if sb.Stats().InjectedFaults == 0 {
		t.Error("no transient fault was injected: the test does not exercise retries")
	}
	if got["created"] != 200 || got["dead_lettered"] != 1 {
		t.Errorf("outcomes %v: want 200 created and 1 dead-lettered", got)
	}
	if want := 50; got["duplicate"] != want { // i%4==0: ledger duplicates
		t.Errorf("%d ledger duplicates, want %d", got["duplicate"], want)
	}
	if want := 20; got["stale"] != want { // i%10==0
		t.Errorf("%d stale, want %d", got["stale"], want)
	}

	// VCC, user by user.
	stats := sb.Stats()
	for _, u := range users {
		rec, ok := sb.UserByUsername(u.username())
		if !ok {
			t.Errorf("user %d: no VCC user %s", u.i, u.username())
			continue
		}
		vu := rec.User
		if vu.Email != u.finalEmail() || vu.Active != u.finalActive() || vu.Name != fmt.Sprintf("User N%03d", u.i) || vu.SSOExternalID != fmt.Sprintf("user%03d", u.i) {
			t.Errorf("user %d: email %q active %v name %q sso %q; want %q %v", u.i, vu.Email, vu.Active, vu.Name, vu.SSOExternalID, u.finalEmail(), u.finalActive())
		}
		if n := stats.WritesByUser[vu.UserID]["POST"]; n != 1 {
			t.Errorf("user %d: %d creates, want exactly 1", u.i, n)
		}
		if u.i%5 == 0 && vu.Config.Agent.AgentDisplayID != fmt.Sprint(5000+u.i) {
			t.Errorf("user %d: agent ID %q, want Salesforce's %d", u.i, vu.Config.Agent.AgentDisplayID, 5000+u.i)
		}
		if len(rec.Skills) != sandbox.DemoAgentTemplateSkills || len(rec.Groups) != sandbox.DemoAgentTemplateGroups {
			t.Errorf("user %d: %d skills %d groups, want the template's %d and %d (more than VCC's default page)",
				u.i, len(rec.Skills), len(rec.Groups), sandbox.DemoAgentTemplateSkills, sandbox.DemoAgentTemplateGroups)
		}
	}
	if stats.WritesByMethod["POST"] != 200 {
		t.Errorf("%d creates in all, want 200", stats.WritesByMethod["POST"])
	}

	// The poison message is in the DLQ with its reason; the work queue is empty.
	ctx := context.Background()
	dlq, err := w1.sys.js.Stream(ctx, events.DLQStream)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := dlq.GetLastMsgForSubject(ctx, events.DLQSubject(events.UserChangedSubject("0055e0000000007")))
	if err != nil {
		t.Fatalf("poison message not in the DLQ: %v", err)
	}
	if c := raw.Header.Get(events.HeaderErrorClass); c != events.ClassPoison {
		t.Errorf("DLQ class %q, want poison", c)
	}
	if e := raw.Header.Get(events.HeaderError); !strings.Contains(e, "data: IsActive: got JSON string, want bool") {
		t.Errorf("DLQ reason %q does not say what is wrong", e)
	}
	if string(raw.Data) != string(poison) || raw.Header.Get(events.HeaderOriginalSubject) != events.UserChangedSubject("0055e0000000007") {
		t.Error("DLQ copy lost the original body or subject")
	}
	// Outcomes are observed as each batch is applied; its acks follow the
	// commit: wait for the work queue to drain.
	main, _ := w1.sys.js.Stream(ctx, events.Stream)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		info, err := main.Info(ctx)
		if err == nil && info.State.Msgs == 0 {
			break
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("%d messages left", info.State.Msgs)
			}
			t.Errorf("VCCSYNC not drained 10s after the last outcome: %v", err)
			break
		}
	}

	// Restart on the same data dir; everything again under new message ids,
	// and once more as new events (new ids) with the same content.
	w1.stop()
	writes := sb.Stats().Writes
	w2 := startWorker(t, dataDir, vccURL, log)
	n := publishAll(t, w2.sys.js, envs, msgIDs, "-again")
	for i := range envs {
		envs[i].ID += "-new"
	}
	n += publishAll(t, w2.sys.js, envs, msgIDs, "-new")
	w2.obs.waitFor(t, n, time.Minute)
	if after := sb.Stats().Writes; after != writes {
		t.Errorf("re-publishing after a restart made %d VCC writes, want 0 (outcomes %v)", after-writes, w2.obs.byOutcome())
	}
	t.Logf("after restart: %d messages, outcomes %v", n, w2.obs.byOutcome())
}
