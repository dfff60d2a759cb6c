package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/sandbox"
)

// sfREST changes users through the Salesforce sandbox's REST API, as an
// administrator's tool would (no Sforce-Call-Options: not vccsync).
type sfREST struct {
	t     *testing.T
	url   string
	token string
}

func newSFREST(t *testing.T, baseURL string) *sfREST {
	t.Helper()
	resp, err := http.PostForm(baseURL+"/services/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {sandbox.DemoSFClientID}, "client_secret": {sandbox.DemoSFClientSecret}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v", err)
	}
	return &sfREST{t: t, url: baseURL, token: tok.AccessToken}
}

func (s *sfREST) patch(id string, fields map[string]any) {
	s.t.Helper()
	b, _ := json.Marshal(fields)
	req, _ := http.NewRequest(http.MethodPatch, s.url+"/services/data/"+sandbox.SFAPIVersion+"/sobjects/User/"+id, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		s.t.Fatalf("PATCH user %s: %d %s", id, resp.StatusCode, body)
	}
}

// TestPubSubEndToEnd: users change in the Salesforce sandbox over its REST
// API; its Pub/Sub API emits the change events; the real publisher binary
// (cdc --subscribe) publishes them to JetStream; syncworker applies them
// to VCC. The subscriber is killed with SIGKILL while changes stream and
// restarted: every change reaches VCC exactly once — nothing lost (the
// final emails), nothing applied twice (one VCC write per change, each
// change once in the user's history).
func TestPubSubEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	vcc, vccURL := demoVCC(t)
	sf := sandbox.NewSalesforce(sandbox.SalesforceOptions{})
	if err := sf.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	ps := sandbox.NewPubSub(sf, sandbox.PubSubOptions{KeepAlive: 200 * time.Millisecond})
	sfURL, stopSF, err := ps.StartSalesforce("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stopSF() })
	psAddr, stopPS, err := ps.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopPS)
	secret := filepath.Join(t.TempDir(), "sf-secret")
	if err := os.WriteFile(secret, []byte(sandbox.DemoSFClientSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	sfFlags := []string{"--sf-url", sfURL, "--sf-client-id", sandbox.DemoSFClientID, "--sf-client-secret-file", secret}
	mapping := &handlers.Mapping{DefaultTemplate: sandbox.DemoAgentTemplateUsername, AgentIDStart: 1000,
		Templates: map[string]string{demoSupervisorProfile: sandbox.DemoSupervisorTemplateUsername}}
	w := startWorkerWith(t, t.TempDir(), vccURL, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)), sfFlags, mapping)

	bin := buildPublisher(t)
	replayFile := filepath.Join(t.TempDir(), "replay.db")
	metricsAddr := closedAddr(t)
	var logs bytes.Buffer
	var logsMu sync.Mutex
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"cdc", "--subscribe", "--org-id", sandbox.DemoSFOrgID,
			"--pubsub-addr", psAddr, "--pubsub-plaintext", "--replay-file", replayFile, "--start", "earliest",
			"--nats-url", w.sys.natsURL, "--timeout", "10s", "--metrics-listen", metricsAddr}, sfFlags...)...)
		cmd.Stdout = io.Discard
		cmd.Stderr = writerFunc(func(p []byte) (int, error) { logsMu.Lock(); defer logsMu.Unlock(); return logs.Write(p) })
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	rest := newSFREST(t, sfURL)
	users := []string{sandbox.DemoSFOmarID, sandbox.DemoSFTomID, sandbox.DemoSFAnaID, sandbox.DemoSFPriyaID}

	// The subscriber starts from the earliest event: the first change of
	// each user creates it in VCC.
	pub := start()
	for _, id := range users {
		rest.patch(id, map[string]any{"Email": strings.ToLower(id) + ".0@demo.example"})
	}
	vccIDs := map[string]string{}
	waitFor(t, 30*time.Second, "every user created in VCC", func() bool {
		for _, id := range users {
			// Committed: the create (template lists and all) is done.
			if s, ok, _ := w.sys.db.User(id); ok && s.VCCUserID != "" && s.Applied > 0 {
				vccIDs[id] = s.VCCUserID
			}
		}
		return len(vccIDs) == len(users)
	})
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"vccsync_pubsub_events_received_total", "vccsync_pubsub_events_published_total", "vccsync_pubsub_lag_seconds", "vccsync_cdc_events_total"} {
		if !strings.Contains(string(body), m) {
			t.Errorf("the subscriber's /metrics lacks %s", m)
		}
	}
	patchesBefore := map[string]int{}
	for id, v := range vccIDs {
		patchesBefore[id] = vcc.Stats().WritesByUser[v]["PATCH"]
	}

	// Changes stream; the subscriber is killed in the middle and restarted.
	// Half the rounds stream before the kill, half while it is down.
	const rounds = 12
	changed, killed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(changed)
		for r := 1; r <= rounds; r++ {
			if r == rounds/2+1 {
				<-killed
			}
			for _, id := range users {
				rest.patch(id, map[string]any{"Email": fmt.Sprintf("%s.%d@demo.example", strings.ToLower(id), r)})
			}
		}
	}()
	applied := func() int {
		n := 0
		for id := range vccIDs {
			if h, err := w.sys.db.History(id, 0); err == nil {
				n += len(h)
			}
		}
		return n
	}
	waitFor(t, 30*time.Second, "some of the changes applied", func() bool { return applied() >= len(users)+8 })
	if err := pub.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = pub.Wait()
	t.Logf("killed with %d of %d events applied", applied(), len(users)*(rounds+1))
	close(killed)
	<-changed
	pub = start()
	defer func() { _ = pub.Process.Signal(os.Interrupt); _ = pub.Wait() }()

	final := func(id string) string { return fmt.Sprintf("%s.%d@demo.example", strings.ToLower(id), rounds) }
	// Applied to VCC and recorded: the history is committed after the
	// VCC writes of its batch.
	waitFor(t, 60*time.Second, "every change applied to VCC and recorded", func() bool {
		for id, v := range vccIDs {
			u, ok := vcc.User(v)
			if !ok || u.User.Email != final(id) {
				return false
			}
			if s, ok, _ := w.sys.db.User(id); !ok || s.Applied < rounds+1 {
				return false
			}
		}
		return true
	})
	for id, v := range vccIDs {
		if got := vcc.Stats().WritesByUser[v]["PATCH"] - patchesBefore[id]; got != rounds {
			t.Errorf("user %s: %d VCC updates for %d changes; want one each", id, got, rounds)
		}
		h, err := w.sys.db.History(id, 0)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, e := range h {
			seen[e.EventID]++
			if e.Outcome == "dead_lettered" {
				t.Errorf("user %s: event %s dead-lettered: %s", id, e.EventID, e.Error)
			}
		}
		for ev, n := range seen {
			if n != 1 || !strings.HasPrefix(ev, "cdc-"+id+"-") {
				t.Errorf("user %s: event %s in the history %d times", id, ev, n)
			}
		}
		if len(seen) != rounds+1 {
			var got []string
			for _, e := range h {
				got = append(got, e.EventID+" "+e.Outcome)
			}
			t.Errorf("user %s: %d events applied, want %d (the first and %d changes): %v", id, len(seen), rounds+1, rounds, got)
		}
	}

	// Down longer than Salesforce keeps events: the change made meanwhile
	// is purged with them and the stored replay id is refused. The
	// subscriber says so, goes on from the latest events and reads every
	// user, so the change still reaches VCC.
	_ = pub.Process.Signal(os.Interrupt)
	_ = pub.Wait()
	omar := sandbox.DemoSFOmarID
	rest.patch(omar, map[string]any{"Email": "omar.while.down@demo.example"})
	ps.ExpireReplayIDs()
	pub = start()
	waitFor(t, 60*time.Second, "the change missed while down applied", func() bool {
		u, ok := vcc.User(vccIDs[omar])
		return ok && u.User.Email == "omar.while.down@demo.example"
	})
	logsMu.Lock()
	defer logsMu.Unlock()
	for _, want := range []string{"subscribing to Salesforce change events", "replay position lost", "resynchronised after the lost replay position"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("publisher logs lack %q:\n%s", want, logs.String())
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
