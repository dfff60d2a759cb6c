package events

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzDecode feeds Decode (and, with an empty subject, Parse) arbitrary
// subjects and bodies, starting from every testdata/*.json: it must never
// panic, and whatever it accepts must keep its promises.
func FuzzDecode(f *testing.F) {
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	if len(fixtures) == 0 {
		f.Fatal("no testdata/*.json")
	}
	for _, p := range fixtures {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		ev, err := Parse(b)
		if err != nil {
			f.Fatalf("%s: %v", p, err)
		}
		subject, err := ev.NATSSubject()
		if err != nil {
			f.Fatalf("%s: %v", p, err)
		}
		f.Add(subject, b)
		f.Add("", b)
		f.Add(UserChangedSubject(ev.UserKey[:15]), b)
	}
	const user = "0055e000001AbCdAAK"
	cmd := func(action, data string) []byte {
		return []byte(`{"specversion":"1.0","id":"cmd-1","source":"operator/alice","type":"vccsync.command.` + action +
			`","subject":"` + user + `","datacontenttype":"application/json","data":` + data + `}`)
	}
	f.Add(CommandSubject(user, ActionSetWebRTC), cmd(ActionSetWebRTC, `{"requestedBy":"alice","enabled":true,"phoneNumber":"+442079460001"}`))
	f.Add(CommandSubject(user, ActionSetInteractionCapacity), cmd(ActionSetInteractionCapacity, `{"requestedBy":"alice","live":50,"nonLive":40,"semiLive":10}`))
	f.Add(CommandSubject(user, ActionSetCallbackNumbers), cmd(ActionSetCallbackNumbers, `{"requestedBy":"alice","reason":"r","callbackNumbers":["1","2"]}`))
	f.Add(CommandSubject(user, ActionChangeAlias), cmd(ActionChangeAlias, `{"requestedBy":"bob","alias":"j.smith"}`))
	f.Add(CommandSubject(user, "teleport"), cmd("teleport", `{"requestedBy":"bob"}`))
	f.Add(UserChangedSubject(user), []byte(`{"specversion":"1.0","id":"x","source":"s","type":"salesforce.user.changed","subject":"`+user+`",`+
		`"time":"2026-11-20T10:15:01.123456789+02:00","data":{"Id":"0055e000001AbCd","Username":"a@b.example","IsActive":true,`+
		`"LastModifiedDate":"2024-04-26T18:25:03.000+0000","SystemModstamp":1714155903123,"ChangedFields":[]}}`))
	// At the bounds of what a time can be: years 0000 and 9999 in UTC.
	f.Add(UserChangedSubject(user), []byte(`{"specversion":"1.0","id":"x","source":"s","type":"salesforce.user.changed","subject":"`+user+`",`+
		`"time":"0000-01-01T01:00:00+01:00","data":{"Id":"`+user+`","LastModifiedDate":253402300799999,"SystemModstamp":"9999-12-31T22:59:59.999-01:00"}}`))
	// A time that is neither a string nor a number.
	f.Add(UserChangedSubject(user), []byte(`{"specversion":"1.0","id":"x","source":"s","type":"salesforce.user.changed","subject":"`+user+`",`+
		`"data":{"Id":"`+user+`","SystemModstamp":[1714155903123]}}`))
	f.Add(UserChangedSubject(user), []byte(`{"specversion":"1.0","id":"x","source":"s","type":"salesforce.user.changed","subject":"`+user+`","data":null}`))
	f.Add(UserChangedSubject(user), []byte(`{}`))
	f.Add(UserChangedSubject(user), []byte(`null`))
	f.Add("", []byte(""))

	f.Fuzz(fuzzDecodeCheck)
}

// FuzzDecodeData feeds Decode envelopes built around an arbitrary type,
// time and data, starting from the data of every testdata/*.json, so that
// the user and command data decoders and the envelope's time get most of
// the mutations. The event travels on the subject its type names.
func FuzzDecodeData(f *testing.F) {
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range fixtures {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		ev, err := Parse(b)
		if err != nil {
			f.Fatalf("%s: %v", p, err)
		}
		tm := ""
		if ev.Time != nil {
			tm = ev.Time.Format(time.RFC3339Nano)
		}
		f.Add(ev.Type, tm, []byte(ev.Data))
	}
	f.Add(TypeUserChanged, "2026-11-20T10:15:01.5+02:00", []byte(`{"Id":"0055e000001AbCd","Username":"a@b.example","IsActive":true,`+
		`"LastModifiedDate":"2024-04-26T18:25:03.000+0000","SystemModstamp":1714155903123,"ChangedFields":["IsActive"]}`))
	f.Add(TypeUserChanged, "0000-01-01T01:00:00+01:00", []byte(`{"Id":"0055e000001AbCdAAK","LastModifiedDate":253402300799999,"SystemModstamp":"9999-12-31T22:59:59.999-01:00"}`))
	// Just past the bounds: years 10000 and -1 in UTC.
	f.Add(TypeUserChanged, "9999-12-31T23:30:00-01:00", []byte(`{"Id":"0055e000001AbCdAAK"}`))
	f.Add(TypeUserChanged, "0000-01-01T00:30:00+01:00", []byte(`{"Id":"0055e000001AbCdAAK"}`))
	f.Add(TypeUserChanged, "", []byte(`{"Id":"0055e000001AbCdAAK","LastModifiedDate":253402300800000}`))
	f.Add(TypeUserChanged, "", []byte(`{"Id":"0055e000001AbCdAAK","SystemModstamp":"0000-01-01T00:00:00.000+00:01"}`))
	// A time that is neither a string nor a number, over two lines.
	f.Add(TypeUserChanged, "", []byte("{\"Id\":\"0055e000001AbCdAAK\",\"Alias\":null,\"SystemModstamp\":[1714155903123,\n 1]}"))
	f.Add(TypeUserChanged, "", []byte(`{"Id":"0055e000001AbCdAAK","IsActive":"yes","NVMContactWorld__NVM_Agent_Id__c":1042}`))
	f.Add(CommandTypePrefix+ActionSetSkillLevel, "", []byte(`{"requestedBy":"alice","skill":"s1","level":6}`))
	f.Add(CommandTypePrefix+ActionAllowActAsAgent, "", []byte(`{"requestedBy":"alice","enabled":true,"agentId":"1042"}`))
	f.Add(CommandTypePrefix+ActionSetTelephonyRegion, "", []byte(`{"requestedBy":"alice","region":"EMEA - Primary"}`))
	f.Add(CommandTypePrefix+ActionDelete, "", []byte(`{"requestedBy":"alice","confirm":true,"colour":"blue"}`))

	f.Fuzz(func(t *testing.T, typ, tm string, data []byte) {
		const user = "0055e000001AbCdAAK"
		str := func(s string) string {
			b, _ := json.Marshal(s)
			return string(b)
		}
		subject, source := UserChangedSubject(user), "salesforce/cdc/x"
		if action, ok := strings.CutPrefix(typ, CommandTypePrefix); ok {
			subject, source = CommandSubject(user, action), "operator/alice"
		}
		var b bytes.Buffer
		b.WriteString(`{"specversion":"1.0","id":"evt-1","source":` + str(source) + `,"type":` + str(typ) + `,"subject":"` + user + `",`)
		if tm != "" {
			b.WriteString(`"time":` + str(tm) + `,`)
		}
		// The data as it is, whitespace and all.
		b.WriteString(`"datacontenttype":"application/json","data":`)
		b.Write(data)
		b.WriteString(`}`)
		fuzzDecodeCheck(t, subject, b.Bytes())
		fuzzDecodeCheck(t, "", b.Bytes())
	})
}

// fuzzDecodeCheck decodes body received on subject (with Parse when subject
// is empty) and checks what Decode promises of the result.
func fuzzDecodeCheck(t *testing.T, subject string, body []byte) {
	var ev *Event
	var err error
	if subject == "" {
		ev, err = Parse(body)
	} else {
		ev, err = Decode(subject, body)
	}
	if err != nil {
		fuzzCheckError(t, ev, err)
		return
	}
	fuzzCheckEvent(t, ev)

	// Decode accepts only what Parse accepts, as Parse reads it, and
	// only on the event's own subject.
	parsed, err := Parse(body)
	if err != nil {
		t.Fatalf("Decode on %q accepted what Parse refuses: %v", subject, err)
	}
	if !reflect.DeepEqual(parsed, ev) {
		t.Fatalf("Parse %+v, Decode %+v", parsed, ev)
	}
	if subject != "" {
		p, err := ParseSubject(subject)
		if err != nil {
			t.Fatalf("accepted on subject %q: %v", subject, err)
		}
		if k, err := UserKey(p.UserID); err != nil || k != ev.UserKey {
			t.Fatalf("subject %q: user %q, event user %q", subject, p.UserID, ev.UserKey)
		}
		switch {
		case p.Kind == KindChanged && ev.User != nil:
		case p.Kind == KindCommand && ev.Command != nil && p.Action == ev.Command.Action:
		default:
			t.Fatalf("subject %q (%+v) carried type %q", subject, p, ev.Type)
		}
	}

	// Encoded again and received on its own subject: the same event.
	natsSubject, err := ev.NATSSubject()
	if err != nil {
		t.Fatalf("an accepted event has no subject: %v", err)
	}
	b, err := ev.Envelope.Marshal()
	if err != nil {
		t.Fatalf("an accepted envelope does not encode: %v", err)
	}
	again, err := Decode(natsSubject, b)
	if err != nil {
		t.Fatalf("an accepted envelope, encoded again, is refused on %s: %v\n%s", natsSubject, err, b)
	}
	fuzzSameEvent(t, ev, again)

	// The package's encoders write what Decode read.
	switch {
	case ev.User != nil:
		var at time.Time
		if ev.Time != nil {
			at = *ev.Time
		}
		env, err := NewUserChanged(ev.ID, ev.Source, at, *ev.User)
		if err != nil {
			t.Fatalf("NewUserChanged: %v", err)
		}
		got := fuzzReceive(t, env)
		if want := fuzzEncoded(*ev.User); !reflect.DeepEqual(*got.User, want) {
			t.Fatalf("user %+v encoded and decoded as %+v", want, *got.User)
		}
		if got.ID != ev.ID || got.Source != ev.Source || got.UserKey != ev.UserKey || got.Time == nil || !got.Time.Equal(at) {
			t.Fatalf("NewUserChanged envelope %+v, decoded %+v", got.Envelope, ev.Envelope)
		}
	case ev.Command != nil:
		params, err := ev.Command.Params()
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("Params: an empty error message")
			}
			return
		}
		c := ev.Command
		env, err := NewCommand(ev.ID, ev.Subject, c.Action, c.RequestedBy, c.Reason, params)
		if err != nil {
			t.Fatalf("NewCommand refuses the parameters Params accepted %+v: %v", params, err)
		}
		got := fuzzReceive(t, env)
		p2, err := got.Command.Params()
		if err != nil || !reflect.DeepEqual(p2, params) || got.Command.Action != c.Action ||
			got.Command.RequestedBy != c.RequestedBy || got.Command.Reason != c.Reason || got.UserKey != ev.UserKey {
			t.Fatalf("command %+v %+v encoded and decoded as %+v %+v (%v)", c, params, got.Command, p2, err)
		}
	}
}

// fuzzCheckError checks a refusal: no event, and a message that can be a
// NATS header value (the DLQ's Vccsync-Error).
func fuzzCheckError(t *testing.T, ev *Event, err error) {
	t.Helper()
	if ev != nil {
		t.Fatalf("an event with the error %v", err)
	}
	msg := err.Error()
	if strings.TrimSpace(msg) == "" {
		t.Fatal("an empty error message")
	}
	if strings.ContainsAny(msg, "\r\n") {
		t.Fatalf("an error that cannot be a header value: %q", msg)
	}
}

// fuzzCheckEvent checks what Decode promises of an accepted event.
func fuzzCheckEvent(t *testing.T, ev *Event) {
	t.Helper()
	if ev == nil {
		t.Fatal("no event and no error")
	}
	switch {
	case ev.SpecVersion != SpecVersion:
		t.Fatalf("accepted specversion %q", ev.SpecVersion)
	case ev.ID == "" || len(ev.ID) > 256:
		t.Fatalf("accepted id %q", ev.ID)
	case ev.Source == "":
		t.Fatal("accepted an empty source")
	case ev.DataContentType != "" && !strings.HasPrefix(ev.DataContentType, "application/json"):
		t.Fatalf("accepted datacontenttype %q", ev.DataContentType)
	case len(bytes.TrimSpace(ev.Data)) == 0 || bytes.Equal(bytes.TrimSpace(ev.Data), []byte("null")):
		t.Fatalf("accepted data %q", ev.Data)
	case (ev.User == nil) == (ev.Command == nil):
		t.Fatalf("user %v and command %v: want exactly one", ev.User, ev.Command)
	}
	if k, err := UserKey(ev.Subject); err != nil || k != ev.UserKey || len(k) != 18 {
		t.Fatalf("subject %q, user key %q (%v)", ev.Subject, ev.UserKey, err)
	}
	if ev.User != nil {
		if ev.Type != TypeUserChanged {
			t.Fatalf("a user from type %q", ev.Type)
		}
		if err := ev.User.Validate(); err != nil {
			t.Fatalf("an accepted user does not validate: %v", err)
		}
		if k, err := UserKey(ev.User.ID); err != nil || k != ev.UserKey {
			t.Fatalf("data.Id %q is not the subject's user %q", ev.User.ID, ev.UserKey)
		}
		return
	}
	c := ev.Command
	if ev.Type != CommandTypePrefix+c.Action {
		t.Fatalf("type %q, action %q", ev.Type, c.Action)
	}
	if p, err := ParseSubject(CommandSubject(ev.Subject, c.Action)); err != nil || p.Action != c.Action {
		t.Fatalf("action %q is not a subject token: %v", c.Action, err)
	}
	if !strings.HasPrefix(ev.Source, "operator/") {
		t.Fatalf("a command from %q", ev.Source)
	}
	if c.RequestedBy == "" {
		t.Fatal("a command requested by nobody")
	}
	if !bytes.Equal(c.Data, ev.Data) {
		t.Fatalf("command data %s, envelope data %s", c.Data, ev.Data)
	}
}

// fuzzReceive encodes env and decodes it on its subject, as syncworker
// receives it.
func fuzzReceive(t *testing.T, env Envelope) *Event {
	t.Helper()
	b, err := env.Marshal()
	if err != nil {
		t.Fatalf("envelope %+v does not encode: %v", env, err)
	}
	subject, err := env.NATSSubject()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := Decode(subject, b)
	if err != nil {
		t.Fatalf("own encoding refused on %s: %v\n%s", subject, err, b)
	}
	fuzzCheckEvent(t, ev)
	return ev
}

// fuzzSameEvent checks that b is a, encoded once more.
func fuzzSameEvent(t *testing.T, a, b *Event) {
	t.Helper()
	ea, eb := a.Envelope, b.Envelope
	if (ea.Time == nil) != (eb.Time == nil) || ea.Time != nil && !ea.Time.Equal(*eb.Time) {
		t.Fatalf("time %v, encoded again %v", ea.Time, eb.Time)
	}
	ea.Time, eb.Time = nil, nil
	var da, db any
	if json.Unmarshal(ea.Data, &da) != nil || json.Unmarshal(eb.Data, &db) != nil || !reflect.DeepEqual(da, db) {
		t.Fatalf("data %s, encoded again %s", ea.Data, eb.Data)
	}
	ea.Data, eb.Data = nil, nil
	if !reflect.DeepEqual(ea, eb) || a.UserKey != b.UserKey {
		t.Fatalf("envelope %+v, encoded again %+v", ea, eb)
	}
	switch {
	case a.User != nil:
		if b.User == nil || !reflect.DeepEqual(*a.User, *b.User) {
			t.Fatalf("user %+v, encoded again %+v", a.User, b.User)
		}
	case b.Command == nil || a.Command.Action != b.Command.Action || a.Command.RequestedBy != b.Command.RequestedBy || a.Command.Reason != b.Command.Reason:
		t.Fatalf("command %+v, encoded again %+v", a.Command, b.Command)
	}
}

// fuzzEncoded is u as encoding keeps it: times to the millisecond (Time
// encodes RFC 3339 with milliseconds) and no empty ChangedFields list.
func fuzzEncoded(u User) User {
	for _, f := range []*Field[Time]{&u.LastModifiedDate, &u.SystemModstamp} {
		if f.Known() {
			f.Value = Time{f.Value.Truncate(time.Millisecond).UTC()}
		}
	}
	if len(u.ChangedFields) == 0 {
		u.ChangedFields = nil
	}
	return u
}
