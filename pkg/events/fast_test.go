package events

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// fastSeeds are bodies of the shapes fastEnvelope reads, and near misses.
func fastSeeds(t testing.TB) [][]byte {
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("testdata/*.json: %v", err)
	}
	var seeds [][]byte
	for _, p := range fixtures {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	const head = `{"specversion":"1.0","id":"x","source":"s","type":"salesforce.user.changed","subject":"0055e000001AbCdAAK",`
	for _, s := range []string{
		head + `"time":"2026-11-20T10:15:01.123Z","datacontenttype":"application/json","data":{"Id":"0055e000001AbCdAAK","Username":"a@b.example","Alias":null,"IsActive":true,"SystemModstamp":"2026-11-20T10:15:00.000Z","ChangedFields":["IsActive","Alias"]}}`,
		head + `"time":null,"data":{"Id":"0055e000001AbCdAAK","IsActive":false,"ChangedFields":[]}}`,
		head + `"data":{"Id":"0055e000001AbCdAAK","ChangedFields":null,"Email":"ä@b.example"}, "id":"y" }`,
		head + `"data":{"Id":"0055e000001AbCdAAK","IsActive":"true"}}`,
		head + `"data":{"Id":"0055e000001AbCdAAK","LastModifiedDate":"2024-04-26T18:25:03.000+0000","SystemModstamp":"yesterday"}}`,
		head + `"data":{"Id":"0055e000001AbCdAAK","FirstName":"Jo\u00eb"}}`,
		head + `"data":{"ID":"0055e000001AbCdAAK"}}`,
		head + `"data":{"Id":null,"Id":"0055e000001AbCdAAK","Id":null}}`,
		head + `"data":{"Id":"0055e000001AbCdAAK"},"data":{"Id":"0055e000001AbCdAAK","Alias":"x"}}`,
		head + `"data":{"Id":"0055e000001AbCdAAK","IsActive":truex}}`,
		head + `"data":{"Id":"0055e000001AbCdAAK",}}`,
		head + `"data":null}`,
		head + `"data":{}} x`,
		head + "\"time\":\"2026-11-20T10:15:01Z\",\t\r\n\"data\" : { \"Id\" : \"0055e000001AbCdAAK\" , \"IsActive\" : null } }\n",
		`{"specversion":"1.0","id":"c","source":"operator/a","type":"vccsync.command.archive","subject":"0055e000001AbCdAAK","data":{"requestedBy":"a"}}`,
		"{\"id\":\"\xff\xfe\",\"data\":{\"Id\":\"\xc3\"}}",
		`{}`, `{"data":{}}`, `[]`, ``, `{"id":"a"`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// FuzzFastEnvelope: whatever fastEnvelope accepts, encoding/json accepts
// too and reads the same, the user in data included.
func FuzzFastEnvelope(f *testing.F) {
	for _, b := range fastSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFast(t, body)
	})
}

func checkFast(t *testing.T, body []byte) bool {
	t.Helper()
	env, u, ok := fastEnvelope(body)
	if !ok {
		return false
	}
	var want Envelope
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatalf("fastEnvelope accepted %q, encoding/json: %v", body, err)
	}
	if !reflect.DeepEqual(env, want) {
		t.Fatalf("%q:\nfastEnvelope  %#v\nencoding/json %#v", body, env, want)
	}
	if u == nil {
		return true
	}
	var wantUser User
	if err := json.Unmarshal(want.Data, &wantUser); err != nil {
		t.Fatalf("fastEnvelope read a user from %q, encoding/json: %v", want.Data, err)
	}
	if !reflect.DeepEqual(*u, wantUser) {
		t.Fatalf("%q:\nfastEnvelope  %#v\nencoding/json %#v", want.Data, *u, wantUser)
	}
	return true
}

// The seeds that must take the fast path do, so a change that sends every
// message to encoding/json fails here rather than only in a benchmark.
func TestFastEnvelopeTakesProducersShape(t *testing.T) {
	seeds := fastSeeds(t)
	fast := 0
	for _, b := range seeds {
		if checkFast(t, b) {
			fast++
		}
	}
	b, err := os.ReadFile(filepath.Join("testdata", "user_changed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, u, ok := fastEnvelope(b); !ok || u == nil {
		t.Errorf("testdata/user_changed.json did not take the fast path")
	}
	ev, err := NewUserChanged("e-1", "salesforce/cdc", mustTime(t, "2026-11-20T10:15:01.123Z"), User{ID: "0055e000001AbCdAAK",
		Username: Val("a@b.example"), IsActive: Val(true), Alias: Null[string](), ChangedFields: []string{"IsActive"}})
	if err != nil {
		t.Fatal(err)
	}
	body, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !checkFast(t, body) {
		t.Errorf("what NewUserChanged encodes did not take the fast path: %s", body)
	}
	if fast < 8 {
		t.Errorf("%d of %d seeds took the fast path, want at least 8", fast, len(seeds))
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	p, err := ParseTime(s)
	if err != nil {
		t.Fatal(err)
	}
	return p.Time
}

// BenchmarkDecodeUserChanged: Decode of a typical user change, and the
// same through encoding/json alone (the fast path off) as the baseline.
func BenchmarkDecodeUserChanged(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata", "user_changed.json"))
	if err != nil {
		b.Fatal(err)
	}
	ev, err := Parse(body)
	if err != nil {
		b.Fatal(err)
	}
	subject, _ := ev.NATSSubject()
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(subject, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var env Envelope
			if err := strictUnmarshal(body, &env); err != nil {
				b.Fatal(err)
			}
			if _, err := DecodeUser(env.Data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
