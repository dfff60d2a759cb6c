package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/salesforce"
)

const (
	serveTestOrg   = "00D5e000000KQ2eEAG"
	serveTestToken = "s3cret-token-0123456789"
	serveTestAck   = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
 <soapenv:Body>
  <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>
 </soapenv:Body>
</soapenv:Envelope>
`
)

var serveOmarKey = userKey("0055e000001Omar")

// serveNote is one Notification of a test message: its Id and the sObject's
// field elements; no fields is a deleted record.
type serveNote struct{ id, fields string }

// serveMessage is an outbound message as Salesforce sends it.
func serveMessage(org string, notes ...serveNote) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>%s</OrganizationId>
   <ActionId>04k5e000000XyZaAAK</ActionId>
   <SessionId>00D5e000000KQ2e!AQ4AQSessionSecret</SessionId>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/61.0/00D5e000000KQ2e</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/61.0/00D5e000000KQ2e</PartnerUrl>
`, org)
	for _, n := range notes {
		fmt.Fprintf(&b, "   <Notification>\n    <Id>%s</Id>\n    <sObject xsi:type=\"sf:User\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">%s</sObject>\n   </Notification>\n", n.id, n.fields)
	}
	b.WriteString("  </notifications>\n </soapenv:Body>\n</soapenv:Envelope>\n")
	return b.String()
}

var (
	serveJane = serveNote{"04l5e00000AbCdEAAV", `
     <sf:Id>` + jane + `</sf:Id>
     <sf:Alias>jsmith</sf:Alias>
     <sf:Email>jane.smith@acme.example</sf:Email>
     <sf:FederationIdentifier>jsmith</sf:FederationIdentifier>
     <sf:FirstName>Jane</sf:FirstName>
     <sf:IsActive>true</sf:IsActive>
     <sf:LastModifiedDate>2026-11-20T10:15:00.000Z</sf:LastModifiedDate>
     <sf:LastName>Smith</sf:LastName>
     <sf:ProfileId>00e5e000000AbCdAAK</sf:ProfileId>
     <sf:CallCenterId xsi:nil="true"/>
     <sf:SystemModstamp>2026-11-20T10:15:00.000Z</sf:SystemModstamp>
     <sf:Username>jane.smith@acme.example</sf:Username>
    `}
	// John is inactive: his changes take the priority subject.
	serveJohn = serveNote{"04l5e00000AbCdFAAV", `<sf:Id>` + john + `</sf:Id><sf:IsActive>false</sf:IsActive><sf:SystemModstamp>2026-11-20T10:16:00.000Z</sf:SystemModstamp>`}
	serveOmar = serveNote{"04l5e00000AbCdGAAV", `<sf:Id>0055e000001Omar</sf:Id><sf:Email>serveOmarKey.haddad@acme.example</sf:Email><sf:IsActive>1</sf:IsActive>`}
)

// serveSyncBuffer collects the log while the server writes to it.
type serveSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *serveSyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *serveSyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines returns the JSON log lines whose msg is msg.
func (s *serveSyncBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// serveInstance is a running publisher serve.
type serveInstance struct {
	url  string // base URL of the endpoint, with --path
	logs *serveSyncBuffer
	stop func() int // stops it (as SIGTERM does) and returns the exit status
}

// message waits for the n-th (1-based) "outbound message" log line.
func (s *serveInstance) message(t *testing.T, n int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if l := s.logs.lines(t, "outbound message"); len(l) >= n {
			return l[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line for message %d; log:\n%s", n, s.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// writeSecret writes a secret file for a test.
func serveWriteSecret(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startServe runs publisher serve against natsURL on a free port, with
// the test org, the test token and JSON logs, plus args (later flags win),
// and waits until it listens.
func startServe(t *testing.T, natsURL string, args ...string) *serveInstance {
	t.Helper()
	all := append([]string{"--nats-url", natsURL, "--listen", "127.0.0.1:0", "--org-id", serveTestOrg,
		"--auth-token-file", serveWriteSecret(t, "token", serveTestToken+"\n"), "--log-format", "json", "--timeout", "10s"}, args...)
	ctx, cancel := context.WithCancel(context.Background())
	logs := &serveSyncBuffer{}
	done := make(chan int, 1)
	go func() { done <- runServeEnv(ctx, all, nil, io.Discard, logs) }()

	var once sync.Once
	code := -1
	stop := func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(20 * time.Second):
				t.Errorf("serve did not stop within 20s of the signal")
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })

	deadline := time.Now().Add(10 * time.Second)
	for {
		if l := logs.lines(t, "serving Salesforce outbound messages"); len(l) > 0 {
			return &serveInstance{url: l[0]["url"].(string), logs: logs, stop: stop}
		}
		select {
		case c := <-done:
			t.Fatalf("serve exited with status %d before listening; log:\n%s", c, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve is not listening after 10s; log:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// serveReply is an HTTP answer of the listener.
type serveReply struct {
	status int
	header http.Header
	body   string
}

// post sends body to url the way Salesforce does; edit may change the
// request (credentials, headers).
func servePost(t *testing.T, client *http.Client, url, body string, edit func(*http.Request)) serveReply {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `""`)
	if edit != nil {
		edit(req)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return serveReply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func serveBearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

// checkAck checks that the reply is Salesforce's Ack.
func serveCheckAck(t *testing.T, r serveReply) {
	t.Helper()
	if r.status != http.StatusOK || r.body != serveTestAck {
		t.Fatalf("reply %d %q, want 200 and the Ack", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/xml; charset=utf-8" {
		t.Errorf("Content-Type %q, want text/xml; charset=utf-8", ct)
	}
}

// checkFault checks that the reply is a SOAP Fault with status, code and a
// faultstring containing want.
func serveCheckFault(t *testing.T, r serveReply, status int, code, want string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d; body:\n%s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/xml; charset=utf-8" {
		t.Errorf("Content-Type %q, want text/xml; charset=utf-8", ct)
	}
	var env struct {
		XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
		Body    struct {
			Fault *struct {
				Code   string `xml:"faultcode"`
				String string `xml:"faultstring"`
			} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
	}
	if err := xml.Unmarshal([]byte(r.body), &env); err != nil || env.Body.Fault == nil {
		t.Fatalf("not a SOAP Fault (%v):\n%s", err, r.body)
	}
	if env.Body.Fault.Code != code {
		t.Errorf("faultcode %q, want %q", env.Body.Fault.Code, code)
	}
	if !strings.Contains(env.Body.Fault.String, want) {
		t.Errorf("faultstring %q does not contain %q", env.Body.Fault.String, want)
	}
}

// checkLogged checks fields of a log line.
func serveCheckLogged(t *testing.T, line map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if fmt.Sprint(line[k]) != fmt.Sprint(v) {
			t.Errorf("log %s = %v, want %v; line %v", k, line[k], v, line)
		}
	}
}

// checkNoSecrets checks that the log holds no user data, token or session.
func serveCheckNoSecrets(t *testing.T, logs string) {
	t.Helper()
	for _, s := range []string{"jane.smith@acme.example", "serveOmarKey.haddad@acme.example", "Smith", "jsmith", serveTestToken, "SessionSecret"} {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains %q:\n%s", s, logs)
		}
	}
}

func TestServePublishesThenAcks(t *testing.T) {
	url, js := startJetStream(t, true)
	s := startServe(t, url)
	msg := serveMessage(serveTestOrg, serveJane, serveJohn, serveOmar)

	serveCheckAck(t, servePost(t, nil, s.url, msg, serveBearer(serveTestToken)))

	janeSubject, johnSubject, omarSubject := "vccsync.user."+jane+".changed", "vccsync.access."+john, "vccsync.user."+serveOmarKey+".changed"
	want := []storedMsg{
		{1, janeSubject, serveJane.id, serveJane.id, jane},
		{2, johnSubject, serveJohn.id, serveJohn.id, john},
		{3, omarSubject, serveOmar.id, serveOmar.id, serveOmarKey}, // the 15-character ID's subject in its 18-character form
	}
	checkStored(t, js, want)
	serveCheckLogged(t, s.message(t, 1), map[string]any{"level": "info", "outcome": "acked", "status": 200, "org": "00D5e000000KQ2e",
		"action": "04k5e000000XyZaAAK", "notifications": 3, "published": 3, "duplicate": 0, "deleted": 0})

	stream, err := js.Stream(testContext(t), events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := stream.GetMsg(testContext(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.Decode(raw.Subject, raw.Data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Source != "salesforce/outbound-message/00D5e000000KQ2e" || ev.Type != events.TypeUserChanged || ev.Time == nil || time.Since(*ev.Time) > time.Minute {
		t.Errorf("envelope %+v, want source salesforce/outbound-message/00D5e000000KQ2e, type %s and the time it was received", ev.Envelope, events.TypeUserChanged)
	}
	u := ev.User
	if u.Username.Get() != "jane.smith@acme.example" || u.Alias.Get() != "jsmith" || !u.IsActive.Get() || !u.CallCenterID.Null ||
		u.AgentID.Set || u.SystemModstamp.Value.Format(time.RFC3339) != "2026-11-20T10:15:00Z" {
		t.Errorf("Jane's data %+v, want the message's fields (CallCenterId null, no agent id)", u)
	}
	raw, err = stream.GetMsg(testContext(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw.Data), `"data":{"Id":"`+john+`","IsActive":false,"SystemModstamp":"2026-11-20T10:16:00.000Z"}`) {
		t.Errorf("John's event carries other fields than the message: %s", raw.Data)
	}

	// Salesforce delivers the message again: duplicates, acknowledged.
	serveCheckAck(t, servePost(t, nil, s.url+"?token="+serveTestToken, msg, nil))
	checkStored(t, js, want)
	serveCheckLogged(t, s.message(t, 2), map[string]any{"outcome": "acked", "notifications": 3, "published": 0, "duplicate": 3})

	if code := s.stop(); code != cli.ExitOK {
		t.Errorf("exit status after the signal %d, want 0", code)
	}
	if len(s.logs.lines(t, "stopped")) != 1 {
		t.Errorf("no stopped line in the log:\n%s", s.logs.String())
	}
	serveCheckNoSecrets(t, s.logs.String())
}

func TestServeOrgIDComparedOn15Characters(t *testing.T) {
	url, js := startJetStream(t, true)
	s := startServe(t, url, "--org-id", "00D5e000000KQ2e", "--org-id", "00D5e000000EvilEAC")

	serveCheckAck(t, servePost(t, nil, s.url, serveMessage("00D5e000000KQ2eEAG", serveJohn), serveBearer(serveTestToken)))
	serveCheckAck(t, servePost(t, nil, s.url, serveMessage("00D5e000000Evil", serveOmar), serveBearer(serveTestToken)))
	checkStored(t, js, []storedMsg{
		{1, "vccsync.access." + john, serveJohn.id, serveJohn.id, john},
		{2, "vccsync.user." + serveOmarKey + ".changed", serveOmar.id, serveOmar.id, serveOmarKey},
	})
}

func TestServeRefusals(t *testing.T) {
	url, js := startJetStream(t, true)
	s := startServe(t, url, "--max-body", "4KiB")
	good := serveMessage(serveTestOrg, serveJohn)
	big := serveMessage(serveTestOrg, serveNote{serveJohn.id, serveJohn.fields + "<sf:AboutMe>" + strings.Repeat("x", 4<<10) + "</sf:AboutMe>"})
	malformed := strings.Replace(serveMessage(serveTestOrg, serveJane), "<sf:Alias>jsmith</sf:Alias>", "<sf:Alias>jsmith</sf:Email>", 1)
	account := strings.Replace(serveMessage(serveTestOrg, serveJohn), "sf:User", "sf:Account", 1)

	for _, tc := range []struct {
		name    string
		method  string
		path    string
		body    string
		edit    func(*http.Request)
		status  int
		code    string
		fault   string
		outcome string
	}{
		{name: "no credentials", body: good, status: 401, code: salesforce.FaultClient, fault: "unauthorized: missing or wrong credentials", outcome: "unauthorized"},
		{name: "wrong bearer token", body: good, edit: serveBearer("s3cret-token-0123456788"), status: 401, code: salesforce.FaultClient, fault: "unauthorized", outcome: "unauthorized"},
		{name: "wrong query token", path: "?token=nope", body: good, status: 401, code: salesforce.FaultClient, fault: "unauthorized", outcome: "unauthorized"},
		{name: "token as a password", body: good, edit: func(r *http.Request) { r.SetBasicAuth("salesforce", serveTestToken) }, status: 401, code: salesforce.FaultClient, fault: "unauthorized", outcome: "unauthorized"},
		{name: "GET", method: http.MethodGet, edit: serveBearer(serveTestToken), status: 405, code: salesforce.FaultClient, fault: "method GET: Salesforce POSTs outbound messages", outcome: "method_not_allowed"},
		{name: "form", body: good, edit: func(r *http.Request) {
			serveBearer(serveTestToken)(r)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}, status: 415, code: salesforce.FaultClient, fault: "Content-Type application/x-www-form-urlencoded: want text/xml", outcome: "unsupported_media_type"},
		{name: "wrong organization", body: serveMessage("00D5e000000EvilEAC", serveJohn), edit: serveBearer(serveTestToken), status: 403, code: salesforce.FaultClient,
			fault: "OrganizationId 00D5e000000EvilEAC: not an organization this listener accepts messages from (--org-id)", outcome: "forbidden"},
		{name: "malformed XML", body: malformed, edit: serveBearer(serveTestToken), status: 400, code: salesforce.FaultClient,
			fault: "malformed XML at line 14, column 33: element <Alias> closed by </Email>", outcome: "rejected"},
		{name: "empty body", body: "", edit: serveBearer(serveTestToken), status: 400, code: salesforce.FaultClient, fault: "not a SOAP envelope: no XML element (empty body)", outcome: "rejected"},
		{name: "not a User", body: account, edit: serveBearer(serveTestToken), status: 400, code: salesforce.FaultClient, fault: "Notification[1]: sObject: object type Account, want User", outcome: "rejected"},
		{name: "oversized body", body: big, edit: serveBearer(serveTestToken), status: 413, code: salesforce.FaultClient, fault: "body larger than 4 KiB, the most this listener accepts (--max-body)", outcome: "too_large"},
		{name: "oversized body without a length", body: big, edit: func(r *http.Request) {
			serveBearer(serveTestToken)(r)
			r.ContentLength = -1
			r.Body = io.NopCloser(strings.NewReader(big))
		}, status: 413, code: salesforce.FaultClient, fault: "body larger than 4 KiB", outcome: "too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(s.logs.lines(t, "outbound message"))
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequestWithContext(testContext(t), method, s.url+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "text/xml; charset=utf-8")
			if tc.edit != nil {
				tc.edit(req)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r := serveReply{status: resp.StatusCode, header: resp.Header, body: string(b)}
			serveCheckFault(t, r, tc.status, tc.code, tc.fault)
			switch tc.status {
			case 401:
				if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != `Bearer realm="vccsync"` {
					t.Errorf("WWW-Authenticate %q, want the Bearer challenge", got)
				}
			case 405:
				if got := r.header.Get("Allow"); got != "POST" {
					t.Errorf("Allow %q, want POST", got)
				}
			}
			line := s.message(t, before+1)
			serveCheckLogged(t, line, map[string]any{"outcome": tc.outcome, "status": tc.status, "level": "warn"})
			if e, _ := line["error"].(string); e == "" {
				t.Errorf("log line without the error: %v", line)
			}
			if n := streamLen(t, js); n != 0 {
				t.Errorf("the stream holds %d messages, want none", n)
			}
		})
	}

	resp, err := http.Post(strings.TrimSuffix(s.url, serveDefaultPath)+"/other", "text/xml", strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST to another path: %d, want 404", resp.StatusCode)
	}
	serveCheckNoSecrets(t, s.logs.String())
}

func TestServeSkipsDeletedRecords(t *testing.T) {
	url, js := startJetStream(t, true)
	s := startServe(t, url)
	gone := serveNote{"04l5e00000AbCdHAAV", ""}

	serveCheckAck(t, servePost(t, nil, s.url, serveMessage(serveTestOrg, gone, serveJohn), serveBearer(serveTestToken)))

	checkStored(t, js, []storedMsg{{1, "vccsync.access." + john, serveJohn.id, serveJohn.id, john}})
	line := s.message(t, 1)
	serveCheckLogged(t, line, map[string]any{"outcome": "acked", "notifications": 2, "published": 1, "deleted": 1, "skipped_deleted": []any{gone.id}})

	// A message of deleted records only is acknowledged with nothing published.
	serveCheckAck(t, servePost(t, nil, s.url, serveMessage(serveTestOrg, gone), serveBearer(serveTestToken)))
	serveCheckLogged(t, s.message(t, 2), map[string]any{"outcome": "acked", "notifications": 1, "published": 0, "deleted": 1})
	if n := streamLen(t, js); n != 1 {
		t.Errorf("the stream holds %d messages, want 1", n)
	}
}

func TestServePublishesUsersTheWorkerWillDeadLetter(t *testing.T) {
	url, js := startJetStream(t, true)
	s := startServe(t, url)
	odd := serveNote{"04l5e00000AbCdHAAV", `<sf:Id>` + jane + `</sf:Id><sf:NVMContactWorld__NVM_Agent_Id__c>A-17</sf:NVMContactWorld__NVM_Agent_Id__c>`}

	serveCheckAck(t, servePost(t, nil, s.url, serveMessage(serveTestOrg, odd, serveJohn), serveBearer(serveTestToken)))

	if n := streamLen(t, js); n != 2 {
		t.Fatalf("the stream holds %d messages, want both", n)
	}
	stream, err := js.Stream(testContext(t), events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := stream.GetMsg(testContext(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	_, decodeErr := events.Decode(raw.Subject, raw.Data)
	if decodeErr == nil {
		t.Fatal("the odd user decodes; the test needs one that breaks the contract")
	}
	line := s.message(t, 1)
	serveCheckLogged(t, line, map[string]any{"level": "warn", "outcome": "acked", "published": 2})
	dl, _ := line["dead_letter_expected"].([]any)
	if len(dl) != 1 || !strings.Contains(fmt.Sprint(dl[0]), "Notification[1] (Id "+odd.id+"): "+decodeErr.Error()) {
		t.Errorf("dead_letter_expected %v, want Notification[1]'s contract error %q", dl, decodeErr)
	}
}

func TestServeStreamMissing(t *testing.T) {
	url, js := startJetStream(t, false)
	s := startServe(t, url)

	r := servePost(t, nil, s.url, serveMessage(serveTestOrg, serveJane, serveJohn), serveBearer(serveTestToken))

	serveCheckFault(t, r, http.StatusInternalServerError, salesforce.FaultServer,
		"Notification[1] (Id "+serveJane.id+"): publish "+serveJane.id+" to vccsync.user."+jane+".changed: ")
	if !strings.Contains(r.body, "not acknowledged: Salesforce will send the whole message again") {
		t.Errorf("the fault does not say the message will come again:\n%s", r.body)
	}
	serveCheckLogged(t, s.message(t, 1), map[string]any{"level": "error", "outcome": "failed", "status": 500, "notifications": 2, "published": 0})
	if len(s.logs.lines(t, "publishing will fail until the stream exists")) != 1 {
		t.Errorf("no warning at start-up about the missing stream:\n%s", s.logs.String())
	}
	if _, err := js.Stream(testContext(t), events.Stream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("stream lookup: %v, want ErrStreamNotFound (serve must not create it)", err)
	}
}

func TestServePublishTimeout(t *testing.T) {
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := bus.Connect(bus.ConnectConfig{URL: srv.ClientURL(), Name: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(testContext(t), js, bus.StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, srv.ClientURL(), "--timeout", "1s")
	srv.Shutdown() // NATS goes away: the publish waits for an acknowledgement that does not come

	start := time.Now()
	r := servePost(t, nil, s.url, serveMessage(serveTestOrg, serveJohn), serveBearer(serveTestToken))
	took := time.Since(start)

	serveCheckFault(t, r, http.StatusInternalServerError, salesforce.FaultServer, "Notification[1] (Id "+serveJohn.id+"): publish ")
	if took < 900*time.Millisecond || took > 5*time.Second {
		t.Errorf("answered after %s, want about the 1s --timeout", took)
	}
	serveCheckLogged(t, s.message(t, 1), map[string]any{"outcome": "failed", "status": 500})
}

func TestServeBasicAuth(t *testing.T) {
	url, js := startJetStream(t, true)
	s := startServe(t, url, "--auth-token-file", "", "--basic-auth-file", serveWriteSecret(t, "basic", "salesforce:pa:ss word\n"))
	withUser := strings.Replace(s.url, "http://", "http://salesforce:pa%3Ass%20word@", 1) // the endpoint URL's userinfo, as Salesforce is given it

	serveCheckAck(t, servePost(t, nil, withUser, serveMessage(serveTestOrg, serveJohn), nil))
	checkStored(t, js, []storedMsg{{1, "vccsync.access." + john, serveJohn.id, serveJohn.id, john}})

	for name, edit := range map[string]func(*http.Request){
		"wrong password": func(r *http.Request) { r.SetBasicAuth("salesforce", "pa:ss words") },
		"wrong user":     func(r *http.Request) { r.SetBasicAuth("salesforcE", "pa:ss word") },
		"bearer":         serveBearer("salesforce:pa:ss word"),
	} {
		r := servePost(t, nil, s.url, serveMessage(serveTestOrg, serveOmar), edit)
		serveCheckFault(t, r, http.StatusUnauthorized, salesforce.FaultClient, "unauthorized")
		if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || !strings.HasPrefix(got[0], `Basic realm="vccsync"`) {
			t.Errorf("%s: WWW-Authenticate %q, want the Basic challenge", name, got)
		}
	}
	if n := streamLen(t, js); n != 1 {
		t.Errorf("the stream holds %d messages, want 1", n)
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	url, js := startJetStream(t, true)
	s := startServe(t, url)
	msg := serveMessage(serveTestOrg, serveJohn)

	// A raw connection that asks for 100 Continue: the server sends it
	// when the handler starts reading the body, so the request is known to
	// be in flight before the signal.
	addr := strings.TrimSuffix(strings.TrimPrefix(s.url, "http://"), serveDefaultPath)
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		serveDefaultPath, addr, serveTestToken, len(msg))
	br := bufio.NewReader(conn)
	cont, err := http.ReadResponse(br, nil)
	if err != nil || cont.StatusCode != http.StatusContinue {
		t.Fatalf("want 100 Continue before the body, got %v, %v", cont, err)
	}
	if _, err := io.WriteString(conn, msg[:len(msg)/2]); err != nil {
		t.Fatal(err)
	}

	stopped := make(chan int, 1)
	go func() { stopped <- s.stop() }()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.logs.lines(t, "stopping: finishing the requests in flight")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no shutdown in the log:\n%s", s.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break // no new connections once stopping
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after the signal")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case code := <-stopped:
		t.Fatalf("serve exited (%d) with a request in flight", code)
	case <-time.After(100 * time.Millisecond):
	}

	if _, err := io.WriteString(conn, msg[len(msg)/2:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to the request in flight: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	serveCheckAck(t, serveReply{status: resp.StatusCode, header: resp.Header, body: string(b)})
	if code := <-stopped; code != cli.ExitOK {
		t.Errorf("exit status %d, want 0", code)
	}
	checkStored(t, js, []storedMsg{{1, "vccsync.access." + john, serveJohn.id, serveJohn.id, john}})
}

func TestServeHealthz(t *testing.T) {
	url, _ := startJetStream(t, true)
	s := startServe(t, url)
	if len(s.logs.lines(t, "serving plain HTTP: Salesforce posts to HTTPS only, so this needs a TLS proxy in front (or --tls-cert and --tls-key)")) != 1 {
		t.Errorf("no warning that it serves plain HTTP:\n%s", s.logs.String())
	}
	resp, err := http.Get(strings.TrimSuffix(s.url, serveDefaultPath) + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "ok\n" {
		t.Errorf("GET /healthz: %d %q, want 200 ok", resp.StatusCode, b)
	}
}

// TestServeMetrics: the listener serves the bridge's metrics beside the
// endpoint; a POST to /metrics is no outbound message.
func TestServeMetrics(t *testing.T) {
	url, _ := startJetStream(t, true)
	s := startServe(t, url)
	serveCheckAck(t, servePost(t, nil, s.url, serveMessage(serveTestOrg, serveJohn), serveBearer(serveTestToken)))
	serveCheckFault(t, servePost(t, nil, s.url, serveMessage(serveTestOrg, serveJohn), nil), http.StatusUnauthorized, salesforce.FaultClient, "unauthorized")

	base := strings.TrimSuffix(s.url, serveDefaultPath)
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`vccsync_outbound_requests_total{result="acked"} 1`,
		`vccsync_outbound_requests_total{result="unauthorized"} 1`,
		`vccsync_outbound_notifications_total{outcome="published"} 1`,
		`vccsync_bridge_publish_duration_seconds_count{source="outbound"} 1`,
		"go_goroutines ",
	} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("GET /metrics: %d, no %q in\n%s", resp.StatusCode, want, b)
		}
	}
	resp, err = http.Post(base+"/metrics", "text/xml", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /metrics: %d, want 404", resp.StatusCode)
	}
}

func TestServeUsage(t *testing.T) {
	token := serveWriteSecret(t, "token", serveTestToken)
	short := serveWriteSecret(t, "short", "abc\n")
	empty := serveWriteSecret(t, "empty", "\n")
	basicBad := serveWriteSecret(t, "basic", "no-colon\n")
	missing := filepath.Join(t.TempDir(), "missing")
	base := []string{"--org-id", serveTestOrg, "--auth-token-file", token}
	for _, tc := range []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stdout []string
		stderr []string
	}{
		{name: "help", args: []string{"-h"}, code: 0, stdout: []string{"publisher serve --org-id ID", "--auth-token-file file", "--max-body size", "(default 1 MiB)", "--tls-cert file", "SOAP Ack"}},
		{name: "no org", args: []string{"--auth-token-file", token}, code: 2, stderr: []string{"publisher serve: --org-id is required"}},
		{name: "bad org", args: []string{"--org-id", "0055e000001JaneAAC", "--auth-token-file", token}, code: 2,
			stderr: []string{`invalid argument "0055e000001JaneAAC" for "--org-id" flag: "0055e000001JaneAAC" is not a Salesforce organization ID (00D…): its key prefix is "005"`}},
		{name: "org with a bad checksum", args: []string{"--org-id", "00D5e000000KQ2eAAA", "--auth-token-file", token}, code: 2, stderr: []string{`has checksum suffix "AAA", want "EAG"`}},
		{name: "bad org in env", args: []string{"--auth-token-file", token}, env: map[string]string{"VCCSYNC_SF_ORG_ID": "nope"}, code: 2, stderr: []string{`publisher serve: VCCSYNC_SF_ORG_ID="nope": org-id: not a Salesforce organization ID`}},
		{name: "no authentication", args: []string{"--org-id", serveTestOrg}, code: 2, stderr: []string{"give --auth-token-file or --basic-auth-file (or both)"}},
		{name: "short token", args: []string{"--org-id", serveTestOrg, "--auth-token-file", short}, code: 2, stderr: []string{"--auth-token-file " + short + ": the token has 3 characters, want at least 16"}},
		{name: "empty token", args: []string{"--org-id", serveTestOrg, "--auth-token-file", empty}, code: 2, stderr: []string{"--auth-token-file " + empty + ": empty"}},
		{name: "short token in env", args: []string{"--org-id", serveTestOrg}, env: map[string]string{"VCCSYNC_OUTBOUND_TOKEN": "abc"}, code: 2, stderr: []string{"env VCCSYNC_OUTBOUND_TOKEN: the token has 3 characters"}},
		{name: "missing token file", args: []string{"--org-id", serveTestOrg, "--auth-token-file", missing}, code: 2, stderr: []string{"--auth-token-file: open " + missing + ": no such file or directory"}},
		{name: "bad basic file", args: []string{"--org-id", serveTestOrg, "--basic-auth-file", basicBad}, code: 2, stderr: []string{"--basic-auth-file " + basicBad + ": want one line user:password, with neither empty"}},
		{name: "timeout beyond Salesforce's wait", args: append(base, "--timeout", "60s"), code: 2, stderr: []string{"--timeout 1m0s: must be positive and below Salesforce's 60s wait"}},
		{name: "bad max body", args: append(base, "--max-body", "1MB"), code: 2, stderr: []string{`invalid argument "1MB" for "--max-body" flag: "1MB": want bytes, or a number with KiB or MiB (e.g. 1MiB)`}},
		{name: "tiny max body", args: append(base, "--max-body", "100"), code: 2, stderr: []string{"--max-body 100 bytes: must be between 1 KiB and 64 MiB"}},
		{name: "bad path", args: append(base, "--path", "salesforce"), code: 2, stderr: []string{`--path "salesforce": want an absolute URL path`}},
		{name: "bad listen", args: append(base, "--listen", "8443"), code: 2, stderr: []string{`--listen "8443": want host:port`}},
		{name: "cert without key", args: append(base, "--tls-cert", token), code: 2, stderr: []string{"--tls-cert and --tls-key go together; give both or neither"}},
		{name: "client CA without TLS", args: append(base, "--tls-client-ca", token), code: 2, stderr: []string{"--tls-client-ca needs --tls-cert and --tls-key"}},
		{name: "unreadable cert", args: append(base, "--tls-cert", missing, "--tls-key", missing), code: 2, stderr: []string{"--tls-cert/--tls-key: open " + missing}},
		{name: "bad log format", args: append(base, "--log-format", "xml"), code: 2, stderr: []string{`--log-format "xml": want auto, json or console`}},
		{name: "argument", args: append(base, "extra"), code: 2, stderr: []string{`no arguments expected, got ["extra"]`}},
		{name: "several problems at once", args: []string{"--timeout", "0s"}, code: 2, stderr: []string{"--org-id is required", "--timeout 0s: must be positive", "give --auth-token-file or --basic-auth-file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runServeEnv(t.Context(), tc.args, tc.env, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit status %d, want %d\nstderr:\n%s", code, tc.code, stderr.String())
			}
			for _, w := range tc.stdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout does not contain %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr does not contain %q:\n%s", w, stderr.String())
				}
			}
			if tc.code == cli.ExitUsage && !strings.HasSuffix(stderr.String(), "Run 'publisher serve --help' for usage.\n") {
				t.Errorf("no hint after the error:\n%s", stderr.String())
			}
		})
	}

	code, stdout, _ := runCLI(t, nil, "help")
	if code != 0 || !strings.Contains(stdout, "  serve       receive Salesforce outbound messages") {
		t.Errorf("publisher help does not list serve:\n%s", stdout)
	}
}

func TestServeListenError(t *testing.T) {
	url, _ := startJetStream(t, true)
	s := startServe(t, url)
	taken := strings.TrimPrefix(strings.TrimSuffix(s.url, serveDefaultPath), "http://")
	var stderr serveSyncBuffer
	code := runServeEnv(t.Context(), []string{"--nats-url", url, "--listen", taken, "--org-id", serveTestOrg,
		"--auth-token-file", serveWriteSecret(t, "token", serveTestToken), "--log-format", "json"}, nil, io.Discard, &stderr)
	if code != cli.ExitFail {
		t.Errorf("exit status %d, want 1", code)
	}
	if l := stderr.lines(t, "publisher serve stopped"); len(l) != 1 || !strings.Contains(fmt.Sprint(l[0]["error"]), "--listen: listen tcp "+taken+": bind: address already in use") {
		t.Errorf("log:\n%s\nwant the listen error", stderr.String())
	}
}

// runServeEnv runs publisher serve with args in the environment env.
func runServeEnv(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) int {
	return runEnv(ctx, env, append([]string{"serve"}, args...), nil, stdout, stderr)
}
