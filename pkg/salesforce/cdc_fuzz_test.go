package salesforce

import (
	"bytes"
	"encoding/json"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vccsync/vccsync/pkg/events"
)

// cdcFuzzSeeds adds every testdata fixture matching pattern to the corpus.
func cdcFuzzSeeds(f *testing.F, pattern string, keep func(path string) bool) {
	f.Helper()
	fixtures, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil {
		f.Fatal(err)
	}
	n := 0
	for _, p := range fixtures {
		if !keep(p) {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		n++
	}
	if n == 0 {
		f.Fatalf("no fixture matches testdata/%s", pattern)
	}
}

// cdcFuzzSchema is the schema of the Pub/Sub fixtures.
func cdcFuzzSchema(f *testing.F) *CDCSchema {
	f.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cdc_pubsub_schema.avsc"))
	if err != nil {
		f.Fatal(err)
	}
	s, err := ParseCDCSchema(b)
	if err != nil {
		f.Fatal(err)
	}
	return s
}

// FuzzCDCDecodeStreaming feeds CDCDecoder.Decode arbitrary messages,
// starting from the Streaming API (CometD) fixtures testdata/cdc_*.json.
func FuzzCDCDecodeStreaming(f *testing.F) {
	cdcFuzzSeeds(f, "cdc_*.json", func(p string) bool { return !strings.HasPrefix(filepath.Base(p), "cdc_pubsub_") })
	header := `"ChangeEventHeader":{"entityName":"User","recordIds":["0055f00000GBZR4AAP"],"changeType":"UPDATE","changeOrigin":"",` +
		`"transactionKey":"k1","sequenceNumber":1,"commitTimestamp":1714242303000,"commitNumber":1,"commitUser":"0055f000005mc66AAA",` +
		`"changedFields":["Name.FirstName","IsActive","LastModifiedDate"]}`
	f.Add([]byte(`{"channel":"/data/UserChangeEvent","data":{"payload":{` + header + `,"Name":{"FirstName":"Olja"},"IsActive":false,"LastModifiedDate":"2024-04-27T18:25:02Z"},"event":{"replayId":1}}}`))
	f.Add([]byte(`{"schema":"x","payload":{` + header + `,"Name":{"FirstName":null},"IsActive":true},"event":{"replayId":2}}`))
	f.Add([]byte(`{"channel":"/data/UserChangeEvent","data":{"payload":{` + strings.Replace(header, `"0055f00000GBZR4AAP"`, `"005*"`, 1) + `},"event":{"replayId":3}}}`))
	f.Add([]byte(`{"channel":"/data/UserChangeEvent","data":{"payload":{` + strings.Replace(header, `"UPDATE"`, `"CREATE"`, 1) + `,"Username":"u@example.com","Name":null,"LastModifiedDate":1714242303000},"event":{"replayId":4}}}`))
	create := strings.Replace(header, `"UPDATE"`, `"CREATE"`, 1)
	// Values of the wrong type (the message spread over CRLF lines), and a
	// time at the end of year 9999.
	f.Add([]byte(`{"channel":"/data/UserChangeEvent","data":{"payload":{` + create + `,"Alias":["obrown2",` + "\r\n" + ` "x"],"IsActive":"yes","LastModifiedDate":253402300799999},"event":{"replayId":5}}}`))
	// Name, a compound field, as a plain value.
	f.Add([]byte(`{"channel":"/data/UserChangeEvent","data":{"payload":{` + create + `,"Username":"u@example.com","Name":"Olja Brown"},"event":{"replayId":6}}}`))
	// A Pub/Sub bitmap in a Streaming API message.
	f.Add([]byte(`{"channel":"/data/UserChangeEvent","data":{"payload":{` + strings.Replace(header, `"Name.FirstName","IsActive","LastModifiedDate"`, `"0x20"`, 1) + `,"Alias":"mc"},"event":{"replayId":7}}}`))
	f.Add([]byte(`{"channel":"/meta/connect","successful":true,"advice":{"reconnect":"retry"}}`))
	f.Add([]byte(`{"channel":"/data/UserChangeEvent","data":{"event":{"replayId":1}}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(""))
	f.Fuzz(cdcFuzzCheck(cdcFuzzSchema(f)))
}

// FuzzCDCDecodePubSub feeds CDCDecoder.Decode arbitrary messages, starting
// from the decoded Pub/Sub fixtures testdata/cdc_pubsub_*.json (field lists
// as bitmaps over testdata/cdc_pubsub_schema.avsc).
func FuzzCDCDecodePubSub(f *testing.F) {
	cdcFuzzSeeds(f, "cdc_pubsub_*.json", func(string) bool { return true })
	header := `"ChangeEventHeader":{"entityName":"User","recordIds":["0055f00000GBZR6AAP"],"changeType":"UPDATE","changeOrigin":"",` +
		`"transactionKey":"k1","sequenceNumber":1,"commitTimestamp":1714932903000,"commitNumber":1,"commitUser":"0055f000005mc66AAA",` +
		`"nulledFields":["0x1000"],"diffFields":[],"changedFields":["0x8020","4-0x4"]}`
	f.Add([]byte(`{` + header + `,"Alias":{"string":"mc"},"Name":{"com.sforce.eventbus.Switchable_PersonName":{"FirstName":null,"LastName":{"string":"Chen"}}},` +
		`"LastModifiedDate":{"long":1714932903000},"FederationIdentifier":null}`))
	f.Add([]byte(`{"replayId":"AAAAAAAASAw=","schemaId":"IeRuaY6cbI_HsV8Rv1Mc5g","payload":{` + header + `,"Alias":"mc","Name":{"LastName":"Chen"}}}`))
	f.Add([]byte(`{` + strings.Replace(header, `"0x8020","4-0x4"`, `"0xFFFFFFFFF","4-0x3F"`, 1) + `}`))
	f.Add([]byte(`{` + strings.Replace(header, `"changedFields":["0x8020","4-0x4"]`, `"changedFields":{"array":["0x20"]}`, 1) + `,"Alias":"mc"}`))
	f.Add([]byte(`{"ChangeEventHeader":{"entityName":"User","recordIds":["005*"],"changeType":"GAP_OVERFLOW"}}`))
	f.Add([]byte(`{"ChangeEventHeader":null}`))
	f.Fuzz(cdcFuzzCheck(cdcFuzzSchema(f)))
}

// cdcFuzzCheck decodes a message with and without a schema and in each
// format, and checks what Decode promises of each result.
func cdcFuzzCheck(schema *CDCSchema) func(t *testing.T, msg []byte) {
	return func(t *testing.T, msg []byte) {
		decode := func(format CDCFormat, s *CDCSchema) (CDCResult, error) {
			d := &CDCDecoder{OrgID: cdcOrgID, OwnClient: "vccsync", Format: format, Schema: s}
			res, err := d.Decode(msg)
			cdcFuzzCheckResult(t, d, res, err)
			return res, err
		}
		res, err := decode(CDCDetect, schema)

		again, errAgain := decode(CDCDetect, schema)
		if !cmp.Equal(res, again) || !cdcSameError(err, errAgain) {
			t.Fatalf("a second decoding differs: %v, then %v; result (-first +again):\n%s", err, errAgain, cmp.Diff(res, again))
		}

		// CDCDetect tells the form from the message's shape: the result is
		// that of the format of that shape, and the other format refuses it.
		streaming, errS := decode(CDCStreaming, schema)
		pubsub, errP := decode(CDCPubSub, schema)
		switch {
		case err != nil:
			if errS == nil || errP == nil {
				t.Fatalf("detected: %v; but accepted as streaming (%v) or as pubsub (%v)", err, errS, errP)
			}
		case strings.HasPrefix(res.Ignored, "CometD meta message"):
			if errS != nil || errP != nil || !cmp.Equal(streaming, res) || !cmp.Equal(pubsub, res) {
				t.Fatalf("meta message: streaming (%v), pubsub (%v)\nstreaming (-detected +forced):\n%s\npubsub (-detected +forced):\n%s",
					errS, errP, cmp.Diff(res, streaming), cmp.Diff(res, pubsub))
			}
		case errS == nil && errP == nil:
			t.Fatal("accepted both as streaming and as pubsub")
		case errS == nil:
			if !cmp.Equal(streaming, res) {
				t.Fatalf("detected and forced streaming differ (-detected +forced):\n%s", cmp.Diff(res, streaming))
			}
		case errP == nil:
			if !cmp.Equal(pubsub, res) {
				t.Fatalf("detected and forced pubsub differ (-detected +forced):\n%s", cmp.Diff(res, pubsub))
			}
		default:
			t.Fatalf("detected %+v, but refused as streaming (%v) and as pubsub (%v)", res, errS, errP)
		}

		// A compound field (Name) that is not an object is refused, not read
		// as the value of each of its subfields.
		if len(res.Events) > 0 {
			d := &CDCDecoder{}
			payload, _, _, _ := d.payload(msg)
			var body map[string]json.RawMessage
			_ = json.Unmarshal(payload, &body)
			if name, ok := body["Name"]; ok {
				name = cdcUnwrapAvro(name)
				u := res.Events[0].Data
				if _, isObj := cdcObject(name); !isObj && !cdcIsNull(name) {
					t.Fatalf("Name %s accepted as a compound field: %s", name, u)
				}
			}
		}

		// The schema only reads bitmaps: a message decoded without one
		// decodes the same with one.
		if plain, errPlain := decode(CDCDetect, nil); errPlain == nil {
			if err != nil || !cmp.Equal(plain, res) {
				t.Fatalf("with a schema (%v) (-without +with):\n%s", err, cmp.Diff(plain, res))
			}
		}
	}
}

func cdcSameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Error() == b.Error()
}

// cdcFuzzCheckResult checks one result of d.Decode against CDCResult's and
// CDCDecoder's documentation.
func cdcFuzzCheckResult(t *testing.T, d *CDCDecoder, res CDCResult, err error) {
	t.Helper()
	if err != nil {
		msg := err.Error()
		if strings.TrimSpace(msg) == "" {
			t.Fatal("an empty error message")
		}
		if strings.ContainsAny(msg, "\r\n") {
			t.Fatalf("an error of several lines: %q", msg)
		}
		if len(res.Events) != 0 || len(res.GapIDs) != 0 || res.Overflow || res.Ignored != "" {
			t.Fatalf("a result with the error %v: %d events, gap %q, overflow %v, ignored %q", err, len(res.Events), res.GapIDs, res.Overflow, res.Ignored)
		}
		return
	}

	holds := 0
	for _, b := range []bool{len(res.Events) > 0, len(res.GapIDs) > 0, res.Overflow, res.Ignored != ""} {
		if b {
			holds++
		}
	}
	if holds != 1 {
		t.Fatalf("%d of events (%d), gap (%q), overflow (%v), ignored (%q) hold; want exactly one", holds, len(res.Events), res.GapIDs, res.Overflow, res.Ignored)
	}
	h := res.Header

	switch {
	case res.Ignored != "":
		switch {
		case res.Ignored == CDCIgnoredDelete:
			if h.ChangeType != ChangeDelete {
				t.Fatalf("ignored as a delete, but the change type is %q", h.ChangeType)
			}
		case res.Ignored == CDCIgnoredOwnChange:
			if d.OwnClient == "" || !strings.Contains(h.ChangeOrigin, ";client="+d.OwnClient) {
				t.Fatalf("ignored as an own change, but changeOrigin is %q", h.ChangeOrigin)
			}
		case strings.HasPrefix(res.Ignored, "CometD meta message on /meta/"):
			if !cmp.Equal(h, CDCHeader{}) {
				t.Fatalf("a meta message with a header (-want +got):\n%s", cmp.Diff(CDCHeader{}, h))
			}
		default:
			t.Fatalf("ignored for an unknown reason %q", res.Ignored)
		}
		return
	case res.Overflow:
		if h.ChangeType != ChangeGapOverflow && !slices.Contains(h.RecordIDs, "005*") {
			t.Fatalf("an overflow from a %s of recordIds %q", h.ChangeType, h.RecordIDs)
		}
		return
	}

	if h.EntityName != "User" {
		t.Fatalf("accepted entityName %q", h.EntityName)
	}
	keys := map[string]bool{}
	for _, id := range h.RecordIDs {
		if k, err := events.UserKey(id); err == nil {
			keys[k] = true
		}
	}
	if len(res.GapIDs) > 0 {
		if !strings.HasPrefix(h.ChangeType, "GAP_") || h.ChangeType == ChangeGapOverflow {
			t.Fatalf("gap IDs from a %q", h.ChangeType)
		}
		cdcFuzzCheckKeys(t, "gap", res.GapIDs, keys)
		return
	}

	switch h.ChangeType {
	case ChangeCreate, ChangeUpdate, ChangeUndelete:
	default:
		t.Fatalf("events from a %q", h.ChangeType)
	}
	subjects := make([]string, len(res.Events))
	var first *events.User
	for i, env := range res.Events {
		subjects[i] = env.Subject
		ev := cdcFuzzCheckEvent(t, d, h, env)
		// A merged event: every user gets the same data.
		u := *ev.User
		u.ID = ""
		if first == nil {
			first = &u
		} else if !cmp.Equal(u, *first) {
			t.Fatalf("event %d: data (-first event +this event):\n%s", i, cmp.Diff(*first, u))
		}
	}
	cdcFuzzCheckKeys(t, "event subject", subjects, keys)
}

// cdcFuzzCheckKeys checks that ids are the distinct 18-character user IDs
// of recordIds.
func cdcFuzzCheckKeys(t *testing.T, what string, ids []string, keys map[string]bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, id := range ids {
		k, err := events.UserKey(id)
		if err != nil || k != id {
			t.Fatalf("%s %q: not an 18-character user ID (%v)", what, id, err)
		}
		if seen[id] {
			t.Fatalf("%s %q twice", what, id)
		}
		seen[id] = true
		if !keys[id] {
			t.Fatalf("%s %q is not in recordIds", what, id)
		}
	}
	if len(seen) != len(keys) {
		t.Fatalf("%d %ss for the %d users of recordIds", len(seen), what, len(keys))
	}
}

// cdcFuzzCheckEvent checks an envelope as the publisher and syncworker
// will read it, and returns it decoded.
func cdcFuzzCheckEvent(t *testing.T, d *CDCDecoder, h CDCHeader, env events.Envelope) *events.Event {
	t.Helper()
	if want := CDCEventID(env.Subject, h.TransactionKey, h.SequenceNumber); env.ID != want {
		t.Fatalf("event id %q, want %q", env.ID, want)
	}
	if want := "salesforce/cdc/" + d.OrgID; env.Source != want {
		t.Fatalf("source %q, want %q", env.Source, want)
	}
	if want := time.UnixMilli(h.CommitTimestamp).UTC(); env.Time == nil || !env.Time.Equal(want) {
		t.Fatalf("time %v, want the commitTimestamp %v", env.Time, want)
	}
	body, err := env.Marshal()
	if err != nil {
		t.Fatalf("event %s does not encode: %v", env.ID, err)
	}
	subject, err := env.NATSSubject()
	if err != nil {
		t.Fatalf("event %s has no subject: %v", env.ID, err)
	}
	parsed, err := events.Parse(body)
	if err != nil {
		t.Fatalf("event %s does not parse: %v\n%s", env.ID, err, body)
	}
	ev, err := events.Decode(subject, body)
	if err != nil {
		t.Fatalf("event %s does not decode on %s: %v\n%s", env.ID, subject, err, body)
	}
	if !cmp.Equal(parsed, ev) {
		t.Fatalf("event %s: Parse and Decode differ (-Parse +Decode):\n%s", env.ID, cmp.Diff(parsed, ev))
	}
	if ev.User == nil || ev.User.ID != env.Subject || ev.UserKey != env.Subject {
		t.Fatalf("event %s: user %+v, key %q for subject %q", env.ID, ev.User, ev.UserKey, env.Subject)
	}
	if !ev.User.LastModifiedDate.Known() {
		t.Fatalf("event %s: LastModifiedDate %+v, want the payload's or the commitTimestamp", env.ID, ev.User.LastModifiedDate)
	}
	// The data holds no more than the user: encoding it again gives it back.
	again, err := json.Marshal(ev.User)
	if err != nil || !bytes.Equal(again, env.Data) {
		t.Fatalf("event %s: data %s encodes again as %s (%v)", env.ID, env.Data, again, err)
	}
	return ev
}

// FuzzParseCDCSchema feeds ParseCDCSchema arbitrary schemas and
// CDCSchema.FieldNames arbitrary list entries, starting from
// testdata/cdc_pubsub_schema.avsc.
func FuzzParseCDCSchema(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "cdc_pubsub_schema.avsc"))
	if err != nil {
		f.Fatal(err)
	}
	wrapped, _ := json.Marshal(map[string]string{"schemaJson": string(b)})
	for _, entry := range []string{"0x1", "4-0x6", "0x200009830", "Name.FirstName"} {
		f.Add(b, entry)
	}
	f.Add(wrapped, "0x650004E0")
	f.Add([]byte(`{"type":"record","name":"E","namespace":"n","fields":[{"name":"a","type":"string"},`+
		`{"name":"b","type":["null",{"type":"record","name":"R","fields":[{"name":"x","type":"int"},{"name":"y","type":"R"}]}]},`+
		`{"name":"c","type":"n.R"},{"name":"d","type":{"type":"array","items":"R"}}]}`), "2-0x3")
	f.Add([]byte(`{"type":"record","name":"E","fields":[]}`), "0x0")
	f.Add([]byte(`{"type":"record","name":"E","fields":[{"name":"a"}]}`), "0-0x1")
	f.Add([]byte(`{"schema_json":"{\"type\":\"record\",\"name\":\"E\",\"fields\":[{\"name\":\"a\",\"type\":{\"type\":\"map\",\"values\":\"long\"}}]}"}`), "0x")
	f.Add([]byte(`[]`), "")

	f.Fuzz(func(t *testing.T, in []byte, entry string) {
		s, err := ParseCDCSchema(in)
		if err != nil {
			if s != nil {
				t.Fatalf("a schema with the error %v", err)
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("an empty error message")
			}
			if _, err := (*CDCSchema)(nil).FieldNames([]string{entry}); err == nil {
				if k, _, _ := cdcBitmapKind(entry); k != cdcNotBitmap {
					t.Fatalf("no schema, but bitmap %q read", entry)
				}
			}
			return
		}
		if s.Name == "" || len(s.Fields) == 0 {
			t.Fatalf("accepted a schema named %q with %d fields", s.Name, len(s.Fields))
		}
		for i, fd := range s.Fields {
			if fd.Name == "" {
				t.Fatalf("field %d has no name", i)
			}
		}
		names, err := s.FieldNames([]string{entry})
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("an empty error message")
			}
			if names != nil {
				t.Fatalf("names %q with the error %v", names, err)
			}
			return
		}
		kind, parent, hex := cdcBitmapKind(entry)
		switch kind {
		case cdcNotBitmap:
			if !slices.Equal(names, []string{entry}) {
				t.Fatalf("field name %q read as %q", entry, names)
			}
			return
		case cdcBadBitmap:
			t.Fatalf("bad bitmap %q read as %q", entry, names)
		}
		// One name per set bit, each a field (or subfield) of the schema.
		set := 0
		for i := 0; i < len(hex); i++ {
			var v byte
			switch c := hex[i]; {
			case c >= '0' && c <= '9':
				v = c - '0'
			case c >= 'a' && c <= 'f':
				v = c - 'a' + 10
			case c >= 'A' && c <= 'F':
				v = c - 'A' + 10
			default:
				t.Fatalf("%q read although %q is not a hexadecimal digit", entry, c)
			}
			set += bits.OnesCount8(v)
		}
		if len(names) != set {
			t.Fatalf("%q: %d names %q for %d set bits", entry, len(names), names, set)
		}
		for _, n := range names {
			ok := false
			for _, fd := range s.Fields {
				if kind == cdcTopBitmap && n == fd.Name {
					ok = true
				}
			}
			if kind == cdcNestedBitmap {
				pf := s.Fields[parent]
				sub, found := strings.CutPrefix(n, pf.Name+".")
				ok = found && slices.Contains(pf.Subfields, sub)
			}
			if !ok {
				t.Fatalf("%q: name %q is not in the schema", entry, n)
			}
		}
	})
}
