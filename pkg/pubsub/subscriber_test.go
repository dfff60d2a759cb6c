package pubsub

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/vccsync/vccsync/pkg/pubsub/eventbus"
	"github.com/vccsync/vccsync/pkg/salesforce"
)

// journal is the order in which the sink and the store were called.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, fmt.Sprintf(format, args...))
}

func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.lines)
}

// memStore is a ReplayStore in memory.
type memStore struct {
	j        *journal
	mu       sync.Mutex
	ids      map[string][]byte
	saves    int
	failSave func(id []byte, n int) error // n counts the saves from 1
}

func (s *memStore) Load(_ context.Context, topic string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.ids[topic]), nil
}

func (s *memStore) Save(_ context.Context, topic string, id []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	if s.failSave != nil {
		if err := s.failSave(id, s.saves); err != nil {
			s.j.add("save %s: %v", showID(id), err)
			return err
		}
	}
	s.j.add("save %s", showID(id))
	if len(id) == 0 {
		delete(s.ids, topic)
		return nil
	}
	s.ids[topic] = bytes.Clone(id)
	return nil
}

func (s *memStore) get() []byte {
	b, _ := s.Load(context.Background(), testTopic)
	return b
}

func showID(id []byte) string {
	if len(id) == 0 {
		return "-"
	}
	return hex.EncodeToString(id)
}

// recSink is a Sink that records what it handles.
type recSink struct {
	j     *journal
	mu    sync.Mutex
	got   []Event // handled: Handle returned nil
	calls int
	fail  func(ev Event, call int) error // call counts from 1
}

func (s *recSink) Handle(_ context.Context, ev Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil {
		if err := s.fail(ev, s.calls); err != nil {
			s.j.add("handle %s: %v", ev.EventID, err)
			return err
		}
	}
	s.j.add("handle %s", ev.EventID)
	s.got = append(s.got, ev)
	return nil
}

func (s *recSink) events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

func (s *recSink) ids() []string {
	var ids []string
	for _, ev := range s.events() {
		ids = append(ids, ev.EventID)
	}
	return ids
}

// fakeLogin hands out tokens in turn: the next one on each refresh.
type fakeLogin struct {
	mu     sync.Mutex
	tokens []string
	idx    int
	calls  []bool
	fail   func(call int) error
}

func (l *fakeLogin) Credentials(_ context.Context, refresh bool) (Credentials, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, refresh)
	if l.fail != nil {
		if err := l.fail(len(l.calls)); err != nil {
			return Credentials{}, err
		}
	}
	if refresh && l.idx < len(l.tokens)-1 {
		l.idx++
	}
	return Credentials{AccessToken: l.tokens[l.idx], InstanceURL: testInstanceURL, TenantID: testOrg}, nil
}

func (l *fakeLogin) refreshes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.calls {
		if r {
			n++
		}
	}
	return n
}

type harness struct {
	t     *testing.T
	srv   *fakeServer
	j     *journal
	store *memStore
	sink  *recSink
	login *fakeLogin
	logs  *observer.ObservedLogs
	core  zapcore.Core
	lost  atomic.Int32
}

func newHarness(t *testing.T) *harness {
	j := &journal{}
	core, logs := observer.New(zap.DebugLevel)
	h := &harness{
		t:     t,
		srv:   newFakeServer(t),
		j:     j,
		store: &memStore{j: j, ids: map[string][]byte{}},
		sink:  &recSink{j: j},
		login: &fakeLogin{tokens: []string{"token-1", "token-2", "token-3"}},
		logs:  logs,
		core:  core,
	}
	t.Cleanup(func() {
		if t.Failed() {
			all := logs.Filter(func(e observer.LoggedEntry) bool { return e.Level >= zap.InfoLevel }).All()
			for _, e := range all[max(0, len(all)-100):] {
				t.Logf("%s %s %v", e.Level, e.Message, e.ContextMap())
			}
		}
	})
	return h
}

// config is a configuration for the harness's server, with quick retries.
func (h *harness) config() Config {
	return Config{
		Addr: h.srv.addr, Insecure: true,
		Login: h.login, Store: h.store, Sink: h.sink,
		OnReplayLost: func() { h.lost.Add(1) },
		Logger:       zap.New(h.core),
		Registry:     prometheus.NewRegistry(),
		RetryInitial: time.Millisecond, RetryMax: 20 * time.Millisecond,
	}
}

// run starts a Subscriber; stop cancels it and returns Run's error.
func (h *harness) run(cfg Config) (*Subscriber, func() error) {
	h.t.Helper()
	s, err := New(cfg)
	if err != nil {
		h.t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(15 * time.Second):
				h.t.Errorf("Run did not return after its context ended")
			}
		})
		return runErr
	}
	h.t.Cleanup(func() { _ = stop() })
	return s, stop
}

func (h *harness) waitStored(seq uint64) {
	h.t.Helper()
	waitFor(h.t, fmt.Sprintf("replay id %d stored", seq), func() bool { return bytes.Equal(h.store.get(), seqReplayID(seq)) })
}

func (h *harness) authErrors() []string {
	var out []string
	h.srv.snapshot(func(f *fakeServer) { out = slices.Clone(f.authErrors) })
	return out
}

func evIDs(from, to int) []string {
	var ids []string
	for i := from; i <= to; i++ {
		ids = append(ids, fmt.Sprintf("ev-%d", i))
	}
	return ids
}

func count(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

func TestDeliversInOrderAndStoresEachReplayIDAfterHandle(t *testing.T) {
	h := newHarness(t)
	commit := time.UnixMilli(time.Now().Add(-time.Minute).UnixMilli())
	h.srv.publish(7, schemaA, commit)
	h.srv.start(nil)
	cfg := h.config()
	cfg.StartPreset = eventbus.ReplayPreset_EARLIEST
	cfg.BatchSize = 4
	s, _ := h.run(cfg)
	h.waitStored(7)

	var want []string
	for i := 1; i <= 7; i++ {
		want = append(want, fmt.Sprintf("handle ev-%d", i), "save "+hex.EncodeToString(seqReplayID(uint64(i))))
	}
	if diff := cmp.Diff(want, h.j.get()); diff != "" {
		t.Errorf("sink and store calls (-want +got):\n%s", diff)
	}

	schemaJSON := cdcSchemaJSON(t)
	cdcSchema, err := salesforce.ParseCDCSchema([]byte(schemaJSON))
	if err != nil {
		t.Fatal(err)
	}
	dec := &salesforce.CDCDecoder{OrgID: testOrg, Format: salesforce.CDCPubSub, Schema: cdcSchema}
	for i, ev := range h.sink.events() {
		n := i + 1
		if ev.Topic != testTopic || ev.EventID != fmt.Sprintf("ev-%d", n) || ev.SchemaID != schemaA || ev.SchemaJSON != schemaJSON ||
			!bytes.Equal(ev.ReplayID, seqReplayID(uint64(n))) {
			t.Errorf("event %d: topic %q id %q schema %q replay %x", n, ev.Topic, ev.EventID, ev.SchemaID, ev.ReplayID)
		}
		res, err := dec.Decode(ev.Payload)
		if err != nil {
			t.Fatalf("event %d: CDCDecoder: %v", n, err)
		}
		var u struct{ Id, Username string }
		if len(res.Events) != 1 || json.Unmarshal(res.Events[0].Data, &u) != nil ||
			u.Id != userID(n) || u.Username != fmt.Sprintf("user%d@example.com", n) {
			t.Errorf("event %d decodes to %+v (%d events), want user %s", n, u, len(res.Events), userID(n))
		}
	}

	subs := h.srv.subscriptions()
	if len(subs) != 1 || subs[0].preset != eventbus.ReplayPreset_EARLIEST || subs[0].token != "token-1" {
		t.Errorf("subscriptions %+v, want one from EARLIEST with token-1", subs)
	}
	if errs := h.authErrors(); len(errs) != 0 {
		t.Errorf("calls refused for their metadata: %q", errs)
	}
	if got := count(s.m.received); got != 7 {
		t.Errorf("events received %v, want 7", got)
	}
	if got := count(s.m.published); got != 7 {
		t.Errorf("events published %v, want 7", got)
	}
	if got, want := count(s.m.positionTime), float64(commit.UnixMilli())/1000; got != want {
		t.Errorf("position time %v, want %v", got, want)
	}
	if lag := count(s.m.lag); lag < 60 || lag > 600 {
		t.Errorf("lag %v s, want about 60", lag)
	}
}

func TestHandleFailureResubscribesFromTheLastStoredReplayID(t *testing.T) {
	h := newHarness(t)
	failed := false
	h.sink.fail = func(ev Event, _ int) error {
		if ev.EventID == "ev-3" && !failed {
			failed = true
			return errors.New("no PubAck")
		}
		return nil
	}
	h.srv.publish(5, schemaA, time.Time{})
	h.srv.start(nil)
	cfg := h.config()
	cfg.StartPreset = eventbus.ReplayPreset_EARLIEST
	s, _ := h.run(cfg)
	h.waitStored(5)

	want := []string{
		"handle ev-1", "save " + hex.EncodeToString(seqReplayID(1)),
		"handle ev-2", "save " + hex.EncodeToString(seqReplayID(2)),
		"handle ev-3: no PubAck",
		"handle ev-3", "save " + hex.EncodeToString(seqReplayID(3)),
		"handle ev-4", "save " + hex.EncodeToString(seqReplayID(4)),
		"handle ev-5", "save " + hex.EncodeToString(seqReplayID(5)),
	}
	if diff := cmp.Diff(want, h.j.get()); diff != "" {
		t.Errorf("sink and store calls (-want +got):\n%s", diff)
	}
	subs := h.srv.subscriptions()
	if len(subs) != 2 || subs[1].preset != eventbus.ReplayPreset_CUSTOM || !bytes.Equal(subs[1].replayID, seqReplayID(2)) {
		t.Errorf("subscriptions %+v, want the second from CUSTOM after event 2", subs)
	}
	if got := count(s.m.reconnects.WithLabelValues(ReasonSink)); got != 1 {
		t.Errorf("reconnects{sink} %v, want 1", got)
	}
	if n := h.lost.Load(); n != 0 {
		t.Errorf("OnReplayLost called %d times, want 0", n)
	}
}

func TestStoreFailureResubscribesAndTheEventComesAgain(t *testing.T) {
	h := newHarness(t)
	h.store.failSave = func(id []byte, n int) error {
		if n == 2 {
			return errors.New("disk full")
		}
		return nil
	}
	h.srv.publish(3, schemaA, time.Time{})
	h.srv.start(nil)
	cfg := h.config()
	cfg.StartPreset = eventbus.ReplayPreset_EARLIEST
	s, _ := h.run(cfg)
	h.waitStored(3)
	want := []string{
		"handle ev-1", "save " + hex.EncodeToString(seqReplayID(1)),
		"handle ev-2", "save " + hex.EncodeToString(seqReplayID(2)) + ": disk full",
		"handle ev-2", "save " + hex.EncodeToString(seqReplayID(2)),
		"handle ev-3", "save " + hex.EncodeToString(seqReplayID(3)),
	}
	if diff := cmp.Diff(want, h.j.get()); diff != "" {
		t.Errorf("sink and store calls (-want +got):\n%s", diff)
	}
	if got := count(s.m.reconnects.WithLabelValues(ReasonStore)); got != 1 {
		t.Errorf("reconnects{store} %v, want 1", got)
	}
}

func TestRestartResumesAfterTheLastStoredEvent(t *testing.T) {
	h := newHarness(t)
	h.srv.publish(2, schemaA, time.Time{}) // before the first start: not delivered (LATEST)
	h.srv.start(nil)

	_, stop := h.run(h.config())
	waitFor(t, "a subscription", func() bool { return h.srv.activeSubscriptions() == 1 })
	h.srv.publish(5, schemaA, time.Time{})
	h.waitStored(7)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v, want nil once its context ended", err)
	}
	waitFor(t, "the stream to close", func() bool { return h.srv.activeSubscriptions() == 0 })

	h.srv.publish(4, schemaA, time.Time{})
	h.run(h.config())
	h.waitStored(11)

	if diff := cmp.Diff(evIDs(3, 11), h.sink.ids()); diff != "" {
		t.Errorf("events handled (-want +got):\n%s", diff)
	}
	subs := h.srv.subscriptions()
	if len(subs) != 2 || subs[0].preset != eventbus.ReplayPreset_LATEST ||
		subs[1].preset != eventbus.ReplayPreset_CUSTOM || !bytes.Equal(subs[1].replayID, seqReplayID(7)) {
		t.Errorf("subscriptions %+v, want LATEST, then CUSTOM after event 7", subs)
	}
}

func TestMidStreamFailuresRepeatNothing(t *testing.T) {
	h := newHarness(t)
	h.srv.failAfter = []int{2, 0, 3}
	h.srv.publish(10, schemaA, time.Time{})
	h.srv.start(nil)
	cfg := h.config()
	cfg.StartPreset = eventbus.ReplayPreset_EARLIEST
	s, _ := h.run(cfg)
	h.waitStored(10)
	if diff := cmp.Diff(evIDs(1, 10), h.sink.ids()); diff != "" {
		t.Errorf("events handled (-want +got):\n%s", diff)
	}
	if got := count(s.m.reconnects.WithLabelValues(ReasonStream)); got != 3 {
		t.Errorf("reconnects{stream} %v, want 3", got)
	}
	subs := h.srv.subscriptions()
	want := []uint64{2, 2, 5}
	for i, seq := range want {
		if i+1 >= len(subs) || !bytes.Equal(subs[i+1].replayID, seqReplayID(seq)) {
			t.Errorf("subscriptions %+v: want resumptions after events %v", subs, want)
			break
		}
	}
}

func TestFlowControl(t *testing.T) {
	for _, batch := range []int{1, 5, 100} {
		t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
			const total = 130
			h := newHarness(t)
			h.srv.publish(total, schemaA, time.Time{})
			h.srv.start(nil)
			cfg := h.config()
			cfg.StartPreset = eventbus.ReplayPreset_EARLIEST
			cfg.BatchSize = batch
			h.run(cfg)
			h.waitStored(total)
			if diff := cmp.Diff(evIDs(1, total), h.sink.ids()); diff != "" {
				t.Errorf("events handled (-want +got):\n%s", diff)
			}
			// Topped up as events were handled: everything was delivered,
			// and more is still requested.
			sum := func(fetches []int32) int32 {
				var n int32
				for _, f := range fetches {
					n += f
				}
				return n
			}
			waitFor(t, "more requested than delivered", func() bool {
				var n int32
				h.srv.snapshot(func(f *fakeServer) { n = sum(f.fetches) })
				return n > total
			})
			var fetches []int32
			var maxPending int32
			h.srv.snapshot(func(f *fakeServer) { fetches, maxPending = slices.Clone(f.fetches), f.maxPending })
			if maxPending > int32(batch) {
				t.Errorf("the server held %d requested events, more than the batch size %d", maxPending, batch)
			}
			if len(fetches) == 0 || fetches[0] != int32(batch) {
				t.Fatalf("first FetchRequest asked for %v, want %d", fetches, batch)
			}
			for _, n := range fetches {
				if n < 1 || n > int32(batch) {
					t.Errorf("a FetchRequest asked for %d, want 1 to %d", n, batch)
				}
			}
			if sum(fetches) > total+int32(batch) {
				t.Errorf("FetchRequests asked for %d events in all, more than the %d delivered and %d outstanding", sum(fetches), total, batch)
			}
		})
	}
}

func TestReplayIDRefused(t *testing.T) {
	refusal := func(code, msg string) func(grpc.ServerStream) error {
		return func(st grpc.ServerStream) error {
			if code != "" {
				st.SetTrailer(metadata.Pairs("error-code", code))
			}
			return status.Error(codes.InvalidArgument, msg)
		}
	}
	for _, tc := range []struct {
		name    string
		refuse  func(grpc.ServerStream) error
		isLoss  bool
		message string
	}{
		{"corrupted", refusal("sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted", "The Replay ID validation failed."), true, ""},
		{"validation failed", refusal("sfdc.platform.eventbus.grpc.subscription.fetch.replayid.validation.failed", "bad replay"), true, ""},
		{"no trailer", refusal("", "Replay ID is corrupted or outside the retention window"), true, ""},
		{"another invalid argument", refusal("sfdc.platform.eventbus.grpc.subscription.fetch.requested.events.invalid", "num_requested must be 1 to 100, not the replay id"), false, ""},
		{"no trailer, not about the replay id", refusal("", "topic name is invalid"), false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.srv.replayErr = tc.refuse
			h.srv.refusedBelow = 2
			h.srv.publish(3, schemaA, time.Time{})
			h.store.ids[testTopic] = seqReplayID(1) // expired
			h.srv.start(nil)
			s, _ := h.run(h.config())

			if !tc.isLoss {
				waitFor(t, "three attempts", func() bool { return len(h.srv.subscriptions()) >= 3 })
				for _, sub := range h.srv.subscriptions() {
					if sub.preset != eventbus.ReplayPreset_CUSTOM || !bytes.Equal(sub.replayID, seqReplayID(1)) {
						t.Errorf("subscription %+v: want CUSTOM from the stored id, which is not lost", sub)
					}
				}
				if n := h.lost.Load(); n != 0 {
					t.Errorf("OnReplayLost called %d times, want 0", n)
				}
				if !bytes.Equal(h.store.get(), seqReplayID(1)) {
					t.Errorf("stored %x, want it kept", h.store.get())
				}
				return
			}

			waitFor(t, "a subscription from LATEST", func() bool {
				subs := h.srv.subscriptions()
				return len(subs) > 0 && subs[len(subs)-1].active && subs[len(subs)-1].preset == eventbus.ReplayPreset_LATEST
			})
			h.srv.publish(2, schemaA, time.Time{})
			h.waitStored(5)

			if n := h.lost.Load(); n != 1 {
				t.Errorf("OnReplayLost called %d times, want 1", n)
			}
			want := []string{
				"save -",
				"handle ev-4", "save " + hex.EncodeToString(seqReplayID(4)),
				"handle ev-5", "save " + hex.EncodeToString(seqReplayID(5)),
			}
			if diff := cmp.Diff(want, h.j.get()); diff != "" {
				t.Errorf("sink and store calls (-want +got):\n%s", diff)
			}
			subs := h.srv.subscriptions()
			if len(subs) != 2 || subs[0].preset != eventbus.ReplayPreset_CUSTOM || subs[1].preset != eventbus.ReplayPreset_LATEST {
				t.Errorf("subscriptions %+v, want CUSTOM (refused), then LATEST", subs)
			}
			if got := count(s.m.replayLost); got != 1 {
				t.Errorf("replay lost %v, want 1", got)
			}
			if got := count(s.m.reconnects.WithLabelValues(ReasonReplayLost)); got != 1 {
				t.Errorf("reconnects{replay_lost} %v, want 1", got)
			}
			loud := h.logs.FilterLevelExact(zap.ErrorLevel).FilterMessageSnippet("events may have been missed").All()
			if len(loud) != 1 {
				t.Errorf("%d ERROR logs saying events may have been missed, want 1", len(loud))
			}
		})
	}
}

func TestLatestSubscriptionWithoutPosition(t *testing.T) {
	for _, tc := range []struct {
		preset eventbus.ReplayPreset
		isLoss bool
	}{
		{eventbus.ReplayPreset_LATEST, true},
		{eventbus.ReplayPreset_EARLIEST, false},
	} {
		t.Run(tc.preset.String(), func(t *testing.T) {
			h := newHarness(t)
			h.sink.fail = func(_ Event, call int) error {
				if call == 1 {
					return errors.New("no PubAck")
				}
				return nil
			}
			h.srv.start(nil)
			cfg := h.config()
			cfg.StartPreset = tc.preset
			h.run(cfg)
			waitFor(t, "a subscription", func() bool { return h.srv.activeSubscriptions() == 1 })
			h.srv.publish(1, schemaA, time.Time{})
			waitFor(t, "a second subscription", func() bool {
				subs := h.srv.subscriptions()
				return len(subs) == 2 && subs[1].active
			})
			h.srv.publish(1, schemaA, time.Time{})
			h.waitStored(2)

			wantIDs, wantLost := evIDs(1, 2), int32(0)
			if tc.isLoss {
				wantIDs, wantLost = evIDs(2, 2), 1
			}
			if diff := cmp.Diff(wantIDs, h.sink.ids()); diff != "" {
				t.Errorf("events handled (-want +got):\n%s", diff)
			}
			if n := h.lost.Load(); n != wantLost {
				t.Errorf("OnReplayLost called %d times, want %d", n, wantLost)
			}
			for _, sub := range h.srv.subscriptions() {
				if sub.preset != tc.preset {
					t.Errorf("subscription %+v, want from %v", sub, tc.preset)
				}
			}
		})
	}
}

func TestUnauthenticatedGetsANewToken(t *testing.T) {
	h := newHarness(t)
	h.srv.tokens = map[string]bool{"token-2": true}
	h.srv.publish(2, schemaA, time.Time{})
	h.srv.start(nil)
	cfg := h.config()
	cfg.StartPreset = eventbus.ReplayPreset_EARLIEST
	s, _ := h.run(cfg)
	h.waitStored(2)

	h.login.mu.Lock()
	calls := slices.Clone(h.login.calls)
	h.login.mu.Unlock()
	if len(calls) < 2 || calls[0] || !calls[1] {
		t.Errorf("Login calls (refresh) %v, want false, then true after the refusal", calls)
	}
	if errs := h.authErrors(); len(errs) != 1 || errs[0] != "token token-1" {
		t.Errorf("refused calls %q, want one with token-1", errs)
	}

	// The token expires mid-stream.
	h.srv.snapshot(func(f *fakeServer) {
		f.tokens = map[string]bool{"token-3": true}
		f.notify()
	})
	waitFor(t, "a new token", func() bool { return h.login.refreshes() == 2 })
	h.srv.publish(2, schemaA, time.Time{})
	h.waitStored(4)
	if diff := cmp.Diff(evIDs(1, 4), h.sink.ids()); diff != "" {
		t.Errorf("events handled (-want +got):\n%s", diff)
	}
	if got := count(s.m.reconnects.WithLabelValues(ReasonUnauthenticated)); got != 2 {
		t.Errorf("reconnects{unauthenticated} %v, want 2", got)
	}
	subs := h.srv.subscriptions()
	if last := subs[len(subs)-1]; last.token != "token-3" {
		t.Errorf("last subscription with %s, want token-3", last.token)
	}
}

func TestLoginFailuresAreRetried(t *testing.T) {
	h := newHarness(t)
	h.login.fail = func(call int) error {
		if call <= 2 {
			return errors.New("token endpoint unavailable")
		}
		return nil
	}
	h.srv.publish(1, schemaA, time.Time{})
	h.srv.start(nil)
	cfg := h.config()
	cfg.StartPreset = eventbus.ReplayPreset_EARLIEST
	s, _ := h.run(cfg)
	h.waitStored(1)
	if got := count(s.m.reconnects.WithLabelValues(ReasonLogin)); got != 2 {
		t.Errorf("reconnects{login} %v, want 2", got)
	}
}

func TestSchemaFetchedOncePerID(t *testing.T) {
	h := newHarness(t)
	h.srv.publish(3, schemaA, time.Time{})
	h.srv.publish(3, schemaB, time.Time{})
	h.srv.publish(3, schemaA, time.Time{})
	h.srv.failAfter = []int{4} // a resubscription in between
	h.srv.start(nil)
	cfg := h.config()
	cfg.StartPreset = eventbus.ReplayPreset_EARLIEST
	s, _ := h.run(cfg)
	h.waitStored(9)

	var calls map[string]int
	h.srv.snapshot(func(f *fakeServer) { calls = maps(f.schemaCalls) })
	if diff := cmp.Diff(map[string]int{schemaA: 1, schemaB: 1}, calls); diff != "" {
		t.Errorf("GetSchema calls (-want +got):\n%s", diff)
	}
	for i, ev := range h.sink.events() {
		want := schemaA
		if i >= 3 && i < 6 {
			want = schemaB
		}
		if ev.SchemaID != want {
			t.Errorf("%s: schema %s, want %s", ev.EventID, ev.SchemaID, want)
		}
	}
	if got := count(s.m.schemas); got != 2 {
		t.Errorf("schemas fetched %v, want 2", got)
	}
	if got := count(s.m.reconnects.WithLabelValues(ReasonStream)); got != 1 {
		t.Errorf("reconnects{stream} %v, want 1", got)
	}
}

func maps(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestKeepaliveStoresTheLatestReplayID(t *testing.T) {
	h := newHarness(t)
	h.srv.keepalives = true
	h.srv.publish(3, schemaA, time.Time{})
	h.srv.start(nil)

	s, stop := h.run(h.config())
	h.waitStored(3)
	if n := len(h.sink.ids()); n != 0 {
		t.Errorf("%d events handled, want none (LATEST)", n)
	}
	if count(s.m.positionTime) <= 0 {
		t.Error("position time not set for the keepalive's replay id")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stream to close", func() bool { return h.srv.activeSubscriptions() == 0 })

	h.srv.publish(1, schemaA, time.Time{})
	h.run(h.config())
	h.waitStored(4)
	if diff := cmp.Diff(evIDs(4, 4), h.sink.ids()); diff != "" {
		t.Errorf("events handled (-want +got):\n%s", diff)
	}
	subs := h.srv.subscriptions()
	if last := subs[len(subs)-1]; last.preset != eventbus.ReplayPreset_CUSTOM || !bytes.Equal(last.replayID, seqReplayID(3)) {
		t.Errorf("subscription %+v, want CUSTOM after the keepalive's replay id", last)
	}
}

func TestKeepaliveWithoutPendingRequestsIsNotAPosition(t *testing.T) {
	h := newHarness(t)
	s, err := New(h.config())
	if err != nil {
		t.Fatal(err)
	}
	r := &runState{Subscriber: s}
	for _, resp := range []*eventbus.FetchResponse{
		{LatestReplayId: seqReplayID(9), PendingNumRequested: 0},
		{LatestReplayId: nil, PendingNumRequested: 5},
	} {
		r.keepalive(context.Background(), &session{}, resp)
	}
	r.keepalive(context.Background(), &session{unsaved: 1}, &eventbus.FetchResponse{LatestReplayId: seqReplayID(9), PendingNumRequested: 5})
	if got := h.j.get(); len(got) != 0 {
		t.Errorf("store calls %q, want none", got)
	}
	r.keepalive(context.Background(), &session{}, &eventbus.FetchResponse{LatestReplayId: seqReplayID(9), PendingNumRequested: 5})
	if !bytes.Equal(h.store.get(), seqReplayID(9)) {
		t.Errorf("stored %x, want the keepalive's replay id", h.store.get())
	}
}

func TestIdleStreamIsResubscribed(t *testing.T) {
	h := newHarness(t)
	h.srv.silent = true
	h.srv.start(nil)
	cfg := h.config()
	cfg.IdleTimeout = 20 * time.Millisecond
	s, _ := h.run(cfg)
	waitFor(t, "three subscriptions", func() bool { return len(h.srv.subscriptions()) >= 3 })
	waitFor(t, "two idle reconnects", func() bool { return count(s.m.reconnects.WithLabelValues(ReasonIdle)) >= 2 })
	if n := h.lost.Load(); n != 0 {
		t.Errorf("OnReplayLost called %d times, want 0", n)
	}
}

func TestRunRefusesATopicItCannotSubscribeTo(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*fakeServer, *Config)
		check func(error) bool
	}{
		{"cannot subscribe", func(f *fakeServer, _ *Config) { f.canSubscribe = false },
			func(err error) bool { return errors.Is(err, ErrCannotSubscribe) }},
		{"no such topic", func(_ *fakeServer, c *Config) { c.Topic = "/data/NoSuchChangeEvent" },
			func(err error) bool { return status.Code(err) == codes.NotFound && !errors.Is(err, ErrCannotSubscribe) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			cfg := h.config()
			tc.setup(h.srv, &cfg)
			h.srv.start(nil)
			cfg.Addr = h.srv.addr
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			err = s.Run(ctx)
			if err == nil || ctx.Err() != nil || !tc.check(err) {
				t.Errorf("Run: %v (context: %v), want the topic refused", err, ctx.Err())
			}
			if n := len(h.srv.subscriptions()); n != 0 {
				t.Errorf("%d subscriptions, want none", n)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	h := newHarness(t)
	serverCreds, roots := selfSignedTLS(t)
	h.srv.publish(1, schemaA, time.Time{})
	h.srv.start(serverCreds)

	t.Run("system roots do not trust the server", func(t *testing.T) {
		cfg := h.config()
		cfg.Insecure = false
		s, stop := h.run(cfg)
		waitFor(t, "failed attempts", func() bool { return count(s.m.reconnects.WithLabelValues(ReasonTopic)) >= 2 })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		var topicCalls int
		h.srv.snapshot(func(f *fakeServer) { topicCalls = f.topicCalls })
		if topicCalls != 0 || len(h.sink.ids()) != 0 {
			t.Errorf("%d GetTopic calls and %d events reached over an untrusted connection, want none", topicCalls, len(h.sink.ids()))
		}
	})
	t.Run("dial options replace the roots", func(t *testing.T) {
		cfg := h.config()
		cfg.Insecure = false
		cfg.StartPreset = eventbus.ReplayPreset_EARLIEST
		cfg.DialOptions = []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots}))}
		h.run(cfg)
		h.waitStored(1)
	})
}

// selfSignedTLS makes a server certificate for 127.0.0.1 and the pool
// that trusts it.
func selfSignedTLS(t *testing.T) (credentials.TransportCredentials, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "pubsub test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}), pool
}

func TestNewChecksTheConfig(t *testing.T) {
	h := newHarness(t)
	base := func() Config {
		return Config{Login: h.login, Store: h.store, Sink: h.sink}
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		err  string
	}{
		{"no login", func(c *Config) { c.Login = nil }, "Login is required"},
		{"no store", func(c *Config) { c.Store = nil }, "Store is required"},
		{"no sink", func(c *Config) { c.Sink = nil }, "Sink is required"},
		{"batch too big", func(c *Config) { c.BatchSize = 101 }, "BatchSize 101: want 1 to 100"},
		{"negative batch", func(c *Config) { c.BatchSize = -1 }, "BatchSize -1"},
		{"custom preset", func(c *Config) { c.StartPreset = eventbus.ReplayPreset_CUSTOM }, "StartPreset CUSTOM: want LATEST or EARLIEST"},
		{"negative timeout", func(c *Config) { c.IdleTimeout = -time.Second }, "IdleTimeout -1s"},
		{"max below initial", func(c *Config) { c.RetryInitial, c.RetryMax = time.Minute, time.Second }, "RetryMax 1s is below RetryInitial 1m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(&c)
			_, err := New(c)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("New: %v, want an error with %q", err, tc.err)
			}
		})
	}

	s, err := New(base())
	if err != nil {
		t.Fatal(err)
	}
	c := s.cfg
	if c.Addr != DefaultAddr || c.Topic != DefaultTopic || c.BatchSize != MaxBatchSize || c.StartPreset != eventbus.ReplayPreset_LATEST ||
		c.RetryInitial != time.Second || c.RetryMax != time.Minute || c.IdleTimeout != DefaultIdleTimeout || c.RPCTimeout != DefaultRPCTimeout {
		t.Errorf("defaults: %+v", c)
	}

	reg := prometheus.NewRegistry()
	withReg := base()
	withReg.Registry = reg
	if _, err := New(withReg); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, EventsReceivedName, EventsPublishedName, ReconnectsName, ReplayLostName, LagName, ReplayPositionTimeName, SchemasFetchedTotalName); err != nil || n != 6+len(reasons) {
		t.Errorf("%d series registered (%v), want %d", n, err, 6+len(reasons))
	}
	if _, err := New(withReg); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("second New on one registry: %v, want already registered", err)
	}
}

func TestRunOnceAtATime(t *testing.T) {
	h := newHarness(t)
	h.srv.start(nil)
	s, _ := h.run(h.config())
	waitFor(t, "a subscription", func() bool { return h.srv.activeSubscriptions() == 1 })
	if err := s.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Run: %v, want already running", err)
	}
}
