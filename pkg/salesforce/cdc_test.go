package salesforce

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vccsync/vccsync/pkg/events"
)

const (
	cdcOlga  = "0055f00000GBZR4AAP"
	cdcRavi  = "0055f00000GBZR5AAP"
	cdcMei   = "0055f00000GBZR6AAP"
	cdcTom   = "0055f00000GBZR7AAP"
	cdcNoor  = "0055f00000GBZR8AAP"
	cdcOrgID = "00D5e000000KQ2eEAG"
)

func cdcFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cdcTestSchema(t *testing.T) *CDCSchema {
	t.Helper()
	s, err := ParseCDCSchema(cdcFixture(t, "cdc_pubsub_schema.avsc"))
	if err != nil {
		t.Fatalf("ParseCDCSchema: %v", err)
	}
	return s
}

func cdcMs(ms int64) events.Field[events.Time] {
	return events.Val(events.Time{Time: time.UnixMilli(ms).UTC()})
}

func cdcAt(s string) events.Field[events.Time] {
	tm, err := events.ParseTime(s)
	if err != nil {
		panic(err)
	}
	return events.Val(tm)
}

// cdcWantEvent is an expected event: its id, time and data.
type cdcWantEvent struct {
	id   string
	at   int64 // commitTimestamp
	user events.User
}

func TestCDCDecodeFixtures(t *testing.T) {
	schema := cdcTestSchema(t)
	for _, tc := range []struct {
		fixture  string
		events   []cdcWantEvent
		gap      []string
		overflow bool
		ignored  string
		change   string
	}{
		{
			fixture: "cdc_create.json", change: ChangeCreate,
			events: []cdcWantEvent{{
				id: "cdc-" + cdcOlga + "-00068e80-1b23-ad90-c49d-ca6a5759661b-1", at: 1714155903000,
				user: events.User{
					ID: cdcOlga, Username: events.Val("olga.brown@example.com"), FirstName: events.Val("Olga"), LastName: events.Val("Brown"),
					Email: events.Val("olga.brown@example.com"), Alias: events.Val("obrown"), IsActive: events.Val(true),
					ProfileID: events.Val("00e5f000002mIQ6AAM"), FederationIdentifier: events.Val("obrown"),
					LastModifiedDate: cdcAt("2024-04-26T18:25:03.000Z"),
					// CallCenterId and the agent ID are not in the message (the
					// Streaming API leaves out empty fields): absent, not cleared.
				},
			}},
		},
		{
			fixture: "cdc_update.json", change: ChangeUpdate,
			events: []cdcWantEvent{{
				id: "cdc-" + cdcOlga + "-0002c5a1-7e0f-4b2e-9d41-3f6f0a8c1d27-3", at: 1714242303000,
				user: events.User{
					ID:                   cdcOlga,
					Alias:                events.Val("obrown2"),             // changed
					LastName:             events.Val("Brown-Smith"),         // changed, nested in Name
					FederationIdentifier: events.Null[string](),             // changed and nulled: cleared
					AgentID:              events.Val("1042"),                // changed
					LastModifiedDate:     cdcAt("2024-04-27T18:25:02.000Z"), // changed
					// CallCenterId: changed and null but not in nulledFields: absent.
					// Email: a value, but not in changedFields (enrichment): absent.
					// FirstName: not changed: absent.
					ChangedFields: []string{"Alias", "LastName", "FederationIdentifier", "CallCenterId", events.AgentIDField, "LastModifiedDate"},
				},
			}},
		},
		{
			fixture: "cdc_update_cometd.json", change: ChangeUpdate,
			events: []cdcWantEvent{{
				id: "cdc-" + cdcOlga + "-0003a9f2-11c4-4c8e-8f0e-6b2d9e7c5a10-1", at: 1714328703000,
				user: events.User{
					ID: cdcOlga,
					// No nulledFields in the header (the Streaming API does not
					// send it): a changed field sent as null was set to null.
					FederationIdentifier: events.Null[string](),
					Email:                events.Val("olga.brown-smith@example.com"),
					LastModifiedDate:     cdcAt("2024-04-28T18:25:03.000Z"),
					ChangedFields:        []string{"FederationIdentifier", "Email", "LastModifiedDate"},
				},
			}},
		},
		{
			fixture: "cdc_merged.json", change: ChangeUpdate,
			events: []cdcWantEvent{
				{id: "cdc-" + cdcRavi + "-00041b7c-5d2e-4f60-a1b3-c9e8d7f6a5b4-1", at: 1714415103000, user: events.User{
					ID: cdcRavi, IsActive: events.Val(false), LastModifiedDate: cdcAt("2024-04-29T18:25:03.000Z"), ChangedFields: []string{"IsActive", "LastModifiedDate"}}},
				{id: "cdc-" + cdcMei + "-00041b7c-5d2e-4f60-a1b3-c9e8d7f6a5b4-1", at: 1714415103000, user: events.User{
					ID: cdcMei, IsActive: events.Val(false), LastModifiedDate: cdcAt("2024-04-29T18:25:03.000Z"), ChangedFields: []string{"IsActive", "LastModifiedDate"}}},
				// recordIds gives Tom's 15-character ID: the event uses the 18-character one.
				{id: "cdc-" + cdcTom + "-00041b7c-5d2e-4f60-a1b3-c9e8d7f6a5b4-1", at: 1714415103000, user: events.User{
					ID: cdcTom, IsActive: events.Val(false), LastModifiedDate: cdcAt("2024-04-29T18:25:03.000Z"), ChangedFields: []string{"IsActive", "LastModifiedDate"}}},
			},
		},
		{fixture: "cdc_gap.json", change: ChangeGapUpdate, gap: []string{cdcOlga, cdcNoor}},
		{fixture: "cdc_overflow.json", change: ChangeGapOverflow, overflow: true},
		{fixture: "cdc_own_change.json", change: ChangeUpdate, ignored: CDCIgnoredOwnChange},
		{fixture: "cdc_delete.json", change: ChangeDelete, ignored: CDCIgnoredDelete},
		{
			fixture: "cdc_pubsub_create.json", change: ChangeCreate,
			events: []cdcWantEvent{{
				id: "cdc-" + cdcMei + "-000a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b-1", at: 1714846503000,
				user: events.User{
					ID: cdcMei, Username: events.Val("mei.chen@example.com"), FirstName: events.Val("Mei"), LastName: events.Val("Chen"),
					Alias: events.Val("mchen"), Email: events.Val("mei.chen@example.com"), IsActive: events.Val(true),
					ProfileID: events.Val("00e5f000002mIQ6AAM"), CallCenterID: events.Val("04v5f000000Cc01AAC"),
					FederationIdentifier: events.Null[string](), // in a CREATE, every field is sent: null is empty
					AgentID:              events.Val("2001"), LastModifiedDate: cdcMs(1714846503000),
				},
			}},
		},
		{
			fixture: "cdc_pubsub_update.json", change: ChangeUpdate,
			events: []cdcWantEvent{{
				id: "cdc-" + cdcMei + "-000b2c3d-4e5f-4061-9b7c-8d9e0f1a2b3c-2", at: 1714932903000,
				user: events.User{
					ID:                   cdcMei,
					FirstName:            events.Null[string](),   // 4-0x2 in nulledFields: Name.FirstName cleared
					LastName:             events.Val("Chen-Wong"), // 4-0x6 in changedFields
					Alias:                events.Val("mchenw"),
					FederationIdentifier: events.Null[string](), // 0x1000 in nulledFields
					AgentID:              events.Val("2002"),    // bit 33: past the first 32 bits
					LastModifiedDate:     cdcMs(1714932903000),
					// CallCenterId: bit 11 changed, null, not nulled: absent.
					// Email, IsActive, Username…: null and unchanged: absent.
					ChangedFields: []string{"Alias", "CallCenterId", "FederationIdentifier", "LastModifiedDate", events.AgentIDField, "FirstName", "LastName"},
				},
			}},
		},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			d := &CDCDecoder{OrgID: cdcOrgID, OwnClient: "vccsync", Schema: schema}
			res, err := d.Decode(cdcFixture(t, tc.fixture))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if res.Header.ChangeType != tc.change {
				t.Errorf("change type %q, want %q", res.Header.ChangeType, tc.change)
			}
			if !slices.Equal(res.GapIDs, tc.gap) || res.Overflow != tc.overflow || res.Ignored != tc.ignored {
				t.Errorf("gap %q overflow %v ignored %q; want %q %v %q", res.GapIDs, res.Overflow, res.Ignored, tc.gap, tc.overflow, tc.ignored)
			}
			if len(res.Events) != len(tc.events) {
				t.Fatalf("%d events, want %d", len(res.Events), len(tc.events))
			}
			for i, want := range tc.events {
				cdcCheckEvent(t, res.Events[i], want)
			}
		})
	}
}

// cdcCheckEvent checks an envelope as syncworker will decode it: the id,
// subject, source, time and every field's state (value, cleared, absent).
func cdcCheckEvent(t *testing.T, env events.Envelope, want cdcWantEvent) {
	t.Helper()
	body, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	subject, err := env.NATSSubject()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.Decode(subject, body)
	if err != nil {
		t.Fatalf("event %s does not decode: %v\n%s", env.ID, err, body)
	}
	if ev.ID != want.id {
		t.Errorf("id %q, want %q", ev.ID, want.id)
	}
	if ev.Source != "salesforce/cdc/"+cdcOrgID || ev.Type != events.TypeUserChanged || ev.Subject != want.user.ID {
		t.Errorf("source %q type %q subject %q", ev.Source, ev.Type, ev.Subject)
	}
	if ev.Time == nil || !ev.Time.Equal(time.UnixMilli(want.at)) {
		t.Errorf("time %v, want commitTimestamp %v", ev.Time, time.UnixMilli(want.at).UTC())
	}
	if diff := cmp.Diff(want.user, *ev.User); diff != "" {
		t.Errorf("user %s (-want +got):\n%s", want.user.ID, diff)
	}
}

func TestCDCEventIDsStable(t *testing.T) {
	d := &CDCDecoder{OrgID: cdcOrgID, OwnClient: "vccsync", Schema: cdcTestSchema(t)}
	for _, f := range []string{"cdc_create.json", "cdc_update.json", "cdc_merged.json", "cdc_pubsub_update.json"} {
		msg := cdcFixture(t, f)
		first, err := d.Decode(msg)
		if err != nil {
			t.Fatal(err)
		}
		// A replay: the same change, delivered again with a new replay id.
		replayed := strings.Replace(string(msg), `"replayId": `, `"replayId": 9`, 1)
		again, err := d.Decode([]byte(replayed))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first.Events, again.Events); diff != "" {
			t.Errorf("%s: decoding the same change again gave other events (-first +again):\n%s", f, diff)
		}
	}
	if got, want := CDCEventID(cdcOlga, "00068e80-1b23-ad90-c49d-ca6a5759661b", 12), "cdc-"+cdcOlga+"-00068e80-1b23-ad90-c49d-ca6a5759661b-12"; got != want {
		t.Errorf("CDCEventID = %q, want %q", got, want)
	}
}

func TestCDCMergedSameData(t *testing.T) {
	d := &CDCDecoder{OrgID: cdcOrgID}
	res, err := d.Decode(cdcFixture(t, "cdc_merged.json"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, env := range res.Events {
		if seen[env.ID] {
			t.Errorf("id %s twice", env.ID)
		}
		seen[env.ID] = true
		data := strings.Replace(string(env.Data), env.Subject, "ID", 1)
		first := strings.Replace(string(res.Events[0].Data), res.Events[0].Subject, "ID", 1)
		if data != first {
			t.Errorf("%s: data %s, want the same as %s", env.Subject, data, first)
		}
	}
	// The same ID twice in recordIds is one user.
	msg := strings.Replace(string(cdcFixture(t, "cdc_merged.json")), `"0055f00000GBZR7"]`, `"0055f00000GBZR7", "0055f00000GBZR5AAP"]`, 1)
	res, err = d.Decode([]byte(msg))
	if err != nil || len(res.Events) != 3 {
		t.Errorf("recordIds with a repeated user: %d events, %v; want 3", len(res.Events), err)
	}
}

func TestCDCOwnChange(t *testing.T) {
	msg := string(cdcFixture(t, "cdc_own_change.json"))
	for _, tc := range []struct {
		own, origin string
		ignored     bool
	}{
		{"vccsync", "com/salesforce/api/rest/61.0;client=vccsync", true},
		{"vccsync", "com/salesforce/api/soap/61.0;client=vccsync/", true},
		{"vccsync", "com/salesforce/api/rest/61.0;client=vccsync-staging", false},
		{"vccsync", "com/salesforce/api/rest/61.0;client=SfdcInternalAPI/", false},
		{"vccsync", "com/salesforce/api/rest/61.0", false},
		{"vccsync", "", false},
		{"", "com/salesforce/api/rest/61.0;client=vccsync", false},
		{"DataLoader", "com/salesforce/api/bulkapi/61.0;client=DataLoader", true},
	} {
		m := strings.Replace(msg, "com/salesforce/api/rest/61.0;client=vccsync", tc.origin, 1)
		d := &CDCDecoder{OrgID: cdcOrgID, OwnClient: tc.own}
		res, err := d.Decode([]byte(m))
		if err != nil {
			t.Fatalf("%q: %v", tc.origin, err)
		}
		if got := res.Ignored == CDCIgnoredOwnChange; got != tc.ignored || got == (len(res.Events) == 1) {
			t.Errorf("own %q origin %q: ignored %q, %d events; want ignored %v", tc.own, tc.origin, res.Ignored, len(res.Events), tc.ignored)
		}
	}
}

func TestCDCForms(t *testing.T) {
	schema := cdcTestSchema(t)
	streaming := cdcFixture(t, "cdc_update.json")
	var wrapped struct {
		Data struct {
			Payload json.RawMessage `json:"payload"`
			Event   json.RawMessage `json:"event"`
		} `json:"data"`
	}
	if err := json.Unmarshal(streaming, &wrapped); err != nil {
		t.Fatal(err)
	}
	dataOnly := `{"schema":"IeRuaY6cbI_HsV8Rv1Mc5g","payload":` + string(wrapped.Data.Payload) + `,"event":{"replayId":18519}}`
	pubsub := cdcFixture(t, "cdc_pubsub_update.json")
	pubsubWrapped := `{"replayId":"AAAAAAAASAw=","schemaId":"IeRuaY6cbI_HsV8Rv1Mc5g","payload":` + string(pubsub) + `}`

	for _, tc := range []struct {
		name   string
		format CDCFormat
		msg    string
		err    string // empty: decodes to one event
	}{
		{"streaming detected", CDCDetect, string(streaming), ""},
		{"streaming forced", CDCStreaming, string(streaming), ""},
		{"streaming data object", CDCDetect, dataOnly, ""},
		{"pubsub detected", CDCDetect, string(pubsub), ""},
		{"pubsub forced", CDCPubSub, string(pubsub), ""},
		{"pubsub wrapped", CDCPubSub, pubsubWrapped, ""},
		{"streaming as pubsub", CDCPubSub, string(streaming), "message: a Streaming API message, but the format is pubsub"},
		{"pubsub as streaming", CDCStreaming, string(pubsub), "message: a Pub/Sub payload, but the format is streaming"},
		{"not JSON", CDCDetect, `{"data":`, "message: not valid JSON at byte"},
		{"array", CDCDetect, `[1,2]`, "message: not a JSON object"},
		{"empty", CDCDetect, "  ", "message: empty"},
		{"no event", CDCDetect, `{"hello":"world"}`, "message: no change event in it"},
		{"no payload", CDCDetect, `{"channel":"/data/UserChangeEvent","data":{"event":{"replayId":1}}}`, "data.payload: missing"},
		{"no header", CDCDetect, `{"data":{"payload":{"Alias":"x"}}}`, "payload.ChangeEventHeader: missing"},
		{"other channel", CDCDetect, strings.Replace(string(streaming), `"/data/UserChangeEvent"`, `"/topic/Users"`, 1), `channel: "/topic/Users" is not a change event channel`},
		{"other entity", CDCDetect, strings.Replace(string(streaming), `"entityName": "User"`, `"entityName": "Account"`, 1), `ChangeEventHeader.entityName: "Account", want "User"`},
		{"unknown change", CDCDetect, strings.Replace(string(streaming), `"UPDATE"`, `"SNAPSHOT"`, 1), `ChangeEventHeader.changeType: "SNAPSHOT" is not a change type`},
		{"not a user", CDCDetect, strings.Replace(string(streaming), cdcOlga, "0015f00002JUXA8AAP", 1), `ChangeEventHeader.recordIds: not a Salesforce user ID`},
		{"no transaction key", CDCDetect, strings.Replace(string(streaming), `"transactionKey": "0002c5a1-7e0f-4b2e-9d41-3f6f0a8c1d27",`, ``, 1), "ChangeEventHeader.transactionKey: missing"},
		{"no commit time", CDCDetect, strings.Replace(string(streaming), `"commitTimestamp": 1714242303000,`, ``, 1), "ChangeEventHeader.commitTimestamp: missing"},
		{"bad header type", CDCDetect, strings.Replace(string(streaming), `"sequenceNumber": 3`, `"sequenceNumber": "three"`, 1), `ChangeEventHeader.sequenceNumber: got "three", want an integer`},
		{"bad field type", CDCDetect, strings.Replace(string(streaming), `"Alias": "obrown2"`, `"Alias": 7`, 1), "Alias: got 7, want a string"},
		{"too long alias", CDCDetect, strings.Replace(string(streaming), `"Alias": "obrown2"`, `"Alias": "olgabrown2"`, 1), "data.Alias: 10 characters, Salesforce allows at most 8"},
		{"nulled with a value", CDCDetect, strings.Replace(string(streaming), `"FederationIdentifier": null`, `"FederationIdentifier": "ob"`, 1), "FederationIdentifier: in nulledFields but the payload gives it a value"},
		{"bitmap in streaming", CDCStreaming, strings.Replace(string(streaming), `"nulledFields": ["FederationIdentifier"]`, `"nulledFields": ["0x1000"]`, 1), `"0x1000" is a Pub/Sub bitmap, but the format is streaming`},
		{"bad bitmap", CDCDetect, strings.Replace(string(pubsub), `"0x1000"`, `"0x10g0"`, 1), `ChangeEventHeader.nulledFields: "0x10g0": 'g' is not a hexadecimal digit`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &CDCDecoder{OrgID: cdcOrgID, Format: tc.format, Schema: schema}
			res, err := d.Decode([]byte(tc.msg))
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Decode: %v", err)
			case tc.err == "" && len(res.Events) != 1:
				t.Fatalf("%d events, want 1", len(res.Events))
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}

	t.Run("bitmaps without a schema", func(t *testing.T) {
		d := &CDCDecoder{OrgID: cdcOrgID}
		_, err := d.Decode(pubsub)
		if want := `ChangeEventHeader.changedFields: "0x200009830" is a Pub/Sub bitmap: decoding it needs the event's Avro schema`; err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
	})

	t.Run("meta message", func(t *testing.T) {
		d := &CDCDecoder{OrgID: cdcOrgID}
		res, err := d.Decode([]byte(`{"channel":"/meta/connect","successful":true,"advice":{"reconnect":"retry"}}`))
		if err != nil || res.Ignored != "CometD meta message on /meta/connect" {
			t.Errorf("ignored %q, err %v", res.Ignored, err)
		}
	})

	t.Run("wildcard recordIds", func(t *testing.T) {
		d := &CDCDecoder{OrgID: cdcOrgID}
		res, err := d.Decode([]byte(strings.Replace(string(streaming), `["0055f00000GBZR4AAP"]`, `["005*"]`, 1)))
		if err != nil || !res.Overflow || len(res.Events) != 0 {
			t.Errorf("overflow %v, %d events, err %v; want an overflow", res.Overflow, len(res.Events), err)
		}
	})

	t.Run("avro json encoding", func(t *testing.T) {
		msg := `{"ChangeEventHeader":{"entityName":"User","recordIds":["` + cdcMei + `"],"changeType":"UPDATE","changeOrigin":"",
			"transactionKey":"k1","sequenceNumber":1,"commitTimestamp":1714932903000,"commitNumber":1,"commitUser":"0055f000005mc66AAA",
			"nulledFields":[],"diffFields":[],"changedFields":["0x8020","4-0x4"]},
			"Alias":{"string":"mc"},"Name":{"com.sforce.eventbus.Switchable_PersonName":{"Salutation":null,"FirstName":null,"LastName":{"string":"Chen"},"MiddleName":null,"InformalName":null,"Suffix":null}},
			"LastModifiedDate":{"long":1714932903000},"Email":null}`
		d := &CDCDecoder{OrgID: cdcOrgID, Schema: schema}
		res, err := d.Decode([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		cdcCheckEvent(t, res.Events[0], cdcWantEvent{id: "cdc-" + cdcMei + "-k1-1", at: 1714932903000, user: events.User{
			ID: cdcMei, Alias: events.Val("mc"), LastName: events.Val("Chen"), LastModifiedDate: cdcMs(1714932903000),
			ChangedFields: []string{"Alias", "LastModifiedDate", "LastName"}}})
	})

	t.Run("compound field named alone", func(t *testing.T) {
		// "Name" without a nested bitmap: every subfield of Name changed.
		msg := strings.Replace(string(streaming), `"Name.LastName"`, `"Name"`, 1)
		msg = strings.Replace(msg, `"Name": {"LastName": "Brown-Smith"}`, `"Name": {"FirstName": "Olja", "LastName": "Brown-Smith"}`, 1)
		d := &CDCDecoder{OrgID: cdcOrgID}
		res, err := d.Decode([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		var u events.User
		if err := json.Unmarshal(res.Events[0].Data, &u); err != nil {
			t.Fatal(err)
		}
		if u.FirstName != events.Val("Olja") || u.LastName != events.Val("Brown-Smith") {
			t.Errorf("FirstName %+v LastName %+v", u.FirstName, u.LastName)
		}
	})

	t.Run("no changedFields before API 47", func(t *testing.T) {
		msg := strings.Replace(string(cdcFixture(t, "cdc_update_cometd.json")), `"changedFields": ["FederationIdentifier", "Email", "LastModifiedDate"]`, `"commitUser2": ""`, 1)
		d := &CDCDecoder{OrgID: cdcOrgID}
		res, err := d.Decode([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		var u events.User
		if err := json.Unmarshal(res.Events[0].Data, &u); err != nil {
			t.Fatal(err)
		}
		if u.FederationIdentifier != events.Null[string]() || u.Email != events.Val("olga.brown-smith@example.com") || u.Alias.Set {
			t.Errorf("user %+v: want the fields in the body as the changed ones", u)
		}
	})

	t.Run("a field sent as a diff", func(t *testing.T) {
		msg := strings.Replace(string(cdcFixture(t, "cdc_update_cometd.json")), `"changedFields": ["FederationIdentifier", "Email", "LastModifiedDate"]`,
			`"changedFields": ["FederationIdentifier", "Email", "LastModifiedDate"], "diffFields": ["Email"]`, 1)
		d := &CDCDecoder{OrgID: cdcOrgID}
		res, err := d.Decode([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		var u events.User
		_ = json.Unmarshal(res.Events[0].Data, &u)
		if u.Email.Set || u.FederationIdentifier != events.Null[string]() {
			t.Errorf("Email %+v FederationIdentifier %+v; want Email unknown", u.Email, u.FederationIdentifier)
		}
	})

	t.Run("agent id as a number", func(t *testing.T) {
		msg := strings.Replace(string(streaming), `"NVMContactWorld__NVM_Agent_Id__c": "1042"`, `"NVMContactWorld__NVM_Agent_Id__c": 1042`, 1)
		d := &CDCDecoder{OrgID: cdcOrgID}
		res, err := d.Decode([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		var u events.User
		_ = json.Unmarshal(res.Events[0].Data, &u)
		if u.AgentID != events.Val("1042") {
			t.Errorf("agent ID %+v, want 1042", u.AgentID)
		}
	})

	t.Run("no LastModifiedDate: commitTimestamp", func(t *testing.T) {
		msg := strings.Replace(string(streaming), `"LastModifiedDate": "2024-04-27T18:25:02.000Z"`, `"Division": "EMEA"`, 1)
		d := &CDCDecoder{OrgID: cdcOrgID}
		res, err := d.Decode([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		var u events.User
		_ = json.Unmarshal(res.Events[0].Data, &u)
		if u.LastModifiedDate != cdcMs(1714242303000) {
			t.Errorf("LastModifiedDate %+v, want the commitTimestamp", u.LastModifiedDate)
		}
	})

	t.Run("undelete like create", func(t *testing.T) {
		msg := strings.Replace(string(cdcFixture(t, "cdc_create.json")), `"CREATE"`, `"UNDELETE"`, 1)
		d := &CDCDecoder{OrgID: cdcOrgID}
		res, err := d.Decode([]byte(msg))
		if err != nil || len(res.Events) != 1 {
			t.Fatalf("%d events, %v", len(res.Events), err)
		}
		var u events.User
		_ = json.Unmarshal(res.Events[0].Data, &u)
		if u.Username != events.Val("olga.brown@example.com") || u.IsActive != events.Val(true) || u.ChangedFields != nil {
			t.Errorf("user %+v", u)
		}
	})
}
