// Package clitest holds the test helpers of the command-line binaries
// (publisher, vccctl): an embedded JetStream server with syncworker's
// streams, events to feed them, and what the stream then holds. Only
// tests import it.
package clitest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/bus/bustest"
	"github.com/vccsync/vccsync/pkg/events"
)

// Key is the 18-character form of a 15-character Salesforce ID.
func Key(id15 string) string {
	k, err := events.NormalizeID(id15)
	if err != nil {
		panic(err)
	}
	return k
}

// StartJetStream starts an embedded JetStream server (bustest.Start),
// with the streams syncworker creates when withStreams, and returns its
// URL and a client.
func StartJetStream(t *testing.T, withStreams bool) (string, jetstream.JetStream) {
	t.Helper()
	js, srv := bustest.Start(t, withStreams)
	return srv.ClientURL(), js
}

// Context is the test's context, bounded to 10 seconds.
func Context(t *testing.T) context.Context { return bustest.Context(t) }

// UserChanged is one JSON line of a salesforce.user.changed event.
func UserChanged(t *testing.T, id string, u events.User) string {
	t.Helper()
	if !u.SystemModstamp.Set {
		u.SystemModstamp = events.Val(events.Time{Time: time.Date(2026, 11, 20, 10, 15, 0, 0, time.UTC)})
	}
	env, err := events.NewUserChanged(id, "salesforce/outbound-message/00D5e000000KQ2e", time.Date(2026, 11, 20, 10, 15, 1, 0, time.UTC), u)
	if err != nil {
		t.Fatal(err)
	}
	return Marshal(t, env)
}

// Marshal is the envelope's JSON.
func Marshal(t *testing.T, env events.Envelope) string {
	t.Helper()
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Stored is a message as the stream holds it.
type Stored struct {
	Seq            uint64
	Subject, MsgID string
	EventID        string
	EnvSubject     string
}

// StreamMessages reads every message of VCCSYNC by sequence, without a
// consumer (the stream has work-queue retention), and decodes each as
// syncworker would.
func StreamMessages(t *testing.T, js jetstream.JetStream) []Stored {
	t.Helper()
	ctx := Context(t)
	s, err := js.Stream(ctx, events.Stream)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	var out []Stored
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		ev, err := events.Decode(m.Subject, m.Data)
		if err != nil {
			t.Fatalf("message %d on %s does not decode as syncworker would: %v", seq, m.Subject, err)
		}
		out = append(out, Stored{Seq: m.Sequence, Subject: m.Subject, MsgID: m.Header.Get(events.HeaderMsgID), EventID: ev.ID, EnvSubject: ev.Subject})
	}
	if uint64(len(out)) != info.State.Msgs {
		t.Fatalf("read %d messages, the stream holds %d", len(out), info.State.Msgs)
	}
	return out
}

// CheckOutput checks got is the lines of want.
func CheckOutput(t *testing.T, got string, want ...string) {
	t.Helper()
	if w := strings.Join(want, "\n") + "\n"; got != w {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, w)
	}
}

// StreamLen is how many messages VCCSYNC holds.
func StreamLen(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(Context(t), events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(Context(t))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}
