package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/pubsub/eventbus"
	"github.com/vccsync/vccsync/pkg/salesforce"
	"github.com/vccsync/vccsync/pkg/sandbox"
)

const psTimeout = 10 * time.Second

// psClock is a settable clock.
type psClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *psClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *psClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// psEnv is a demo org served over HTTP through its Pub/Sub sandbox, that
// sandbox served over gRPC, and a client of each.
type psEnv struct {
	t      *testing.T
	clock  *psClock
	sf     *sandbox.Salesforce
	ps     *sandbox.PubSub
	sfURL  string
	token  string
	client eventbus.PubSubClient
	schema *salesforce.CDCSchema
	avro   avro.Schema
}

func newPSEnv(t *testing.T, opts sandbox.PubSubOptions) *psEnv {
	t.Helper()
	clock := &psClock{t: time.Date(2026, 11, 20, 10, 15, 0, 0, time.UTC)}
	sf := sandbox.NewSalesforce(sandbox.SalesforceOptions{Now: clock.Now})
	if err := sf.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	ps := sandbox.NewPubSub(sf, opts)
	t.Cleanup(ps.Close)
	sfURL, stopSF, err := ps.StartSalesforce("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stopSF() })
	addr, stop, err := ps.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	e := &psEnv{t: t, clock: clock, sf: sf, ps: ps, sfURL: sfURL, client: eventbus.NewPubSubClient(conn)}
	e.token = e.fetchToken()

	// The schema as a subscriber gets it: GetTopic, then GetSchema.
	topic, err := e.client.GetTopic(e.ctx(), &eventbus.TopicRequest{TopicName: "/data/UserChangeEvent"})
	if err != nil {
		t.Fatalf("GetTopic: %v", err)
	}
	info, err := e.client.GetSchema(e.ctx(), &eventbus.SchemaRequest{SchemaId: topic.GetSchemaId()})
	if err != nil {
		t.Fatalf("GetSchema: %v", err)
	}
	if e.schema, err = salesforce.ParseCDCSchema([]byte(info.GetSchemaJson())); err != nil {
		t.Fatalf("ParseCDCSchema: %v", err)
	}
	if e.avro, err = avro.Parse(info.GetSchemaJson()); err != nil {
		t.Fatalf("avro.Parse: %v", err)
	}
	return e
}

// fetchToken gets an access token for the demo connected app.
func (e *psEnv) fetchToken() string {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {sandbox.DemoSFClientID}, "client_secret": {sandbox.DemoSFClientSecret}}
	resp, err := http.PostForm(e.sfURL+sandbox.SFTokenPath, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		e.t.Fatalf("token: status %d, %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

// md is the metadata every call carries.
func (e *psEnv) md() metadata.MD {
	return metadata.Pairs("accesstoken", e.token, "instanceurl", e.sfURL, "tenantid", e.sf.OrgID())
}

func (e *psEnv) ctx() context.Context {
	ctx, cancel := context.WithTimeout(e.t.Context(), psTimeout)
	e.t.Cleanup(cancel)
	return metadata.NewOutgoingContext(ctx, e.md())
}

// rest sends a REST request to the org with the access token; callClient,
// when set, goes in Sforce-Call-Options.
func (e *psEnv) rest(method, path, body, callClient string) {
	e.t.Helper()
	if err := e.restErr(method, path, body, callClient); err != nil {
		e.t.Fatal(err)
	}
}

// restErr is rest for any goroutine: it returns what went wrong.
func (e *psEnv) restErr(method, path, body, callClient string) error {
	req, err := http.NewRequest(method, e.sfURL+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	if callClient != "" {
		req.Header.Set("Sforce-Call-Options", "client="+callClient)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return nil
}

func psUserPath(id string) string {
	return "/services/data/" + sandbox.SFAPIVersion + "/sobjects/User/" + id
}

func (e *psEnv) subscribe(req *eventbus.FetchRequest) eventbus.PubSub_SubscribeClient {
	e.t.Helper()
	st, err := e.client.Subscribe(e.ctx())
	if err != nil {
		e.t.Fatal(err)
	}
	if req.TopicName == "" {
		req.TopicName = "/data/UserChangeEvent"
	}
	if err := st.Send(req); err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *psEnv) recv(st eventbus.PubSub_SubscribeClient) *eventbus.FetchResponse {
	e.t.Helper()
	resp, err := st.Recv()
	if err != nil {
		e.t.Fatalf("Recv: %v", err)
	}
	return resp
}

// recvEvents receives until n events came, checking that no response
// carries more than were asked for; it returns them and the last response.
func (e *psEnv) recvEvents(st eventbus.PubSub_SubscribeClient, n int) ([]*eventbus.ConsumerEvent, *eventbus.FetchResponse) {
	e.t.Helper()
	var got []*eventbus.ConsumerEvent
	var last *eventbus.FetchResponse
	for len(got) < n {
		last = e.recv(st)
		if len(got)+len(last.GetEvents()) > n {
			e.t.Fatalf("got %d events, more than the %d asked for", len(got)+len(last.GetEvents()), n)
		}
		got = append(got, last.GetEvents()...)
	}
	return got, last
}

// waitSubscribers waits until n subscriptions are positioned.
func (e *psEnv) waitSubscribers(n int) {
	e.t.Helper()
	deadline := time.Now().Add(psTimeout)
	for e.ps.Subscribers() != n {
		if time.Now().After(deadline) {
			e.t.Fatalf("%d subscribers, want %d", e.ps.Subscribers(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// decode decodes an event as vccsync's subscriber does: Avro to a generic
// value with the schema GetSchema gave, that value as JSON, then
// salesforce.CDCDecoder with the schema's field positions.
func (e *psEnv) decode(ev *eventbus.ConsumerEvent, ownClient string) salesforce.CDCResult {
	e.t.Helper()
	if ev.GetEvent().GetSchemaId() != e.ps.SchemaID() {
		e.t.Fatalf("event schema %q, want %q", ev.GetEvent().GetSchemaId(), e.ps.SchemaID())
	}
	if ev.GetEvent().GetId() == "" || len(ev.GetReplayId()) == 0 {
		e.t.Fatalf("event without an id or a replay id: %v", ev)
	}
	var v any
	if err := avro.Unmarshal(e.avro, ev.GetEvent().GetPayload(), &v); err != nil {
		e.t.Fatalf("avro: %v", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	d := salesforce.CDCDecoder{OrgID: e.sf.OrgID(), OwnClient: ownClient, Format: salesforce.CDCPubSub, Schema: e.schema}
	res, err := d.Decode(b)
	if err != nil {
		e.t.Fatalf("CDCDecoder: %v\n%s", err, b)
	}
	return res
}

// users are the users of a decoded change, as the worker reads them.
func (e *psEnv) users(res salesforce.CDCResult) []events.User {
	e.t.Helper()
	var out []events.User
	for _, env := range res.Events {
		body, err := env.Marshal()
		if err != nil {
			e.t.Fatal(err)
		}
		subject, err := env.NATSSubject()
		if err != nil {
			e.t.Fatal(err)
		}
		ev, err := events.Decode(subject, body)
		if err != nil {
			e.t.Fatalf("event does not decode: %v\n%s", err, body)
		}
		out = append(out, *ev.User)
	}
	return out
}

func psAt(t time.Time) events.Field[events.Time] {
	return events.Val(events.Time{Time: t.UTC().Truncate(time.Millisecond)})
}

var psUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// psCode checks a call's status code and error-code trailer.
func psCode(t *testing.T, err error, trailer metadata.MD, code codes.Code, errorCode string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("status %v (%v), want %v", status.Code(err), err, code)
	}
	if got := trailer.Get("error-code"); errorCode != "" && !slices.Equal(got, []string{errorCode}) {
		t.Errorf("error-code trailer %q, want %q", got, errorCode)
	}
	if !strings.Contains(status.Convert(err).Message(), "rpcId: ") || len(trailer.Get("rpc-id")) != 1 {
		t.Errorf("no RPC id in %q / trailer %v", status.Convert(err).Message(), trailer)
	}
}

// subscribeErr opens a subscription and returns how it ends.
func (e *psEnv) subscribeErr(ctx context.Context, req *eventbus.FetchRequest, later ...*eventbus.FetchRequest) (metadata.MD, error) {
	e.t.Helper()
	st, err := e.client.Subscribe(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if req.TopicName == "" {
		req.TopicName = "/data/UserChangeEvent"
	}
	_ = st.Send(req)
	for _, r := range later {
		_ = st.Send(r)
	}
	for {
		if _, err := st.Recv(); err != nil {
			return st.Trailer(), err
		}
	}
}

func TestPubSubTopicAndSchema(t *testing.T) {
	e := newPSEnv(t, sandbox.PubSubOptions{})
	topic, err := e.client.GetTopic(e.ctx(), &eventbus.TopicRequest{TopicName: "/data/UserChangeEvent"})
	if err != nil {
		t.Fatal(err)
	}
	if topic.GetTopicName() != "/data/UserChangeEvent" || topic.GetTenantGuid() != e.sf.OrgID() ||
		!topic.GetCanSubscribe() || topic.GetCanPublish() || topic.GetSchemaId() != e.ps.SchemaID() || topic.GetRpcId() == "" {
		t.Errorf("topic %v", topic)
	}
	info, err := e.client.GetSchema(e.ctx(), &eventbus.SchemaRequest{SchemaId: topic.GetSchemaId()})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetSchemaId() != topic.GetSchemaId() || info.GetSchemaJson() != e.ps.SchemaJSON() {
		t.Errorf("schema %q / %.80s…", info.GetSchemaId(), info.GetSchemaJson())
	}
	// The schema id is derived from the schema: another org's sandbox has the same.
	if other := sandbox.NewPubSub(sandbox.NewSalesforce(sandbox.SalesforceOptions{}), sandbox.PubSubOptions{}); other.SchemaID() != e.ps.SchemaID() {
		t.Errorf("schema id %q, another sandbox's %q", e.ps.SchemaID(), other.SchemaID())
	}

	rec, ok := e.avro.(*avro.RecordSchema)
	if !ok || rec.FullName() != "com.sforce.eventbus.UserChangeEvent" {
		t.Fatalf("schema %T %v", e.avro, e.avro)
	}
	// Positions as the bitmaps count them, read the way the decoder reads them.
	pos := map[string]int{}
	for i, f := range e.schema.Fields {
		pos[f.Name] = i
	}
	for name, want := range map[string]int{
		"ChangeEventHeader": 0, "Username": 1, "Name": 4, "Alias": 5, "Email": 6, "IsActive": 7, "TimeZoneSidKey": 8,
		"ProfileId": 10, "CallCenterId": 11, "FederationIdentifier": 12, "LastModifiedDate": 15, "CommunityNickname": 29,
		"NVMContactWorld__NVM_Agent_Id__c": 33,
	} {
		if got, ok := pos[name]; !ok || got != want {
			t.Errorf("field %s at %d (present %v), want %d", name, got, ok, want)
		}
	}
	if sub := e.schema.Fields[4].Subfields; !slices.Equal(sub[:3], []string{"Salutation", "FirstName", "LastName"}) {
		t.Errorf("Name subfields %q", sub)
	}
	header := rec.Fields()[0].Type().(*avro.RecordSchema)
	var headerFields []string
	for _, f := range header.Fields() {
		headerFields = append(headerFields, f.Name())
	}
	if want := []string{"entityName", "recordIds", "changeType", "changeOrigin", "transactionKey", "sequenceNumber",
		"commitTimestamp", "commitNumber", "commitUser", "nulledFields", "diffFields", "changedFields"}; !slices.Equal(headerFields, want) {
		t.Errorf("header fields %q, want %q", headerFields, want)
	}
	for _, f := range rec.Fields()[1:] {
		u, ok := f.Type().(*avro.UnionSchema)
		if !ok || !u.Nullable() || u.Types()[0].Type() != avro.Null || !f.HasDefault() || f.Default() != nil {
			t.Errorf("field %s: %s, want [\"null\", T] with default null", f.Name(), f.Type())
		}
	}

	var trailer metadata.MD
	_, err = e.client.GetTopic(e.ctx(), &eventbus.TopicRequest{TopicName: "/data/AccountChangeEvent"}, grpc.Trailer(&trailer))
	psCode(t, err, trailer, codes.NotFound, "")
	_, err = e.client.GetSchema(e.ctx(), &eventbus.SchemaRequest{SchemaId: "IeRuaY6cbI_HsV8Rv1Mc5g"}, grpc.Trailer(&trailer))
	psCode(t, err, trailer, codes.NotFound, "")
	trailer, err = e.subscribeErr(e.ctx(), &eventbus.FetchRequest{TopicName: "/data/AccountChangeEvent", NumRequested: 1})
	psCode(t, err, trailer, codes.NotFound, "")
}

func TestPubSubAuth(t *testing.T) {
	e := newPSEnv(t, sandbox.PubSubOptions{})
	org := e.sf.OrgID()
	for _, tc := range []struct {
		name string
		md   metadata.MD
		code codes.Code
	}{
		{"no metadata", metadata.MD{}, codes.Unauthenticated},
		{"unknown token", metadata.Pairs("accesstoken", "00D5e000000KQ2e!bogus", "instanceurl", e.sfURL, "tenantid", org), codes.Unauthenticated},
		{"no instance url", metadata.Pairs("accesstoken", e.token, "tenantid", org), codes.Unauthenticated},
		{"instance url not a URL", metadata.Pairs("accesstoken", e.token, "instanceurl", "acme", "tenantid", org), codes.Unauthenticated},
		{"no tenant", metadata.Pairs("accesstoken", e.token, "instanceurl", e.sfURL), codes.Unauthenticated},
		{"other org", metadata.Pairs("accesstoken", e.token, "instanceurl", e.sfURL, "tenantid", "00D5e000000ZZZZEAG"), codes.PermissionDenied},
		{"tenant 15 characters", metadata.Pairs("accesstoken", e.token, "instanceurl", e.sfURL, "tenantid", org[:15]), codes.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := metadata.NewOutgoingContext(e.ctx(), tc.md)
			wantErrorCode := ""
			if tc.code != codes.OK {
				wantErrorCode = "sfdc.platform.eventbus.grpc.service.auth.error"
			}
			var trailer metadata.MD
			_, err := e.client.GetTopic(ctx, &eventbus.TopicRequest{TopicName: "/data/UserChangeEvent"}, grpc.Trailer(&trailer))
			if tc.code == codes.OK {
				if err != nil {
					t.Fatalf("GetTopic: %v", err)
				}
			} else {
				psCode(t, err, trailer, tc.code, wantErrorCode)
			}
			_, err = e.client.GetSchema(ctx, &eventbus.SchemaRequest{SchemaId: e.ps.SchemaID()}, grpc.Trailer(&trailer))
			if tc.code == codes.OK {
				if err != nil {
					t.Fatalf("GetSchema: %v", err)
				}
				return
			}
			psCode(t, err, trailer, tc.code, wantErrorCode)
			trailer, err = e.subscribeErr(ctx, &eventbus.FetchRequest{NumRequested: 1})
			psCode(t, err, trailer, tc.code, wantErrorCode)
		})
	}

	// A revoked token is refused like an unknown one.
	e.sf.RevokeTokens()
	var trailer metadata.MD
	_, err := e.client.GetTopic(e.ctx(), &eventbus.TopicRequest{TopicName: "/data/UserChangeEvent"}, grpc.Trailer(&trailer))
	psCode(t, err, trailer, codes.Unauthenticated, "sfdc.platform.eventbus.grpc.service.auth.error")
}

func TestPubSubCreateThenUpdates(t *testing.T) {
	e := newPSEnv(t, sandbox.PubSubOptions{})
	if n := e.ps.Events(); n != 0 {
		t.Fatalf("%d events before any change: users present at the start have none", n)
	}
	st := e.subscribe(&eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_EARLIEST, NumRequested: 10})

	// CREATE: every field.
	mei, err := e.sf.AddUser(sandbox.SFUser{
		Username: "mei.chen@demo.example", Email: "mei.chen@demo.example", FirstName: "Mei", LastName: "Chen",
		Alias: "mchen", IsActive: true, FederationIdentifier: "mchen", ProfileID: sandbox.DemoSFAgentProfileID,
		NVMAgentID: "2001", PermissionSets: []string{sandbox.SFPermissionSetAgent},
	})
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := e.recvEvents(st, 1)
	res := e.decode(evs[0], "vccsync")
	h := res.Header
	if h.ChangeType != "CREATE" || !slices.Equal(h.RecordIDs, []string{mei.ID}) || h.ChangeOrigin != "" ||
		h.SequenceNumber != 1 || h.CommitTimestamp != mei.LastModifiedDate.UnixMilli() || h.CommitUser == "" ||
		!psUUID.MatchString(h.TransactionKey) || len(h.ChangedFields)+len(h.NulledFields)+len(h.DiffFields) != 0 {
		t.Errorf("CREATE header %+v", h)
	}
	want := events.User{
		ID: mei.ID, Username: events.Val("mei.chen@demo.example"), Alias: events.Val("mchen"),
		Email: events.Val("mei.chen@demo.example"), FirstName: events.Val("Mei"), LastName: events.Val("Chen"),
		IsActive: events.Val(true), FederationIdentifier: events.Val("mchen"), ProfileID: events.Val(sandbox.DemoSFAgentProfileID),
		CallCenterID: events.Null[string](), AgentID: events.Val("2001"), LastModifiedDate: psAt(mei.LastModifiedDate),
	}
	if got := e.users(res); len(got) != 1 || !cmp.Equal(got[0], want) {
		t.Errorf("CREATE decodes to %v", cmp.Diff([]events.User{want}, got))
	}

	// UPDATE through REST by vccsync: Alias changed, FederationIdentifier
	// cleared. Fields 5 (Alias), 12 (FederationIdentifier), 15
	// (LastModifiedDate), 16 (LastModifiedById: the integration user now).
	e.clock.Advance(time.Minute)
	e.rest(http.MethodPatch, psUserPath(mei.ID), `{"Alias":"mchenw","FederationIdentifier":null}`, "vccsync")
	mei, _ = e.sf.User(mei.ID)
	evs, _ = e.recvEvents(st, 1)
	if res := e.decode(evs[0], "vccsync"); res.Ignored != salesforce.CDCIgnoredOwnChange {
		t.Errorf("vccsync's own change: ignored %q, events %d", res.Ignored, len(res.Events))
	}
	res = e.decode(evs[0], "")
	h = res.Header
	if h.ChangeType != "UPDATE" || h.ChangeOrigin != "com/salesforce/api/rest/61.0;client=vccsync" ||
		h.CommitUser != sandbox.DemoSFIntegrationUserID || h.CommitTimestamp != mei.LastModifiedDate.UnixMilli() {
		t.Errorf("UPDATE header %+v", h)
	}
	if !slices.Equal(h.ChangedFields, []string{"0x19020"}) || !slices.Equal(h.NulledFields, []string{"0x1000"}) {
		t.Errorf("changedFields %q nulledFields %q, want [0x19020] [0x1000]", h.ChangedFields, h.NulledFields)
	}
	want = events.User{
		ID: mei.ID, Alias: events.Val("mchenw"), FederationIdentifier: events.Null[string](),
		LastModifiedDate: psAt(mei.LastModifiedDate),
		ChangedFields:    []string{"Alias", "FederationIdentifier", "LastModifiedDate", "LastModifiedById"},
	}
	if got := e.users(res); len(got) != 1 || !cmp.Equal(got[0], want) {
		t.Errorf("UPDATE decodes to %v", cmp.Diff([]events.User{want}, got))
	}

	// UPDATE of the compound Name, another client: LastName changed,
	// FirstName cleared: Name (4) and LastModifiedDate (15) at the top,
	// subfields 1 and 2 of Name.
	e.clock.Advance(time.Minute)
	e.rest(http.MethodPatch, psUserPath(mei.ID), `{"LastName":"Chen-Wong","FirstName":null}`, "")
	mei, _ = e.sf.User(mei.ID)
	evs, _ = e.recvEvents(st, 1)
	res = e.decode(evs[0], "vccsync")
	h = res.Header
	if h.ChangeOrigin != "com/salesforce/api/rest/61.0" {
		t.Errorf("changeOrigin %q", h.ChangeOrigin)
	}
	if !slices.Equal(h.ChangedFields, []string{"0x8010", "4-0x6"}) || !slices.Equal(h.NulledFields, []string{"4-0x2"}) {
		t.Errorf("changedFields %q nulledFields %q, want [0x8010 4-0x6] [4-0x2]", h.ChangedFields, h.NulledFields)
	}
	want = events.User{
		ID: mei.ID, FirstName: events.Null[string](), LastName: events.Val("Chen-Wong"),
		LastModifiedDate: psAt(mei.LastModifiedDate), ChangedFields: []string{"LastModifiedDate", "FirstName", "LastName"},
	}
	if got := e.users(res); len(got) != 1 || !cmp.Equal(got[0], want) {
		t.Errorf("Name UPDATE decodes to %v", cmp.Diff([]events.User{want}, got))
	}

	// A contact-center add, through sObject Collections: CallCenterId (11).
	e.clock.Advance(time.Minute)
	collection := `{"allOrNone":false,"records":[{"attributes":{"type":"User"},"id":"` + mei.ID + `","CallCenterId":"` + sandbox.DemoSFContactCenterLondon + `"}]}`
	e.rest(http.MethodPatch, "/services/data/"+sandbox.SFAPIVersion+"/composite/sobjects", collection, "vccsync")
	mei, _ = e.sf.User(mei.ID)
	evs, _ = e.recvEvents(st, 1)
	res = e.decode(evs[0], "")
	if h := res.Header; !slices.Equal(h.ChangedFields, []string{"0x8800"}) || len(h.NulledFields) != 0 ||
		h.ChangeOrigin != "com/salesforce/api/rest/61.0;client=vccsync" {
		t.Errorf("membership header %+v", h)
	}
	want = events.User{
		ID: mei.ID, CallCenterID: events.Val(sandbox.DemoSFContactCenterLondon), LastModifiedDate: psAt(mei.LastModifiedDate),
		ChangedFields: []string{"CallCenterId", "LastModifiedDate"},
	}
	if got := e.users(res); len(got) != 1 || !cmp.Equal(got[0], want) {
		t.Errorf("membership UPDATE decodes to %v", cmp.Diff([]events.User{want}, got))
	}

	// Writes that change no field of the schema publish nothing: a PATCH
	// of the values already there, a re-add to the same contact center.
	n := e.ps.Events()
	e.rest(http.MethodPatch, psUserPath(mei.ID), `{"Alias":"mchenw"}`, "vccsync")
	e.rest(http.MethodPatch, psUserPath(mei.ID), `{"CallCenterId":"`+sandbox.DemoSFContactCenterLondon+`"}`, "vccsync")
	if got := e.ps.Events(); got != n {
		t.Errorf("%d events after writes that changed nothing, want %d", got, n)
	}

	// A change in Setup (outside the API): no changeOrigin.
	if err := e.sf.ModifyUser(mei.ID, func(u *sandbox.SFUser) { u.IsActive = false }); err != nil {
		t.Fatal(err)
	}
	evs, _ = e.recvEvents(st, 1)
	res = e.decode(evs[0], "vccsync")
	if h := res.Header; h.ChangeOrigin != "" || !slices.Equal(h.ChangedFields, []string{"0x18080"}) {
		t.Errorf("Setup change header %+v", h)
	}
	if got := e.users(res); len(got) != 1 || got[0].IsActive != events.Val(false) {
		t.Errorf("deactivation decodes to %+v", got)
	}
}

// psChanges changes the email of each user in turn, a second apart.
func (e *psEnv) psChanges(ids ...string) {
	e.t.Helper()
	for _, id := range ids {
		e.clock.Advance(time.Second)
		if err := e.sf.ModifyUser(id, func(u *sandbox.SFUser) { u.Email = "changed." + u.Email }); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *psEnv) recordIDs(evs []*eventbus.ConsumerEvent) []string {
	e.t.Helper()
	var out []string
	for _, ev := range evs {
		out = append(out, e.decode(ev, "").Header.RecordIDs...)
	}
	return out
}

func TestPubSubFlowControl(t *testing.T) {
	e := newPSEnv(t, sandbox.PubSubOptions{KeepAlive: 150 * time.Millisecond})
	e.psChanges(sandbox.DemoSFOmarID, sandbox.DemoSFTomID, sandbox.DemoSFAnaID)

	st := e.subscribe(&eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_EARLIEST, NumRequested: 1})
	resp := e.recv(st)
	if len(resp.GetEvents()) != 1 || resp.GetPendingNumRequested() != 0 {
		t.Fatalf("first response: %d events, pending %d; want 1, 0", len(resp.GetEvents()), resp.GetPendingNumRequested())
	}
	if !slices.Equal(resp.GetLatestReplayId(), resp.GetEvents()[0].GetReplayId()) {
		t.Errorf("latest_replay_id %x, want the delivered event's %x", resp.GetLatestReplayId(), resp.GetEvents()[0].GetReplayId())
	}
	got := resp.GetEvents()
	// Nothing more until asked: the next response is a keepalive.
	if resp := e.recv(st); len(resp.GetEvents()) != 0 || resp.GetPendingNumRequested() != 0 ||
		!slices.Equal(resp.GetLatestReplayId(), got[0].GetReplayId()) {
		t.Fatalf("unrequested response: %d events, pending %d, latest %x", len(resp.GetEvents()), resp.GetPendingNumRequested(), resp.GetLatestReplayId())
	}
	if err := st.Send(&eventbus.FetchRequest{NumRequested: 2}); err != nil {
		t.Fatal(err)
	}
	more, last := e.recvEvents(st, 2)
	if last.GetPendingNumRequested() != 0 {
		t.Errorf("pending %d after the 2 requested came", last.GetPendingNumRequested())
	}
	got = append(got, more...)
	if ids := e.recordIDs(got); !slices.Equal(ids, []string{sandbox.DemoSFOmarID, sandbox.DemoSFTomID, sandbox.DemoSFAnaID}) {
		t.Errorf("events for %q, want the changes in order", ids)
	}

	// Asking for more than there is: the request stays pending and is
	// served as events come.
	if err := st.Send(&eventbus.FetchRequest{NumRequested: 5}); err != nil {
		t.Fatal(err)
	}
	if resp := e.recv(st); len(resp.GetEvents()) != 0 || resp.GetPendingNumRequested() != 5 {
		t.Fatalf("keepalive: %d events, pending %d; want 0, 5", len(resp.GetEvents()), resp.GetPendingNumRequested())
	}
	e.psChanges(sandbox.DemoSFLenaID)
	evs, last := e.recvEvents(st, 1)
	if last.GetPendingNumRequested() != 4 || !slices.Equal(e.recordIDs(evs), []string{sandbox.DemoSFLenaID}) {
		t.Errorf("pending %d, events %q; want 4, Lena's", last.GetPendingNumRequested(), e.recordIDs(evs))
	}

	// More than one request at a time.
	e.psChanges(sandbox.DemoSFOmarID, sandbox.DemoSFTomID, sandbox.DemoSFAnaID, sandbox.DemoSFPriyaID, sandbox.DemoSFJaneID)
	evs, last = e.recvEvents(st, 4)
	if last.GetPendingNumRequested() != 0 {
		t.Errorf("pending %d after 4 of 4", last.GetPendingNumRequested())
	}
	if ids := e.recordIDs(evs); !slices.Equal(ids, []string{sandbox.DemoSFOmarID, sandbox.DemoSFTomID, sandbox.DemoSFAnaID, sandbox.DemoSFPriyaID}) {
		t.Errorf("events for %q", ids)
	}
}

func TestPubSubReplay(t *testing.T) {
	e := newPSEnv(t, sandbox.PubSubOptions{KeepAlive: 150 * time.Millisecond})
	e.psChanges(sandbox.DemoSFOmarID, sandbox.DemoSFTomID, sandbox.DemoSFAnaID)
	all, _ := e.recvEvents(e.subscribe(&eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_EARLIEST, NumRequested: 3}), 3)

	// CUSTOM resumes right after the event named.
	evs, _ := e.recvEvents(e.subscribe(&eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_CUSTOM, ReplayId: all[0].GetReplayId(), NumRequested: 10}), 2)
	for i, ev := range evs {
		if !slices.Equal(ev.GetReplayId(), all[i+1].GetReplayId()) || ev.GetEvent().GetId() != all[i+1].GetEvent().GetId() {
			t.Errorf("CUSTOM event %d: replay %x id %s, want %x %s", i, ev.GetReplayId(), ev.GetEvent().GetId(), all[i+1].GetReplayId(), all[i+1].GetEvent().GetId())
		}
	}

	// LATEST skips what is already there.
	before := e.ps.Subscribers()
	st := e.subscribe(&eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_LATEST, NumRequested: 10})
	e.waitSubscribers(before + 1)
	e.psChanges(sandbox.DemoSFLenaID)
	evs, _ = e.recvEvents(st, 1)
	if ids := e.recordIDs(evs); !slices.Equal(ids, []string{sandbox.DemoSFLenaID}) {
		t.Errorf("LATEST got %q first, want Lena's change", ids)
	}

	// A keepalive's latest_replay_id is a position to resume from.
	keep := e.recv(st)
	if len(keep.GetEvents()) != 0 || !slices.Equal(keep.GetLatestReplayId(), evs[0].GetReplayId()) {
		t.Fatalf("keepalive %d events, latest %x; want none, %x", len(keep.GetEvents()), keep.GetLatestReplayId(), evs[0].GetReplayId())
	}
	st2 := e.subscribe(&eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_CUSTOM, ReplayId: keep.GetLatestReplayId(), NumRequested: 1})
	e.psChanges(sandbox.DemoSFPriyaID)
	if ids := e.recordIDs(func() []*eventbus.ConsumerEvent { evs, _ := e.recvEvents(st2, 1); return evs }()); !slices.Equal(ids, []string{sandbox.DemoSFPriyaID}) {
		t.Errorf("CUSTOM from a keepalive got %q, want Priya's change", ids)
	}

	// Expired replay IDs are refused.
	e.ps.ExpireReplayIDs()
	if n := e.ps.Events(); n != 0 {
		t.Errorf("%d events after ExpireReplayIDs", n)
	}
	for _, id := range [][]byte{all[1].GetReplayId(), keep.GetLatestReplayId(), []byte("not-a-replay-id")} {
		trailer, err := e.subscribeErr(e.ctx(), &eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_CUSTOM, ReplayId: id, NumRequested: 1})
		psCode(t, err, trailer, codes.InvalidArgument, "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted")
		if msg := status.Convert(err).Message(); !strings.Contains(msg, "invalid or outside the retention window") {
			t.Errorf("message %q", msg)
		}
	}
	// EARLIEST after the purge starts with what comes next.
	before = e.ps.Subscribers()
	st3 := e.subscribe(&eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_EARLIEST, NumRequested: 1})
	e.waitSubscribers(before + 1)
	e.psChanges(sandbox.DemoSFJaneID)
	evs, _ = e.recvEvents(st3, 1)
	if ids := e.recordIDs(evs); !slices.Equal(ids, []string{sandbox.DemoSFJaneID}) {
		t.Errorf("EARLIEST after the purge got %q", ids)
	}
}

func TestPubSubRetention(t *testing.T) {
	e := newPSEnv(t, sandbox.PubSubOptions{Retention: time.Hour})
	e.psChanges(sandbox.DemoSFOmarID)
	evs, _ := e.recvEvents(e.subscribe(&eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_EARLIEST, NumRequested: 1}), 1)
	e.clock.Advance(59 * time.Minute)
	before := e.ps.Subscribers()
	e.subscribe(&eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_CUSTOM, ReplayId: evs[0].GetReplayId(), NumRequested: 1})
	e.waitSubscribers(before + 1) // accepted
	if n := e.ps.Events(); n != 1 {
		t.Fatalf("%d events within the retention period, want 1", n)
	}
	e.clock.Advance(2 * time.Minute)
	e.token = e.fetchToken()
	if n := e.ps.Events(); n != 0 {
		t.Errorf("%d events past the retention period, want 0", n)
	}
	trailer, err := e.subscribeErr(e.ctx(), &eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_CUSTOM, ReplayId: evs[0].GetReplayId(), NumRequested: 1})
	psCode(t, err, trailer, codes.InvalidArgument, "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted")
}

func TestPubSubFetchValidation(t *testing.T) {
	e := newPSEnv(t, sandbox.PubSubOptions{})
	for _, tc := range []struct {
		name      string
		req       *eventbus.FetchRequest
		later     []*eventbus.FetchRequest
		errorCode string
	}{
		{"none requested", &eventbus.FetchRequest{NumRequested: 0}, nil, "sfdc.platform.eventbus.grpc.subscription.fetch.requested.events.invalid"},
		{"negative", &eventbus.FetchRequest{NumRequested: -1}, nil, "sfdc.platform.eventbus.grpc.subscription.fetch.requested.events.invalid"},
		{"over 100", &eventbus.FetchRequest{NumRequested: 101}, nil, "sfdc.platform.eventbus.grpc.subscription.fetch.requested.events.invalid"},
		{"later over 100", &eventbus.FetchRequest{NumRequested: 100}, []*eventbus.FetchRequest{{NumRequested: 101}}, "sfdc.platform.eventbus.grpc.subscription.fetch.requested.events.invalid"},
		{"CUSTOM without replay id", &eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_CUSTOM, NumRequested: 1}, nil, "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.validation.failed"},
		{"unknown preset", &eventbus.FetchRequest{ReplayPreset: 7, NumRequested: 1}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trailer, err := e.subscribeErr(e.ctx(), tc.req, tc.later...)
			psCode(t, err, trailer, codes.InvalidArgument, tc.errorCode)
		})
	}
	// 100 is allowed.
	st := e.subscribe(&eventbus.FetchRequest{NumRequested: 100})
	e.waitSubscribers(1)
	e.psChanges(sandbox.DemoSFOmarID)
	if evs, last := e.recvEvents(st, 1); last.GetPendingNumRequested() != 99 || len(evs) != 1 {
		t.Errorf("pending %d after 1 of 100", last.GetPendingNumRequested())
	}
}

func TestPubSubMergedGapOverflow(t *testing.T) {
	e := newPSEnv(t, sandbox.PubSubOptions{})
	st := e.subscribe(&eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_EARLIEST, NumRequested: 10})

	// Merged: the same change to Tom and Ana (Jane is already active, so
	// the change leaves her out).
	e.clock.Advance(time.Minute)
	if err := e.ps.PublishMerged(func(u *sandbox.SFUser) { u.IsActive = true }, sandbox.DemoSFJaneID); err != nil {
		t.Fatal(err)
	}
	if n := e.ps.Events(); n != 0 {
		t.Fatalf("%d events for a change that changed nothing", n)
	}
	if err := e.ps.PublishMerged(func(u *sandbox.SFUser) { u.IsActive = false }, sandbox.DemoSFTomID, sandbox.DemoSFAnaID); err != nil {
		t.Fatal(err)
	}
	if n := e.ps.Events(); n != 1 {
		t.Fatalf("%d events for a merged change, want 1", n)
	}
	evs, _ := e.recvEvents(st, 1)
	res := e.decode(evs[0], "vccsync")
	tom, _ := e.sf.User(sandbox.DemoSFTomID)
	ana, _ := e.sf.User(sandbox.DemoSFAnaID)
	if !tom.LastModifiedDate.Equal(ana.LastModifiedDate) {
		t.Errorf("LastModifiedDate %v and %v: one transaction", tom.LastModifiedDate, ana.LastModifiedDate)
	}
	if h := res.Header; h.ChangeType != "UPDATE" || !slices.Equal(h.RecordIDs, []string{tom.ID, ana.ID}) {
		t.Errorf("merged header %+v", h)
	}
	got := e.users(res)
	var wantUsers []events.User
	for _, u := range []sandbox.SFUser{tom, ana} {
		wantUsers = append(wantUsers, events.User{ID: u.ID, IsActive: events.Val(false), LastModifiedDate: psAt(u.LastModifiedDate),
			ChangedFields: []string{"IsActive", "LastModifiedDate"}})
	}
	if diff := cmp.Diff(wantUsers, got); diff != "" {
		t.Errorf("merged event decodes to (-want +got)\n%s", diff)
	}
	if res.Events[0].ID == res.Events[1].ID {
		t.Errorf("both users' events have the id %s", res.Events[0].ID)
	}

	// Gap: header only; the decoder asks for the users' current state.
	if err := e.ps.PublishGap("GAP_UPDATE", sandbox.DemoSFJaneID, sandbox.DemoSFOmarID[:15]); err != nil {
		t.Fatal(err)
	}
	evs, _ = e.recvEvents(st, 1)
	res = e.decode(evs[0], "vccsync")
	if res.Header.ChangeType != "GAP_UPDATE" || !slices.Equal(res.GapIDs, []string{sandbox.DemoSFJaneID, sandbox.DemoSFOmarID}) || len(res.Events) != 0 {
		t.Errorf("gap decodes to %+v", res)
	}
	for _, bad := range []struct {
		change string
		ids    []string
	}{{"UPDATE", []string{sandbox.DemoSFJaneID}}, {"GAP_OVERFLOW", []string{sandbox.DemoSFJaneID}}, {"GAP_UPDATE", nil}, {"GAP_UPDATE", []string{"0055e000009ZZZZAAA"}}} {
		if err := e.ps.PublishGap(bad.change, bad.ids...); err == nil {
			t.Errorf("PublishGap(%q, %q) accepted", bad.change, bad.ids)
		}
	}

	// Overflow: resynchronise everyone.
	e.ps.PublishOverflow()
	evs, _ = e.recvEvents(st, 1)
	res = e.decode(evs[0], "vccsync")
	if !res.Overflow || res.Header.ChangeType != "GAP_OVERFLOW" || !slices.Equal(res.Header.RecordIDs, []string{"000000000000000AAA"}) {
		t.Errorf("overflow decodes to %+v", res)
	}
}

func TestPubSubKeepAlive(t *testing.T) {
	e := newPSEnv(t, sandbox.PubSubOptions{KeepAlive: 100 * time.Millisecond})
	st := e.subscribe(&eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_LATEST, NumRequested: 3})
	start := time.Now()
	resp := e.recv(st)
	if len(resp.GetEvents()) != 0 || len(resp.GetLatestReplayId()) == 0 || resp.GetPendingNumRequested() != 3 || resp.GetRpcId() == "" {
		t.Fatalf("keepalive: %d events, latest %x, pending %d, rpc %q", len(resp.GetEvents()), resp.GetLatestReplayId(), resp.GetPendingNumRequested(), resp.GetRpcId())
	}
	if waited := time.Since(start); waited < 80*time.Millisecond {
		t.Errorf("keepalive after %v, want about 100ms", waited)
	}
	if resp := e.recv(st); len(resp.GetEvents()) != 0 {
		t.Errorf("second keepalive has %d events", len(resp.GetEvents()))
	}

	// With no event yet, the keepalive's replay ID stands for "nothing
	// yet": CUSTOM from it is accepted until ExpireReplayIDs, and an open
	// subscription goes on past the purge.
	before := e.ps.Subscribers()
	st2 := e.subscribe(&eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_CUSTOM, ReplayId: resp.GetLatestReplayId(), NumRequested: 1})
	e.waitSubscribers(before + 1)
	e.ps.ExpireReplayIDs()
	trailer, err := e.subscribeErr(e.ctx(), &eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_CUSTOM, ReplayId: resp.GetLatestReplayId(), NumRequested: 1})
	psCode(t, err, trailer, codes.InvalidArgument, "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted")
	e.psChanges(sandbox.DemoSFOmarID)
	if evs, _ := e.recvEvents(st2, 1); !slices.Equal(e.recordIDs(evs), []string{sandbox.DemoSFOmarID}) {
		t.Errorf("the subscription from before the purge got %q", e.recordIDs(evs))
	}
}

func TestPubSubDefaultKeepAliveIsSalesforces(t *testing.T) {
	e := newPSEnv(t, sandbox.PubSubOptions{})
	ctx, cancel := context.WithTimeout(e.ctx(), 300*time.Millisecond)
	defer cancel()
	st, err := e.client.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&eventbus.FetchRequest{TopicName: "/data/UserChangeEvent", NumRequested: 1}); err != nil {
		t.Fatal(err)
	}
	if resp, err := st.Recv(); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("with the 270 s default, got %v, %v within 300ms", resp, err)
	}
}

func TestPubSubFailStreams(t *testing.T) {
	e := newPSEnv(t, sandbox.PubSubOptions{KeepAlive: time.Minute})
	e.psChanges(sandbox.DemoSFOmarID, sandbox.DemoSFTomID, sandbox.DemoSFAnaID)
	e.ps.FailStreamsAfter(1)

	// A subscriber that resubscribes from its last replay ID gets every
	// event once, in order, one stream per event.
	var got []*eventbus.ConsumerEvent
	req := &eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_EARLIEST, NumRequested: 10}
	for range 3 {
		st := e.subscribe(req)
		evs, _ := e.recvEvents(st, 1)
		got = append(got, evs...)
		_, err := st.Recv()
		psCode(t, err, st.Trailer(), codes.Unavailable, "sfdc.platform.eventbus.grpc.service.unavailable")
		req = &eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_CUSTOM, ReplayId: evs[0].GetReplayId(), NumRequested: 10}
	}
	if ids := e.recordIDs(got); !slices.Equal(ids, []string{sandbox.DemoSFOmarID, sandbox.DemoSFTomID, sandbox.DemoSFAnaID}) {
		t.Errorf("events for %q", ids)
	}
	e.waitSubscribers(0)

	e.ps.FailStreamsAfter(0)
	trailer, err := e.subscribeErr(e.ctx(), &eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_EARLIEST, NumRequested: 1})
	psCode(t, err, trailer, codes.Unavailable, "sfdc.platform.eventbus.grpc.service.unavailable")

	e.ps.FailStreamsAfter(-1)
	evs, _ := e.recvEvents(e.subscribe(&eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_EARLIEST, NumRequested: 3}), 3)
	if len(evs) != 3 {
		t.Errorf("%d events with the fault removed", len(evs))
	}
}

func TestPubSubRESTOriginOnlyThroughItsHandler(t *testing.T) {
	e := newPSEnv(t, sandbox.PubSubOptions{})
	// The same org served directly: its REST changes are not attributed.
	url, stop, err := e.sf.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stop() }()
	direct := *e
	direct.sfURL = url
	direct.rest(http.MethodPatch, psUserPath(sandbox.DemoSFOmarID), `{"Alias":"ohaddad2"}`, "vccsync")
	e.rest(http.MethodPatch, psUserPath(sandbox.DemoSFTomID), `{"Alias":"tbecker2"}`, "vccsync")
	evs, _ := e.recvEvents(e.subscribe(&eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_EARLIEST, NumRequested: 2}), 2)
	origins := []string{e.decode(evs[0], "").Header.ChangeOrigin, e.decode(evs[1], "").Header.ChangeOrigin}
	if !slices.Equal(origins, []string{"", "com/salesforce/api/rest/61.0;client=vccsync"}) {
		t.Errorf("changeOrigin %q", origins)
	}
}

func TestPubSubCallClient(t *testing.T) {
	e := newPSEnv(t, sandbox.PubSubOptions{})
	req, err := http.NewRequest(http.MethodPatch, e.sfURL+psUserPath(sandbox.DemoSFOmarID), strings.NewReader(`{"Alias":"ohaddad2"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Sforce-Call-Options", "defaultNamespace=vcc, client=DataLoader/61")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	evs, _ := e.recvEvents(e.subscribe(&eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_EARLIEST, NumRequested: 1}), 1)
	if o := e.decode(evs[0], "").Header.ChangeOrigin; o != "com/salesforce/api/rest/61.0;client=DataLoader/61" {
		t.Errorf("changeOrigin %q", o)
	}
}

func TestPubSubConcurrentChanges(t *testing.T) {
	e := newPSEnv(t, sandbox.PubSubOptions{})
	ids := []string{sandbox.DemoSFOmarID, sandbox.DemoSFTomID, sandbox.DemoSFAnaID, sandbox.DemoSFPriyaID}
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			for j := range 5 {
				if err := e.restErr(http.MethodPatch, psUserPath(id), fmt.Sprintf(`{"Alias":"a%d%d"}`, i, j), "vccsync"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	evs, _ := e.recvEvents(e.subscribe(&eventbus.FetchRequest{ReplayPreset: eventbus.ReplayPreset_EARLIEST, NumRequested: 20}), 20)
	count := map[string]int{}
	keys := map[string]bool{}
	for _, ev := range evs {
		h := e.decode(ev, "").Header
		if h.ChangeOrigin != "com/salesforce/api/rest/61.0;client=vccsync" {
			t.Errorf("changeOrigin %q", h.ChangeOrigin)
		}
		count[h.RecordIDs[0]]++
		keys[h.TransactionKey] = true
	}
	for _, id := range ids {
		if count[id] != 5 {
			t.Errorf("%d events for %s, want 5", count[id], id)
		}
	}
	if len(keys) != 20 {
		t.Errorf("%d transaction keys for 20 requests", len(keys))
	}
}
