package main

import (
	"bytes"
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

	"github.com/vccsync/vccsync/pkg/dlq"
	"github.com/vccsync/vccsync/pkg/events"
)

// dlqFailedAt is the failure time of the n-th test message.
func dlqFailedAt(n int) time.Time {
	return time.Date(2026, 11, 20, 10+n, 0, 0, 0, time.UTC)
}

// deadLetter stores a message in VCCSYNC_DLQ as syncworker's worker does:
// the original headers and body, the original id kept, a DLQ id of its
// own, and the DLQ headers.
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

func commandBody(t *testing.T, id, user, action string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"specversion": "1.0", "id": id, "source": "operator/ops", "type": events.CommandTypePrefix + action,
		"subject": user, "data": map[string]any{"requestedBy": "ops"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dlqFixture fills the DLQ with five messages:
//
//	1 jane changed   permanent  failed 11:00
//	2 john changed   poison     failed 12:00
//	3 jane archive   exhausted  failed 13:00, replayed once before
//	4 john changed   permanent  failed 14:00
//	5 jane (15-character ID in the subject), not JSON, poison, failed 15:00
func dlqFixture(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	janeChanged := []byte(userChanged(t, "evt-1", events.User{ID: jane, Alias: events.Val("jsmith")}))
	johnChanged := []byte(userChanged(t, "evt-2", events.User{ID: john, Alias: events.Val("jdoe")}))
	replayed := originalHeader("cmd-3:replay:1")
	replayed.Set(events.HeaderReplays, "1")
	replayed.Set(events.HeaderReplayedFrom, "1")
	for i, m := range []struct {
		subject      string
		h            nats.Header
		body         []byte
		class, error string
	}{
		{events.UserChangedSubject(jane), originalHeader("evt-1"), janeChanged, events.ClassPermanent, "update VCC user 17: 409 Conflict: username jane.smith@acme.example is taken"},
		{events.UserChangedSubject(john), originalHeader("evt-2"), johnChanged, events.ClassPoison, "data: IsActive: got JSON string, want bool"},
		{events.CommandSubject(jane, "archive"), replayed, commandBody(t, "cmd-3", jane, "archive"), events.ClassExhausted, "gave up after 3 attempts: archive VCC user 17: 503 Service Unavailable"},
		{events.UserChangedSubject(john), originalHeader("evt-4"), johnChanged, events.ClassPermanent, "update VCC user 23: 409 Conflict: username john.doe@acme.example is taken"},
		{"vccsync.user.0055e000001Jane.changed", originalHeader("evt-5"), []byte("not json"), events.ClassPoison, "envelope: not valid JSON at byte 1: invalid character 'o' in literal null (expecting 'u')"},
	} {
		seq := deadLetter(t, js, m.subject, m.h, m.body, uint64(100+i), m.class, m.error, i+1, dlqFailedAt(i+1))
		if seq != uint64(i+1) {
			t.Fatalf("DLQ sequence %d, want %d", seq, i+1)
		}
	}
}

// listedSeqs are the sequences of list's text output.
func listedSeqs(t *testing.T, stdout string) []uint64 {
	t.Helper()
	var seqs []uint64
	lines := strings.Split(stdout, "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "SEQ ") {
		return nil
	}
	for _, l := range lines[1:] {
		if l == "" {
			break
		}
		n, err := strconv.ParseUint(strings.Fields(l)[0], 10, 64)
		if err != nil {
			t.Fatalf("list line %q: %v", l, err)
		}
		seqs = append(seqs, n)
	}
	return seqs
}

func TestDLQList(t *testing.T) {
	url, js := startJetStream(t, true)
	dlqFixture(t, js)
	jane15 := "0055e000001Jane"

	for _, tc := range []struct {
		name string
		args []string
		want []uint64
	}{
		{"everything", nil, []uint64{1, 2, 3, 4, 5}},
		{"class", []string{"--class", "permanent"}, []uint64{1, 4}},
		{"classes", []string{"--class", "poison,exhausted"}, []uint64{2, 3, 5}},
		{"class repeated", []string{"--class", "poison", "--class", "exhausted"}, []uint64{2, 3, 5}},
		{"type", []string{"--type", events.TypeUserChanged}, []uint64{1, 2, 4}},
		{"type prefix", []string{"--type", "vccsync.command.*"}, []uint64{3}},
		{"user 15", []string{"--user", jane15}, []uint64{1, 3, 5}},
		{"user 18", []string{"--user", john}, []uint64{2, 4}},
		{"since", []string{"--since", "2026-11-20T13:00:00Z"}, []uint64{3, 4, 5}},
		{"until", []string{"--until", "2026-11-20T13:00:00Z"}, []uint64{1, 2}},
		{"since until", []string{"--since", "2026-11-20T12:00:00Z", "--until", "2026-11-20T14:00:00Z"}, []uint64{2, 3}},
		{"seq", []string{"--seq", "2", "--seq", "4-5"}, []uint64{2, 4, 5}},
		{"seq list", []string{"--seq", "1,3"}, []uint64{1, 3}},
		{"combined", []string{"--class", "permanent", "--user", jane15}, []uint64{1}},
		{"nothing", []string{"--class", "exhausted", "--user", john}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, append([]string{"dlq", "list", "--nats-url", url}, tc.args...)...)
			if code != exitOK || stderr != "" {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			if got := listedSeqs(t, stdout); !slices.Equal(got, tc.want) {
				t.Errorf("listed %v, want %v\n%s", got, tc.want, stdout)
			}
			if len(tc.want) == 0 && !strings.Contains(stdout, "no message matches (VCCSYNC_DLQ holds 5)") {
				t.Errorf("stdout does not say nothing matches:\n%s", stdout)
			}
		})
	}

	code, stdout, stderr := runCLI(t, nil, "dlq", "list", "--nats-url", url)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"SEQ  FAILED-AT             CLASS      TYPE                     USER                DELIVERIES  REPLAYS  ERROR\n",
		"1    2026-11-20T11:00:00Z  permanent  salesforce.user.changed  " + jane + "  1           0        update VCC user 17: 409 Conflict: username jane.smith@acme.example is taken\n",
		"3    2026-11-20T13:00:00Z  exhausted  vccsync.command.archive  " + jane + "  3           1        gave up after 3 attempts: archive VCC user 17: 503 Service Unavailable\n",
		"5    2026-11-20T15:00:00Z  poison     -                        " + jane + "  5           0        envelope: not valid JSON at byte 1: invalid character 'o' in literal null (expe…\n",
		"\n5 messages (VCCSYNC_DLQ holds 5)\nby class:\n",
		"  2  " + strings.Repeat("#", 40) + "  permanent\n",
		"  2  " + strings.Repeat("#", 40) + "  poison\n",
		"  1  " + strings.Repeat("#", 20) + strings.Repeat(" ", 20) + "  exhausted\n",
		"by reason:\n  2  " + strings.Repeat("#", 40) + "  update VCC user #\n",
		"  1  " + strings.Repeat("#", 20) + strings.Repeat(" ", 20) + "  archive VCC user #\n",
		"  1  " + strings.Repeat("#", 20) + strings.Repeat(" ", 20) + "  data\n",
		"  1  " + strings.Repeat("#", 20) + strings.Repeat(" ", 20) + "  envelope\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("list does not contain %q:\n%s", want, stdout)
		}
	}

	code, stdout, stderr = runCLI(t, nil, "dlq", "list", "--nats-url", url, "--json", "--class", "permanent,poison")
	if code != exitOK {
		t.Fatalf("--json: exit %d: %s", code, stderr)
	}
	var doc struct {
		Messages []dlq.Letter
		Total    int
		Stored   int
		ByClass  map[string]int
		ByReason []dlq.Count
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	if doc.Total != 4 || doc.Stored != 5 || len(doc.Messages) != 4 {
		t.Errorf("--json total %d, stored %d, %d messages; want 4, 5, 4", doc.Total, doc.Stored, len(doc.Messages))
	}
	if fmt.Sprint(doc.ByClass) != "map[permanent:2 poison:2]" {
		t.Errorf("byClass = %v", doc.ByClass)
	}
	if fmt.Sprint(doc.ByReason) != "[{update VCC user # 2} {data 1} {envelope 1}]" {
		t.Errorf("byReason = %v", doc.ByReason)
	}
	m := doc.Messages[0]
	if m.Seq != 1 || m.Class != "permanent" || m.User != jane || m.Type != events.TypeUserChanged || m.EventID != "evt-1" ||
		m.OriginalMsgID != "evt-1" || m.OriginalSubject != events.UserChangedSubject(jane) || m.Deliveries != "1" ||
		m.FailedAt != "2026-11-20T11:00:00Z" || m.OriginalSeq != "100" || m.Reason != "update VCC user #" {
		t.Errorf("--json first message = %+v", m)
	}

	// A sequence asked for that is not in the DLQ is reported.
	code, stdout, stderr = runCLI(t, nil, "dlq", "list", "--nats-url", url, "--seq", "4,9")
	if code != exitOK || !slices.Equal(listedSeqs(t, stdout), []uint64{4}) || !strings.Contains(stderr, "seq 9: not in VCCSYNC_DLQ") {
		t.Errorf("--seq 4,9: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func TestDLQShow(t *testing.T) {
	url, js := startJetStream(t, true)
	dlqFixture(t, js)

	code, stdout, stderr := runCLI(t, nil, "dlq", "show", "--nats-url", url, "1")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"seq:      1\nsubject:  vccsync.dlq.user." + jane + ".changed\n",
		"class:    permanent\nerror:    update VCC user 17: 409 Conflict: username jane.smith@acme.example is taken\n",
		"headers:\n  Nats-Expected-Stream: VCCSYNC_DLQ\n  Nats-Msg-Id: dlq:100:evt-1\n  Traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n",
		"  Vccsync-Deliveries: 1\n  Vccsync-Error: update VCC user 17: 409 Conflict: username jane.smith@acme.example is taken\n  Vccsync-Error-Class: permanent\n",
		"  Vccsync-Failed-At: 2026-11-20T11:00:00Z\n  Vccsync-Original-Msg-Id: evt-1\n  Vccsync-Original-Seq: 100\n  Vccsync-Original-Subject: vccsync.user." + jane + ".changed\n",
		"JSON):\n{\n  \"specversion\": \"1.0\",\n  \"id\": \"evt-1\",\n",
		"  \"data\": {\n    \"Id\": \"" + jane + "\",\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("show 1 does not contain %q:\n%s", want, stdout)
		}
	}

	code, stdout, _ = runCLI(t, nil, "dlq", "show", "--nats-url", url, "5")
	if code != exitOK || !strings.Contains(stdout, "body (8 bytes, not JSON):\nnot json\n") {
		t.Errorf("show 5: exit %d:\n%s", code, stdout)
	}

	code, stdout, stderr = runCLI(t, nil, "dlq", "show", "--nats-url", url, "--json", "3", "9")
	if code != exitFail || !strings.Contains(stderr, "seq 9: not in VCCSYNC_DLQ") {
		t.Errorf("show 3 9: exit %d, stderr %q; want 1 and seq 9 reported", code, stderr)
	}
	var doc struct {
		Seq     uint64
		Class   string
		Headers map[string][]string
		Body    map[string]any
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("show --json: %v\n%s", err, stdout)
	}
	if doc.Seq != 3 || doc.Class != "exhausted" || doc.Headers[events.HeaderReplays][0] != "1" || doc.Body["type"] != "vccsync.command.archive" {
		t.Errorf("show --json = %+v", doc)
	}

	if code, _, stderr := runCLI(t, nil, "dlq", "show", "--nats-url", url); code != exitUsage || !strings.Contains(stderr, "missing SEQ") {
		t.Errorf("show without SEQ: exit %d, %s", code, stderr)
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

// dlqSeqs are the sequences VCCSYNC_DLQ holds.
func dlqSeqs(t *testing.T, js jetstream.JetStream) []uint64 {
	t.Helper()
	ctx := testContext(t)
	s, err := js.Stream(ctx, events.DLQStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(events.DLQSubjectAll))
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		if _, err := s.GetMsg(ctx, seq); err == nil {
			seqs = append(seqs, seq)
		} else if !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatal(err)
		}
	}
	return seqs
}

func TestDLQReplay(t *testing.T) {
	url, js := startJetStream(t, true)
	body := []byte(userChanged(t, "evt-1", events.User{ID: jane, Alias: events.Val("jsmith")}))
	subject := events.UserChangedSubject(jane)
	dseq := deadLetter(t, js, subject, originalHeader("evt-1"), body, 7, events.ClassPermanent, "update VCC user 17: 409 Conflict", 1, dlqFailedAt(1))

	code, stdout, stderr := runCLI(t, nil, "dlq", "replay", "--nats-url", url, "--seq", strconv.FormatUint(dseq, 10))
	if code != exitOK {
		t.Fatalf("replay: exit %d\n%s%s", code, stdout, stderr)
	}
	checkOutput(t, stdout, "replayed seq=1 subject="+subject+" msg-id=evt-1:replay:1 replays=1 stream-seq=1")
	if stderr != "1 replayed, 0 duplicate, 0 refused, 0 failed\n" {
		t.Errorf("stderr = %q", stderr)
	}
	m := vccsyncMsg(t, js, 1)
	if m.Subject != subject || !bytes.Equal(m.Data, body) {
		t.Errorf("replayed to %s with body %s", m.Subject, m.Data)
	}
	want := map[string]string{
		events.HeaderMsgID: "evt-1:replay:1", events.HeaderReplays: "1", events.HeaderReplayedFrom: "1",
		"Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", jetstream.ExpectedStreamHeader: events.Stream,
	}
	for k, v := range want {
		if got := m.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("replayed header %s = %q, want %q", k, got, v)
		}
	}
	if len(m.Header) != len(want) {
		t.Errorf("replayed headers = %v, want only %v", m.Header, want)
	}
	if _, err := events.Decode(m.Subject, m.Data); err != nil {
		t.Errorf("the replay does not decode as syncworker receives it: %v", err)
	}
	if got := dlqSeqs(t, js); len(got) != 0 {
		t.Errorf("DLQ still holds %v after the replay", got)
	}

	// The replay fails again: the worker dead-letters it with its headers,
	// and the next replay counts on.
	again := deadLetter(t, js, m.Subject, m.Header, m.Data, 1, events.ClassPermanent, "update VCC user 17: 409 Conflict", 1, dlqFailedAt(2))
	code, stdout, stderr = runCLI(t, nil, "dlq", "replay", "--nats-url", url, "--class", "permanent", "--keep")
	if code != exitOK {
		t.Fatalf("second replay: exit %d\n%s%s", code, stdout, stderr)
	}
	checkOutput(t, stdout, fmt.Sprintf("replayed seq=%d subject=%s msg-id=evt-1:replay:2 replays=2 stream-seq=2 dlq-copy=kept", again, subject))
	m2 := vccsyncMsg(t, js, 2)
	if m2.Header.Get(events.HeaderMsgID) != "evt-1:replay:2" || m2.Header.Get(events.HeaderReplays) != "2" || m2.Header.Get(events.HeaderReplayedFrom) != strconv.FormatUint(again, 10) {
		t.Errorf("second replay headers = %v", m2.Header)
	}

	// The same DLQ message replayed again within the duplicate window is
	// stored once; the DLQ copy goes.
	code, stdout, _ = runCLI(t, nil, "dlq", "replay", "--nats-url", url, "--seq", strconv.FormatUint(again, 10))
	if code != exitOK {
		t.Fatalf("replay of a kept copy: exit %d\n%s", code, stdout)
	}
	checkOutput(t, stdout, fmt.Sprintf("duplicate seq=%d subject=%s msg-id=evt-1:replay:2 replays=2 stream-seq=2", again, subject))
	if got := dlqSeqs(t, js); len(got) != 0 {
		t.Errorf("DLQ still holds %v", got)
	}
	if n := streamLen(t, js); n != 2 {
		t.Errorf("VCCSYNC holds %d messages, want 2", n)
	}
}

func TestDLQReplayLimitAndDryRun(t *testing.T) {
	url, js := startJetStream(t, true)
	body := []byte(userChanged(t, "evt-9", events.User{ID: john, Alias: events.Val("jdoe")}))
	subject := events.UserChangedSubject(john)
	h := originalHeader("evt-9:replay:5")
	h.Set(events.HeaderReplays, "5")
	h.Set(events.HeaderReplayedFrom, "40")
	worn := deadLetter(t, js, subject, h, body, 50, events.ClassPermanent, "update VCC user 23: 409 Conflict: username taken", 1, dlqFailedAt(1))
	fresh := deadLetter(t, js, subject, originalHeader("evt-10"), body, 51, events.ClassPoison, "data: bad", 1, dlqFailedAt(2))
	noSubject := deadLetter(t, js, subject, originalHeader("evt-11"), body, 52, events.ClassPoison, "data: bad", 1, dlqFailedAt(3))
	dctx := testContext(t)
	ds, err := js.Stream(dctx, events.DLQStream)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ds.GetMsg(dctx, noSubject)
	if err != nil {
		t.Fatal(err)
	}
	raw.Header.Del(events.HeaderOriginalSubject)
	raw.Header.Del(events.HeaderMsgID)
	if _, err := js.PublishMsg(dctx, &nats.Msg{Subject: raw.Subject, Header: raw.Header, Data: raw.Data}); err != nil {
		t.Fatal(err)
	}
	if err := ds.DeleteMsg(dctx, noSubject); err != nil {
		t.Fatal(err)
	}
	noSubject = 4

	// --dry-run publishes and deletes nothing.
	code, stdout, stderr := runCLI(t, nil, "dlq", "replay", "--nats-url", url, "--all", "--dry-run")
	if code != exitFail {
		t.Errorf("dry run with a refusal: exit %d, want 1", code)
	}
	checkOutput(t, stdout,
		fmt.Sprintf("refused seq=%d: replayed 5 times already, the limit is 5 (--max-replays); it failed again (permanent: update VCC user 23: 409 Conflict: username taken); purge it, or fix the cause and raise --max-replays", worn),
		fmt.Sprintf("would replay seq=%d to subject %s as msg-id evt-10:replay:1 (replays=1)", fresh, subject),
		fmt.Sprintf("refused seq=%d: no Vccsync-Original-Subject header: where it came from is unknown", noSubject),
	)
	if stderr != "1 would be replayed, 2 refused, 0 failed\n" {
		t.Errorf("dry run stderr = %q", stderr)
	}
	if n := streamLen(t, js); n != 0 {
		t.Errorf("dry run published %d messages", n)
	}
	if got := dlqSeqs(t, js); !slices.Equal(got, []uint64{worn, fresh, noSubject}) {
		t.Errorf("DLQ holds %v after a dry run", got)
	}

	code, stdout, _ = runCLI(t, nil, "dlq", "replay", "--nats-url", url, "--seq", strconv.FormatUint(fresh, 10), "--dry-run")
	if code != exitOK || stdout != fmt.Sprintf("would replay seq=%d to subject %s as msg-id evt-10:replay:1 (replays=1)\n", fresh, subject) {
		t.Errorf("dry run of one: exit %d\n%s", code, stdout)
	}

	// The refusal, for real: nothing published, the DLQ copy stays.
	code, stdout, _ = runCLI(t, nil, "dlq", "replay", "--nats-url", url, "--seq", strconv.FormatUint(worn, 10))
	if code != exitFail || !strings.HasPrefix(stdout, fmt.Sprintf("refused seq=%d: replayed 5 times already", worn)) {
		t.Errorf("replay past the limit: exit %d\n%s", code, stdout)
	}
	if n := streamLen(t, js); n != 0 {
		t.Errorf("a refused replay published %d messages", n)
	}

	// A higher limit lets it through, counting on from the original id.
	code, stdout, stderr = runCLI(t, nil, "dlq", "replay", "--nats-url", url, "--seq", strconv.FormatUint(worn, 10), "--max-replays", "6")
	if code != exitOK {
		t.Fatalf("replay with --max-replays 6: exit %d\n%s%s", code, stdout, stderr)
	}
	checkOutput(t, stdout, fmt.Sprintf("replayed seq=%d subject=%s msg-id=evt-9:replay:6 replays=6 stream-seq=1", worn, subject))
	if got := dlqSeqs(t, js); !slices.Equal(got, []uint64{fresh, noSubject}) {
		t.Errorf("DLQ holds %v", got)
	}

	// A sequence that is not in the DLQ fails.
	code, stdout, _ = runCLI(t, nil, "dlq", "replay", "--nats-url", url, "--seq", strconv.FormatUint(worn, 10))
	if code != exitFail || !strings.Contains(stdout, fmt.Sprintf("failed seq=%d: not in VCCSYNC_DLQ", worn)) {
		t.Errorf("replay of a missing seq: exit %d\n%s", code, stdout)
	}
}

func TestDLQReplayRate(t *testing.T) {
	url, js := startJetStream(t, true)
	for i := range 4 {
		id := fmt.Sprintf("evt-%d", i)
		body := []byte(userChanged(t, id, events.User{ID: jane, Alias: events.Val("jsmith")}))
		deadLetter(t, js, events.UserChangedSubject(jane), originalHeader(id), body, uint64(i+1), events.ClassPermanent, "x: y", 1, dlqFailedAt(1))
	}
	start := time.Now()
	code, stdout, stderr := runCLI(t, nil, "dlq", "replay", "--nats-url", url, "--all", "--rate", "10")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("4 replays at 10/s took %s, want at least 300ms", d)
	}
	if n := streamLen(t, js); n != 4 {
		t.Errorf("VCCSYNC holds %d, want 4", n)
	}
}

func TestDLQPurge(t *testing.T) {
	url, js := startJetStream(t, true)
	dlqFixture(t, js)
	all := []uint64{1, 2, 3, 4, 5}

	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no --yes without a terminal", []string{"--class", "poison"}, "give --yes to confirm (stdin is not a terminal"},
		{"no filter", []string{"--yes"}, "purge needs a filter"},
		{"filter and --all", []string{"--yes", "--all", "--class", "poison"}, "--all and a filter"},
	} {
		code, _, stderr := runCLI(t, nil, append([]string{"dlq", "purge", "--nats-url", url}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%s: exit %d, stderr:\n%s", tc.name, code, stderr)
		}
	}
	if got := dlqSeqs(t, js); !slices.Equal(got, all) {
		t.Fatalf("DLQ holds %v after refused purges", got)
	}

	terminal := dlqEnv{now: time.Now, isTerminal: func(x any) bool { _, ok := x.(*strings.Reader); return ok }}
	var stdout, stderr bytes.Buffer
	code := runWith(t.Context(), []string{"dlq", "purge", "--nats-url", url, "--class", "poison"}, terminal, strings.NewReader("no\n"), &stdout, &stderr)
	if code != exitFail || !strings.Contains(stderr.String(), "Delete 2 messages from VCCSYNC_DLQ for good (2 poison, seq 2 to 5)? Type yes to delete: ") ||
		!strings.Contains(stderr.String(), "not confirmed; nothing deleted") {
		t.Errorf("purge answered no: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if got := dlqSeqs(t, js); !slices.Equal(got, all) {
		t.Fatalf("DLQ holds %v after a purge answered no", got)
	}

	stdout.Reset()
	stderr.Reset()
	code = runWith(t.Context(), []string{"dlq", "purge", "--nats-url", url, "--class", "poison"}, terminal, strings.NewReader("yes\n"), &stdout, &stderr)
	if code != exitOK || stdout.String() != "deleted 2 messages from VCCSYNC_DLQ\n" {
		t.Errorf("purge answered yes: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if got := dlqSeqs(t, js); !slices.Equal(got, []uint64{1, 3, 4}) {
		t.Errorf("DLQ holds %v after purging the poison", got)
	}

	code, out, errOut := runCLI(t, nil, "dlq", "purge", "--nats-url", url, "--yes", "--user", jane)
	if code != exitOK || out != "deleted 2 messages from VCCSYNC_DLQ\n" {
		t.Errorf("purge --yes --user: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, nil, "dlq", "purge", "--nats-url", url, "--yes", "--user", jane)
	if code != exitOK || out != "deleted 0 messages from VCCSYNC_DLQ: none matches\n" {
		t.Errorf("purge of nothing: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, nil, "dlq", "purge", "--nats-url", url, "--yes", "--all")
	if code != exitOK || out != "deleted 1 message from VCCSYNC_DLQ\n" {
		t.Errorf("purge --all: exit %d\n%s", code, out)
	}
	if got := dlqSeqs(t, js); len(got) != 0 {
		t.Errorf("DLQ holds %v after purge --all", got)
	}
}

func TestDLQStreamMissing(t *testing.T) {
	url, _ := startJetStream(t, false)
	code, _, stderr := runCLI(t, nil, "dlq", "list", "--nats-url", url)
	if code != exitFail || !strings.Contains(stderr, "stream VCCSYNC_DLQ not found: is syncworker running") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestDLQEmpty(t *testing.T) {
	url, _ := startJetStream(t, true)
	code, stdout, _ := runCLI(t, nil, "dlq", "list", "--nats-url", url)
	if code != exitOK || stdout != "no message matches (VCCSYNC_DLQ holds 0)\n" {
		t.Errorf("empty list: exit %d\n%s", code, stdout)
	}
	code, stdout, stderr := runCLI(t, nil, "dlq", "replay", "--nats-url", url, "--all")
	if code != exitOK || stdout != "" || stderr != "0 replayed, 0 duplicate, 0 refused, 0 failed\n" {
		t.Errorf("empty replay: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestDLQUsage(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"dlq"}, exitUsage, "", "vccctl dlq: missing subcommand; subcommands: list, show, replay, purge\nRun 'vccctl dlq --help' for usage.\n"},
		{[]string{"dlq", "-h"}, exitOK, "vccctl dlq <command> [flags]", ""},
		{[]string{"help", "dlq"}, exitOK, "vccctl dlq <command> [flags]", ""},
		{[]string{"help", "dlq", "replay"}, exitOK, "vccctl dlq replay [flags] FILTERS|--all", ""},
		{[]string{"dlq", "replay", "-h"}, exitOK, "--max-replays", ""},
		{[]string{"dlq", "frob"}, exitUsage, "", `unknown subcommand "frob"`},
		{[]string{"dlq", "replay"}, exitUsage, "", "replay needs a filter"},
		{[]string{"dlq", "replay", "--all", "--max-replays", "0"}, exitUsage, "", "--max-replays 0: must be at least 1"},
		{[]string{"dlq", "replay", "--all", "--rate", "-1"}, exitUsage, "", "--rate -1"},
		{[]string{"dlq", "list", "--class", "fatal"}, exitUsage, "", `--class "fatal": want poison, permanent or exhausted`},
		{[]string{"dlq", "list", "--user", "0015e000001AbCd"}, exitUsage, "", `--user "0015e000001AbCd"`},
		{[]string{"dlq", "list", "--seq", "5-2"}, exitUsage, "", `--seq: "5-2": want a range A-B with A <= B`},
		{[]string{"dlq", "list", "--since", "yesterday"}, exitUsage, "", `--since: "yesterday"`},
		{[]string{"dlq", "list", "--since", "2026-11-21", "--until", "2026-11-20"}, exitUsage, "", "is not before --until"},
		{[]string{"dlq", "list", "extra"}, exitUsage, "", "list takes only flags"},
		{[]string{"dlq", "show", "x"}, exitUsage, "", `SEQ "x"`},
	} {
		code, stdout, stderr := runCLI(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, tc.code, stdout, stderr)
		}
	}
	_, stdout, _ := runCLI(t, nil, "help")
	if !strings.Contains(stdout, "  dlq         list, show, replay and purge dead-lettered messages") {
		t.Errorf("vccctl help does not list dlq:\n%s", stdout)
	}
}

// fakeClock is a clock that moves when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) add(d time.Duration)     { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock               { return &fakeClock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)} }
func progressLines(s string) int             { return strings.Count(s, "\n") }
func progressDraws(s string) int             { return strings.Count(s, "\r\033[K[") }
func progressRun(p *dlqProgress, seq uint64) { p.update(seq, func() string { return "ok" }) }

func TestDLQProgress(t *testing.T) {
	// Not a terminal: nothing in the first second, then a line every
	// second or every 100 messages.
	c := newFakeClock()
	var w bytes.Buffer
	p := newDLQProgress(&w, false, c.now, "replay", 1, 1000)
	for seq := uint64(1); seq <= 50; seq++ {
		progressRun(p, seq)
	}
	if w.Len() != 0 {
		t.Fatalf("progress within the first second: %q", w.String())
	}
	c.add(time.Second)
	progressRun(p, 51)
	if got := w.String(); got != "replay: 51 messages, seq 51 of 1-1000 (5%), 51.0/s, eta 19s; ok\n" {
		t.Errorf("first line = %q", got)
	}
	for seq := uint64(52); seq < 151; seq++ {
		progressRun(p, seq)
	}
	if n := progressLines(w.String()); n != 1 {
		t.Errorf("%d lines before 100 more messages", n)
	}
	progressRun(p, 151)
	if n := progressLines(w.String()); n != 2 {
		t.Errorf("%d lines after 100 more messages, want 2", n)
	}
	c.add(time.Second)
	progressRun(p, 152)
	if n := progressLines(w.String()); n != 3 {
		t.Errorf("%d lines after another second, want 3", n)
	}
	p.finish()
	if n := progressLines(w.String()); n != 3 {
		t.Errorf("finish wrote on a non-terminal: %q", w.String())
	}

	// A terminal: one line drawn in place, taken down around output and
	// at the end.
	c = newFakeClock()
	w.Reset()
	p = newDLQProgress(&w, true, c.now, "purge", 1, 10)
	c.add(2 * time.Second)
	progressRun(p, 5)
	var out bytes.Buffer
	p.printf(&out, "line %d\n", 1)
	p.finish()
	got := w.String()
	if progressLines(got) != 0 || progressDraws(got) != 2 || !strings.Contains(got, "[============            ] purge: 1 messages, seq 5 of 1-10 (50%)") ||
		!strings.HasSuffix(got, "\r\033[K") || out.String() != "line 1\n" {
		t.Errorf("terminal progress = %q, output %q", got, out.String())
	}
}
