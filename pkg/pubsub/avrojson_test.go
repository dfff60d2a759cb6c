package pubsub

import (
	"encoding/json"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/salesforce"
)

const (
	meiID   = "0055f00000GBZR6AAP"
	testOrg = "00D5e000000KQ2eEAG"
)

func ms(n int64) events.Field[events.Time] {
	return events.Val(events.Time{Time: time.UnixMilli(n).UTC()})
}

// TestPayloadIsTheDecodedPubSubForm encodes the decoded Pub/Sub fixtures
// of pkg/salesforce as Salesforce sends them (Avro binary), decodes them
// as the subscriber does, and checks that salesforce.CDCDecoder reads the
// result as it reads the fixtures.
func TestPayloadIsTheDecodedPubSubForm(t *testing.T) {
	schemaJSON := cdcSchemaJSON(t)
	schema := parseSchema(t, schemaJSON)
	cdcSchema, err := salesforce.ParseCDCSchema([]byte(schemaJSON))
	if err != nil {
		t.Fatal(err)
	}
	dec := &salesforce.CDCDecoder{OrgID: testOrg, Format: salesforce.CDCPubSub, Schema: cdcSchema}

	for _, tc := range []struct {
		fixture string
		id      string
		user    events.User
	}{
		{
			fixture: "cdc_pubsub_create.json",
			id:      "cdc-" + meiID + "-000a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b-1",
			user: events.User{
				ID: meiID, Username: events.Val("mei.chen@example.com"), FirstName: events.Val("Mei"), LastName: events.Val("Chen"),
				Alias: events.Val("mchen"), Email: events.Val("mei.chen@example.com"), IsActive: events.Val(true),
				ProfileID: events.Val("00e5f000002mIQ6AAM"), CallCenterID: events.Val("04v5f000000Cc01AAC"),
				FederationIdentifier: events.Null[string](), AgentID: events.Val("2001"), LastModifiedDate: ms(1714846503000),
			},
		},
		{
			fixture: "cdc_pubsub_update.json",
			id:      "cdc-" + meiID + "-000b2c3d-4e5f-4061-9b7c-8d9e0f1a2b3c-2",
			user: events.User{
				ID: meiID, FirstName: events.Null[string](), LastName: events.Val("Chen-Wong"), Alias: events.Val("mchenw"),
				FederationIdentifier: events.Null[string](), AgentID: events.Val("2002"), LastModifiedDate: ms(1714932903000),
				ChangedFields: []string{"Alias", "CallCenterId", "FederationIdentifier", "LastModifiedDate", events.AgentIDField, "FirstName", "LastName"},
			},
		},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			fixture := readFixture(t, tc.fixture)
			v, err := decodePayload(schema, encodeAvro(t, schema, fixture))
			if err != nil {
				t.Fatalf("decodePayload: %v", err)
			}
			got, err := avroJSON(schema, v)
			if err != nil {
				t.Fatalf("avroJSON: %v", err)
			}
			if !json.Valid(got) {
				t.Fatalf("not JSON: %s", got)
			}
			if !strings.HasPrefix(string(got), `{"ChangeEventHeader":{"entityName":"User","recordIds":[`) {
				t.Errorf("fields not in schema order: %.80s…", got)
			}
			if diff := cmp.Diff(decodeJSON(t, fixture), decodeJSON(t, got)); diff != "" {
				t.Errorf("payload differs from the fixture (-fixture +payload):\n%s", diff)
			}

			res, err := dec.Decode(got)
			if err != nil {
				t.Fatalf("CDCDecoder: %v", err)
			}
			if len(res.Events) != 1 {
				t.Fatalf("%d events, want 1", len(res.Events))
			}
			if res.Events[0].ID != tc.id {
				t.Errorf("event id %q, want %q", res.Events[0].ID, tc.id)
			}
			var u events.User
			if err := json.Unmarshal(res.Events[0].Data, &u); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.user, u); diff != "" {
				t.Errorf("user (-want +got):\n%s", diff)
			}
			want, err := dec.Decode(fixture)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.Events, res.Events); diff != "" {
				t.Errorf("events differ from the fixture's (-fixture +payload):\n%s", diff)
			}
		})
	}
}

func TestAvroJSONTypes(t *testing.T) {
	schema := parseSchema(t, `{"type":"record","name":"T","namespace":"n","fields":[
		{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},
		{"name":"ue","type":["null","E"]},
		{"name":"m","type":{"type":"map","values":"long"}},
		{"name":"a","type":{"type":"array","items":["null","string"]}},
		{"name":"u","type":["null","string","long",{"type":"record","name":"R","fields":[{"name":"x","type":"int"}]}]},
		{"name":"u2","type":["null","string","long","R"]},
		{"name":"u3","type":["null","long"]},
		{"name":"b","type":"bytes"},
		{"name":"fx","type":{"type":"fixed","name":"F","size":2}},
		{"name":"f","type":"float"},
		{"name":"d","type":"double"},
		{"name":"dn","type":"double"},
		{"name":"di","type":"double"},
		{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"dt","type":{"type":"int","logicalType":"date"}},
		{"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":6,"scale":2}},
		{"name":"ul","type":["null",{"type":"long","logicalType":"timestamp-millis"}]},
		{"name":"big","type":"long"},
		{"name":"s","type":"string"}]}`)
	in := map[string]any{
		"e":   "B",
		"ue":  map[string]any{"n.E": "A"},
		"m":   map[string]any{"z": int64(2), "a": int64(1)},
		"a":   []any{"x", nil},
		"u":   map[string]any{"n.R": map[string]any{"x": 7}},
		"u2":  map[string]any{"string": "str"},
		"u3":  int64(-3),
		"b":   []byte{0, 0xff, 'a'},
		"fx":  [2]byte{1, 2},
		"f":   float32(1.5),
		"d":   0.1,
		"dn":  math.NaN(),
		"di":  math.Inf(-1),
		"ts":  time.UnixMilli(1714846503123).UTC(),
		"dt":  time.Date(2024, 5, 4, 0, 0, 0, 0, time.UTC),
		"dec": big.NewRat(12345, 100),
		"ul":  time.UnixMilli(5).UTC(),
		"big": int64(math.MaxInt64),
		"s":   "a\"<é",
	}
	payload, err := avro.Marshal(schema, in)
	if err != nil {
		t.Fatal(err)
	}
	v, err := decodePayload(schema, payload)
	if err != nil {
		t.Fatal(err)
	}
	got, err := avroJSON(schema, v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"e":"B","ue":"A","m":{"a":1,"z":2},"a":["x",null],"u":{"x":7},"u2":"str","u3":-3,` +
		`"b":"\u0000ÿa","fx":"\u0001\u0002","f":1.5,"d":0.1,"dn":"NaN","di":"-Infinity",` +
		`"ts":1714846503123,"dt":19847,"dec":123.45,"ul":5,"big":9223372036854775807,"s":"a\"\u003cé"}`
	if string(got) != want {
		t.Errorf("JSON\n got %s\nwant %s", got, want)
	}
	if !json.Valid(got) {
		t.Error("not valid JSON")
	}
}

func TestAvroJSONRefusesAValueOfAnotherType(t *testing.T) {
	schema := parseSchema(t, `{"type":"record","name":"T","fields":[
		{"name":"h","type":{"type":"record","name":"H","fields":[{"name":"n","type":"long"}]}}]}`)
	_, err := avroJSON(schema, map[string]any{"h": map[string]any{"n": "seven"}})
	if err == nil || !strings.Contains(err.Error(), "h.n: decoded as string, want long") {
		t.Errorf("error %v, want one naming h.n", err)
	}
	_, err = avroJSON(schema, "x")
	if err == nil || !strings.Contains(err.Error(), "payload: decoded as string, want record T") {
		t.Errorf("error %v, want one naming the payload", err)
	}
}

func TestCommitTimestamp(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		ts   int64
		isTS bool
	}{
		{`{"ChangeEventHeader":{"commitTimestamp":1714846503000}}`, 1714846503000, true},
		{`{"ChangeEventHeader":{"commitTimestamp":0}}`, 0, false},
		{`{"ChangeEventHeader":{}}`, 0, false},
		{`{"CreatedDate":1714846503000}`, 0, false},
		{`{"ChangeEventHeader":{"commitTimestamp":"soon"}}`, 0, false},
	} {
		ts, ok := commitTimestamp([]byte(tc.doc))
		if ts != tc.ts || ok != tc.isTS {
			t.Errorf("%s: %d %v, want %d %v", tc.doc, ts, ok, tc.ts, tc.isTS)
		}
	}
}
