package bridge_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/vccsync/vccsync/pkg/bridge"
	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/salesforce"
)

const testToken = "s3cret-token-0123456789"

var (
	jane = key("0055e000001Jane")
	john = key("0055e000001John")
)

// note is one Notification of a test message: its Id and the sObject's
// field elements; no fields is a deleted record.
type note struct{ id, fields string }

var (
	noteJane = note{"04l5e00000AbCdEAAV", `<sf:Id>` + jane + `</sf:Id><sf:Alias>jsmith</sf:Alias><sf:Email>jane.smith@acme.example</sf:Email>` +
		`<sf:IsActive>true</sf:IsActive><sf:CallCenterId xsi:nil="true"/><sf:SystemModstamp>2026-11-20T10:15:00.000Z</sf:SystemModstamp>`}
	noteJohn    = note{"04l5e00000AbCdFAAV", `<sf:Id>` + john + `</sf:Id><sf:IsActive>false</sf:IsActive><sf:SystemModstamp>2026-11-20T10:16:00.000Z</sf:SystemModstamp>`}
	noteOmar15  = note{"04l5e00000AbCdGAAV", `<sf:Id>0055e000001Omar</sf:Id><sf:IsActive>1</sf:IsActive>`}
	noteDeleted = note{"04l5e00000AbCdHAAV", ""}
	noteOdd     = note{"04l5e00000AbCdIAAV", `<sf:Id>` + jane + `</sf:Id><sf:NVMContactWorld__NVM_Agent_Id__c>A-17</sf:NVMContactWorld__NVM_Agent_Id__c>`}
)

// message is an outbound message as Salesforce sends it.
func message(org string, notes ...note) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
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

// outbound is a running Outbound handler behind an httptest server.
type outbound struct {
	url  string
	logs *observer.ObservedLogs
	m    *bridge.Metrics
	reg  *prometheus.Registry
}

// startOutbound serves an Outbound handler publishing to js, with the test
// org and token; edit may change the configuration.
func startOutbound(t *testing.T, js jetstream.JetStream, edit func(*bridge.OutboundConfig)) *outbound {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	m, reg := newMetrics(t)
	cfg := bridge.OutboundConfig{
		OrgIDs: []string{testOrg}, Auth: bridge.NewAuth(testToken, ""), MaxBody: 1 << 20, Timeout: 5 * time.Second,
		Publisher: bridge.JetStream(js), Logger: zap.New(core), Metrics: m,
	}
	if edit != nil {
		edit(&cfg)
	}
	h, err := bridge.NewOutbound(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &outbound{url: srv.URL + "/salesforce/outbound", logs: logs, m: m, reg: reg}
}

// reply is an HTTP answer of the handler.
type reply struct {
	status int
	header http.Header
	body   string
}

func post(t *testing.T, method, url, body string, edit func(*http.Request)) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `""`)
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func bearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

// fault decodes a SOAP Fault: its faultcode and faultstring.
func fault(t *testing.T, r reply) (string, string) {
	t.Helper()
	var env struct {
		Body struct {
			Fault *struct {
				Code   string `xml:"faultcode"`
				String string `xml:"faultstring"`
			} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
	}
	if err := xml.Unmarshal([]byte(r.body), &env); err != nil || env.Body.Fault == nil {
		t.Fatalf("not a SOAP Fault (%v): %d\n%s", err, r.status, r.body)
	}
	return env.Body.Fault.Code, env.Body.Fault.String
}

func checkAck(t *testing.T, r reply) {
	t.Helper()
	if r.status != http.StatusOK || !strings.Contains(r.body, "<Ack>true</Ack>") {
		t.Fatalf("reply %d %q, want 200 and the Ack", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/xml; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
}

// lastLog is the fields of the last "outbound message" log line, and its level.
func lastLog(t *testing.T, logs *observer.ObservedLogs) (map[string]any, zapcore.Level) {
	t.Helper()
	entries := logs.FilterMessage("outbound message").All()
	if len(entries) == 0 {
		t.Fatal("no outbound message log line")
	}
	e := entries[len(entries)-1]
	return e.ContextMap(), e.Level
}

func checkFields(t *testing.T, got, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("log %s = %v, want %v; line %v", k, got[k], v, got)
		}
	}
}

func TestOutboundPublishesThenAcks(t *testing.T) {
	js, _ := jetStream(t, true)
	s := startOutbound(t, js, nil)
	msg := message(testOrg, noteJane, noteJohn, noteOmar15, noteDeleted)

	checkAck(t, post(t, http.MethodPost, s.url, msg, bearer(testToken)))

	got := streamMessages(t, js, false)
	if len(got) != 3 {
		t.Fatalf("%d messages stored, want 3", len(got))
	}
	omar := key("0055e000001Omar")
	// John is inactive: his change takes the priority subject.
	for i, w := range []struct{ id, user, subject string }{
		{noteJane.id, jane, events.UserChangedSubject(jane)}, {noteJohn.id, john, events.UserPrioritySubject(john)}, {noteOmar15.id, omar, events.UserChangedSubject(omar)},
	} {
		m := got[i]
		if m.MsgID != w.id || m.Event.ID != w.id || m.Subject != w.subject || m.Event.Subject != w.user {
			t.Errorf("message %d: msg id %s, id %s, subject %s (%s); want %s on %s (%s)", i+1, m.MsgID, m.Event.ID, m.Subject, m.Event.Subject, w.id, w.user, w.subject)
		}
		if m.Event.Source != bridge.OutboundSourcePrefix+"00D5e000000KQ2e" || m.Event.Type != events.TypeUserChanged ||
			m.Event.Time == nil || time.Since(*m.Event.Time) > time.Minute {
			t.Errorf("message %d: %+v, want the org's source and the time received", i+1, m.Event.Envelope)
		}
	}
	if u := got[0].Event.User; u.Alias.Get() != "jsmith" || !u.CallCenterID.Null || u.LastName.Set {
		t.Errorf("Jane's data %+v, want the fields sent (CallCenterId null, no LastName)", u)
	}
	fields, level := lastLog(t, s.logs)
	checkFields(t, fields, map[string]any{"outcome": "acked", "status": 200, "org": "00D5e000000KQ2e", "action": "04k5e000000XyZaAAK",
		"notifications": 4, "published": 3, "duplicate": 0, "deleted": 1, "skipped_deleted": []string{noteDeleted.id}})
	if level != zapcore.InfoLevel {
		t.Errorf("level %s, want info", level)
	}

	// Salesforce delivers it again: duplicates, acknowledged.
	checkAck(t, post(t, http.MethodPost, s.url+"?token="+testToken, msg, nil))
	if n := len(streamMessages(t, js, false)); n != 3 {
		t.Errorf("%d messages stored after the redelivery, want 3", n)
	}
	fields, _ = lastLog(t, s.logs)
	checkFields(t, fields, map[string]any{"outcome": "acked", "published": 0, "duplicate": 3})

	checkCounters(t, s.m.OutboundRequests, map[string]float64{bridge.ResultAcked: 2, bridge.ResultRejected: 0})
	checkCounters(t, s.m.OutboundNotifications, map[string]float64{bridge.EventPublished: 3, bridge.EventDuplicate: 3, bridge.NotificationDeleted: 2})
	if n := publishCount(t, s.reg, bridge.SourceOutbound); n != 6 {
		t.Errorf("%d publishes timed, want 6", n)
	}
	for _, e := range s.logs.All() {
		for _, secret := range []string{"jane.smith@acme.example", "jsmith", testToken, "SessionSecret"} {
			if strings.Contains(fmt.Sprint(e.ContextMap()), secret) {
				t.Errorf("the log holds %q: %v", secret, e.ContextMap())
			}
		}
	}
}

func TestOutboundRefusals(t *testing.T) {
	js, _ := jetStream(t, true)
	s := startOutbound(t, js, func(c *bridge.OutboundConfig) {
		c.MaxBody = 4 << 10
		c.OrgIDs = []string{"00D5e000000KQ2e", "00D5e000000EvilEAC"}
	})
	good := message(testOrg, noteJohn)
	big := message(testOrg, note{noteJohn.id, noteJohn.fields + "<sf:AboutMe>" + strings.Repeat("x", 4<<10) + "</sf:AboutMe>"})
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   string
		edit   func(*http.Request)
		status int
		code   string
		fault  string
		result string
	}{
		{"no credentials", "", "", good, nil, 401, salesforce.FaultClient, "unauthorized: missing or wrong credentials", bridge.ResultUnauthorized},
		{"wrong token", "", "?token=s3cret-token-0123456788", good, nil, 401, salesforce.FaultClient, "unauthorized", bridge.ResultUnauthorized},
		{"token as a password", "", "", good, func(r *http.Request) { r.SetBasicAuth("salesforce", testToken) }, 401, salesforce.FaultClient, "unauthorized", bridge.ResultUnauthorized},
		{"GET", http.MethodGet, "", "", bearer(testToken), 405, salesforce.FaultClient, "method GET: Salesforce POSTs outbound messages", bridge.ResultMethodNotAllowed},
		{"other organization", "", "", message("00D5e000000OthrEAC", noteJohn), bearer(testToken), 403, salesforce.FaultClient,
			"OrganizationId 00D5e000000OthrEAC: not an organization this listener accepts messages from (--org-id)", bridge.ResultForbidden},
		{"not XML", "", "", "{}", bearer(testToken), 400, salesforce.FaultClient, "not a SOAP envelope", bridge.ResultRejected},
		{"JSON", "", "", good, contentType("application/json"), 415, salesforce.FaultClient,
			"Content-Type application/json: want text/xml, the SOAP 1.1 type Salesforce sends outbound messages with", bridge.ResultUnsupportedType},
		{"SOAP 1.2", "", "", good, contentType("application/soap+xml; charset=utf-8"), 415, salesforce.FaultClient,
			"Content-Type application/soap+xml: want text/xml", bridge.ResultUnsupportedType},
		{"no Content-Type", "", "", good, contentType(""), 415, salesforce.FaultClient,
			"no Content-Type: Salesforce sends outbound messages as text/xml (SOAP 1.1)", bridge.ResultUnsupportedType},
		{"Latin-1", "", "", good, contentType("text/xml; charset=iso-8859-1"), 415, salesforce.FaultClient,
			"Content-Type charset iso-8859-1: want utf-8", bridge.ResultUnsupportedType},
		{"not a User", "", "", strings.Replace(good, "sf:User", "sf:Account", 1), bearer(testToken), 400, salesforce.FaultClient,
			"Notification[1]: sObject: object type Account, want User", bridge.ResultRejected},
		{"bad user ID", "", "", message(testOrg, note{noteJohn.id, `<sf:Id>0055e000001JohnAAA</sf:Id>`}), bearer(testToken), 400, salesforce.FaultClient, "", bridge.ResultRejected},
		{"too large", "", "", big, bearer(testToken), 413, salesforce.FaultClient, "body larger than 4 KiB, the most this listener accepts (--max-body)", bridge.ResultTooLarge},
		{"too large without a length", "", "", big, func(r *http.Request) {
			bearer(testToken)(r)
			r.ContentLength = -1
			r.Body = io.NopCloser(strings.NewReader(big))
		}, 413, salesforce.FaultClient, "body larger than 4 KiB", bridge.ResultTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			r := post(t, method, s.url+tc.path, tc.body, tc.edit)
			if r.status != tc.status {
				t.Errorf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			code, str := fault(t, r)
			if code != tc.code || !strings.Contains(str, tc.fault) {
				t.Errorf("fault %s %q, want %s containing %q", code, str, tc.code, tc.fault)
			}
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
			fields, level := lastLog(t, s.logs)
			checkFields(t, fields, map[string]any{"outcome": tc.result, "status": tc.status})
			if level != zapcore.WarnLevel || fields["error"] == "" {
				t.Errorf("log line at %s with error %q, want a warning with the error", level, fields["error"])
			}
		})
	}
	if msgs := streamMessages(t, js, false); len(msgs) != 0 {
		t.Errorf("the stream holds %d messages, want none", len(msgs))
	}
	checkCounters(t, s.m.OutboundRequests, map[string]float64{
		bridge.ResultUnauthorized: 3, bridge.ResultMethodNotAllowed: 1, bridge.ResultForbidden: 1,
		bridge.ResultRejected: 3, bridge.ResultTooLarge: 2, bridge.ResultUnsupportedType: 4, bridge.ResultAcked: 0,
	})

	// The type's parameters and case do not matter.
	checkAck(t, post(t, http.MethodPost, s.url, good, func(r *http.Request) {
		bearer(testToken)(r)
		r.Header.Set("Content-Type", `Text/XML; Charset="UTF-8"`)
	}))

	// The second organization, given by its 18-character ID, is compared on 15.
	checkAck(t, post(t, http.MethodPost, s.url, message("00D5e000000Evil", noteJohn), bearer(testToken)))
}

// contentType authenticates the request and sets its Content-Type ("":
// none).
func contentType(v string) func(*http.Request) {
	return func(r *http.Request) {
		bearer(testToken)(r)
		if v == "" {
			r.Header.Del("Content-Type")
			return
		}
		r.Header.Set("Content-Type", v)
	}
}

func TestOutboundBasicAuth(t *testing.T) {
	js, _ := jetStream(t, true)
	s := startOutbound(t, js, func(c *bridge.OutboundConfig) { c.Auth = bridge.NewAuth("", "salesforce:pa:ss word") })
	withUser := strings.Replace(s.url, "http://", "http://salesforce:pa%3Ass%20word@", 1)

	checkAck(t, post(t, http.MethodPost, withUser, message(testOrg, noteJohn), nil))
	r := post(t, http.MethodPost, s.url, message(testOrg, noteJohn), bearer("salesforce:pa:ss word"))
	if r.status != 401 || strings.Join(r.header.Values("WWW-Authenticate"), ";") != `Basic realm="vccsync", charset="UTF-8"` {
		t.Errorf("bearer with basic auth only: %d %q", r.status, r.header.Values("WWW-Authenticate"))
	}
	if got := bridge.NewAuth(testToken, "a:b").Methods(); fmt.Sprint(got) != "[token basic]" {
		t.Errorf("Methods() = %v", got)
	}
}

func TestOutboundPublishesUsersTheWorkerWillDeadLetter(t *testing.T) {
	js, _ := jetStream(t, true)
	s := startOutbound(t, js, nil)

	checkAck(t, post(t, http.MethodPost, s.url, message(testOrg, noteOdd, noteJohn), bearer(testToken)))

	if got := msgIDs(t, js); got != noteOdd.id+","+noteJohn.id {
		t.Errorf("stored %s, want both", got)
	}
	fields, level := lastLog(t, s.logs)
	if level != zapcore.WarnLevel {
		t.Errorf("level %s, want warn", level)
	}
	dl := fmt.Sprint(fields["dead_letter_expected"])
	if !strings.Contains(dl, "Notification[1] (Id "+noteOdd.id+"): ") || !strings.Contains(dl, "NVMContactWorld__NVM_Agent_Id__c") {
		t.Errorf("dead_letter_expected %s, want Notification[1]'s contract error", dl)
	}
}

func TestOutboundPublishFails(t *testing.T) {
	t.Run("no stream", func(t *testing.T) {
		js, _ := jetStream(t, false)
		s := startOutbound(t, js, nil)

		r := post(t, http.MethodPost, s.url, message(testOrg, noteJane, noteJohn), bearer(testToken))

		code, str := fault(t, r)
		if r.status != 500 || code != salesforce.FaultServer ||
			!strings.HasPrefix(str, "Notification[1] (Id "+noteJane.id+"): publish "+noteJane.id+" to vccsync.user."+jane+".changed: ") ||
			!strings.HasSuffix(str, "; not acknowledged: Salesforce will send the whole message again") {
			t.Errorf("%d %s %q", r.status, code, str)
		}
		fields, level := lastLog(t, s.logs)
		checkFields(t, fields, map[string]any{"outcome": "failed", "status": 500, "published": 0})
		if level != zapcore.ErrorLevel {
			t.Errorf("level %s, want error", level)
		}
		checkCounters(t, s.m.OutboundRequests, map[string]float64{bridge.ResultFailed: 1})
	})
	t.Run("server gone, bounded by the timeout", func(t *testing.T) {
		js, srv := jetStream(t, true)
		s := startOutbound(t, js, func(c *bridge.OutboundConfig) { c.Timeout = time.Second })
		srv.Shutdown()

		start := time.Now()
		r := post(t, http.MethodPost, s.url, message(testOrg, noteJohn), bearer(testToken))
		if took := time.Since(start); took < 900*time.Millisecond || took > 5*time.Second {
			t.Errorf("answered after %s, want about the 1s timeout", took)
		}
		if code, _ := fault(t, r); r.status != 500 || code != salesforce.FaultServer {
			t.Errorf("%d %s, want 500 and a Server fault", r.status, code)
		}
	})
}

func TestNewOutboundChecksTheConfig(t *testing.T) {
	js, _ := jetStream(t, true)
	good := func() bridge.OutboundConfig {
		return bridge.OutboundConfig{OrgIDs: []string{testOrg}, Auth: bridge.NewAuth(testToken, ""), MaxBody: 1 << 20, Timeout: time.Second, Publisher: bridge.JetStream(js)}
	}
	if _, err := bridge.NewOutbound(good()); err != nil {
		t.Fatalf("a good config: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*bridge.OutboundConfig)
		want string
	}{
		{"no org", func(c *bridge.OutboundConfig) { c.OrgIDs = nil }, "no organization ID"},
		{"a user ID for an org", func(c *bridge.OutboundConfig) { c.OrgIDs = []string{jane} }, `organization ID "` + jane + `": not an organization ID (00D…)`},
		{"a bad checksum", func(c *bridge.OutboundConfig) { c.OrgIDs = []string{"00D5e000000KQ2eAAA"} }, `organization ID "00D5e000000KQ2eAAA": `},
		{"no credentials", func(c *bridge.OutboundConfig) { c.Auth = bridge.Auth{} }, "no credentials: every request would be refused"},
		{"no max body", func(c *bridge.OutboundConfig) { c.MaxBody = 0 }, "max body 0: must be positive"},
		{"no timeout", func(c *bridge.OutboundConfig) { c.Timeout = 0 }, "timeout 0s: must be positive"},
		{"no publisher", func(c *bridge.OutboundConfig) { c.Publisher = nil }, "no publisher"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good()
			tc.edit(&cfg)
			_, err := bridge.NewOutbound(cfg)
			if err == nil || !strings.HasPrefix(err.Error(), "bridge: outbound handler: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestPublisherFunc shows that another Publisher can stand in for JetStream:
// the handler acks only after it returned, and reports its error.
func TestPublisherFunc(t *testing.T) {
	js, _ := jetStream(t, true)
	var seen []string
	s := startOutbound(t, js, func(c *bridge.OutboundConfig) {
		c.Publisher = bridge.PublisherFunc(func(ctx context.Context, env events.Envelope) (bus.PublishResult, error) {
			seen = append(seen, env.ID)
			if env.Subject == john {
				return bus.PublishResult{}, errors.New("refused")
			}
			return bus.Publish(ctx, js, env)
		})
	})
	checkAck(t, post(t, http.MethodPost, s.url, message(testOrg, noteJane), bearer(testToken)))
	r := post(t, http.MethodPost, s.url, message(testOrg, noteJane, noteJohn), bearer(testToken))
	if _, str := fault(t, r); r.status != 500 || !strings.HasPrefix(str, "Notification[2] (Id "+noteJohn.id+"): refused;") {
		t.Errorf("%d %q", r.status, str)
	}
	if got := strings.Join(seen, ","); got != noteJane.id+","+noteJane.id+","+noteJohn.id {
		t.Errorf("published %s", got)
	}
	fields, _ := lastLog(t, s.logs)
	checkFields(t, fields, map[string]any{"outcome": "failed", "published": 0, "duplicate": 1})
}
