package dlq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/bus/bustest"
	"github.com/vccsync/vccsync/pkg/dlq"
	"github.com/vccsync/vccsync/pkg/events"
)

const (
	jane = "0055e000001JaneAAC"
	john = "0055e000001JohnAAC"
)

// startJetStream starts an embedded JetStream server and returns a client.
func startJetStream(t *testing.T, withStreams bool) jetstream.JetStream {
	js, _ := bustest.Start(t, withStreams)
	return js
}

func testContext(t *testing.T) context.Context { return bustest.Context(t) }

func open(t *testing.T, js jetstream.JetStream) *dlq.DLQ {
	t.Helper()
	d, err := dlq.Open(testContext(t), js, 2*time.Second)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return d
}

// failedAt is the failure time of the n-th test letter.
func failedAt(n int) time.Time { return time.Date(2026, 11, 20, 10+n, 0, 0, 0, time.UTC) }

// deadLetter stores a message in VCCSYNC_DLQ as syncworker's worker does
// (pkg/worker's deadLetter): the original headers and body, the original
// id kept, a DLQ id of its own, and the DLQ headers.
func deadLetter(t *testing.T, js jetstream.JetStream, subject string, h nats.Header, body []byte, origSeq uint64, class, reason string, deliveries int, at time.Time) uint64 {
	t.Helper()
	dh := nats.Header{}
	for k, v := range h {
		dh[k] = append([]string(nil), v...)
	}
	orig := dh.Get(events.HeaderMsgID)
	if orig != "" {
		dh.Set(events.HeaderOriginalMsgID, orig)
	}
	dh.Set(events.HeaderMsgID, "dlq:"+strconv.FormatUint(origSeq, 10)+":"+orig)
	dh.Set(events.HeaderError, reason)
	dh.Set(events.HeaderErrorClass, class)
	dh.Set(events.HeaderOriginalSubject, subject)
	dh.Set(events.HeaderOriginalSequence, strconv.FormatUint(origSeq, 10))
	dh.Set(events.HeaderDeliveries, strconv.Itoa(deliveries))
	dh.Set(events.HeaderFailedAt, at.UTC().Format(time.RFC3339Nano))
	ack, err := js.PublishMsg(testContext(t), &nats.Msg{Subject: events.DLQSubject(subject), Header: dh, Data: body}, jetstream.WithExpectStream(events.DLQStream))
	if err != nil {
		t.Fatalf("dead-letter %s: %v", subject, err)
	}
	return ack.Sequence
}

// originalHeader is the header of a message as publisher stores it, with
// a header of someone else's that a replay must keep.
func originalHeader(msgID string) nats.Header {
	h := nats.Header{}
	h.Set(events.HeaderMsgID, msgID)
	h.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	return h
}

// envelope is the JSON of an event with an id and a type.
func envelope(t *testing.T, id, typ, user string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "test", "type": typ, "subject": user, "data": map[string]any{"Id": user}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixture fills the DLQ with five letters:
//
//	1 jane changed   permanent  failed 11:00
//	2 john changed   poison     failed 12:00
//	3 jane archive   exhausted  failed 13:00, replayed once before
//	4 john changed   permanent  failed 14:00
//	5 jane (15-character ID in the subject), not JSON, poison, failed 15:00
func fixture(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	replayed := originalHeader("cmd-3:replay:1")
	replayed.Set(events.HeaderReplays, "1")
	replayed.Set(events.HeaderReplayedFrom, "1")
	for i, m := range []struct {
		subject      string
		h            nats.Header
		body         []byte
		class, error string
	}{
		{events.UserChangedSubject(jane), originalHeader("evt-1"), envelope(t, "evt-1", events.TypeUserChanged, jane), events.ClassPermanent, "update VCC user 17: 409 Conflict: username jane.smith@acme.example is taken"},
		{events.UserChangedSubject(john), originalHeader("evt-2"), envelope(t, "evt-2", events.TypeUserChanged, john), events.ClassPoison, "data: IsActive: got JSON string, want bool"},
		{events.CommandSubject(jane, "archive"), replayed, envelope(t, "cmd-3", events.CommandTypePrefix+"archive", jane), events.ClassExhausted, "gave up after 3 attempts: archive VCC user 17: 503 Service Unavailable"},
		{events.UserChangedSubject(john), originalHeader("evt-4"), envelope(t, "evt-4", events.TypeUserChanged, john), events.ClassPermanent, "update VCC user 23: 409 Conflict: username john.doe@acme.example is taken"},
		{"vccsync.user.0055e000001Jane.changed", originalHeader("evt-5"), []byte("not json"), events.ClassPoison, "envelope: not valid JSON"},
	} {
		if seq := deadLetter(t, js, m.subject, m.h, m.body, uint64(100+i), m.class, m.error, i+1, failedAt(i+1)); seq != uint64(i+1) {
			t.Fatalf("DLQ sequence %d, want %d", seq, i+1)
		}
	}
}

// scan plans and scans with a filter, and returns the sequences read and
// the ones reported missing.
func scan(t *testing.T, d *dlq.DLQ, f *dlq.Filter) (read, missing []uint64) {
	t.Helper()
	ctx := testContext(t)
	p, err := d.Plan(ctx, f)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	err = d.Scan(ctx, p, f, func(l *dlq.Letter) error {
		read = append(read, l.Seq)
		return nil
	}, func(seq uint64) { missing = append(missing, seq) })
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return read, missing
}

// dlqSeqs are the sequences VCCSYNC_DLQ holds.
func dlqSeqs(t *testing.T, d *dlq.DLQ) []uint64 {
	t.Helper()
	seqs, _ := scan(t, d, &dlq.Filter{})
	return seqs
}

func TestOpenStreamMissing(t *testing.T) {
	js := startJetStream(t, false)
	_, err := dlq.Open(testContext(t), js, time.Second)
	if !errors.Is(err, jetstream.ErrStreamNotFound) || err.Error() != "stream VCCSYNC_DLQ not found: is syncworker running (it creates the streams)?" {
		t.Errorf("Open without the stream: %v", err)
	}
}

func TestScan(t *testing.T) {
	js := startJetStream(t, true)
	fixture(t, js)
	d := open(t, js)
	seqs := func(s ...string) []dlq.SeqRange {
		r, err := dlq.ParseSeqs(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	jane15 := "0055e000001Jane"
	for _, tc := range []struct {
		name    string
		f       dlq.Filter
		want    []uint64
		missing []uint64
	}{
		{"everything", dlq.Filter{}, []uint64{1, 2, 3, 4, 5}, nil},
		{"class", dlq.Filter{Classes: []string{"permanent"}}, []uint64{1, 4}, nil},
		{"classes", dlq.Filter{Classes: []string{"poison", "exhausted"}}, []uint64{2, 3, 5}, nil},
		{"type", dlq.Filter{Types: []string{events.TypeUserChanged}}, []uint64{1, 2, 4}, nil},
		{"type prefix", dlq.Filter{Types: []string{"vccsync.command.*"}}, []uint64{3}, nil},
		{"user, 15 characters in the subject", dlq.Filter{Users: []string{jane}}, []uint64{1, 3, 5}, nil},
		{"since until", dlq.Filter{Since: failedAt(2), Until: failedAt(4)}, []uint64{2, 3}, nil},
		{"seqs", dlq.Filter{Seqs: seqs("2", "4-5")}, []uint64{2, 4, 5}, nil},
		{"seqs beyond", dlq.Filter{Seqs: seqs("4-9")}, []uint64{4, 5}, nil},
		{"missing seqs in order", dlq.Filter{Seqs: seqs("9", "2", "7-8")}, []uint64{2}, []uint64{9}},
		{"combined", dlq.Filter{Classes: []string{"permanent"}, Users: []string{jane}}, []uint64{1}, nil},
		{"nothing", dlq.Filter{Classes: []string{"exhausted"}, Users: []string{john}}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read, missing := scan(t, d, &tc.f)
			if !slices.Equal(read, tc.want) || !slices.Equal(missing, tc.missing) {
				t.Errorf("read %v, missing %v; want %v, %v", read, missing, tc.want, tc.missing)
			}
		})
	}
	if u, err := dlq.ParseUser(jane15); err != nil || u != jane {
		t.Errorf("ParseUser(%s) = %s, %v", jane15, u, err)
	}

	// A plan reads what was stored when it was made: a letter deleted
	// meanwhile is skipped, one added is not read.
	ctx := testContext(t)
	p, err := d.Plan(ctx, &dlq.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi := p.Bounds(); lo != 1 || hi != 5 || p.Stored != 5 {
		t.Errorf("plan bounds %d-%d, stored %d", lo, hi, p.Stored)
	}
	if err := d.Delete(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, 5); err != nil {
		t.Fatal(err)
	}
	deadLetter(t, js, events.UserChangedSubject(jane), originalHeader("evt-6"), nil, 106, events.ClassPoison, "x", 1, failedAt(6))
	var read []uint64
	var letters []*dlq.Letter
	err = d.Scan(ctx, p, &dlq.Filter{}, func(l *dlq.Letter) error {
		read, letters = append(read, l.Seq), append(letters, l)
		return nil
	}, func(seq uint64) { t.Errorf("missing %d", seq) })
	if err != nil || !slices.Equal(read, []uint64{1, 3, 4}) {
		t.Errorf("scan of an old plan: read %v, %v", read, err)
	}
	l := letters[1]
	if l.Class != "exhausted" || l.Replays != 1 || l.ReplayedFrom != "1" || l.OriginalMsgID != "cmd-3:replay:1" || l.EventID != "cmd-3" ||
		l.Type != "vccsync.command.archive" || l.Deliveries != "3" || l.OriginalSeq != "102" || l.Reason != "archive VCC user #" ||
		!l.Failed.Equal(failedAt(3)) || l.Subject != events.DLQSubject(events.CommandSubject(jane, "archive")) {
		t.Errorf("letter 3 = %+v", l)
	}
	// A get does not show the headers of the get itself.
	got, _ := scan(t, d, &dlq.Filter{Seqs: seqs("3")})
	if !slices.Equal(got, []uint64{3}) {
		t.Fatalf("get 3: %v", got)
	}
	var h nats.Header
	_ = d.Scan(ctx, dlq.Plan{}, &dlq.Filter{}, nil, nil) // an empty plan reads nothing
	p3, _ := d.Plan(ctx, &dlq.Filter{Seqs: seqs("3")})
	_ = d.Scan(ctx, p3, &dlq.Filter{}, func(l *dlq.Letter) error { h = l.Header; return nil }, nil)
	for k := range h {
		if strings.HasPrefix(k, "Nats-") && k != "Nats-Msg-Id" && k != "Nats-Expected-Stream" {
			t.Errorf("get header %s: %v", k, h[k])
		}
	}

	// An error of the callback stops the scan.
	stop := errors.New("enough")
	n := 0
	p, _ = d.Plan(ctx, &dlq.Filter{})
	err = d.Scan(ctx, p, &dlq.Filter{}, func(*dlq.Letter) error { n++; return stop }, nil)
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("scan stopped by its callback: %d read, %v", n, err)
	}
}

// vccsyncMsg reads a message of VCCSYNC by sequence.
func vccsyncMsg(t *testing.T, js jetstream.JetStream, seq uint64) *jetstream.RawStreamMsg {
	t.Helper()
	ctx := testContext(t)
	s, err := js.Stream(ctx, events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		t.Fatalf("VCCSYNC seq %d: %v", seq, err)
	}
	return m
}

func streamLen(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(testContext(t), events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// replay plans and replays with a filter, and returns the results.
func replay(t *testing.T, d *dlq.DLQ, f *dlq.Filter, o dlq.ReplayOptions) ([]dlq.ReplayResult, dlq.ReplayCounts, error) {
	t.Helper()
	ctx := testContext(t)
	p, err := d.Plan(ctx, f)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	var out []dlq.ReplayResult
	var last dlq.ReplayCounts
	c, err := d.Replay(ctx, p, f, o, func(r dlq.ReplayResult, c dlq.ReplayCounts) {
		out = append(out, r)
		last = c
	})
	if len(out) > 0 && last != c {
		t.Errorf("the last report's counts %+v differ from the result %+v", last, c)
	}
	return out, c, err
}

func one(seq uint64) *dlq.Filter {
	return &dlq.Filter{Seqs: []dlq.SeqRange{{Lo: seq, Hi: seq, Single: true}}}
}

func TestReplay(t *testing.T) {
	js := startJetStream(t, true)
	d := open(t, js)
	if err := d.CheckTarget(testContext(t)); err != nil {
		t.Fatalf("CheckTarget: %v", err)
	}
	body := envelope(t, "evt-1", events.TypeUserChanged, jane)
	subject := events.UserChangedSubject(jane)
	seq := deadLetter(t, js, subject, originalHeader("evt-1"), body, 7, events.ClassPermanent, "update VCC user 17: 409 Conflict", 1, failedAt(1))

	opts := dlq.ReplayOptions{MaxReplays: dlq.DefaultMaxReplays}
	res, c, err := replay(t, d, one(seq), opts)
	want := dlq.ReplayResult{Seq: seq, Outcome: dlq.Replayed, Subject: subject, MsgID: "evt-1:replay:1", Replays: 1, StreamSeq: 1}
	if err != nil || len(res) != 1 || res[0] != want || c != (dlq.ReplayCounts{Replayed: 1}) {
		t.Fatalf("replay: %+v, %+v, %v", res, c, err)
	}
	m := vccsyncMsg(t, js, 1)
	if m.Subject != subject || string(m.Data) != string(body) {
		t.Errorf("replayed to %s with body %s", m.Subject, m.Data)
	}
	wantHeader := map[string]string{
		events.HeaderMsgID: "evt-1:replay:1", events.HeaderReplays: "1", events.HeaderReplayedFrom: strconv.FormatUint(seq, 10),
		"Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", jetstream.ExpectedStreamHeader: events.Stream,
	}
	for k, v := range wantHeader {
		if got := m.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("replayed header %s = %q, want %q", k, got, v)
		}
	}
	if len(m.Header) != len(wantHeader) {
		t.Errorf("replayed headers = %v, want only %v", m.Header, wantHeader)
	}
	if got := dlqSeqs(t, d); len(got) != 0 {
		t.Errorf("DLQ still holds %v after the replay", got)
	}

	// It fails again: the next replay counts on; with Keep the copy stays,
	// and replaying the kept copy again is a duplicate that deletes it.
	again := deadLetter(t, js, m.Subject, m.Header, m.Data, 1, events.ClassPermanent, "update VCC user 17: 409 Conflict", 1, failedAt(2))
	opts.Keep = true
	res, _, err = replay(t, d, &dlq.Filter{Classes: []string{"permanent"}}, opts)
	if err != nil || len(res) != 1 || res[0].Outcome != dlq.Replayed || res[0].MsgID != "evt-1:replay:2" || res[0].Replays != 2 || !res[0].Kept {
		t.Fatalf("second replay: %+v, %v", res, err)
	}
	if got := dlqSeqs(t, d); !slices.Equal(got, []uint64{again}) {
		t.Errorf("DLQ holds %v, want the kept copy %d", got, again)
	}
	opts.Keep = false
	res, c, err = replay(t, d, one(again), opts)
	if err != nil || len(res) != 1 || res[0].Outcome != dlq.Duplicate || res[0].StreamSeq != 2 || c != (dlq.ReplayCounts{Duplicate: 1}) {
		t.Fatalf("replay of the kept copy: %+v, %+v, %v", res, c, err)
	}
	if got := dlqSeqs(t, d); len(got) != 0 {
		t.Errorf("DLQ still holds %v", got)
	}
	if n := streamLen(t, js); n != 2 {
		t.Errorf("VCCSYNC holds %d messages, want 2", n)
	}

	// A sequence that is not in the DLQ is reported, and counts as failed.
	res, c, err = replay(t, d, one(again), opts)
	if err != nil || len(res) != 1 || res[0] != (dlq.ReplayResult{Seq: again, Outcome: dlq.Missing}) || c.Failed != 1 || c.OK() {
		t.Errorf("replay of a missing sequence: %+v, %+v, %v", res, c, err)
	}
}

func TestReplayLimitAndDryRun(t *testing.T) {
	js := startJetStream(t, true)
	d := open(t, js)
	body := envelope(t, "evt-9", events.TypeUserChanged, john)
	subject := events.UserChangedSubject(john)
	h := originalHeader("evt-9:replay:5")
	h.Set(events.HeaderReplays, "5")
	worn := deadLetter(t, js, subject, h, body, 50, events.ClassPermanent, "update VCC user 23: 409 Conflict: username taken", 1, failedAt(1))
	fresh := deadLetter(t, js, subject, originalHeader("evt-10"), body, 51, events.ClassPoison, "data: bad", 1, failedAt(2))

	opts := dlq.ReplayOptions{MaxReplays: 5, DryRun: true}
	res, c, err := replay(t, d, &dlq.Filter{}, opts)
	if err != nil || c != (dlq.ReplayCounts{DryRun: true, Would: 1, Refused: 1}) || len(res) != 2 ||
		res[0].Outcome != dlq.Refused || !strings.HasPrefix(res[0].Refusal, "replayed 5 times already, the limit is 5") ||
		res[1] != (dlq.ReplayResult{Seq: fresh, Outcome: dlq.WouldReplay, Subject: subject, MsgID: "evt-10:replay:1", Replays: 1}) {
		t.Errorf("dry run: %+v, %+v, %v", res, c, err)
	}
	if n := streamLen(t, js); n != 0 {
		t.Errorf("dry run published %d messages", n)
	}
	if got := dlqSeqs(t, d); !slices.Equal(got, []uint64{worn, fresh}) {
		t.Errorf("DLQ holds %v after a dry run", got)
	}

	// For real, the refusal publishes nothing; a higher limit lets it
	// through, counting on from the original id.
	opts.DryRun = false
	if res, c, _ := replay(t, d, one(worn), opts); len(res) != 1 || res[0].Outcome != dlq.Refused || c.Refused != 1 || streamLen(t, js) != 0 {
		t.Errorf("replay past the limit: %+v, %+v", res, c)
	}
	opts.MaxReplays = 6
	if res, _, err := replay(t, d, one(worn), opts); err != nil || len(res) != 1 || res[0].MsgID != "evt-9:replay:6" || res[0].Replays != 6 {
		t.Errorf("replay with a higher limit: %+v, %v", res, err)
	}

	// Options that cannot run are refused before anything is read.
	for _, o := range []dlq.ReplayOptions{{MaxReplays: 0}, {MaxReplays: 1, Rate: -1}} {
		if _, err := d.Replay(testContext(t), dlq.Plan{}, &dlq.Filter{}, o, nil); err == nil {
			t.Errorf("Replay with %+v: no error", o)
		}
	}
}

func TestReplayRate(t *testing.T) {
	js := startJetStream(t, true)
	d := open(t, js)
	for i := range 4 {
		id := fmt.Sprintf("evt-%d", i)
		deadLetter(t, js, events.UserChangedSubject(jane), originalHeader(id), envelope(t, id, events.TypeUserChanged, jane), uint64(i+1), events.ClassPermanent, "x: y", 1, failedAt(1))
	}
	start := time.Now()
	if _, c, err := replay(t, d, &dlq.Filter{}, dlq.ReplayOptions{MaxReplays: 1, Rate: 10}); err != nil || c.Replayed != 4 {
		t.Fatalf("replay: %+v, %v", c, err)
	}
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Errorf("4 replays at 10/s took %s, want at least 300ms", took)
	}
}

// TestReplayWithoutTarget: without VCCSYNC, CheckTarget says so, and a
// replay stops after ten failed publishes in a row, keeping every copy.
func TestReplayWithoutTarget(t *testing.T) {
	js := startJetStream(t, false)
	if _, err := js.CreateStream(testContext(t), bus.DLQStreamConfig(bus.StreamsConfig{})); err != nil {
		t.Fatal(err)
	}
	// A short timeout: each publish without a stream waits for it, as
	// nats.go retries on "no responders".
	d, err := dlq.Open(testContext(t), js, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.CheckTarget(testContext(t)); !errors.Is(err, jetstream.ErrStreamNotFound) || !strings.Contains(err.Error(), "stream VCCSYNC not found") {
		t.Errorf("CheckTarget: %v", err)
	}
	for i := range 12 {
		id := fmt.Sprintf("evt-%d", i)
		deadLetter(t, js, events.UserChangedSubject(jane), originalHeader(id), nil, uint64(i+1), events.ClassPermanent, "x", 1, failedAt(1))
	}
	res, c, err := replay(t, d, &dlq.Filter{}, dlq.ReplayOptions{MaxReplays: 1})
	if err == nil || err.Error() != "stopped: 10 publishes failed in a row" || c.Failed != 10 || len(res) != 10 || res[9].Err == nil {
		t.Errorf("replay without VCCSYNC: %d results, %+v, %v", len(res), c, err)
	}
	if got := dlqSeqs(t, d); len(got) != 12 {
		t.Errorf("DLQ holds %v", got)
	}
}

func TestPurge(t *testing.T) {
	js := startJetStream(t, true)
	fixture(t, js)
	d := open(t, js)
	type report struct {
		seq    uint64
		failed bool
		c      dlq.PurgeCounts
	}
	var got []report
	c, err := d.Purge(testContext(t), []uint64{2, 9, 5}, func(seq uint64, err error, c dlq.PurgeCounts) {
		got = append(got, report{seq, err != nil, c})
	})
	want := []report{{2, false, dlq.PurgeCounts{Deleted: 1}}, {9, true, dlq.PurgeCounts{Deleted: 1, Failed: 1}}, {5, false, dlq.PurgeCounts{Deleted: 2, Failed: 1}}}
	if err != nil || c != (dlq.PurgeCounts{Deleted: 2, Failed: 1}) || !slices.Equal(got, want) {
		t.Errorf("purge: %+v, %v, reports %+v", c, err, got)
	}
	if seqs := dlqSeqs(t, d); !slices.Equal(seqs, []uint64{1, 3, 4}) {
		t.Errorf("DLQ holds %v", seqs)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if c, err := d.Purge(ctx, []uint64{1}, nil); !errors.Is(err, context.Canceled) || c != (dlq.PurgeCounts{}) {
		t.Errorf("cancelled purge: %+v, %v", c, err)
	}
	if seqs := dlqSeqs(t, d); !slices.Equal(seqs, []uint64{1, 3, 4}) {
		t.Errorf("DLQ holds %v after a cancelled purge", seqs)
	}
}
