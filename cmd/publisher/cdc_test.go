package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/bridge"
	"github.com/vccsync/vccsync/pkg/events"
)

const cdcTestOrg = "00D5e000000KQ2eEAG"

var (
	cdcOlga = userKey("0055f00000GBZR4")
	cdcRavi = userKey("0055f00000GBZR5")
	cdcMei  = userKey("0055f00000GBZR6")
	cdcNoor = userKey("0055f00000GBZR8")
)

// cdcChange is a change event to write as a Streaming API message.
type cdcChange struct {
	typ     string
	ids     []string
	origin  string
	tx      string
	seq     int
	commit  int64
	changed []string
	nulled  []string
	fields  map[string]any
	entity  string
}

func (c cdcChange) streaming(t *testing.T) string {
	t.Helper()
	header := map[string]any{
		"entityName": "User", "recordIds": c.ids, "changeType": c.typ, "changeOrigin": c.origin,
		"transactionKey": c.tx, "sequenceNumber": c.seq, "commitTimestamp": c.commit,
		"commitNumber": 1100662266706, "commitUser": "0055f000005mc66AAA", "changedFields": c.changed,
	}
	if c.changed == nil {
		header["changedFields"] = []string{}
	}
	if c.nulled != nil {
		header["nulledFields"] = c.nulled
	}
	if c.entity != "" {
		header["entityName"] = c.entity
	}
	payload := map[string]any{"ChangeEventHeader": header}
	for k, v := range c.fields {
		payload[k] = v
	}
	b, err := json.Marshal(map[string]any{
		"channel": "/data/UserChangeEvent",
		"data":    map[string]any{"schema": "IeRuaY6cbI_HsV8Rv1Mc5g", "payload": payload, "event": map[string]any{"replayId": 18500 + c.seq}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const (
	cdcT0 = int64(1714155903000) // 2024-04-26T18:25:03Z
	cdcT1 = cdcT0 + 60_000
	cdcT2 = cdcT0 + 120_000
)

func cdcID(user, tx string, seq int) string { return fmt.Sprintf("cdc-%s-%s-%d", user, tx, seq) }

var (
	cdcOlgaJoins = cdcChange{typ: "CREATE", ids: []string{cdcOlga}, tx: "tx-create", seq: 1, commit: cdcT0, fields: map[string]any{
		"Username": "olga.brown@example.com", "Name": map[string]any{"FirstName": "Olga", "LastName": "Brown"},
		"Email": "olga.brown@example.com", "Alias": "obrown", "IsActive": true, "ProfileId": "00e5f000002mIQ6AAM",
		"LastModifiedDate": "2024-04-26T18:25:03.000Z"}}
	cdcTwoLeave = cdcChange{typ: "UPDATE", ids: []string{cdcRavi, cdcMei}, tx: "tx-leave", seq: 1, commit: cdcT1,
		changed: []string{"IsActive", "LastModifiedDate"}, fields: map[string]any{"IsActive": false, "LastModifiedDate": "2024-04-26T18:26:03.000Z"}}
	cdcOlgaRenamed = cdcChange{typ: "UPDATE", ids: []string{cdcOlga}, tx: "tx-rename", seq: 2, commit: cdcT2,
		changed: []string{"Alias", "FederationIdentifier", "LastModifiedDate"}, nulled: []string{"FederationIdentifier"},
		fields: map[string]any{"Alias": "obrown2", "FederationIdentifier": nil, "LastModifiedDate": "2024-04-26T18:27:03.000Z"}}
	cdcOlgaDeleted = cdcChange{typ: "DELETE", ids: []string{cdcOlga}, tx: "tx-delete", seq: 1, commit: cdcT2}
	cdcOwnChange   = cdcChange{typ: "UPDATE", ids: []string{cdcOlga}, origin: "com/salesforce/api/rest/61.0;client=vccsync", tx: "tx-own", seq: 1, commit: cdcT2,
		changed: []string{"Alias"}, fields: map[string]any{"Alias": "obrown3"}}
	cdcAccountChange = cdcChange{entity: "Account", typ: "UPDATE", ids: []string{"0015f00002JUXA8AAP"}, tx: "tx-account", seq: 1, commit: cdcT2,
		changed: []string{"Name"}, fields: map[string]any{"Name": "Acme"}}
	cdcGapEvent      = cdcChange{typ: "GAP_UPDATE", ids: []string{cdcOlga, cdcNoor, userKey("0055f00000GBZR9")}, tx: "tx-gap", seq: 1, commit: cdcT2}
	cdcOverflowEvent = cdcChange{typ: "GAP_OVERFLOW", ids: []string{}, tx: "tx-overflow", seq: 1, commit: cdcT2}
)

// runCDCCLI runs publisher cdc with the org and the NATS URL.
func runCDCCLI(t *testing.T, url string, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	return runCLI(t, stdin, append([]string{"cdc", "--org-id", cdcTestOrg, "--nats-url", url, "--timeout", "5s"}, args...)...)
}

func TestCDCFileMixed(t *testing.T) {
	url, js := startJetStream(t, true)
	meta := `{"channel":"/meta/connect","successful":true,"advice":{"reconnect":"retry","interval":0}}`
	path := writeInput(t,
		"# a day of User change events", // 1
		cdcOlgaJoins.streaming(t),       // 2
		cdcTwoLeave.streaming(t),        // 3
		cdcOlgaDeleted.streaming(t),     // 4
		"",                              // 5
		cdcOwnChange.streaming(t),       // 6
		cdcAccountChange.streaming(t),   // 7
		"not JSON",                      // 8
		"["+cdcOlgaRenamed.streaming(t)+","+meta+"]", // 9: a CometD batch
		cdcOlgaJoins.streaming(t),                    // 10: delivered again
	)

	code, stdout, stderr := runCDCCLI(t, url, nil, path)

	if code != 1 {
		t.Errorf("exit status = %d, want 1 (two messages rejected)", code)
	}
	checkOutput(t, stdout,
		"published line=2 change=CREATE published=1 duplicate=0 ids="+cdcID(cdcOlga, "tx-create", 1),
		"published line=3 change=UPDATE published=2 duplicate=0 ids="+cdcID(cdcRavi, "tx-leave", 1)+","+cdcID(cdcMei, "tx-leave", 1),
		"ignored line=4 change=DELETE: Salesforce users are never deleted (a deactivation arrives as an UPDATE of IsActive)",
		"ignored line=6 change=UPDATE: own change",
		`rejected line=7 change=UPDATE: ChangeEventHeader.entityName: "Account", want "User" (subscribe to /data/UserChangeEvent)`,
		"rejected line=8: message: not valid JSON at byte 2: invalid character 'o' in literal null (expecting 'u')",
		"published line=9 msg=1 change=UPDATE published=1 duplicate=0 ids="+cdcID(cdcOlga, "tx-rename", 2),
		"ignored line=9 msg=2: CometD meta message on /meta/connect",
		"duplicate line=10 change=CREATE published=0 duplicate=1 ids="+cdcID(cdcOlga, "tx-create", 1),
	)
	if want := "messages: 3 published, 1 duplicate, 3 ignored, 0 gap, 0 overflow, 2 rejected, 0 failed; events: 4 published, 1 duplicate\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	// Ravi and Mei leave: their changes take the priority subject.
	olga, ravi, mei := "vccsync.user."+cdcOlga+".changed", "vccsync.access."+cdcRavi, "vccsync.access."+cdcMei
	want := []storedMsg{
		{1, olga, cdcID(cdcOlga, "tx-create", 1), cdcID(cdcOlga, "tx-create", 1), cdcOlga},
		{2, ravi, cdcID(cdcRavi, "tx-leave", 1), cdcID(cdcRavi, "tx-leave", 1), cdcRavi},
		{3, mei, cdcID(cdcMei, "tx-leave", 1), cdcID(cdcMei, "tx-leave", 1), cdcMei},
		{4, olga, cdcID(cdcOlga, "tx-rename", 2), cdcID(cdcOlga, "tx-rename", 2), cdcOlga},
	}
	checkStored(t, js, want)

	// What syncworker receives: the field states of the change.
	stored := cdcStoredUsers(t, js)
	wantUsers := map[uint64]events.User{
		1: {ID: cdcOlga, Username: events.Val("olga.brown@example.com"), FirstName: events.Val("Olga"), LastName: events.Val("Brown"),
			Email: events.Val("olga.brown@example.com"), Alias: events.Val("obrown"), IsActive: events.Val(true),
			ProfileID: events.Val("00e5f000002mIQ6AAM"), LastModifiedDate: cdcTime(cdcT0)},
		2: {ID: cdcRavi, IsActive: events.Val(false), LastModifiedDate: cdcTime(cdcT1), ChangedFields: []string{"IsActive", "LastModifiedDate"}},
		3: {ID: cdcMei, IsActive: events.Val(false), LastModifiedDate: cdcTime(cdcT1), ChangedFields: []string{"IsActive", "LastModifiedDate"}},
		4: {ID: cdcOlga, Alias: events.Val("obrown2"), FederationIdentifier: events.Null[string](), LastModifiedDate: cdcTime(cdcT2),
			ChangedFields: []string{"Alias", "FederationIdentifier", "LastModifiedDate"}},
	}
	for seq, u := range wantUsers {
		got, _ := json.Marshal(stored[seq])
		exp, _ := json.Marshal(u)
		if string(got) != string(exp) {
			t.Errorf("message %d: data %s\nwant %s", seq, got, exp)
		}
	}

	// The same file again: every change is a duplicate, nothing is stored.
	code, stdout, stderr = runCDCCLI(t, url, nil, path)
	if code != 1 {
		t.Errorf("again: exit status = %d, want 1", code)
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if strings.HasPrefix(line, "published") {
			t.Errorf("again: %s", line)
		}
	}
	if !strings.Contains(stdout, "duplicate line=3 change=UPDATE published=0 duplicate=2 ids=") {
		t.Errorf("again: the merged event is not a duplicate:\n%s", stdout)
	}
	if want := "messages: 0 published, 4 duplicate, 3 ignored, 0 gap, 0 overflow, 2 rejected, 0 failed; events: 0 published, 5 duplicate\n"; stderr != want {
		t.Errorf("again: stderr = %q, want %q", stderr, want)
	}
	checkStored(t, js, want)
}

func cdcTime(ms int64) events.Field[events.Time] {
	return events.Val(events.Time{Time: time.UnixMilli(ms).UTC()})
}

// cdcStoredUsers decodes the users of the messages in VCCSYNC, by sequence.
func cdcStoredUsers(t *testing.T, js jetstream.JetStream) map[uint64]events.User {
	t.Helper()
	out := map[uint64]events.User{}
	for _, m := range streamMessages(t, js) {
		s, err := js.Stream(testContext(t), events.Stream)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := s.GetMsg(testContext(t), m.seq)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := events.Decode(raw.Subject, raw.Data)
		if err != nil {
			t.Fatal(err)
		}
		out[m.seq] = *ev.User
	}
	return out
}

func TestCDCFileArrayAndStdin(t *testing.T) {
	url, js := startJetStream(t, true)
	array := "\ufeff[\n  " + cdcOlgaJoins.streaming(t) + ",\n  " + cdcTwoLeave.streaming(t) + "\n]\n"

	code, stdout, stderr := runCDCCLI(t, url, strings.NewReader(array), "-")
	if code != 0 {
		t.Errorf("exit status = %d, want 0; stderr:\n%s", code, stderr)
	}
	checkOutput(t, stdout,
		"published msg=1 change=CREATE published=1 duplicate=0 ids="+cdcID(cdcOlga, "tx-create", 1),
		"published msg=2 change=UPDATE published=2 duplicate=0 ids="+cdcID(cdcRavi, "tx-leave", 1)+","+cdcID(cdcMei, "tx-leave", 1),
	)
	if n := len(streamMessages(t, js)); n != 3 {
		t.Errorf("%d messages stored, want 3", n)
	}

	code, stdout, _ = runCDCCLI(t, url, strings.NewReader(array), "-")
	if code != 0 {
		t.Errorf("again: exit status = %d, want 0", code)
	}
	checkOutput(t, stdout,
		"duplicate msg=1 change=CREATE published=0 duplicate=1 ids="+cdcID(cdcOlga, "tx-create", 1),
		"duplicate msg=2 change=UPDATE published=0 duplicate=2 ids="+cdcID(cdcRavi, "tx-leave", 1)+","+cdcID(cdcMei, "tx-leave", 1),
	)

	// A broken array: what came before the error is handled, the error
	// stops the reading.
	broken := "[" + cdcOlgaJoins.streaming(t) + ", {\"data\": ]"
	code, stdout, stderr = runCDCCLI(t, url, strings.NewReader(broken), "-")
	if code != 1 || !strings.HasPrefix(stdout, "duplicate msg=1 ") || !strings.Contains(stderr, "publisher cdc: stdin: read JSON array: message 2: invalid character ']'") {
		t.Errorf("broken array: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}

// TestCDCPrettyPrintedDocument: one message as Salesforce's tools print
// it, indented over many lines, is read as one message, and so are several
// of them one after another.
func TestCDCPrettyPrintedDocument(t *testing.T) {
	url, js := startJetStream(t, true)
	pretty := func(c cdcChange) string {
		var v any
		if err := json.Unmarshal([]byte(c.streaming(t)), &v); err != nil {
			t.Fatal(err)
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	code, stdout, stderr := runCDCCLI(t, url, strings.NewReader(pretty(cdcOlgaJoins)+"\n"), "-")
	if code != 0 {
		t.Fatalf("exit status = %d, want 0; stderr:\n%s", code, stderr)
	}
	checkOutput(t, stdout, "published msg=1 change=CREATE published=1 duplicate=0 ids="+cdcID(cdcOlga, "tx-create", 1))
	code, stdout, stderr = runCDCCLI(t, url, strings.NewReader(pretty(cdcOlgaJoins)+"\n"+pretty(cdcTwoLeave)), "-")
	if code != 0 {
		t.Fatalf("two documents: exit status = %d, want 0; stderr:\n%s", code, stderr)
	}
	checkOutput(t, stdout,
		"duplicate msg=1 change=CREATE published=0 duplicate=1 ids="+cdcID(cdcOlga, "tx-create", 1),
		"published msg=2 change=UPDATE published=2 duplicate=0 ids="+cdcID(cdcRavi, "tx-leave", 1)+","+cdcID(cdcMei, "tx-leave", 1),
	)
	if n := len(streamMessages(t, js)); n != 3 {
		t.Errorf("%d messages stored, want 3", n)
	}
}

func TestCDCPubSub(t *testing.T) {
	url, js := startJetStream(t, true)
	dir := filepath.Join("..", "..", "pkg", "salesforce", "testdata")
	var lines []string
	for _, f := range []string{"cdc_pubsub_create.json", "cdc_pubsub_update.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, buf.String())
	}
	path := writeInput(t, lines...)

	code, stdout, stderr := runCDCCLI(t, url, nil, "--format", "pubsub", path)
	if code != 1 || !strings.Contains(stdout, `rejected line=2 change=UPDATE: ChangeEventHeader.changedFields: "0x200009830" is a Pub/Sub bitmap: decoding it needs the event's Avro schema`) {
		t.Errorf("without --schema: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}

	code, stdout, stderr = runCDCCLI(t, url, nil, "--format", "pubsub", "--schema", filepath.Join(dir, "cdc_pubsub_schema.avsc"), path)
	if code != 0 {
		t.Errorf("exit status = %d, want 0; stderr:\n%s", code, stderr)
	}
	checkOutput(t, stdout,
		"duplicate line=1 change=CREATE published=0 duplicate=1 ids="+cdcID(cdcMei, "000a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b", 1),
		"published line=2 change=UPDATE published=1 duplicate=0 ids="+cdcID(cdcMei, "000b2c3d-4e5f-4061-9b7c-8d9e0f1a2b3c", 2),
	)
	stored := cdcStoredUsers(t, js)
	u := stored[2]
	if u.FirstName != events.Null[string]() || u.LastName != events.Val("Chen-Wong") || u.FederationIdentifier != events.Null[string]() ||
		u.AgentID != events.Val("2002") || u.CallCenterID.Set || u.Email.Set || u.IsActive.Set {
		t.Errorf("decoded Pub/Sub update: %+v", u)
	}

	code, _, stderr = runCDCCLI(t, url, nil, "--format", "streaming", path)
	if code != 1 || !strings.Contains(stderr, "messages: 0 published, 0 duplicate, 0 ignored, 0 gap, 0 overflow, 2 rejected") {
		t.Errorf("--format streaming: exit %d, stderr %s", code, stderr)
	}
}

// cdcSFServer is a Salesforce stand-in for the REST calls cdc makes: the
// client-credentials token and SOQL queries of users.
type cdcSFServer struct {
	*httptest.Server
	mu      sync.Mutex
	users   []map[string]any
	queries []string
	fail    bool
}

var cdcSOQLIDs = regexp.MustCompile(`^SELECT [A-Za-z_, ]+ FROM User(?: WHERE Id IN \(([^)]*)\))?(?: ORDER BY Id)?$`)

func newCDCSFServer(t *testing.T, users ...map[string]any) *cdcSFServer {
	s := &cdcSFServer{users: users}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("grant_type") != "client_credentials" || r.FormValue("client_id") != "vccsync-app" || r.FormValue("client_secret") != "s3cret" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"invalid client credentials"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"00Dtoken","instance_url":%q,"token_type":"Bearer","issued_at":"1714155903000"}`, s.URL)
	})
	mux.HandleFunc("GET /services/data/v61.0/query", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer 00Dtoken" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		q := r.URL.Query().Get("q")
		s.queries = append(s.queries, q)
		if s.fail {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `[{"message":"sObject type 'User' is not supported.","errorCode":"INVALID_TYPE"}]`)
			return
		}
		m := cdcSOQLIDs.FindStringSubmatch(q)
		if m == nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `[{"message":"unsupported query %q","errorCode":"MALFORMED_QUERY"}]`, q)
			return
		}
		var recs []map[string]any
		for _, u := range s.users {
			if m[1] == "" || strings.Contains(m[1], "'"+u["Id"].(string)+"'") {
				recs = append(recs, u)
			}
		}
		if recs == nil {
			recs = []map[string]any{}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"totalSize": len(recs), "done": true, "records": recs})
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *cdcSFServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.queries)
}

func cdcSFRecord(id, alias, stamp string) map[string]any {
	return map[string]any{
		"attributes": map[string]any{"type": "User", "url": "/services/data/v61.0/sobjects/User/" + id},
		"Id":         id, "Username": alias + "@example.com", "Alias": alias, "Email": alias + "@example.com",
		"FirstName": nil, "LastName": strings.ToUpper(alias[:1]) + alias[1:], "IsActive": true,
		"FederationIdentifier": nil, "ProfileId": "00e5f000002mIQ6AAM", "CallCenterId": nil,
		"NVMContactWorld__NVM_Agent_Id__c": nil, "LastModifiedDate": stamp, "SystemModstamp": stamp,
	}
}

func TestCDCGapAndOverflow(t *testing.T) {
	url, js := startJetStream(t, true)
	sf := newCDCSFServer(t,
		cdcSFRecord(cdcOlga, "obrown", "2024-04-26T18:30:00.000+0000"),
		cdcSFRecord(cdcNoor, "nsaleh", "2024-04-26T18:31:00.000+0000"),
		cdcSFRecord(cdcRavi, "rkumar", "2024-04-26T18:32:00.000+0000"),
	)
	secret := filepath.Join(t.TempDir(), "sf-secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeInput(t, cdcGapEvent.streaming(t), cdcOverflowEvent.streaming(t))
	sfArgs := []string{"--sf-url", sf.URL, "--sf-client-id", "vccsync-app", "--sf-client-secret-file", secret}

	code, stdout, stderr := runCDCCLI(t, url, nil, append(sfArgs, path)...)

	if code != 0 {
		t.Errorf("exit status = %d, want 0; stderr:\n%s", code, stderr)
	}
	missing := userKey("0055f00000GBZR9")
	checkOutput(t, stdout,
		"gap line=1 change=GAP_UPDATE read=2 published=2 duplicate=0 missing="+missing,
		"overflow line=2 change=GAP_OVERFLOW read=3 published=1 duplicate=2",
	)
	if want := "messages: 0 published, 0 duplicate, 0 ignored, 1 gap, 1 overflow, 0 rejected, 0 failed; events: 3 published, 2 duplicate\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if q := sf.seen(); len(q) != 2 || !strings.Contains(q[0], "WHERE Id IN ('"+cdcOlga+"','"+cdcNoor+"','"+missing+"')") || !strings.HasSuffix(q[1], " FROM User ORDER BY Id") {
		t.Errorf("queries %q", q)
	}
	snap := func(id, stamp string) string {
		tm, _ := events.ParseTime(stamp)
		return fmt.Sprintf("sf-snapshot-%s-%d", id, tm.UnixMilli())
	}
	olgaID, noorID, raviID := snap(cdcOlga, "2024-04-26T18:30:00Z"), snap(cdcNoor, "2024-04-26T18:31:00Z"), snap(cdcRavi, "2024-04-26T18:32:00Z")
	want := []storedMsg{
		{1, "vccsync.user." + cdcOlga + ".changed", olgaID, olgaID, cdcOlga},
		{2, "vccsync.user." + cdcNoor + ".changed", noorID, noorID, cdcNoor},
		{3, "vccsync.user." + cdcRavi + ".changed", raviID, raviID, cdcRavi},
	}
	checkStored(t, js, want)
	s, err := js.Stream(testContext(t), events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(testContext(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.Decode(m.Subject, m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Source != "salesforce/rest/"+cdcTestOrg || !ev.Time.Equal(time.Date(2024, 4, 26, 18, 30, 0, 0, time.UTC)) ||
		ev.User.Alias != events.Val("obrown") || ev.User.FirstName != events.Null[string]() || !ev.User.IsActive.Known() {
		t.Errorf("snapshot event %s: %+v %+v", ev.ID, ev.Envelope, ev.User)
	}

	// Read again, the same state: duplicates. The secret from the environment this time.
	t.Setenv("VCCSYNC_SF_CLIENT_SECRET", "s3cret")
	code, stdout, _ = runCDCCLI(t, url, nil, "--sf-url", sf.URL, "--sf-client-id", "vccsync-app", path)
	if code != 0 {
		t.Errorf("again: exit status = %d, want 0", code)
	}
	checkOutput(t, stdout,
		"gap line=1 change=GAP_UPDATE read=2 published=0 duplicate=2 missing="+missing,
		"overflow line=2 change=GAP_OVERFLOW read=3 published=0 duplicate=3",
	)
	checkStored(t, js, want)

	// Salesforce refuses: the gap fails, and says why.
	sf.mu.Lock()
	sf.fail = true
	sf.mu.Unlock()
	code, stdout, _ = runCDCCLI(t, url, nil, append(sfArgs, path)...)
	if code != 1 || !strings.HasPrefix(stdout, "failed line=1 change=GAP_UPDATE read=0: read 3 users: ") || !strings.Contains(stdout, "INVALID_TYPE") {
		t.Errorf("Salesforce refusing: exit %d\n%s", code, stdout)
	}

	// Wrong credentials: the token is refused.
	t.Setenv("VCCSYNC_SF_CLIENT_SECRET", "wrong")
	code, stdout, _ = runCDCCLI(t, url, nil, "--sf-url", sf.URL, "--sf-client-id", "vccsync-app", path)
	if code != 1 || !strings.Contains(stdout, "invalid_client") {
		t.Errorf("bad credentials: exit %d\n%s", code, stdout)
	}
}

// cdcFakeUsers is a bridge.UserReader over a fixed list, with errors to inject.
type cdcFakeUsers struct {
	users    []events.User
	queryErr error
	eachErr  error
	asked    [][]string
}

func (f *cdcFakeUsers) QueryUsers(_ context.Context, ids []string) ([]events.User, error) {
	f.asked = append(f.asked, ids)
	if f.queryErr != nil {
		return nil, f.queryErr
	}
	var out []events.User
	for _, u := range f.users {
		if slices.Contains(ids, u.ID) {
			out = append(out, u)
		}
	}
	return out, nil
}

func (f *cdcFakeUsers) ForEachUser(_ context.Context, fn func(events.User) error) error {
	for i, u := range f.users {
		if f.eachErr != nil && i == 1 {
			return f.eachErr
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

func TestCDCGapFailures(t *testing.T) {
	url, js := startJetStream(t, true)
	stamp := events.Val(events.Time{Time: time.Date(2024, 4, 26, 18, 30, 0, 0, time.UTC)})
	olga := events.User{ID: cdcOlga, Alias: events.Val("obrown"), IsActive: events.Val(true), SystemModstamp: stamp}
	noStamp := events.User{ID: cdcNoor, Alias: events.Val("nsaleh")}
	path := writeInput(t, cdcGapEvent.streaming(t), cdcOverflowEvent.streaming(t))

	run := func(users bridge.UserReader) (int, string) {
		t.Helper()
		o := cdcOptions{orgID: cdcTestOrg, timeout: 5 * time.Second, format: "detect", ownClient: "vccsync"}
		cfg, err := o.ingester()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Users = users
		var stdout, stderr bytes.Buffer
		a := &cli.App{Name: "publisher", Stdout: &stdout, Stderr: &stderr, NATS: cli.NATS{URL: url}}
		code := cli.Code(runCDCWith(t.Context(), a, o, cfg, []string{path}))
		return code, stdout.String()
	}

	code, stdout := run(nil)
	if code != 1 {
		t.Errorf("no Salesforce: exit status %d, want 1", code)
	}
	checkOutput(t, stdout,
		"failed line=1 change=GAP_UPDATE read=0: "+bridge.ErrNoUserReader.Error(),
		"failed line=2 change=GAP_OVERFLOW read=0: "+bridge.ErrNoUserReader.Error(),
	)

	code, stdout = run(&cdcFakeUsers{users: []events.User{olga, noStamp}, queryErr: errors.New("salesforce: 503 Service Unavailable"), eachErr: errors.New("salesforce: connection reset")})
	if code != 1 {
		t.Errorf("Salesforce failing: exit status %d, want 1", code)
	}
	sid := fmt.Sprintf("sf-snapshot-%s-%d", cdcOlga, stamp.Value.UnixMilli())
	checkOutput(t, stdout,
		"failed line=1 change=GAP_UPDATE read=0: read 3 users: salesforce: 503 Service Unavailable",
		"failed line=2 change=GAP_OVERFLOW read=1 published=1 duplicate=0: resynchronise all users: salesforce: connection reset",
	)

	code, stdout = run(&cdcFakeUsers{users: []events.User{olga, noStamp}})
	if code != 1 {
		t.Errorf("a user without a timestamp: exit status %d, want 1", code)
	}
	checkOutput(t, stdout,
		"failed line=1 change=GAP_UPDATE read=2 published=0 duplicate=1: user "+cdcNoor+" read from Salesforce has no SystemModstamp or LastModifiedDate: its state cannot be named",
		"failed line=2 change=GAP_OVERFLOW read=2 published=0 duplicate=1: resynchronise all users: user "+cdcNoor+" read from Salesforce has no SystemModstamp or LastModifiedDate: its state cannot be named",
	)
	checkStored(t, js, []storedMsg{{1, "vccsync.user." + cdcOlga + ".changed", sid, sid, cdcOlga}})
}

// cdcSyncWriter is an output the test reads while publisher writes it.
type cdcSyncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *cdcSyncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *cdcSyncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestCDCListen(t *testing.T) {
	url, js := startJetStream(t, true)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr cdcSyncWriter
	done := make(chan int, 1)
	go func() {
		done <- runEnv(ctx, nil, []string{"cdc", "--org-id", cdcTestOrg, "--nats-url", url, "--listen", "127.0.0.1:0"}, nil, &stdout, &stderr)
	}()
	addr := ""
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, rest, ok := strings.Cut(stderr.String(), "publisher cdc: listening on "); ok {
			addr = strings.TrimSpace(rest)
		}
	}
	if addr == "" {
		t.Fatalf("not listening; stderr: %s", stderr.String())
	}

	post := func(body string) (int, string) {
		t.Helper()
		resp, err := http.Post(addr+"/cdc", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	for _, step := range []struct {
		name   string
		body   string
		status int
		reply  []string
	}{
		{"one message", cdcOlgaJoins.streaming(t), 200, []string{"published msg=1 change=CREATE published=1 duplicate=0 ids=" + cdcID(cdcOlga, "tx-create", 1)}},
		{"the same again", cdcOlgaJoins.streaming(t), 200, []string{"duplicate msg=1 change=CREATE published=0 duplicate=1 ids=" + cdcID(cdcOlga, "tx-create", 1)}},
		{"an array", "[" + cdcTwoLeave.streaming(t) + "," + cdcOlgaDeleted.streaming(t) + "]", 200, []string{
			"published msg=1 change=UPDATE published=2 duplicate=0 ids=" + cdcID(cdcRavi, "tx-leave", 1) + "," + cdcID(cdcMei, "tx-leave", 1),
			"ignored msg=2 change=DELETE: Salesforce users are never deleted (a deactivation arrives as an UPDATE of IsActive)"}},
		{"a bad message among good ones", "[" + cdcAccountChange.streaming(t) + "," + cdcOlgaRenamed.streaming(t) + "]", 400, []string{
			`rejected msg=1 change=UPDATE: ChangeEventHeader.entityName: "Account", want "User" (subscribe to /data/UserChangeEvent)`,
			"published msg=2 change=UPDATE published=1 duplicate=0 ids=" + cdcID(cdcOlga, "tx-rename", 2)}},
		{"a gap without Salesforce", cdcGapEvent.streaming(t), 500, []string{"failed msg=1 change=GAP_UPDATE read=0: " + bridge.ErrNoUserReader.Error()}},
		{"not JSON", `{"data":`, 400, []string{"rejected msg=1: message: not valid JSON at byte 8: unexpected end of JSON input"}},
		{"a broken array", `[{"data":1},`, 400, []string{"body: not valid JSON at byte 12: unexpected end of JSON input"}},
		{"empty", "", 400, []string{"body: empty, want a change event message or a JSON array of them"}},
		{"an empty array", "[]", 400, []string{"body: an empty array, want at least one message"}},
	} {
		status, reply := post(step.body)
		if want := strings.Join(step.reply, "\n") + "\n"; status != step.status || reply != want {
			t.Errorf("%s: %d %q\nwant %d %q", step.name, status, reply, step.status, want)
		}
	}

	resp, err := http.Get(addr + "/cdc")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp, err = http.Get(addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %d", resp.StatusCode)
	}
	resp, err = http.Get(addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `vccsync_cdc_messages_total{outcome="rejected"} 2`; resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
		t.Errorf("GET /metrics: %d, no %q in\n%s", resp.StatusCode, want, b)
	}
	big := `{"data":"` + strings.Repeat("x", bridge.MaxIngestBody) + `"}`
	if status, reply := post(big); status != http.StatusRequestEntityTooLarge || reply != "body: larger than 16 MiB\n" {
		t.Errorf("too big: %d %q", status, reply)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit status = %d, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cdc --listen did not stop")
	}
	if !strings.Contains(stderr.String(), "messages: 3 published, 1 duplicate, 1 ignored, 0 gap, 0 overflow, 2 rejected, 1 failed; events: 4 published, 1 duplicate\n") {
		t.Errorf("stderr: %s", stderr.String())
	}
	if !strings.Contains(stdout.String(), "published post=1 msg=1 change=CREATE") || !strings.Contains(stdout.String(), "rejected post=4 msg=1 ") {
		t.Errorf("stdout: %s", stdout.String())
	}
	// Ravi and Mei leave: their changes take the priority subject.
	olga, ravi, mei := "vccsync.user."+cdcOlga+".changed", "vccsync.access."+cdcRavi, "vccsync.access."+cdcMei
	checkStored(t, js, []storedMsg{
		{1, olga, cdcID(cdcOlga, "tx-create", 1), cdcID(cdcOlga, "tx-create", 1), cdcOlga},
		{2, ravi, cdcID(cdcRavi, "tx-leave", 1), cdcID(cdcRavi, "tx-leave", 1), cdcRavi},
		{3, mei, cdcID(cdcMei, "tx-leave", 1), cdcID(cdcMei, "tx-leave", 1), cdcMei},
		{4, olga, cdcID(cdcOlga, "tx-rename", 2), cdcID(cdcOlga, "tx-rename", 2), cdcOlga},
	})
}

func TestCDCUsage(t *testing.T) {
	dir := t.TempDir()
	badSchema := filepath.Join(dir, "schema.avsc")
	if err := os.WriteFile(badSchema, []byte(`{"type":"enum","name":"X","symbols":["A"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	org := []string{"--org-id", cdcTestOrg}
	secretFile := filepath.Join(dir, "sf-secret")
	if err := os.WriteFile(secretFile, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"help", []string{"help", "cdc"}, 0, "publisher cdc --org-id ID [flags] FILE|-", ""},
		{"-h", []string{"cdc", "-h"}, 0, "--sf-client-secret-file file", ""},
		{"listed", []string{"help"}, 0, "  cdc         ingest Salesforce Change Data Capture for User (Pub/Sub API subscription, file, stdin or HTTP)", ""},
		{"subscribe -h", []string{"cdc", "-h"}, 0, "--replay-file file", ""},
		{"subscribe without login", append([]string{"cdc", "--subscribe"}, org...), 2, "", "publisher cdc: --subscribe needs the Salesforce login"},
		{"subscribe and a file", append([]string{"cdc", "--subscribe", "x.jsonl"}, org...), 2, "", `publisher cdc: --subscribe reads from Salesforce: no FILE expected, got ["x.jsonl"]`},
		{"subscribe and listen", append([]string{"cdc", "--subscribe", "--listen", ":0"}, org...), 2, "", "--subscribe and --listen go separately"},
		{"subscribe, bad start", append([]string{"cdc", "--subscribe", "--start", "yesterday", "--sf-url", "https://acme.my.salesforce.com", "--sf-client-id", "x", "--sf-client-secret-file", secretFile}, org...), 2, "", `--start "yesterday": want latest or earliest`},
		{"no file", append([]string{"cdc"}, org...), 2, "", "publisher cdc: missing FILE (or - for stdin, or --listen ADDR)"},
		{"file and listen", append([]string{"cdc", "--listen", ":0", "x.jsonl"}, org...), 2, "", `publisher cdc: --listen serves HTTP: no FILE expected, got ["x.jsonl"]`},
		{"two files", append([]string{"cdc", "a", "b"}, org...), 2, "", "one FILE expected, got 2 arguments"},
		{"no org", []string{"cdc", "-"}, 2, "", "publisher cdc: --org-id is required"},
		{"bad org", []string{"cdc", "--org-id", "0055f00000GBZR4AAP", "-"}, 2, "", `publisher cdc: --org-id: "0055f00000GBZR4AAP" is not an organization ID (00D…)`},
		{"bad format", append([]string{"cdc", "--format", "xml", "-"}, org...), 2, "", `publisher cdc: --format: format "xml": want streaming, pubsub or detect`},
		{"missing schema", append([]string{"cdc", "--schema", filepath.Join(dir, "nope.avsc"), "-"}, org...), 2, "", "publisher cdc: --schema: open "},
		{"bad schema", append([]string{"cdc", "--schema", badSchema, "-"}, org...), 2, "", "avro schema: want a record schema"},
		{"bad timeout", append([]string{"cdc", "--timeout", "0s", "-"}, org...), 2, "", "--timeout 0s: must be positive"},
		{"sf without secret", append([]string{"cdc", "--sf-url", "https://acme.my.salesforce.com", "--sf-client-id", "x", "-"}, org...), 2, "", "ClientSecret is required"},
		{"sf secret file missing", append([]string{"cdc", "--sf-url", "https://acme.my.salesforce.com", "--sf-client-id", "x", "--sf-client-secret-file", filepath.Join(dir, "nope"), "-"}, org...), 2, "", "--sf-client-secret-file: open "},
		{"missing input", append([]string{"cdc", filepath.Join(dir, "nope.jsonl")}, org...), 2, "", "publisher cdc: open input: open "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("VCCSYNC_SF_CLIENT_SECRET", "")
			code, stdout, stderr := runCLI(t, nil, tc.args...)
			if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			if tc.code == 2 && !strings.HasSuffix(stderr, "Run 'publisher cdc --help' for usage.\n") {
				t.Errorf("no hint on stderr:\n%s", stderr)
			}
		})
	}
}
