package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/bridge"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/salesforce"
)

var (
	olga = key("0055f00000GBZR4")
	ravi = key("0055f00000GBZR5")
	mei  = key("0055f00000GBZR6")
	noor = key("0055f00000GBZR8")
)

// change is a change event, written as a Streaming API message.
type change struct {
	typ     string
	ids     []string
	origin  string
	tx      string
	seq     int
	changed []string
	fields  map[string]any
	entity  string
}

const commitT0 = int64(1714155903000) // 2024-04-26T18:25:03Z

func (c change) streaming(t *testing.T) string {
	t.Helper()
	header := map[string]any{
		"entityName": "User", "recordIds": c.ids, "changeType": c.typ, "changeOrigin": c.origin,
		"transactionKey": c.tx, "sequenceNumber": c.seq, "commitTimestamp": commitT0 + int64(c.seq)*60_000,
		"commitNumber": 1100662266706, "commitUser": "0055f000005mc66AAA", "changedFields": []string{},
	}
	if c.changed != nil {
		header["changedFields"] = c.changed
	}
	if c.entity != "" {
		header["entityName"] = c.entity
	}
	payload := map[string]any{"ChangeEventHeader": header}
	for k, v := range c.fields {
		payload[k] = v
	}
	return must(t, map[string]any{
		"channel": salesforce.CDCChannel,
		"data":    map[string]any{"schema": "IeRuaY6cbI_HsV8Rv1Mc5g", "payload": payload, "event": map[string]any{"replayId": 18500 + c.seq}},
	})
}

var (
	olgaJoins = change{typ: "CREATE", ids: []string{olga}, tx: "tx-create", seq: 1, fields: map[string]any{
		"Username": "olga.brown@example.com", "Name": map[string]any{"FirstName": "Olga", "LastName": "Brown"},
		"Email": "olga.brown@example.com", "Alias": "obrown", "IsActive": true, "LastModifiedDate": "2024-04-26T18:25:03.000Z"}}
	twoLeave = change{typ: "UPDATE", ids: []string{ravi, mei}, tx: "tx-leave", seq: 2,
		changed: []string{"IsActive"}, fields: map[string]any{"IsActive": false}}
	twoOdd = change{typ: "UPDATE", ids: []string{ravi, mei}, tx: "tx-odd", seq: 3,
		changed: []string{"NVMContactWorld__NVM_Agent_Id__c"}, fields: map[string]any{"NVMContactWorld__NVM_Agent_Id__c": "A-17"}}
	olgaDeleted = change{typ: "DELETE", ids: []string{olga}, tx: "tx-delete", seq: 1}
	ownChange   = change{typ: "UPDATE", ids: []string{olga}, origin: "com/salesforce/api/rest/61.0;client=vccsync", tx: "tx-own", seq: 4,
		changed: []string{"Alias"}, fields: map[string]any{"Alias": "obrown3"}}
	accountChange = change{entity: "Account", typ: "UPDATE", ids: []string{"0015f00002JUXA8AAP"}, tx: "tx-account", seq: 1,
		changed: []string{"Name"}, fields: map[string]any{"Name": "Acme"}}
	gapEvent      = change{typ: "GAP_UPDATE", ids: []string{olga, noor, key("0055f00000GBZR9")}, tx: "tx-gap", seq: 5}
	overflowEvent = change{typ: "GAP_OVERFLOW", ids: []string{}, tx: "tx-overflow", seq: 6}
)

// fakeUsers is a UserReader over a fixed list, with errors to inject: a
// stand-in for Salesforce's REST API (pkg/salesforce tests the real client).
type fakeUsers struct {
	mu       sync.Mutex
	users    []events.User
	queryErr error
	eachErr  error // returned in place of the second user
	asked    [][]string
}

func (f *fakeUsers) QueryUsers(_ context.Context, ids []string) ([]events.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
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

func (f *fakeUsers) ForEachUser(_ context.Context, fn func(events.User) error) error {
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

var _ bridge.UserReader = (*fakeUsers)(nil)

// newIngester builds an ingester publishing to js, with its metrics.
func newIngester(t *testing.T, js jetstream.JetStream, users bridge.UserReader) (*bridge.Ingester, *bridge.Metrics) {
	t.Helper()
	m, _ := newMetrics(t)
	cfg := bridge.IngesterConfig{
		Decoder: &salesforce.CDCDecoder{OrgID: testOrg, OwnClient: "vccsync"},
		Users:   users, Publisher: bridge.JetStream(js), Timeout: 5 * time.Second, Metrics: m,
	}
	in, err := bridge.NewIngester(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in, m
}

func TestIngest(t *testing.T) {
	js, _ := jetStream(t, true)
	in, m := newIngester(t, js, nil)
	counts := &bridge.Counts{}

	for _, tc := range []struct {
		name string
		msg  string
		want string
	}{
		{"create", olgaJoins.streaming(t), "published x change=CREATE published=1 duplicate=0 ids=" + cdcID(olga, "tx-create", 1)},
		{"two users", twoLeave.streaming(t), "published x change=UPDATE published=2 duplicate=0 ids=" + cdcID(ravi, "tx-leave", 2) + "," + cdcID(mei, "tx-leave", 2)},
		{"again", olgaJoins.streaming(t), "duplicate x change=CREATE published=0 duplicate=1 ids=" + cdcID(olga, "tx-create", 1)},
		{"delete", olgaDeleted.streaming(t), "ignored x change=DELETE: " + salesforce.CDCIgnoredDelete},
		{"own change", ownChange.streaming(t), "ignored x change=UPDATE: " + salesforce.CDCIgnoredOwnChange},
		{"meta", `{"channel":"/meta/connect","successful":true}`, "ignored x: CometD meta message on /meta/connect"},
		{"account", accountChange.streaming(t), `rejected x change=UPDATE: ChangeEventHeader.entityName: "Account", want "User" (subscribe to /data/UserChangeEvent)`},
		{"not JSON", "not JSON", "rejected x: message: not valid JSON at byte 2: invalid character 'o' in literal null (expecting 'u')"},
		{"contract broken: nothing published", twoOdd.streaming(t), "rejected x change=UPDATE: "},
		{"gap without Salesforce", gapEvent.streaming(t), "failed x change=GAP_UPDATE read=0: " + bridge.ErrNoUserReader.Error()},
		{"overflow without Salesforce", overflowEvent.streaming(t), "failed x change=GAP_OVERFLOW read=0: " + bridge.ErrNoUserReader.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := in.Ingest(testContext(t), []byte(tc.msg))
			counts.Add(o)
			if got := o.Line("x"); !strings.HasPrefix(got, tc.want) || (!strings.HasSuffix(tc.want, ": ") && got != tc.want) {
				t.Errorf("Line() = %q\nwant %q", got, tc.want)
			}
		})
	}
	if got := msgIDs(t, js); got != strings.Join([]string{cdcID(olga, "tx-create", 1), cdcID(ravi, "tx-leave", 2), cdcID(mei, "tx-leave", 2)}, ",") {
		t.Errorf("stored %s", got)
	}
	if u := streamMessages(t, js, false)[1].Event.User; u.IsActive != events.Val(false) || u.Alias.Set || fmt.Sprint(u.ChangedFields) != "[IsActive]" {
		t.Errorf("Ravi's event: %+v, want IsActive false and nothing else known", u)
	}
	if want := "messages: 2 published, 1 duplicate, 3 ignored, 0 gap, 0 overflow, 3 rejected, 2 failed; events: 3 published, 1 duplicate"; counts.String() != want {
		t.Errorf("Counts = %q\nwant %q", counts, want)
	}
	if counts.Messages(bridge.StatusRejected) != 3 {
		t.Errorf("Messages(rejected) = %d", counts.Messages(bridge.StatusRejected))
	}
	rej := in.Reject(errors.New("line longer than 4 MiB"))
	if rej.Line("line=9") != "rejected line=9: line longer than 4 MiB" {
		t.Errorf("Reject: %q", rej.Line("line=9"))
	}
	checkCounters(t, m.CDCMessages, map[string]float64{
		bridge.StatusPublished: 2, bridge.StatusDuplicate: 1, bridge.StatusIgnored: 3, bridge.StatusRejected: 4, bridge.StatusFailed: 2, bridge.StatusGap: 0,
	})
	checkCounters(t, m.CDCEvents, map[string]float64{bridge.EventPublished: 3, bridge.EventDuplicate: 1})
}

func TestIngestGapAndOverflow(t *testing.T) {
	js, _ := jetStream(t, true)
	stamp := func(s string) events.Field[events.Time] {
		tm, err := events.ParseTime(s)
		if err != nil {
			t.Fatal(err)
		}
		return events.Val(tm)
	}
	users := &fakeUsers{users: []events.User{
		{ID: olga, Alias: events.Val("obrown"), IsActive: events.Val(true), SystemModstamp: stamp("2024-04-26T18:30:00Z"), ChangedFields: []string{"Alias"}},
		{ID: noor, Alias: events.Val("nsaleh"), IsActive: events.Val(true), LastModifiedDate: stamp("2024-04-26T18:31:00Z")},
		{ID: ravi, Alias: events.Val("rkumar"), IsActive: events.Val(false), SystemModstamp: stamp("2024-04-26T18:32:00Z")},
	}}
	in, m := newIngester(t, js, users)
	snap := func(id, at string) string { return fmt.Sprintf("sf-snapshot-%s-%d", id, stamp(at).Value.UnixMilli()) }
	missing := key("0055f00000GBZR9")

	gap := in.Ingest(testContext(t), []byte(gapEvent.streaming(t)))
	if got, want := gap.Line("line=1"), "gap line=1 change=GAP_UPDATE read=2 published=2 duplicate=0 missing="+missing; got != want {
		t.Errorf("gap: %q\nwant %q", got, want)
	}
	over := in.Ingest(testContext(t), []byte(overflowEvent.streaming(t)))
	if got, want := over.Line("line=2"), "overflow line=2 change=GAP_OVERFLOW read=3 published=1 duplicate=2"; got != want {
		t.Errorf("overflow: %q\nwant %q", got, want)
	}
	if got, want := msgIDs(t, js), snap(olga, "2024-04-26T18:30:00Z")+","+snap(noor, "2024-04-26T18:31:00Z")+","+snap(ravi, "2024-04-26T18:32:00Z"); got != want {
		t.Errorf("stored %s\nwant %s", got, want)
	}
	ev := streamMessages(t, js, false)[0].Event
	if ev.Source != "salesforce/rest/"+testOrg || !ev.Time.Equal(time.Date(2024, 4, 26, 18, 30, 0, 0, time.UTC)) || ev.User.ChangedFields != nil {
		t.Errorf("snapshot: %+v %+v", ev.Envelope, ev.User)
	}
	if len(users.asked) != 1 || len(users.asked[0]) != 3 {
		t.Errorf("asked for %v, want the gap's three users", users.asked)
	}
	checkCounters(t, m.CDCMessages, map[string]float64{bridge.StatusGap: 1, bridge.StatusOverflow: 1})
	checkCounters(t, m.CDCEvents, map[string]float64{bridge.EventPublished: 3, bridge.EventDuplicate: 2})
	if got := testutilCounter(m); got != 5 {
		t.Errorf("%s = %v, want 5", bridge.CDCUsersReadName, got)
	}
}

// TestIngestGapFailures: the users cannot be read, or one cannot be named.
func TestIngestGapFailures(t *testing.T) {
	js, _ := jetStream(t, true)
	stamp := events.Val(events.Time{Time: time.Date(2024, 4, 26, 18, 30, 0, 0, time.UTC)})
	olgaUser := events.User{ID: olga, Alias: events.Val("obrown"), IsActive: events.Val(true), SystemModstamp: stamp}
	noStamp := events.User{ID: noor, Alias: events.Val("nsaleh")}
	msgs := []string{gapEvent.streaming(t), overflowEvent.streaming(t)}
	noName := "user " + noor + " read from Salesforce has no SystemModstamp or LastModifiedDate: its state cannot be named"

	for _, tc := range []struct {
		name  string
		users *fakeUsers
		want  []string
	}{
		{"Salesforce failing", &fakeUsers{users: []events.User{olgaUser, noStamp}, queryErr: errors.New("salesforce: 503 Service Unavailable"), eachErr: errors.New("salesforce: connection reset")}, []string{
			"failed line=1 change=GAP_UPDATE read=0: read 3 users: salesforce: 503 Service Unavailable",
			"failed line=2 change=GAP_OVERFLOW read=1 published=1 duplicate=0: resynchronise all users: salesforce: connection reset",
		}},
		{"a user without a timestamp", &fakeUsers{users: []events.User{olgaUser, noStamp}}, []string{
			"failed line=1 change=GAP_UPDATE read=2 published=0 duplicate=1: " + noName,
			"failed line=2 change=GAP_OVERFLOW read=2 published=0 duplicate=1: resynchronise all users: " + noName,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := newIngester(t, js, tc.users)
			for i, msg := range msgs {
				if got := in.Ingest(testContext(t), []byte(msg)).Line(fmt.Sprintf("line=%d", i+1)); got != tc.want[i] {
					t.Errorf("%q\nwant %q", got, tc.want[i])
				}
			}
		})
	}
	sid := fmt.Sprintf("sf-snapshot-%s-%d", olga, stamp.Value.UnixMilli())
	if got := msgIDs(t, js); got != sid {
		t.Errorf("stored %s, want only %s", got, sid)
	}
}

func TestSnapshotEnvelope(t *testing.T) {
	at := time.Date(2024, 4, 26, 18, 30, 0, 0, time.UTC)
	u := events.User{ID: "0055f00000GBZR4", Alias: events.Val("obrown"), SystemModstamp: events.Val(events.Time{Time: at}), ChangedFields: []string{"Alias"}}
	env, err := bridge.SnapshotEnvelope(testOrg, u)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("sf-snapshot-%s-%d", olga, at.UnixMilli()); env.ID != want || env.Source != "salesforce/rest/"+testOrg || env.Subject != olga || !env.Time.Equal(at) {
		t.Errorf("%+v, want id %s", env, want)
	}
	if strings.Contains(string(env.Data), "ChangedFields") {
		t.Errorf("a snapshot keeps ChangedFields: %s", env.Data)
	}
	for _, bad := range []events.User{{ID: "0055f00000GBZR4", Alias: events.Val("x")}, {ID: "not-an-id", SystemModstamp: u.SystemModstamp}} {
		if _, err := bridge.SnapshotEnvelope(testOrg, bad); err == nil {
			t.Errorf("SnapshotEnvelope(%+v) accepted", bad)
		}
	}
}

func TestOutcomeLine(t *testing.T) {
	for _, tc := range []struct {
		o    bridge.Outcome
		want string
	}{
		{bridge.Outcome{Status: bridge.StatusPublished, Change: "UPDATE", Published: 1, IDs: []string{"a b"}}, `published m change=UPDATE published=1 duplicate=0 ids="a b"`},
		{bridge.Outcome{Status: bridge.StatusIgnored, Reason: "own change"}, "ignored m: own change"},
		{bridge.Outcome{Status: bridge.StatusFailed, Change: "UPDATE", Err: errors.New("timeout")}, "failed m change=UPDATE: timeout"},
		{bridge.Outcome{Status: bridge.StatusFailed, Change: "GAP_UPDATE", Reading: true, Read: 2, Duplicate: 1, Missing: []string{"x", "y"}, Err: errors.New("e")},
			"failed m change=GAP_UPDATE read=2 published=0 duplicate=1 missing=x,y: e"},
		{bridge.Outcome{Status: bridge.StatusRejected, Change: `A"B`, Err: errors.New("bad")}, `rejected m change="A\"B": bad`},
	} {
		if got := tc.o.Line("m"); got != tc.want {
			t.Errorf("Line() = %q, want %q", got, tc.want)
		}
	}
	if got := (&bridge.Counts{}).String(); got != "messages: 0 published, 0 duplicate, 0 ignored, 0 gap, 0 overflow, 0 rejected, 0 failed; events: 0 published, 0 duplicate" {
		t.Errorf("empty Counts: %q", got)
	}
}

func TestNewIngesterChecksTheConfig(t *testing.T) {
	_, err := bridge.NewIngester(bridge.IngesterConfig{})
	if err == nil || err.Error() != "bridge: change-event ingester: no decoder\nno publisher\ntimeout 0s: must be positive" {
		t.Errorf("error %v", err)
	}
}

func TestIngestHandler(t *testing.T) {
	js, _ := jetStream(t, true)
	in, _ := newIngester(t, js, nil)
	counts := &bridge.Counts{}
	var out syncWriter
	srv := httptest.NewServer(bridge.NewIngestHandler(in, counts, &out))
	t.Cleanup(srv.Close)

	send := func(method, body string) (int, string, http.Header) {
		t.Helper()
		req, err := http.NewRequestWithContext(testContext(t), method, srv.URL+"/cdc", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	for _, step := range []struct {
		name   string
		body   string
		status int
		reply  []string
	}{
		{"one message", olgaJoins.streaming(t), 200, []string{"published msg=1 change=CREATE published=1 duplicate=0 ids=" + cdcID(olga, "tx-create", 1)}},
		{"an array with a BOM", "\ufeff [" + olgaJoins.streaming(t) + "," + olgaDeleted.streaming(t) + "]\n", 200, []string{
			"duplicate msg=1 change=CREATE published=0 duplicate=1 ids=" + cdcID(olga, "tx-create", 1),
			"ignored msg=2 change=DELETE: " + salesforce.CDCIgnoredDelete}},
		{"a bad message among good ones", "[" + accountChange.streaming(t) + "," + twoLeave.streaming(t) + "]", 400, []string{
			`rejected msg=1 change=UPDATE: ChangeEventHeader.entityName: "Account", want "User" (subscribe to /data/UserChangeEvent)`,
			"published msg=2 change=UPDATE published=2 duplicate=0 ids=" + cdcID(ravi, "tx-leave", 2) + "," + cdcID(mei, "tx-leave", 2)}},
		{"a failure wins over a rejection", "[" + accountChange.streaming(t) + "," + gapEvent.streaming(t) + "]", 500, []string{
			`rejected msg=1 change=UPDATE: ChangeEventHeader.entityName: "Account", want "User" (subscribe to /data/UserChangeEvent)`,
			"failed msg=2 change=GAP_UPDATE read=0: " + bridge.ErrNoUserReader.Error()}},
		{"a broken array", `[{"data":1},`, 400, []string{"body: not valid JSON at byte 12: unexpected end of JSON input"}},
		{"not an array of objects", `[1,`, 400, []string{"body: not valid JSON at byte 3: unexpected end of JSON input"}},
		{"empty", " \n", 400, []string{"body: empty, want a change event message or a JSON array of them"}},
		{"an empty array", "[]", 400, []string{"body: an empty array, want at least one message"}},
	} {
		status, reply, _ := send(http.MethodPost, step.body)
		if want := strings.Join(step.reply, "\n") + "\n"; status != step.status || reply != want {
			t.Errorf("%s: %d %q\nwant %d %q", step.name, status, reply, step.status, want)
		}
	}
	if status, _, h := send(http.MethodGet, ""); status != http.StatusMethodNotAllowed || h.Get("Allow") != "POST" {
		t.Errorf("GET: %d, Allow %q", status, h.Get("Allow"))
	}
	big := `{"data":"` + strings.Repeat("x", bridge.MaxIngestBody) + `"}`
	if status, reply, _ := send(http.MethodPost, big); status != http.StatusRequestEntityTooLarge || reply != "body: larger than 16 MiB\n" {
		t.Errorf("too big: %d %q", status, reply)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[0], "published post=1 msg=1 change=CREATE") || !strings.HasPrefix(lines[6], "failed post=4 msg=2 ") {
		t.Errorf("output:\n%s", out.String())
	}
	if want := "messages: 2 published, 1 duplicate, 1 ignored, 0 gap, 0 overflow, 2 rejected, 1 failed; events: 3 published, 1 duplicate"; counts.String() != want {
		t.Errorf("counts %q\nwant %q", counts, want)
	}
}

// syncWriter is an output the test reads while the handler writes it.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
