package dlq

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go"

	"github.com/vccsync/vccsync/pkg/events"
)

// TestHeaderNames pins the header names of the dead-letter format: dead
// letters already stored must still read after a change of the code.
func TestHeaderNames(t *testing.T) {
	for got, want := range map[string]string{
		events.HeaderMsgID:            "Nats-Msg-Id",
		events.HeaderError:            "Vccsync-Error",
		events.HeaderErrorClass:       "Vccsync-Error-Class",
		events.HeaderOriginalSubject:  "Vccsync-Original-Subject",
		events.HeaderOriginalSequence: "Vccsync-Original-Seq",
		events.HeaderDeliveries:       "Vccsync-Deliveries",
		events.HeaderFailedAt:         "Vccsync-Failed-At",
		events.HeaderOriginalMsgID:    "Vccsync-Original-Msg-Id",
		events.HeaderPreviousError:    "Vccsync-Previous-Error",
		events.HeaderReplays:          "Vccsync-Replays",
		events.HeaderReplayedFrom:     "Vccsync-Replayed-From",
	} {
		if got != want {
			t.Errorf("header %q, stored dead letters say %q", got, want)
		}
	}
}

func TestDecode(t *testing.T) {
	stored := time.Date(2026, 11, 20, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	jane18 := "0055e000001JaneAAC"
	if k, err := events.UserKey("0055e000001Jane"); err != nil || k != jane18 {
		t.Fatalf("UserKey = %q, %v", k, err)
	}
	header := func(kv ...string) nats.Header {
		h := nats.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	for _, tc := range []struct {
		name string
		m    Message
		want Letter
	}{
		{
			name: "every header",
			m: Message{Seq: 7, Subject: "vccsync.dlq.user.0055e000001Jane.changed", Stored: stored, Header: header(
				events.HeaderFailedAt, "2026-11-20T10:00:00.5Z",
				events.HeaderErrorClass, events.ClassPermanent,
				events.HeaderError, "update VCC user 17: 409 Conflict",
				events.HeaderOriginalSubject, "vccsync.user.0055e000001Jane.changed",
				events.HeaderOriginalSequence, "41",
				events.HeaderOriginalMsgID, "evt-1:replay:1",
				events.HeaderDeliveries, "3",
				events.HeaderReplays, " 1 ",
				events.HeaderReplayedFrom, "5",
			), Data: []byte(`{"specversion":"1.0","id":"evt-1","type":"salesforce.user.changed"}`)},
			want: Letter{
				Seq: 7, Subject: "vccsync.dlq.user.0055e000001Jane.changed", Stored: stored.UTC(),
				FailedAt: "2026-11-20T10:00:00.5Z", Failed: time.Date(2026, 11, 20, 10, 0, 0, 5e8, time.UTC),
				Class: "permanent", Error: "update VCC user 17: 409 Conflict", Reason: "update VCC user #",
				OriginalSubject: "vccsync.user.0055e000001Jane.changed", OriginalSeq: "41", OriginalMsgID: "evt-1:replay:1",
				Deliveries: "3", Replays: 1, ReplayedFrom: "5",
				Type: "salesforce.user.changed", EventID: "evt-1", User: jane18,
			},
		},
		{
			name: "nothing readable",
			m:    Message{Seq: 8, Subject: "vccsync.dlq.x", Stored: stored, Header: header(events.HeaderFailedAt, "yesterday", events.HeaderReplays, "two"), Data: []byte("not json")},
			want: Letter{
				Seq: 8, Subject: "vccsync.dlq.x", Stored: stored.UTC(), FailedAt: "yesterday", Failed: stored.UTC(),
				Reason: "(no error)", Replays: -1, ReplaysErr: `Vccsync-Replays "two" is not a count`,
			},
		},
		{
			name: "a user token that is no ID is kept as is",
			m:    Message{Seq: 9, Stored: stored, Header: header(events.HeaderOriginalSubject, "vccsync.user.someone.cmd.archive")},
			want: Letter{Seq: 9, Stored: stored.UTC(), Failed: stored.UTC(), OriginalSubject: "vccsync.user.someone.cmd.archive", User: "someone", Reason: "(no error)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Decode(tc.m)
			if diff := cmp.Diff(tc.want, *got, cmpopts.IgnoreFields(Letter{}, "Header", "Data")); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
			if got.Stored.Location() != time.UTC || got.Failed.Location() != time.UTC {
				t.Errorf("Decode: stored in %v, failed in %v, want both in UTC", got.Stored.Location(), got.Failed.Location())
			}
			if string(got.Data) != string(tc.m.Data) || len(got.Header) != len(tc.m.Header) {
				t.Errorf("Decode lost the stored header or body")
			}
		})
	}
}

func TestReason(t *testing.T) {
	for _, tc := range []struct{ class, err, want string }{
		{"permanent", "update VCC user 17: 409 Conflict", "update VCC user #"},
		{"exhausted", "gave up after 3 attempts: list VCC users for agent IDs in use: 503", "list VCC users for agent IDs in use"},
		{"poison", `type: unknown event type "x.y" (want …)`, "type"},
		{"poison", `subject "vccsync.user.x": does not start with "a"`, `subject "…"`},
		{"permanent", "mapping; more", "mapping"},
		{"permanent", "", "(no error)"},
		{"permanent", strings.Repeat("word ", 30), strings.TrimSpace(strings.Repeat("word ", 12)) + "…"},
	} {
		if got := Reason(tc.class, tc.err); got != tc.want {
			t.Errorf("Reason(%q, %q) = %q, want %q", tc.class, tc.err, got, tc.want)
		}
	}
}

func TestErrorLine(t *testing.T) {
	l := &Letter{Error: "first line\r\nsecond line"}
	if got := l.ErrorLine(80); got != "first line second line" {
		t.Errorf("ErrorLine(80) = %q", got)
	}
	if got := l.ErrorLine(8); got != "first l…" {
		t.Errorf("ErrorLine(8) = %q", got)
	}
}

func TestSplitReplayID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		base string
		n    int
	}{
		{"evt-1", "evt-1", 0},
		{"evt-1:replay:2", "evt-1", 2},
		{"a:replay:1:replay:3", "a:replay:1", 3},
		{"evt-1:replay:x", "evt-1:replay:x", 0},
		{"evt-1:replay:0", "evt-1:replay:0", 0},
		{"evt-1:replay:02", "evt-1:replay:02", 0},
	} {
		if base, n := splitReplayID(tc.id); base != tc.base || n != tc.n {
			t.Errorf("splitReplayID(%q) = %q, %d; want %q, %d", tc.id, base, n, tc.base, tc.n)
		}
	}
}

func TestPrepareReplayIDs(t *testing.T) {
	jane := events.UserChangedSubject("0055e000001JaneAAC")
	for _, tc := range []struct {
		origID, replays, eventID string
		want                     string
	}{
		{"evt-1", "", "", "evt-1:replay:1"},
		{"evt-1:replay:1", "1", "", "evt-1:replay:2"},
		{"evt-1:replay:3", "", "", "evt-1:replay:4"},
		{"evt-1:replay:x", "", "", "evt-1:replay:x:replay:1"},
		{"", "", "evt-from-body", "evt-from-body:replay:1"},
		{"", "", "", "dlq-7:replay:1"},
	} {
		h := nats.Header{}
		h.Set(events.HeaderOriginalSubject, jane)
		if tc.origID != "" {
			h.Set(events.HeaderOriginalMsgID, tc.origID)
		}
		if tc.replays != "" {
			h.Set(events.HeaderReplays, tc.replays)
		}
		body := []byte(`{"id":"` + tc.eventID + `"}`)
		rm, refusal := PrepareReplay(Decode(Message{Seq: 7, Header: h, Data: body}), 5)
		if refusal != "" || rm.MsgID != tc.want || rm.Msg.Header.Get(events.HeaderMsgID) != tc.want {
			t.Errorf("%+v: id %q, refusal %q; want %q", tc, rm.MsgID, refusal, tc.want)
		}
	}
}

func TestPrepareReplayRefusals(t *testing.T) {
	jane := events.UserChangedSubject("0055e000001JaneAAC")
	for _, tc := range []struct {
		name    string
		header  []string
		max     int
		refusal string
	}{
		{"no original subject", nil, 5, "no Vccsync-Original-Subject header: where it came from is unknown"},
		{"a DLQ subject", []string{events.HeaderOriginalSubject, "vccsync.dlq.user.x.changed"}, 5, "Vccsync-Original-Subject vccsync.dlq.user.x.changed is a DLQ subject"},
		{"unreadable count", []string{events.HeaderOriginalSubject, jane, events.HeaderReplays, "two"}, 5, `Vccsync-Replays "two" is not a count`},
		{"limit by header", []string{events.HeaderOriginalSubject, jane, events.HeaderReplays, "2", events.HeaderErrorClass, "permanent", events.HeaderError, "VCC\nsaid no"}, 2,
			"replayed 2 times already, the limit is 2 (--max-replays); it failed again (permanent: VCC said no); purge it, or fix the cause and raise --max-replays"},
		{"limit by id", []string{events.HeaderOriginalSubject, jane, events.HeaderOriginalMsgID, "e:replay:1"}, 1,
			"replayed 1 time already, the limit is 1 (--max-replays); it failed again (no class: ); purge it, or fix the cause and raise --max-replays"},
	} {
		h := nats.Header{}
		for i := 0; i < len(tc.header); i += 2 {
			h.Set(tc.header[i], tc.header[i+1])
		}
		if _, refusal := PrepareReplay(Decode(Message{Seq: 3, Header: h}), tc.max); refusal != tc.refusal {
			t.Errorf("%s: refusal %q, want %q", tc.name, refusal, tc.refusal)
		}
	}
}

// TestPrepareReplayHeaders: the replay keeps the original headers (and
// the errors of earlier failures), drops the DLQ and Nats-* ones, and sets
// the id and the replay headers.
func TestPrepareReplayHeaders(t *testing.T) {
	h := nats.Header{}
	for k, v := range map[string]string{
		"Nats-Msg-Id": "dlq:4:evt-1", "Nats-Expected-Stream": events.DLQStream, "nats-expected-last-sequence": "3",
		events.HeaderError: "x", events.HeaderErrorClass: "permanent", events.HeaderOriginalSubject: "vccsync.user.a.changed",
		events.HeaderOriginalSequence: "4", events.HeaderDeliveries: "1", events.HeaderFailedAt: "2026-11-20T10:00:00Z",
		events.HeaderOriginalMsgID: "evt-1", events.HeaderReplays: "1", events.HeaderReplayedFrom: "2",
		events.HeaderPreviousError: "permanent: y", "Traceparent": "00-abc-01",
	} {
		h[k] = []string{v}
	}
	rm, refusal := PrepareReplay(Decode(Message{Seq: 9, Header: h, Data: []byte("body")}), 5)
	if refusal != "" {
		t.Fatal(refusal)
	}
	want := nats.Header{
		"Nats-Msg-Id": {"evt-1:replay:2"}, events.HeaderReplays: {"2"}, events.HeaderReplayedFrom: {"9"},
		events.HeaderPreviousError: {"permanent: y"}, "Traceparent": {"00-abc-01"},
	}
	if diff := cmp.Diff(want, rm.Msg.Header); diff != "" {
		t.Errorf("replay headers (-want +got):\n%s", diff)
	}
	if rm.Msg.Subject != "vccsync.user.a.changed" || string(rm.Msg.Data) != "body" || rm.Replays != 2 {
		t.Errorf("replay = %s %q, replays %d", rm.Msg.Subject, rm.Msg.Data, rm.Replays)
	}
	// The letter's header is not changed.
	if h.Get("Nats-Msg-Id") != "dlq:4:evt-1" {
		t.Errorf("PrepareReplay changed the letter's header")
	}
}

func TestReplayCountsString(t *testing.T) {
	for _, tc := range []struct {
		c    ReplayCounts
		want string
		ok   bool
	}{
		{ReplayCounts{}, "0 replayed, 0 duplicate, 0 refused, 0 failed", true},
		{ReplayCounts{Replayed: 2, Duplicate: 1, Undeleted: 1}, "2 replayed, 1 duplicate, 0 refused, 0 failed (1 replayed but still in VCCSYNC_DLQ)", false},
		{ReplayCounts{DryRun: true, Would: 3, Refused: 1}, "3 would be replayed, 1 refused, 0 failed", false},
	} {
		if got := tc.c.String(); got != tc.want || tc.c.OK() != tc.ok {
			t.Errorf("%+v: %q, OK %v; want %q, %v", tc.c, got, tc.c.OK(), tc.want, tc.ok)
		}
	}
}
