package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/sandbox"
)

// Demo VCC users of sandbox.VCC.SeedDemo.
const (
	recTemplateSupervisorID = "0b7d4f4e-1c2a-4d8e-9a61-7e0c1a000002"
	recAliceID              = "0b7d4f4e-1c2a-4d8e-9a61-7e0c1a000003"
	recBobID                = "0b7d4f4e-1c2a-4d8e-9a61-7e0c1a000004"
	recCarolID              = "0b7d4f4e-1c2a-4d8e-9a61-7e0c1a000005"
	recDanaID               = "0b7d4f4e-1c2a-4d8e-9a61-7e0c1a000006"

	recJaneVCC   = "a0000000-0000-4000-8000-000000000001"
	recOmarVCC   = "a0000000-0000-4000-8000-000000000002"
	recTomVCC    = "a0000000-0000-4000-8000-000000000003"
	recTomOldVCC = "a0000000-0000-4000-8000-000000000004"
	recAnaVCC    = "a0000000-0000-4000-8000-000000000005"
)

// recWorld is a VCC and a Salesforce sandbox, both seeded with the demo,
// served over HTTP, and a configuration file that names them.
type recWorld struct {
	vcc    *sandbox.VCC
	sf     *sandbox.Salesforce
	config string
}

func newRecWorld(t *testing.T) *recWorld {
	t.Helper()
	w := &recWorld{vcc: sandbox.NewVCC(sandbox.VCCOptions{}), sf: sandbox.NewSalesforce(sandbox.SalesforceOptions{})}
	if err := w.vcc.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	if err := w.sf.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	vccURL, stopVCC, err := w.vcc.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stopVCC() })
	sfURL, stopSF, err := w.sf.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stopSF() })

	dir := t.TempDir()
	vccSecret, sfSecret := filepath.Join(dir, "vcc-secret"), filepath.Join(dir, "sf-secret")
	for path, secret := range map[string]string{vccSecret: sandbox.DemoClientSecret, sfSecret: sandbox.DemoSFClientSecret} {
		if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w.config = filepath.Join(dir, "vccsync.yaml")
	cfg := fmt.Sprintf(`data-dir: /var/lib/vccsync
vcc-url: %s/useradmin
vcc-token-url: %s/Auth/connect/token
vcc-client-id: %s
vcc-client-secret-file: %s
vcc-rate: 0
sf-url: %s
sf-client-id: %s
sf-client-secret-file: %s
mapping:
  templates:
    %s: %s
  contactCenters:
    %s: %s
`, vccURL, vccURL, sandbox.DemoClientID, vccSecret, sfURL, sandbox.DemoSFClientID, sfSecret,
		sandbox.DemoSFAgentProfileID, sandbox.DemoAgentTemplateUsername,
		sandbox.DemoSFAgentProfileID, sandbox.DemoSFContactCenterLondon)
	if err := os.WriteFile(w.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// addVCCAgent adds an active agent to VCC.
func (w *recWorld) addVCCAgent(t *testing.T, id, username, name, email, sso, agentID string) {
	t.Helper()
	_, err := w.vcc.AddUser(sandbox.VCCUserRecord{User: sandbox.VCCUser{
		UserID: id, Username: username, Name: name, Email: email, Active: true, SSOExternalID: sso,
		Config: sandbox.VCCAccountConfig{Role: sandbox.VCCRoleAgent, Chargeable: true, ActAsAgent: true, Agent: &sandbox.VCCAgentConfig{
			AgentDisplayID: agentID, WebRTC: true,
			TelephonyAddress: sandbox.VCCTelephonyAddress{TelephoneAddress: agentID, OutboundTelephonyRegion: sandbox.DemoRegionEMEAPrimary},
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
}

// prepare makes the demo story of reconcile: Jane in step; Omar whose VCC
// email was changed in the VCC portal; Lena and Ana missing; Tom matched by
// username and, through an old VCC user, by email (ambiguous); Priya of a
// profile with no template (out of scope); and the demo's Alice, Bob, Carol
// and the supervisor template in VCC with no Salesforce user.
func (w *recWorld) prepare(t *testing.T) {
	t.Helper()
	w.addVCCAgent(t, recJaneVCC, "jane.smith@demo.example", "Jane Smith", "jane.smith@demo.example", "jsmith", "1042")
	w.addVCCAgent(t, recOmarVCC, "omar.haddad@demo.example", "Omar Haddad", "omar.haddad@demo.example", "ohaddad", "2001")
	if err := w.vcc.ModifyUser(recOmarVCC, func(r *sandbox.VCCUserRecord) { r.User.Email = "omar.old@demo.example" }); err != nil {
		t.Fatal(err)
	}
	if err := w.sf.AddMember(sandbox.DemoSFContactCenterLondon, sandbox.DemoSFOmarID); err != nil {
		t.Fatal(err)
	}
	w.addVCCAgent(t, recTomVCC, "tom.becker@demo.example", "Tom Becker", "tom.becker@demo.example", "tbecker", "2002")
	w.addVCCAgent(t, recTomOldVCC, "tbecker.old@demo.example", "Tom Becker", "TOM.BECKER@demo.example", "", "2003")
}

// recEventID is the event id reconcile gives the user's current state.
func (w *recWorld) recEventID(t *testing.T, id string) string {
	t.Helper()
	u, ok := w.sf.User(id)
	if !ok {
		t.Fatalf("no Salesforce user %s", id)
	}
	return fmt.Sprintf("sf-reconcile-%s-%d", id, u.SystemModstamp.UnixMilli())
}

func TestReconcileDryRunAndApply(t *testing.T) {
	w := newRecWorld(t)
	w.prepare(t)
	url, js := startJetStream(t, true)

	omarEv, anaEv, lenaEv := w.recEventID(t, sandbox.DemoSFOmarID), w.recEventID(t, sandbox.DemoSFAnaID), w.recEventID(t, sandbox.DemoSFLenaID)
	summary := []string{
		"class         users",
		"in_step       1",
		"differs       1",
		"missing       2",
		"vcc_only      5",
		"ambiguous     1",
		"out_of_scope  1",
		"salesforce_users=6 in_scope=5 vcc_users=10 templates=1 events=3 archives=0 archive_limit=0.5",
		"plan:",
		"differs user=0055e000001OmarAAC username=omar.haddad@demo.example vcc_user=" + recOmarVCC + " action=update event=" + omarEv +
			` changes="email: omar.old@demo.example → omar.haddad@demo.example"`,
		"missing user=0055e000001AnasAAC username=ana.souza@demo.example action=create template=template.agent@demo.example event=" + anaEv +
			` changes="contactCenter: (none) → 04v5e000000LdnCAAS"`,
		"missing user=0055e000001LenaAAC username=lena.fischer@demo.example action=create template=template.agent@demo.example event=" + lenaEv +
			` changes="contactCenter: (none) → 04v5e000000LdnCAAS"`,
		"ambiguous user=0055e000001TombAAC username=tom.becker@demo.example: VCC user tom.becker@demo.example (" + recTomVCC +
			") has the username, VCC users tbecker.old@demo.example (" + recTomOldVCC + ") the email tom.becker@demo.example",
		"vcc_only vcc_user=" + recAliceID + " username=alice.archer@demo.example active=true",
		"vcc_only vcc_user=" + recBobID + " username=bob.bennett@demo.example active=false",
		"vcc_only vcc_user=" + recCarolID + " username=carol.admin@demo.example active=true",
		"vcc_only vcc_user=" + recDanaID + " username=" + sandbox.DemoMultiAccountUsername + " active=true",
		"vcc_only vcc_user=" + recTemplateSupervisorID + " username=template.supervisor@demo.example active=true",
	}

	code, stdout, stderr := runCLI(t, nil, "reconcile", "--config", w.config, "--nats-url", url, "--dry-run")
	if code != exitOK {
		t.Fatalf("dry run: exit %d, stderr: %s", code, stderr)
	}
	checkOutput(t, stdout, summary...)
	if !strings.Contains(stderr, "dry run: 3 events planned, nothing published") {
		t.Errorf("dry run stderr: %s", stderr)
	}
	checkStored(t, js, nil)
	if n := len(w.vcc.WriteLog()); n != 0 {
		t.Errorf("reconcile wrote to VCC %d times", n)
	}

	code, stdout, stderr = runCLI(t, nil, "reconcile", "--config", w.config, "--nats-url", url)
	if code != exitOK {
		t.Fatalf("apply: exit %d, stderr: %s", code, stderr)
	}
	checkOutput(t, stdout, append(summary,
		"published user=0055e000001OmarAAC event="+omarEv+" seq=1",
		"published user=0055e000001AnasAAC event="+anaEv+" seq=2",
		"published user=0055e000001LenaAAC event="+lenaEv+" seq=3",
		"total published=3 duplicate=0 failed=0")...)
	want := []storedMsg{
		{seq: 1, subject: "vccsync.user." + sandbox.DemoSFOmarID + ".changed", msgID: omarEv, eventID: omarEv, envSubject: sandbox.DemoSFOmarID},
		{seq: 2, subject: "vccsync.user." + sandbox.DemoSFAnaID + ".changed", msgID: anaEv, eventID: anaEv, envSubject: sandbox.DemoSFAnaID},
		{seq: 3, subject: "vccsync.user." + sandbox.DemoSFLenaID + ".changed", msgID: lenaEv, eventID: lenaEv, envSubject: sandbox.DemoSFLenaID},
	}
	checkStored(t, js, want)
	checkReconcileSnapshot(t, js, 1, sandbox.DemoSFOmarID, "omar.haddad@demo.example")

	// Again: the same states, so the same ids, duplicates.
	code, stdout, _ = runCLI(t, nil, "reconcile", "--config", w.config, "--nats-url", url)
	if code != exitOK || !strings.HasSuffix(stdout, "duplicate user=0055e000001LenaAAC event="+lenaEv+"\ntotal published=0 duplicate=3 failed=0\n") {
		t.Errorf("second apply: exit %d, stdout:\n%s", code, stdout)
	}
	checkStored(t, js, want)
}

// checkReconcileSnapshot checks the event at seq is the user's full
// snapshot.
func checkReconcileSnapshot(t *testing.T, js jetstream.JetStream, seq uint64, id, email string) {
	t.Helper()
	s, err := js.Stream(testContext(t), events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(testContext(t), seq)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.Decode(m.Subject, m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != events.TypeUserChanged || ev.Source != "salesforce/reconcile/127.0.0.1" && !strings.HasPrefix(ev.Source, "salesforce/reconcile/127.0.0.1:") {
		t.Errorf("event type %s source %s", ev.Type, ev.Source)
	}
	u := ev.User
	if u == nil || u.ID != id || u.Email.Get() != email || !u.IsActive.Known() || !u.ProfileID.Known() || !u.SystemModstamp.Known() {
		t.Errorf("event data %+v: want the full snapshot of %s", u, id)
	}
}

func TestReconcileJSON(t *testing.T) {
	w := newRecWorld(t)
	w.prepare(t)
	code, stdout, stderr := runCLI(t, nil, "reconcile", "--config", w.config, "--dry-run", "--json", "--org-id", sandbox.DemoSFOrgID)
	if code != exitOK {
		t.Fatalf("exit %d, stderr: %s", code, stderr)
	}
	var rep struct {
		Counts map[string]int `json:"counts"`
		Users  []struct {
			Class, UserID, Username, VCCUserID, Action, Event string
		} `json:"users"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	got := map[string]string{}
	for _, u := range rep.Users {
		k := u.UserID
		if k == "" {
			k = u.VCCUserID
		}
		got[k] = u.Class + "/" + u.Action
	}
	want := map[string]string{
		sandbox.DemoSFJaneID: "in_step/", sandbox.DemoSFOmarID: "differs/update", sandbox.DemoSFLenaID: "missing/create",
		sandbox.DemoSFAnaID: "missing/create", sandbox.DemoSFTomID: "ambiguous/", sandbox.DemoSFPriyaID: "out_of_scope/",
		recAliceID: "vcc_only/", recBobID: "vcc_only/", recCarolID: "vcc_only/", recDanaID: "vcc_only/", recTemplateSupervisorID: "vcc_only/",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("classes\n%v\nwant\n%v", got, want)
	}
	for _, u := range rep.Users {
		if u.Event != "" && !strings.HasPrefix(u.Event, "sf-reconcile-"+u.UserID+"-") {
			t.Errorf("event id %s of %s", u.Event, u.UserID)
		}
	}
}

func TestReconcileArchiveGuard(t *testing.T) {
	w := newRecWorld(t)
	// Everyone of the agent profile has an active VCC user in step, then
	// most leave Salesforce.
	for i, u := range []struct{ id, vccID, username, name, sso string }{
		{sandbox.DemoSFJaneID, recJaneVCC, "jane.smith@demo.example", "Jane Smith", "jsmith"},
		{sandbox.DemoSFOmarID, recOmarVCC, "omar.haddad@demo.example", "Omar Haddad", "ohaddad"},
		{sandbox.DemoSFLenaID, recTomOldVCC, "lena.fischer@demo.example", "Lena Fischer", "lfischer"},
		{sandbox.DemoSFTomID, recTomVCC, "tom.becker@demo.example", "Tom Becker", "tbecker"},
		{sandbox.DemoSFAnaID, recAnaVCC, "ana.souza@demo.example", "Ana Souza", "asouza"},
	} {
		w.addVCCAgent(t, u.vccID, u.username, u.name, u.username, u.sso, fmt.Sprint(3000+i))
		if u.id == sandbox.DemoSFJaneID {
			continue
		}
		if err := w.sf.ModifyUser(u.id, func(s *sandbox.SFUser) { s.IsActive = false }); err != nil {
			t.Fatal(err)
		}
	}
	url, js := startJetStream(t, true)

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"default threshold", nil},
		{"dry run", []string{"--dry-run"}},
		{"percentage", []string{"--archive-threshold", "50%"}},
		{"share", []string{"--archive-threshold", "0.5"}},
		{"count", []string{"--archive-threshold", "3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, append([]string{"reconcile", "--config", w.config, "--nats-url", url}, tc.args...)...)
			if code != exitFail {
				t.Errorf("exit %d, want %d", code, exitFail)
			}
			if !strings.Contains(stdout, "differs       4\n") || !strings.Contains(stdout, " archives=4 ") || strings.Contains(stdout, "published") {
				t.Errorf("stdout:\n%s", stdout)
			}
			if !strings.Contains(stderr, "refused: the plan archives 4 users, more than the threshold") {
				t.Errorf("stderr: %s", stderr)
			}
			checkStored(t, js, nil)
		})
	}

	code, stdout, stderr := runCLI(t, nil, "reconcile", "--config", w.config, "--nats-url", url, "--archive-threshold", "4")
	if code != exitOK || !strings.Contains(stdout, "total published=4 duplicate=0 failed=0") {
		t.Fatalf("threshold 4: exit %d\nstdout:\n%s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "differs user=0055e000001OmarAAC username=omar.haddad@demo.example vcc_user="+recOmarVCC+" action=archive event=") ||
		!strings.Contains(stdout, `changes="active: true → false"`) {
		t.Errorf("stdout:\n%s", stdout)
	}
	if n := len(streamMessages(t, js)); n != 4 {
		t.Errorf("stream holds %d messages, want 4", n)
	}

	code, stdout, stderr = runCLI(t, nil, "reconcile", "--config", w.config, "--nats-url", url, "--allow-archives")
	if code != exitOK || !strings.Contains(stdout, "total published=0 duplicate=4 failed=0") {
		t.Fatalf("--allow-archives: exit %d\nstdout:\n%s\nstderr: %s", code, stdout, stderr)
	}
}

func TestReconcileUsage(t *testing.T) {
	dir := t.TempDir()
	noMapping := filepath.Join(dir, "no-mapping.yaml")
	if err := os.WriteFile(noMapping, []byte("vcc-region: emea\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no config", nil, "--config: required"},
		{"no mapping", []string{"--config", noMapping}, "no mapping section"},
		{"bad threshold", []string{"--archive-threshold", "ten"}, `"ten": want a share`},
		{"fractional count", []string{"--archive-threshold", "2.5"}, "a count of users is a whole number"},
		{"argument", []string{"extra"}, "no arguments expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, nil, append([]string{"reconcile"}, tc.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, stderr: %s", code, stderr)
			}
		})
	}
	code, stdout, _ := runCLI(t, nil, "reconcile", "-h")
	if code != exitOK || !strings.Contains(stdout, "vccctl reconcile --config FILE") || !strings.Contains(stdout, "--archive-threshold") {
		t.Errorf("-h: exit %d\n%s", code, stdout)
	}
}
