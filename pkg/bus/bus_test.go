package bus_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
)

const userID = "0055e000001AbCdAAK"

// startServer starts an embedded server on a random port in dir (a fresh
// temp dir when empty) and stops it when the test ends.
func startServer(t *testing.T, dir string) *bus.Embedded {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	e, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: dir, Port: -1, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

func connect(t *testing.T, e *bus.Embedded) jetstream.JetStream {
	t.Helper()
	nc, err := bus.Connect(bus.ConnectConfig{URL: e.ClientURL(), Name: t.Name(), Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream.New: %v", err)
	}
	return js
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func envelope(t *testing.T, id string) events.Envelope {
	t.Helper()
	env, err := events.NewUserChanged(id, "test", time.Date(2026, 11, 20, 10, 15, 1, 0, time.UTC),
		events.User{ID: userID, Alias: events.Val("jsmith")})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestEmbeddedStartShutdown(t *testing.T) {
	e, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	u := e.ClientURL()
	if !strings.HasPrefix(u, "nats://127.0.0.1:") || strings.HasSuffix(u, ":-1") {
		t.Errorf("ClientURL = %q, want nats://127.0.0.1:<bound port>", u)
	}
	nc, err := nats.Connect(u)
	if err != nil {
		t.Fatalf("connect to %s: %v", u, err)
	}
	nc.Close()

	e.Shutdown()
	e.Shutdown() // a second call is harmless
	if nc, err := nats.Connect(u, nats.Timeout(time.Second)); err == nil {
		nc.Close()
		t.Fatalf("connect after Shutdown succeeded")
	}
}

func TestEmbeddedNeedsStoreDir(t *testing.T) {
	_, err := bus.StartEmbedded(bus.EmbeddedConfig{Port: -1})
	if err == nil || !strings.Contains(err.Error(), "store dir") {
		t.Fatalf("err = %v, want one about the store dir", err)
	}
}

func TestEmbeddedPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	start := time.Now()
	_, err = bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Port: port})
	if !errors.Is(err, bus.ErrPortInUse) {
		t.Fatalf("err = %v, want ErrPortInUse", err)
	}
	if want := "127.0.0.1:" + strconv.Itoa(port); !strings.Contains(err.Error(), want) {
		t.Errorf("err = %q, want it to name %s", err, want)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s to report a taken port", d)
	}
}

func TestConnectFailsClearly(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = bus.Connect(bus.ConnectConfig{URL: "nats://u:secret@" + addr})
	if err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	if !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "secret") {
		t.Errorf("err = %q, want the address and no password", err)
	}
	if _, err := bus.Connect(bus.ConnectConfig{URL: "nats://" + addr, ClientCert: "cert.pem"}); err == nil {
		t.Error("Connect with a certificate and no key succeeded")
	}
}

func TestEnsureStreamsIdempotent(t *testing.T) {
	js := connect(t, startServer(t, ""))
	ctx := testContext(t)
	cfg := bus.StreamsConfig{}

	if err := bus.EnsureStreams(ctx, js, cfg); err != nil {
		t.Fatalf("first EnsureStreams: %v", err)
	}
	before := streamInfos(t, ctx, js)
	if err := bus.EnsureStreams(ctx, js, cfg); err != nil {
		t.Fatalf("second EnsureStreams: %v", err)
	}
	after := streamInfos(t, ctx, js)

	for _, name := range []string{events.Stream, events.DLQStream} {
		b, a := before[name], after[name]
		if !a.Created.Equal(b.Created) {
			t.Errorf("%s: recreated (created %s, then %s)", name, b.Created, a.Created)
		}
		if fmt.Sprintf("%+v", a.Config) != fmt.Sprintf("%+v", b.Config) {
			t.Errorf("%s: config changed:\n before %+v\n after  %+v", name, b.Config, a.Config)
		}
	}

	main := after[events.Stream].Config
	checkStream(t, main, []string{events.SubjectAll, events.SubjectAccessAll}, jetstream.WorkQueuePolicy, 0)
	if main.Duplicates != 2*time.Minute {
		t.Errorf("%s duplicate window = %s, want 2m", events.Stream, main.Duplicates)
	}
	checkStream(t, after[events.DLQStream].Config, []string{events.DLQSubjectAll}, jetstream.LimitsPolicy, 30*24*time.Hour)

	// A changed configuration is applied in place.
	if err := bus.EnsureStreams(ctx, js, bus.StreamsConfig{DuplicateWindow: time.Minute, DLQMaxAge: time.Hour}); err != nil {
		t.Fatalf("EnsureStreams with a new config: %v", err)
	}
	updated := streamInfos(t, ctx, js)
	if d := updated[events.Stream].Config.Duplicates; d != time.Minute {
		t.Errorf("updated duplicate window = %s, want 1m", d)
	}
	if d := updated[events.DLQStream].Config.MaxAge; d != time.Hour {
		t.Errorf("updated DLQ max age = %s, want 1h", d)
	}
}

func checkStream(t *testing.T, c jetstream.StreamConfig, subjects []string, ret jetstream.RetentionPolicy, maxAge time.Duration) {
	t.Helper()
	if fmt.Sprint(c.Subjects) != fmt.Sprint(subjects) {
		t.Errorf("%s subjects = %v, want %v", c.Name, c.Subjects, subjects)
	}
	if c.Retention != ret {
		t.Errorf("%s retention = %s, want %s", c.Name, c.Retention, ret)
	}
	if c.Storage != jetstream.FileStorage {
		t.Errorf("%s storage = %s, want file", c.Name, c.Storage)
	}
	if c.Replicas != 1 {
		t.Errorf("%s replicas = %d, want 1", c.Name, c.Replicas)
	}
	if c.MaxAge != maxAge {
		t.Errorf("%s max age = %s, want %s", c.Name, c.MaxAge, maxAge)
	}
}

func streamInfos(t *testing.T, ctx context.Context, js jetstream.JetStream) map[string]*jetstream.StreamInfo {
	t.Helper()
	m := map[string]*jetstream.StreamInfo{}
	for _, name := range []string{events.Stream, events.DLQStream} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatalf("stream %s info: %v", name, err)
		}
		m[name] = info
	}
	return m
}

func TestEnsureConsumerIdempotent(t *testing.T) {
	js := connect(t, startServer(t, ""))
	ctx := testContext(t)
	if err := bus.EnsureStreams(ctx, js, bus.StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	c1, err := bus.EnsureConsumer(ctx, js, bus.ConsumerConfig{})
	if err != nil {
		t.Fatalf("first EnsureConsumer: %v", err)
	}
	i1, err := c1.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := bus.EnsureConsumer(ctx, js, bus.ConsumerConfig{})
	if err != nil {
		t.Fatalf("second EnsureConsumer: %v", err)
	}
	i2, err := c2.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !i1.Created.Equal(i2.Created) || fmt.Sprintf("%+v", i1.Config) != fmt.Sprintf("%+v", i2.Config) {
		t.Errorf("consumer changed:\n before %+v\n after  %+v", i1.Config, i2.Config)
	}
	c := i2.Config
	if c.Durable != "syncworker" || c.AckPolicy != jetstream.AckExplicitPolicy ||
		c.DeliverPolicy != jetstream.DeliverAllPolicy || c.MaxDeliver != -1 ||
		c.FilterSubject != events.SubjectAll || c.AckWait != 30*time.Second || c.MaxAckPending != 1000 {
		t.Errorf("consumer config = %+v", c)
	}

	// A changed configuration is applied in place.
	c3, err := bus.EnsureConsumer(ctx, js, bus.ConsumerConfig{AckWait: time.Minute, MaxAckPending: 50})
	if err != nil {
		t.Fatalf("EnsureConsumer with a new config: %v", err)
	}
	i3, err := c3.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if i3.Config.AckWait != time.Minute || i3.Config.MaxAckPending != 50 {
		t.Errorf("updated consumer config = %+v", i3.Config)
	}
}

func TestPublishDuplicate(t *testing.T) {
	js := connect(t, startServer(t, ""))
	ctx := testContext(t)
	if err := bus.EnsureStreams(ctx, js, bus.StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	env := envelope(t, "04l5e00000AbCdEAAV")

	first, err := bus.Publish(ctx, js, env)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if first.Duplicate || first.Sequence == 0 {
		t.Fatalf("first publish = %+v, want a new sequence", first)
	}
	again, err := bus.Publish(ctx, js, env)
	if err != nil {
		t.Fatalf("Publish again: %v", err)
	}
	if !again.Duplicate || again.Sequence != first.Sequence {
		t.Errorf("same id = %+v, want Duplicate with sequence %d", again, first.Sequence)
	}
	replay, err := bus.PublishWithID(ctx, js, env, env.ID+"/replay-1")
	if err != nil {
		t.Fatalf("PublishWithID: %v", err)
	}
	if replay.Duplicate || replay.Sequence <= first.Sequence {
		t.Errorf("new id = %+v, want a new sequence after %d", replay, first.Sequence)
	}

	s, err := js.Stream(ctx, events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetMsg(ctx, first.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	if want := events.UserChangedSubject(userID); msg.Subject != want {
		t.Errorf("subject = %q, want %q", msg.Subject, want)
	}
	if got := msg.Header.Get(events.HeaderMsgID); got != env.ID {
		t.Errorf("Nats-Msg-Id = %q, want %q", got, env.ID)
	}
	if _, err := events.Decode(msg.Subject, msg.Data); err != nil {
		t.Errorf("stored body does not decode: %v", err)
	}
}

func TestPublishRejects(t *testing.T) {
	js := connect(t, startServer(t, ""))
	ctx := testContext(t)
	env := envelope(t, "04l5e00000AbCdEAAV")
	if _, err := bus.PublishWithID(ctx, js, env, ""); err == nil {
		t.Error("publish with an empty id succeeded")
	}
	bad := env
	bad.Type = "something.else"
	if _, err := bus.Publish(ctx, js, bad); err == nil || !strings.Contains(err.Error(), "type") {
		t.Errorf("publish of an unknown type: err = %v", err)
	}
	// No stream: the publish fails rather than vanishing.
	if _, err := bus.Publish(ctx, js, env); err == nil {
		t.Error("publish with no stream succeeded")
	}
}

func TestAckedMessageLeavesStream(t *testing.T) {
	js := connect(t, startServer(t, ""))
	ctx := testContext(t)
	if err := bus.EnsureStreams(ctx, js, bus.StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	cons, err := bus.EnsureConsumer(ctx, js, bus.ConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Publish(ctx, js, envelope(t, "evt-1")); err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, ctx, js); n != 1 {
		t.Fatalf("stream has %d messages before the ack, want 1", n)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	if err := msg.DoubleAck(ctx); err != nil {
		t.Fatalf("ack: %v", err)
	}
	if n := streamMsgs(t, ctx, js); n != 0 {
		t.Errorf("stream has %d messages after the ack, want 0 (work queue)", n)
	}
}

func streamMsgs(t *testing.T, ctx context.Context, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(ctx, events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestRestartKeepsMessages(t *testing.T) {
	dir := t.TempDir()
	e := startServer(t, dir)
	js := connect(t, e)
	ctx := testContext(t)
	if err := bus.EnsureStreams(ctx, js, bus.StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := bus.Publish(ctx, js, envelope(t, fmt.Sprintf("evt-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	e.Shutdown()

	js = connect(t, startServer(t, dir))
	if n := streamMsgs(t, ctx, js); n != 3 {
		t.Errorf("after restart the stream has %d messages, want 3", n)
	}
	// The duplicate window survives the restart too.
	res, err := bus.Publish(ctx, js, envelope(t, "evt-0"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Duplicate {
		t.Errorf("re-publish of evt-0 after restart = %+v, want Duplicate", res)
	}
}

func TestPartition(t *testing.T) {
	// The same hash as the server's subject mapping partition(n, …).
	for _, n := range []int{2, 3, 8, 16} {
		tr, err := server.NewSubjectTransform("vccsync.user.*.>",
			fmt.Sprintf("vccsync.p.{{partition(%d,1)}}.user.{{wildcard(1)}}.>", n))
		if err != nil {
			t.Fatalf("transform: %v", err)
		}
		for i := range 200 {
			id := fmt.Sprintf("0055e00000%07dAAK", i)
			p := strconv.Itoa(bus.Partition(n, id))
			for subject, want := range map[string]string{
				events.UserChangedSubject(id):        "vccsync.p." + p + ".user." + id + ".changed",
				events.CommandSubject(id, "archive"): "vccsync.p." + p + ".user." + id + ".cmd.archive",
			} {
				got, err := tr.Match(subject)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("n=%d: server maps %s to %s, Partition says %s", n, subject, got, want)
				}
			}
		}
	}
	if bus.Partition(0, userID) != 0 || bus.Partition(1, userID) != 0 {
		t.Error("Partition with n < 2 is not 0")
	}
	if bus.Partition(8, userID) != bus.Partition(8, userID) {
		t.Error("Partition is not deterministic")
	}
}

// The priority consumer takes the access changes and the main one the
// rest; turning it off gives the main one everything again, and on again
// splits them, on a work-queue stream that refuses overlapping consumers.
func TestEnsureConsumersPriority(t *testing.T) {
	js := connect(t, startServer(t, ""))
	ctx := testContext(t)
	if err := bus.EnsureStreams(ctx, js, bus.StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	const id = "0055e000001AbcdAAC"
	for _, subj := range []string{events.UserChangedSubject(id), events.UserPrioritySubject(id), events.CommandSubject(id, "set-webrtc")} {
		if _, err := js.Publish(ctx, subj, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	pending := func(c jetstream.Consumer) uint64 {
		t.Helper()
		i, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return i.NumPending
	}
	for _, step := range []struct {
		noPriority        bool
		main, priority    uint64
		priorityConsumers int
	}{
		{false, 2, 1, 1},
		{true, 3, 0, 0},
		{false, 2, 1, 1},
	} {
		main, prio, err := bus.EnsureConsumers(ctx, js, bus.ConsumerConfig{NoPriority: step.noPriority})
		if err != nil {
			t.Fatalf("EnsureConsumers(NoPriority %v): %v", step.noPriority, err)
		}
		if got := pending(main); got != step.main {
			t.Errorf("NoPriority %v: main consumer has %d pending, want %d", step.noPriority, got, step.main)
		}
		if (prio != nil) != (step.priorityConsumers == 1) {
			t.Fatalf("NoPriority %v: priority consumer %v", step.noPriority, prio)
		}
		if prio != nil {
			if got := pending(prio); got != step.priority {
				t.Errorf("priority consumer has %d pending, want %d", got, step.priority)
			}
		}
		_, err = js.Consumer(ctx, events.Stream, bus.DefaultDurable+bus.PrioritySuffix)
		if exists := err == nil; exists != (step.priorityConsumers == 1) {
			t.Errorf("NoPriority %v: priority consumer exists %v (%v)", step.noPriority, exists, err)
		}
	}
}
