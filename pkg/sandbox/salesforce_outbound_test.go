package sandbox

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const outboundAck = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
 <soapenv:Body>
  <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>
 </soapenv:Body>
</soapenv:Envelope>`

const outboundFault = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
 <soapenv:Body>
  <soapenv:Fault><faultcode>soapenv:Server</faultcode><faultstring>listener broken</faultstring></soapenv:Fault>
 </soapenv:Body>
</soapenv:Envelope>`

// The outbound message as a listener parses it.
type omEnvelope struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Body    struct {
		Notifications struct {
			OrganizationID string `xml:"http://soap.sforce.com/2005/09/outbound OrganizationId"`
			ActionID       string `xml:"http://soap.sforce.com/2005/09/outbound ActionId"`
			SessionID      struct {
				Nil   string `xml:"http://www.w3.org/2001/XMLSchema-instance nil,attr"`
				Value string `xml:",chardata"`
			} `xml:"http://soap.sforce.com/2005/09/outbound SessionId"`
			EnterpriseURL string           `xml:"http://soap.sforce.com/2005/09/outbound EnterpriseUrl"`
			PartnerURL    string           `xml:"http://soap.sforce.com/2005/09/outbound PartnerUrl"`
			Notifications []omNotification `xml:"http://soap.sforce.com/2005/09/outbound Notification"`
		} `xml:"http://soap.sforce.com/2005/09/outbound notifications"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

type omNotification struct {
	ID      string `xml:"http://soap.sforce.com/2005/09/outbound Id"`
	SObject struct {
		Type   string    `xml:"http://www.w3.org/2001/XMLSchema-instance type,attr"`
		Fields []omField `xml:",any"`
	} `xml:"http://soap.sforce.com/2005/09/outbound sObject"`
}

type omField struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

// field returns a field's value and whether it is present.
func (n omNotification) field(name string) (string, bool) {
	for _, f := range n.SObject.Fields {
		if f.XMLName.Local == name {
			return f.Value, true
		}
	}
	return "", false
}

type omRequest struct {
	header http.Header
	body   []byte
	env    omEnvelope
}

// omListener is an outbound-message listener whose answers are scripted.
type omListener struct {
	t   *testing.T
	url string

	mu     sync.Mutex
	reqs   []omRequest
	answer func(n int) (status int, body string, delay time.Duration) // n counts from 1
	got    chan struct{}
}

func newOMListener(t *testing.T, answer func(n int) (int, string, time.Duration)) *omListener {
	l := &omListener{t: t, answer: answer, got: make(chan struct{}, 1000)}
	if l.answer == nil {
		l.answer = func(int) (int, string, time.Duration) { return 200, outboundAck, 0 }
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var env omEnvelope
		if err := xml.Unmarshal(b, &env); err != nil {
			t.Errorf("listener: not a SOAP envelope: %v\n%s", err, b)
		}
		l.mu.Lock()
		l.reqs = append(l.reqs, omRequest{header: r.Header.Clone(), body: b, env: env})
		n := len(l.reqs)
		l.mu.Unlock()
		status, body, delay := l.answer(n)
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
		l.got <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	l.url = srv.URL
	return l
}

func (l *omListener) requests() []omRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

// ids returns the notification IDs of each request received.
func (l *omListener) ids() [][]string {
	var out [][]string
	for _, r := range l.requests() {
		var ids []string
		for _, n := range r.env.Body.Notifications.Notifications {
			ids = append(ids, n.ID)
		}
		out = append(out, ids)
	}
	return out
}

func newSender(t *testing.T, sf *Salesforce, opts OutboundOptions) *OutboundSender {
	t.Helper()
	if opts.Backoff == nil {
		opts.Backoff = []time.Duration{10 * time.Millisecond}
	}
	o, err := NewOutboundSender(sf, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

func drain(t *testing.T, o *OutboundSender) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.Drain(ctx); err != nil {
		t.Fatalf("drain: %v (stats %+v)", err, o.Stats())
	}
}

func TestOutboundMessageFormat(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	l := newOMListener(t, nil)
	o := newSender(t, e.sf, OutboundOptions{URL: l.url, Fields: []string{"SystemModstamp", "Alias", "FirstName", "IsActive", "CallCenterId", "alias"}})
	e.must(204, "PATCH", sfUser+DemoSFOmarID, `{"FirstName":null,"IsActive":false}`)
	// Setup allows any alias (the REST API refuses this one).
	if err := e.sf.ModifyUser(DemoSFOmarID, func(u *SFUser) { u.Alias = "o&h" }); err != nil {
		t.Fatal(err)
	}
	drain(t, o)

	reqs := l.requests()
	if len(reqs) != 1 || len(reqs[0].env.Body.Notifications.Notifications) != 2 {
		t.Fatalf("%d requests, want 1 with 2 notifications", len(reqs))
	}
	r := reqs[0]
	if got := r.header.Get("SOAPAction"); got != `""` {
		t.Errorf("SOAPAction %q, want %q", got, `""`)
	}
	if got := r.header.Get("Content-Type"); got != "text/xml; charset=utf-8" {
		t.Errorf("Content-Type %q", got)
	}
	body := string(r.body)
	for _, s := range []string{
		`<?xml version="1.0" encoding="UTF-8"?>`,
		`<SessionId xsi:nil="true"/>`,
		`<sObject xsi:type="sf:User" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">`,
		`<sf:Alias>o&amp;h</sf:Alias>`,
	} {
		if !strings.Contains(body, s) {
			t.Errorf("message lacks %s:\n%s", s, body)
		}
	}
	n := r.env.Body.Notifications
	u, _ := e.sf.User(DemoSFOmarID)
	if n.OrganizationID != DemoSFOrgID || n.ActionID != DemoSFActionID || n.SessionID.Nil != "true" || n.SessionID.Value != "" ||
		n.EnterpriseURL != DemoSFInstanceURL+"/services/Soap/c/61.0/00D5e000000KQ2e" ||
		n.PartnerURL != DemoSFInstanceURL+"/services/Soap/u/61.0/00D5e000000KQ2e" {
		t.Fatalf("header fields %+v", n)
	}
	note := n.Notifications[0]
	if n.Notifications[1].ID == note.ID {
		t.Fatal("two changes share a notification Id")
	}
	if full, err := SalesforceID18(note.ID); err != nil || full != note.ID || !strings.HasPrefix(note.ID, "04l") {
		t.Fatalf("notification Id %q: %v", note.ID, err)
	}
	if note.SObject.Type != "sf:User" {
		t.Fatalf("xsi:type %q", note.SObject.Type)
	}
	var names []string
	for _, f := range note.SObject.Fields {
		if f.XMLName.Space != SFEnterpriseSObjectNS {
			t.Errorf("field %s in namespace %q", f.XMLName.Local, f.XMLName.Space)
		}
		names = append(names, f.XMLName.Local)
	}
	// Only the selected fields, Id first; FirstName and CallCenterId have no value.
	if want := []string{"Id", "Alias", "IsActive", "SystemModstamp"}; !slices.Equal(names, want) {
		t.Fatalf("fields %v, want %v", names, want)
	}
	for name, want := range map[string]string{
		"Id": DemoSFOmarID, "Alias": "o&h", "IsActive": "false",
		"SystemModstamp": u.SystemModstamp.UTC().Format("2006-01-02T15:04:05.000Z"),
	} {
		if got, _ := note.field(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if st := o.Stats(); st.Queued != 2 || st.Messages != 1 || st.Attempts != 1 || st.Acknowledged != 1 || st.Pending != 0 || st.PendingMessages != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOutboundAllFieldsByDefault(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	l := newOMListener(t, nil)
	o := newSender(t, e.sf, OutboundOptions{URL: l.url})
	if err := o.Enqueue(DemoSFJaneID); err != nil {
		t.Fatal(err)
	}
	if err := o.Enqueue("0055e000001Nobo"); err == nil {
		t.Fatal("Enqueue of an unknown user succeeded")
	}
	drain(t, o)
	note := l.requests()[0].env.Body.Notifications.Notifications[0]
	var names []string
	for _, f := range note.SObject.Fields {
		names = append(names, f.XMLName.Local)
	}
	want := []string{"Id", "Alias", "CallCenterId", "Email", "FederationIdentifier", "FirstName", "IsActive", "LastModifiedDate",
		"LastName", "NVMContactWorld__NVM_Agent_Id__c", "ProfileId", "SystemModstamp", "Username"}
	if !slices.Equal(names, want) {
		t.Fatalf("fields %v, want %v", names, want)
	}
	if v, _ := note.field("CallCenterId"); v != DemoSFContactCenterLondon {
		t.Fatalf("CallCenterId %q", v)
	}
}

func TestOutboundBatching(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	l := newOMListener(t, nil)
	o := newSender(t, e.sf, OutboundOptions{URL: l.url, BatchSize: 2, Fields: []string{"Alias"}})
	o.Pause()
	for _, id := range []string{DemoSFJaneID, DemoSFOmarID, DemoSFLenaID, DemoSFPriyaID} {
		e.must(204, "PATCH", sfUser+id, `{"Email":"changed.`+strings.ToLower(id)+`@demo.example"}`)
	}
	e.must(204, "PATCH", sfUser+DemoSFTomID, `{"Alias":"t1"}`)
	e.must(204, "PATCH", sfUser+DemoSFTomID, `{"Alias":"t2"}`)
	if st := o.Stats(); st.Queued != 6 || st.Pending != 6 || st.PendingMessages != 3 || st.Attempts != 0 {
		t.Fatalf("stats while paused %+v", st)
	}
	o.Resume()
	drain(t, o)
	var sizes []int
	seen := map[string]bool{}
	for _, ids := range l.ids() {
		sizes = append(sizes, len(ids))
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("notification %s sent twice", id)
			}
			seen[id] = true
		}
	}
	if !slices.Equal(sizes, []int{2, 2, 2}) {
		t.Fatalf("message sizes %v", sizes)
	}
	// Both of Tom's notifications carry his data at send time.
	last := l.requests()[2].env.Body.Notifications.Notifications
	for _, n := range last {
		if v, _ := n.field("Alias"); v != "t2" {
			t.Fatalf("Tom's notification carries Alias %q, want the latest t2", v)
		}
	}
	if st := o.Stats(); st.Messages != 3 || st.Acknowledged != 3 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
	// 101 changes: two messages, at most 100 notifications each.
	l2 := newOMListener(t, nil)
	o2 := newSender(t, e.sf, OutboundOptions{URL: l2.url})
	o2.Pause()
	for range 101 {
		if err := o2.Enqueue(DemoSFAnaID); err != nil {
			t.Fatal(err)
		}
	}
	o2.Resume()
	drain(t, o2)
	if ids := l2.ids(); len(ids) != 2 || len(ids[0]) != 100 || len(ids[1]) != 1 {
		t.Fatalf("%d messages", len(ids))
	}
}

func TestOutboundRetry(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		delay   time.Duration
		wantErr string
	}{
		{"500", 500, "oops", 0, "HTTP 500"},
		{"500 with a SOAP fault", 500, outboundFault, 0, "HTTP 500: SOAP Fault soapenv:Server: listener broken"},
		{"200 with a SOAP fault", 200, outboundFault, 0, "SOAP Fault soapenv:Server: listener broken"},
		{"Ack false", 200, strings.Replace(outboundAck, "true", "false", 1), 0, `Ack "false"`},
		{"bare 200", 200, "", 0, "not a SOAP 1.1 envelope: EOF"},
		{"no Ack", 200, strings.Replace(outboundAck, "<Ack>true</Ack>", "", 1), 0, "no Ack in notificationsResponse"},
		{"202 with Ack true", 202, outboundAck, 0, "HTTP 202"},
		{"timeout", 200, outboundAck, time.Second, "context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSFEnv(t, SalesforceOptions{})
			l := newOMListener(t, func(n int) (int, string, time.Duration) {
				if n == 1 {
					return tt.status, tt.body, tt.delay
				}
				return 200, outboundAck, 0
			})
			o := newSender(t, e.sf, OutboundOptions{URL: l.url, Timeout: 100 * time.Millisecond, Backoff: []time.Duration{20 * time.Millisecond}})
			e.setCallCenter(DemoSFTomID, DemoSFContactCenterNewYork)
			drain(t, o)
			ids := l.ids()
			if len(ids) != 2 || !slices.Equal(ids[0], ids[1]) || len(ids[0]) != 1 {
				t.Fatalf("notification IDs per delivery %v, want the same message twice", ids)
			}
			d := o.Deliveries()
			if len(d) != 2 || d[0].Acked || !strings.Contains(d[0].Err, tt.wantErr) || d[0].Attempt != 1 || !d[1].Acked || d[1].Attempt != 2 {
				t.Fatalf("deliveries %+v, want a failure (%q) then an ack", d, tt.wantErr)
			}
			if tt.delay == 0 && d[0].Status != tt.status {
				t.Fatalf("status %d, want %d", d[0].Status, tt.status)
			}
			if gap := d[1].At.Sub(d[0].At); gap < 20*time.Millisecond {
				t.Fatalf("retried after %v, want at least the 20ms backoff", gap)
			}
			if st := o.Stats(); st.Attempts != 2 || st.Failed != 1 || st.Acknowledged != 1 || st.Pending != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestOutboundBackoffSchedule(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	l := newOMListener(t, func(n int) (int, string, time.Duration) {
		if n <= 3 {
			return 503, "", 0
		}
		return 200, outboundAck, 0
	})
	o := newSender(t, e.sf, OutboundOptions{URL: l.url, Backoff: []time.Duration{10 * time.Millisecond, 40 * time.Millisecond}})
	if err := o.Enqueue(DemoSFJaneID); err != nil {
		t.Fatal(err)
	}
	o.DeliverDue(context.Background())
	if st := o.Stats(); st.Attempts != 1 || st.Pending != 1 || st.PendingMessages != 1 {
		t.Fatalf("after a failure %+v", st)
	}
	// Not due again before the backoff.
	if n := o.DeliverDue(context.Background()); n != 0 {
		t.Fatalf("redelivered %d before the backoff", n)
	}
	drain(t, o)
	d := o.Deliveries()
	if len(d) != 4 {
		t.Fatalf("%d deliveries", len(d))
	}
	for i, min := range []time.Duration{10, 40, 40} {
		if gap := d[i+1].At.Sub(d[i].At); gap < min*time.Millisecond {
			t.Errorf("gap %d: %v, want at least %dms", i+1, gap, min)
		}
	}
}

func TestOutboundMaxAge(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	l := newOMListener(t, func(int) (int, string, time.Duration) { return 500, "", 0 })
	o := newSender(t, e.sf, OutboundOptions{URL: l.url, MaxAge: 80 * time.Millisecond, Backoff: []time.Duration{10 * time.Millisecond}})
	if err := o.Enqueue(DemoSFJaneID); err != nil {
		t.Fatal(err)
	}
	drain(t, o)
	if st := o.Stats(); st.Dropped != 1 || st.Pending != 0 || st.Acknowledged != 0 || st.Attempts < 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOutboundDuplicates(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	l := newOMListener(t, nil)
	o := newSender(t, e.sf, OutboundOptions{URL: l.url, BatchSize: 1})
	o.DuplicateNext(1)
	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"Alias":"dup1"}`)
	drain(t, o)
	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"Alias":"dup2"}`)
	drain(t, o)
	ids := l.ids()
	if len(ids) != 3 || !slices.Equal(ids[0], ids[1]) || slices.Equal(ids[1], ids[2]) {
		t.Fatalf("notification IDs per delivery %v, want the first message twice, then the second", ids)
	}
	d := o.Deliveries()
	if d[0].Duplicate || !d[1].Duplicate || d[2].Duplicate || d[1].Message != d[0].Message {
		t.Fatalf("deliveries %+v", d)
	}
	if st := o.Stats(); st.Attempts != 3 || st.Acknowledged != 3 || st.Duplicates != 1 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}

	// DuplicateRate 1: every acknowledged message comes again.
	l2 := newOMListener(t, nil)
	o2 := newSender(t, e.sf, OutboundOptions{URL: l2.url, BatchSize: 1, DuplicateRate: 1})
	o2.Pause()
	_ = o2.Enqueue(DemoSFOmarID)
	_ = o2.Enqueue(DemoSFTomID)
	o2.Resume()
	drain(t, o2)
	if st := o2.Stats(); st.Attempts != 4 || st.Duplicates != 2 {
		t.Fatalf("stats %+v", st)
	}
	// A duplicate is not retried when its delivery fails.
	l3 := newOMListener(t, func(n int) (int, string, time.Duration) {
		if n == 2 {
			return 500, "", 0
		}
		return 200, outboundAck, 0
	})
	o3 := newSender(t, e.sf, OutboundOptions{URL: l3.url})
	o3.DuplicateNext(1)
	_ = o3.Enqueue(DemoSFOmarID)
	drain(t, o3)
	if st := o3.Stats(); st.Attempts != 2 || st.Failed != 1 || st.Duplicates != 1 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOutboundOutOfOrder(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	l := newOMListener(t, nil)
	o := newSender(t, e.sf, OutboundOptions{URL: l.url, BatchSize: 1, Fields: []string{"Alias", "SystemModstamp"}})
	ctx := context.Background()
	o.DelayNext(1)
	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"Alias":"old"}`)
	if n := o.DeliverDue(ctx); n != 0 || len(l.requests()) != 0 {
		t.Fatalf("%d deliveries while held", n)
	}
	if st := o.Stats(); st.Held != 1 || st.Pending != 1 {
		t.Fatalf("stats %+v", st)
	}
	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"Alias":"new"}`)
	if n := o.DeliverDue(ctx); n != 2 {
		t.Fatalf("%d deliveries, want the new message then the held one", n)
	}
	reqs := l.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	first, second := reqs[0].env.Body.Notifications.Notifications[0], reqs[1].env.Body.Notifications.Notifications[0]
	a1, _ := first.field("Alias")
	a2, _ := second.field("Alias")
	s1, _ := first.field("SystemModstamp")
	s2, _ := second.field("SystemModstamp")
	if a1 != "new" || a2 != "old" || !(s2 < s1) {
		t.Fatalf("received Alias %s (%s) then %s (%s), want new then the older old", a1, s1, a2, s2)
	}
	d := o.Deliveries()
	if d[0].Late || !d[1].Late || d[1].Message >= d[0].Message {
		t.Fatalf("deliveries %+v", d)
	}
	if st := o.Stats(); st.Late != 1 || st.Pending != 0 || st.Held != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOutboundRun(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	l := newOMListener(t, nil)
	o := newSender(t, e.sf, OutboundOptions{URL: l.url})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()

	wait := func(n int) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for len(l.requests()) < n {
			select {
			case <-l.got:
			case <-deadline:
				t.Fatalf("%d requests, want %d", len(l.requests()), n)
			}
		}
	}
	e.setCallCenter(DemoSFAnaID, DemoSFContactCenterNewYork)
	wait(1)
	if v, _ := l.requests()[0].env.Body.Notifications.Notifications[0].field("CallCenterId"); v != DemoSFContactCenterNewYork {
		t.Fatalf("CallCenterId %q", v)
	}
	u, err := e.sf.AddUser(SFUser{Username: "new@demo.example", Email: "new@demo.example", LastName: "New", Alias: "new", ProfileID: DemoSFAgentProfileID, IsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	wait(2)
	if v, _ := l.requests()[1].env.Body.Notifications.Notifications[0].field("Id"); v != u.ID {
		t.Fatalf("creation notification for %q, want %s", v, u.ID)
	}
	// Permission sets are not User changes.
	if err := e.sf.AssignPermissionSet(u.ID, SFPermissionSetAgent); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); o.Stats().Acknowledged < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", o.Stats())
		}
	}
	o.Close()
	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"Alias":"closed"}`)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if st := o.Stats(); st.Queued != 2 || st.Acknowledged != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOutboundOptions(t *testing.T) {
	sf := NewSalesforce(SalesforceOptions{})
	for name, opts := range map[string]OutboundOptions{
		"no URL":        {},
		"batch of 101":  {URL: "http://x", BatchSize: 101},
		"unknown field": {URL: "http://x", Fields: []string{"Nickname"}},
		"zero backoff":  {URL: "http://x", Backoff: []time.Duration{time.Second, 0}},
		"rate 2":        {URL: "http://x", DuplicateRate: 2},
		"bad action ID": {URL: "http://x", ActionID: "0055e000001Jane"},
	} {
		if _, err := NewOutboundSender(sf, opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewOutboundSender(sf, OutboundOptions{URL: "http://x", ActionID: "04k5e000000VccS"}); err != nil {
		t.Fatal(err)
	}
}

func TestParseOutboundAck(t *testing.T) {
	tests := []struct {
		body string
		ok   bool
	}{
		{outboundAck, true},
		{`<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><o:notificationsResponse xmlns:o="http://soap.sforce.com/2005/09/outbound"><o:Ack>1</o:Ack></o:notificationsResponse></e:Body></e:Envelope>`, true},
		{strings.Replace(outboundAck, "true", "false", 1), false},
		{outboundFault, false},
		{`<Envelope><Body><notificationsResponse><Ack>true</Ack></notificationsResponse></Body></Envelope>`, false}, // not SOAP 1.1
		{`true`, false},
	}
	for _, tt := range tests {
		if ok, why := parseOutboundAck([]byte(tt.body)); ok != tt.ok {
			t.Errorf("%s: %v (%s), want %v", tt.body, ok, why, tt.ok)
		}
	}
}
