//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/sandbox"
)

// The crash test's skill: the agent template's Billing skill, whose level
// set-skill-level commands change.
const crashSkill = "7a1e0c55-5b0e-4c7c-8f3a-1d2e00000001"

// crashUser is one Salesforce user of the crash test: the events published
// for it and what VCC must hold at the end.
type crashUser struct {
	i   int
	key string
}

func (u crashUser) username() string { return fmt.Sprintf("crash%03d@acme.example", u.i) }

// crashStory is every message of the crash test in publishing order, with
// the message ids to publish them under, and the VCC state each user must
// end in: the merge of their Salesforce snapshots by SystemModstamp, and
// the last of their commands.
//
// Per user: a create; three name changes; for every third a deactivation that
// also changes the email (archiving must write it too), reactivated again
// for every sixth; for every fifth a partial deactivation (only IsActive,
// as change data capture sends it), for every seventh a partial email
// change; for every fourth three set-skill-level commands, spread over
// the run, whose order decides the level. Duplicates (same event id under a new message id)
// and late, older snapshots under new ids come on top, and one poison
// message in the middle.
func crashStory(users []crashUser) (envs []events.Envelope, msgIDs []string, want map[string]crashWant) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	at := func(m int) events.Field[events.Time] {
		return events.Val(events.Time{Time: t0.Add(time.Duration(m) * time.Minute)})
	}
	rounds := make([][]events.Envelope, 9)
	ids := make([][]string, 9)
	add := func(round int, env events.Envelope, msgID string) {
		rounds[round] = append(rounds[round], env)
		ids[round] = append(ids[round], msgID)
	}
	user := func(round int, u crashUser, id string, su events.User) events.Envelope {
		env, err := events.NewUserChanged(id, "salesforce/crash-test", t0, su)
		if err != nil {
			panic(err)
		}
		add(round, env, id)
		return env
	}
	want = map[string]crashWant{}
	for _, u := range users {
		full := func(m int, last, email string, active bool) events.User {
			return events.User{ID: u.key, Username: events.Val(u.username()), Email: events.Val(email),
				FirstName: events.Val("Crash"), LastName: events.Val(last), IsActive: events.Val(active),
				FederationIdentifier: events.Val(fmt.Sprintf("crash%03d", u.i)), SystemModstamp: at(m)}
		}
		w := crashWant{name: fmt.Sprintf("Crash First%03d", u.i), email: u.username(), active: true, sso: fmt.Sprintf("crash%03d", u.i), level: 6}
		id := func(n string) string { return fmt.Sprintf("crash-%03d-%s", u.i, n) }
		v1 := full(1, fmt.Sprintf("First%03d", u.i), u.username(), true)
		user(0, u, id("create"), v1)
		v2 := full(2, fmt.Sprintf("Second%03d", u.i), u.username(), true)
		rename := user(1, u, id("rename"), v2)
		w.name = fmt.Sprintf("Crash Second%03d", u.i)
		if u.i%4 == 0 {
			add(2, rename, id("rename")+"-again") // the same event again: only the ledger catches it
		}
		last := fmt.Sprintf("Second%03d", u.i)
		for n, name := range []string{"Third", "Fourth"} {
			last = fmt.Sprintf("%s%03d", name, u.i)
			v := full(2, last, u.username(), true)
			v.SystemModstamp = events.Val(events.Time{Time: v.SystemModstamp.Value.Add(time.Duration(n+1) * 20 * time.Second)})
			user(2, u, id("rename-"+name), v)
		}
		w.name = "Crash " + last
		if u.i%3 == 0 {
			email := fmt.Sprintf("crash%03d@left.acme.example", u.i)
			user(3, u, id("leave"), full(3, last, email, false))
			w.email, w.active = email, false
			if u.i%6 == 0 {
				user(4, u, id("return"), full(4, last, email, true))
				w.active = true
			}
		}
		if u.i%5 == 0 {
			user(5, u, id("cdc-leave"), events.User{ID: u.key, IsActive: events.Val(false), SystemModstamp: at(5), ChangedFields: []string{"IsActive"}})
			w.active = false
		}
		if u.i%7 == 0 {
			email := fmt.Sprintf("crash%03d@moved.acme.example", u.i)
			user(6, u, id("cdc-email"), events.User{ID: u.key, Email: events.Val(email), SystemModstamp: at(6), ChangedFields: []string{"Email"}})
			w.email = email
		}
		if u.i%4 == 0 {
			for n, level := range []int{9, 4, 2} {
				env, err := events.NewCommand(id(fmt.Sprintf("skill-%d", n)), u.key, events.ActionSetSkillLevel, "crash-test", "skill review",
					events.CommandParams{Skill: crashSkill, Level: level})
				if err != nil {
					panic(err)
				}
				add(1+3*n, env, env.ID)
				w.level = level
			}
		}
		if u.i%10 == 0 {
			late := v1
			late.Email = events.Val("outdated@acme.example")
			user(8, u, id("late"), late) // older than what was applied: stale
		}
		want[u.key] = w
	}
	for r := range rounds {
		envs, msgIDs = append(envs, rounds[r]...), append(msgIDs, ids[r]...)
	}
	return envs, msgIDs, want
}

// crashWant is what VCC must hold for one user at the end.
type crashWant struct {
	name, email, sso string
	active           bool
	level            int // of crashSkill
}

// crashWorker runs the real syncworker binary, and kills and restarts it.
type crashWorker struct {
	t        *testing.T
	bin      string
	args     []string
	logPath  string
	httpAddr string

	cmd   *exec.Cmd // the running process; nil when none
	kills int
}

func (w *crashWorker) start() {
	w.t.Helper()
	logf, err := os.OpenFile(w.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		w.t.Fatal(err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n===== start (after %d kills) =====\n", w.kills)
	cmd := exec.Command(w.bin, w.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		w.t.Fatalf("start syncworker: %v", err)
	}
	w.cmd = cmd
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + w.httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("syncworker not ready after 60s (log %s)", w.logPath)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and reaps the process.
func (w *crashWorker) kill() {
	cmd := w.cmd
	if cmd == nil {
		return
	}
	w.cmd = nil
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	w.kills++
}

// stop ends the last run gracefully.
func (w *crashWorker) stop() {
	cmd := w.cmd
	if cmd == nil {
		return
	}
	w.cmd = nil
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// buildSyncworker builds this command into dir, with the race detector
// when the test runs with it.
func buildSyncworker(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "syncworker")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestCrashKill9 runs the real syncworker binary on the embedded default
// (its own JetStream server, bbolt) against a VCC sandbox that outlives it,
// publishes some two thousand events and commands for 400 users, and
// kills the worker with SIGKILL at random moments, restarting it on the
// same data dir each time. At the end every user's VCC state must be what
// the latest Salesforce snapshot and the commands say, each user created
// exactly once with the template's skills, groups and callback numbers, and
// the DLQ must hold the planted poison message only.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("VCCSYNC_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	rng := mrand.New(mrand.NewPCG(seed, 9))
	t.Logf("seed %d (VCCSYNC_CRASH_SEED=%d repeats the kill moments)", seed, seed)

	dir := t.TempDir()
	bin := buildSyncworker(t, dir)

	sb, vccURL := demoVCC(t)
	// A little latency keeps calls in flight when the kill comes.
	sb.SetFaults(sandbox.VCCFaults{Latency: 2 * time.Millisecond})

	secret := filepath.Join(dir, "vcc-secret")
	if err := os.WriteFile(secret, []byte(sandbox.DemoClientSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "vccsync.yaml")
	if err := os.WriteFile(cfg, []byte("mapping:\n  defaultTemplate: "+sandbox.DemoAgentTemplateUsername+"\n  agentIdStart: 2000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	natsAddr, httpAddr := freeAddr(t), freeAddr(t)
	w := &crashWorker{t: t, bin: bin, logPath: filepath.Join(dir, "syncworker.log"), httpAddr: httpAddr, args: []string{
		"--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--nats-listen", natsAddr, "--http-listen", httpAddr,
		"--vcc-url", vccURL + "/useradmin", "--vcc-token-url", vccURL + "/Auth/connect/token",
		"--vcc-client-id", sandbox.DemoClientID, "--vcc-client-secret-file", secret, "--vcc-rate", "0",
		"--concurrency", "8", "--batch-size", "64", "--ack-wait", "2s", "--retry-initial", "50ms", "--retry-max", "500ms",
		"--log-format", "json", "--log-level", "info",
	}}
	defer func() {
		w.stop()
		if t.Failed() {
			if b, err := os.ReadFile(w.logPath); err == nil {
				t.Logf("syncworker log (last 8 KiB):\n%s", b[max(0, len(b)-8192):])
			}
		}
	}()
	w.start()

	nc, err := nats.Connect("nats://"+natsAddr, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}

	users := make([]crashUser, 400)
	for i := range users {
		k, err := events.NormalizeID(fmt.Sprintf("0055e%010d", 700000+i))
		if err != nil {
			t.Fatal(err)
		}
		users[i] = crashUser{i: i, key: k}
	}
	envs, msgIDs, want := crashStory(users)
	poisonAt := len(envs) / 2
	poisonSubject := events.UserChangedSubject(users[1].key)
	poison := []byte(`{"specversion":"1.0","id":"crash-poison","source":"test","type":"salesforce.user.changed","data":{"Id":"` + users[1].key + `","IsActive":"yes"},"subject":"` + users[1].key + `"}`)

	// publish retries until the stream acknowledges: the server dies with
	// each kill, and the message id makes a retried publish a duplicate.
	publish := func(subject string, body []byte, msgID string, env *events.Envelope) {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			var err error
			if env != nil {
				_, err = bus.PublishWithID(ctx, js, *env, msgID)
			} else {
				_, err = js.Publish(ctx, subject, body, jetstream.WithMsgID(msgID))
			}
			cancel()
			if err == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	const kills = 6
	published := make(chan struct{})
	pubRng := mrand.New(mrand.NewPCG(seed, 11))
	go func() {
		defer close(published)
		for i := range envs {
			if i == poisonAt {
				publish(poisonSubject, poison, "crash-poison", nil)
			}
			publish("", nil, msgIDs[i], &envs[i])
			if i%50 == 49 {
				time.Sleep(time.Duration(pubRng.IntN(40)) * time.Millisecond)
			}
		}
	}()
	for range kills {
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
		w.kill()
		w.start()
	}
	<-published
	t.Logf("%d messages published, %d kills", len(envs)+1, w.kills)

	// Wait until the work queue is empty and nothing is in flight.
	ctx := context.Background()
	deadline := time.Now().Add(90 * time.Second)
	for {
		s, err := js.Stream(ctx, events.Stream)
		if err == nil {
			info, err := s.Info(ctx)
			if err == nil && info.State.Msgs == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			if s, err := js.Stream(ctx, events.Stream); err == nil {
				info, _ := s.Info(ctx)
				t.Logf("stream: %+v", info.State)
				for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
					if m, err := s.GetMsg(ctx, seq); err == nil {
						t.Logf("left: %d %s", seq, m.Subject)
					}
				}
				if c, err := s.Consumer(ctx, "syncworker"); err == nil {
					ci, _ := c.Info(ctx)
					t.Logf("consumer: delivered %+v ack floor %+v pending %d ack pending %d redelivered %d",
						ci.Delivered, ci.AckFloor, ci.NumPending, ci.NumAckPending, ci.NumRedelivered)
				}
			}
			t.Fatalf("work queue not drained after 90s")
		}
		time.Sleep(100 * time.Millisecond)
	}

	stats := sb.Stats()
	tmpl, _ := sb.UserByUsername(sandbox.DemoAgentTemplateUsername)
	wrong := 0
	for _, u := range users {
		wu := want[u.key]
		rec, ok := sb.UserByUsername(u.username())
		if !ok {
			t.Errorf("user %d: no VCC user %s", u.i, u.username())
			wrong++
			continue
		}
		vu := rec.User
		var diffs []string
		if vu.Active != wu.active {
			diffs = append(diffs, fmt.Sprintf("active %v, want %v", vu.Active, wu.active))
		}
		if vu.Name != wu.name {
			diffs = append(diffs, fmt.Sprintf("name %q, want %q", vu.Name, wu.name))
		}
		if vu.Email != wu.email {
			diffs = append(diffs, fmt.Sprintf("email %q, want %q", vu.Email, wu.email))
		}
		if vu.SSOExternalID != wu.sso {
			diffs = append(diffs, fmt.Sprintf("ssoExternalId %q, want %q", vu.SSOExternalID, wu.sso))
		}
		if n := stats.WritesByUser[vu.UserID]["POST"]; n != 1 {
			diffs = append(diffs, fmt.Sprintf("%d creates, want exactly 1", n))
		}
		levels := map[string]int{}
		for _, s := range rec.Skills {
			levels[s.SkillID] = s.Level
		}
		if len(rec.Skills) != len(tmpl.Skills) || levels[crashSkill] != wu.level {
			diffs = append(diffs, fmt.Sprintf("%d skills with %s at level %d, want the template's %d with it at level %d",
				len(rec.Skills), crashSkill, levels[crashSkill], len(tmpl.Skills), wu.level))
		}
		if !slices.Equal(sorted(rec.Groups), sorted(tmpl.Groups)) || !slices.Equal(sorted(rec.CallbackNumbers), sorted(tmpl.CallbackNumbers)) ||
			len(rec.GroupPermissions) != len(tmpl.GroupPermissions) {
			diffs = append(diffs, fmt.Sprintf("%d groups, %d callback numbers, %d group permissions: want the template's %d, %d, %d",
				len(rec.Groups), len(rec.CallbackNumbers), len(rec.GroupPermissions), len(tmpl.Groups), len(tmpl.CallbackNumbers), len(tmpl.GroupPermissions)))
		}
		if len(diffs) > 0 {
			wrong++
			t.Errorf("user %d (%s): %v", u.i, u.key, diffs)
		}
	}
	if n := stats.WritesByMethod["POST"]; n != len(users) {
		t.Errorf("%d creates in all, want %d", n, len(users))
	}

	dlq, err := js.Stream(ctx, events.DLQStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := dlq.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			if m, err := dlq.GetMsg(ctx, seq); err == nil {
				t.Logf("DLQ %d: %s %s: %s", seq, m.Header.Get(events.HeaderOriginalSubject), m.Header.Get(events.HeaderErrorClass), m.Header.Get(events.HeaderError))
			} else if !errors.Is(err, jetstream.ErrMsgNotFound) {
				t.Log(err)
			}
		}
		t.Errorf("DLQ holds %d messages, want only the poison one", info.State.Msgs)
	} else if m, err := dlq.GetLastMsgForSubject(ctx, events.DLQSubject(poisonSubject)); err != nil || m.Header.Get(events.HeaderErrorClass) != events.ClassPoison {
		t.Errorf("the DLQ's one message is not the poison one: %v", err)
	}
	// The worker's own view agrees with VCC.
	for _, u := range users {
		resp, err := http.Get("http://" + httpAddr + "/v1/users/" + u.key + "/status")
		if err != nil {
			t.Fatal(err)
		}
		var st events.UserStatus
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.Active == nil || *st.Active != want[u.key].active || st.LastError != "" || st.VCCUserID == "" {
			t.Errorf("user %d: status active %v, last error %q, VCC user %q; want active %v, no error, linked",
				u.i, st.Active, st.LastError, st.VCCUserID, want[u.key].active)
		}
	}
	// The kills landed while work was in flight: some restart found
	// messages left unacknowledged.
	logs, _ := os.ReadFile(w.logPath)
	adopted := bytes.Count(logs, []byte("messages left unacknowledged by an earlier worker"))
	if adopted == 0 {
		t.Error("no restart found unacknowledged messages: the kills hit an idle worker and prove nothing")
	}
	t.Logf("%d kills, %d restarts found unacknowledged messages; %d of %d users wrong; %d VCC writes",
		w.kills, adopted, wrong, len(users), stats.Writes)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
