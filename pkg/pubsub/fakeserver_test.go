package pubsub

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/pubsub/eventbus"
)

const (
	testInstanceURL = "https://example.my.salesforce.com"
	testTopic       = DefaultTopic
	schemaA         = "schema-A"
	schemaB         = "schema-B"
)

// fakeServer is a Pub/Sub API server for the tests: one topic whose
// events are Avro-encoded change events, replay ids that are the events'
// 8-byte sequence numbers (1, 2, …), Subscribe honouring num_requested and
// the replay presets, and the failures the subscriber must survive.
type fakeServer struct {
	eventbus.UnimplementedPubSubServer
	t       testing.TB
	schemas map[string]string // schema id → JSON
	parsed  map[string]avro.Schema
	addr    string

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change

	canSubscribe bool
	tokens       map[string]bool // access tokens accepted
	events       []fakeEvent
	// refusedBelow: a CUSTOM replay id for a sequence below it (or not
	// one of the server's) is refused with replayErr.
	refusedBelow uint64
	replayErr    func(grpc.ServerStream) error
	// failAfter holds, for the next streams in turn, the number of events
	// each delivers before it fails with Unavailable.
	failAfter []int
	// keepalives: send a keepalive when caught up with requests pending.
	keepalives bool
	// silent: Subscribe sends nothing at all.
	silent bool

	subs        []subscription
	fetches     []int32 // num_requested of every FetchRequest, in order
	maxPending  int32
	schemaCalls map[string]int
	topicCalls  int
	authErrors  []string // calls refused for their credentials
}

type fakeEvent struct {
	id       string
	schemaID string
	payload  []byte
	replayID []byte
}

type subscription struct {
	preset   eventbus.ReplayPreset
	replayID []byte
	token    string
	active   bool
}

func newFakeServer(t testing.TB) *fakeServer {
	t.Helper()
	schemaJSON := cdcSchemaJSON(t)
	f := &fakeServer{
		t:            t,
		schemas:      map[string]string{schemaA: schemaJSON, schemaB: schemaJSON},
		parsed:       map[string]avro.Schema{},
		changed:      make(chan struct{}),
		canSubscribe: true,
		tokens:       map[string]bool{"token-1": true},
		schemaCalls:  map[string]int{},
		replayErr: func(st grpc.ServerStream) error {
			st.SetTrailer(metadata.Pairs("error-code", "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"))
			return status.Error(codes.InvalidArgument, "The Replay ID validation failed.")
		},
	}
	for id, js := range f.schemas {
		f.parsed[id] = parseSchema(t, js)
	}
	return f
}

// start serves f on a loopback listener, over TLS when creds are given.
func (f *fakeServer) start(creds credentials.TransportCredentials) string {
	f.t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	srv := grpc.NewServer(opts...)
	eventbus.RegisterPubSubServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	f.t.Cleanup(srv.Stop)
	f.addr = lis.Addr().String()
	return f.addr
}

// notify wakes the streams; f.mu is held.
func (f *fakeServer) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func seqReplayID(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, seq)
}

// change is a User change event's JSON payload, from the CREATE fixture:
// user n (1-based) of transaction tx.
func change(t testing.TB, n int, commit time.Time) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readFixture(t, "cdc_pubsub_create.json"), &ev); err != nil {
		t.Fatal(err)
	}
	h := ev["ChangeEventHeader"].(map[string]any)
	h["recordIds"] = []any{userID(n)}
	h["transactionKey"] = fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	h["commitTimestamp"] = commit.UnixMilli()
	ev["Username"] = fmt.Sprintf("user%d@example.com", n)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// userID is the 18-character ID of test user n (n < 10000).
func userID(n int) string {
	id, err := events.UserKey(fmt.Sprintf("0055f00000G%04d", n))
	if err != nil {
		panic(err)
	}
	return id
}

// publish appends n events with the given schema; they are committed at
// commit (zero: now).
func (f *fakeServer) publish(n int, schemaID string, commit time.Time) {
	f.t.Helper()
	if commit.IsZero() {
		commit = time.Now()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		seq := uint64(len(f.events) + 1)
		f.events = append(f.events, fakeEvent{
			id:       "ev-" + strconv.FormatUint(seq, 10),
			schemaID: schemaID,
			payload:  encodeAvro(f.t, f.parsed[schemaID], change(f.t, int(seq), commit)),
			replayID: seqReplayID(seq),
		})
	}
	f.notify()
}

// auth checks a call's metadata: a known access token, the instance URL
// and the tenant ID.
func (f *fakeServer) auth(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	one := func(k string) string {
		if v := md.Get(k); len(v) == 1 {
			return v[0]
		}
		return ""
	}
	token := one("accesstoken")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case one("instanceurl") != testInstanceURL || one("tenantid") != testOrg:
		f.authErrors = append(f.authErrors, fmt.Sprintf("instanceurl %q tenantid %q", md.Get("instanceurl"), md.Get("tenantid")))
	case !f.tokens[token]:
		f.authErrors = append(f.authErrors, "token "+token)
	default:
		return token, nil
	}
	return "", status.Error(codes.Unauthenticated, "sfdc.platform.eventbus.grpc.service.auth.error")
}

func (f *fakeServer) GetTopic(ctx context.Context, req *eventbus.TopicRequest) (*eventbus.TopicInfo, error) {
	if _, err := f.auth(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.topicCalls++
	if req.GetTopicName() != testTopic {
		return nil, status.Errorf(codes.NotFound, "topic %s not found", req.GetTopicName())
	}
	return &eventbus.TopicInfo{TopicName: testTopic, TenantGuid: testOrg, CanSubscribe: f.canSubscribe, SchemaId: schemaA}, nil
}

func (f *fakeServer) GetSchema(ctx context.Context, req *eventbus.SchemaRequest) (*eventbus.SchemaInfo, error) {
	if _, err := f.auth(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.schemaCalls[req.GetSchemaId()]++
	js, ok := f.schemas[req.GetSchemaId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "schema %s not found", req.GetSchemaId())
	}
	return &eventbus.SchemaInfo{SchemaId: req.GetSchemaId(), SchemaJson: js}, nil
}

func (f *fakeServer) Subscribe(st grpc.BidiStreamingServer[eventbus.FetchRequest, eventbus.FetchResponse]) error {
	token, err := f.auth(st.Context())
	if err != nil {
		return err
	}
	first, err := st.Recv()
	if err != nil {
		return err
	}
	f.mu.Lock()
	if first.GetTopicName() != testTopic {
		f.mu.Unlock()
		return status.Errorf(codes.NotFound, "topic %s not found", first.GetTopicName())
	}
	var pos uint64 // index of the next event to send
	switch first.GetReplayPreset() {
	case eventbus.ReplayPreset_LATEST:
		pos = uint64(len(f.events))
	case eventbus.ReplayPreset_EARLIEST:
		pos = 0
	case eventbus.ReplayPreset_CUSTOM:
		id := first.GetReplayId()
		if len(id) != 8 || binary.BigEndian.Uint64(id) > uint64(len(f.events)) || binary.BigEndian.Uint64(id) < f.refusedBelow {
			f.subs = append(f.subs, subscription{preset: first.GetReplayPreset(), replayID: id, token: token})
			f.notify()
			f.mu.Unlock()
			return f.replayErr(st)
		}
		pos = binary.BigEndian.Uint64(id)
	}
	idx := len(f.subs)
	f.subs = append(f.subs, subscription{preset: first.GetReplayPreset(), replayID: first.GetReplayId(), token: token, active: true})
	pending := first.GetNumRequested()
	f.fetches = append(f.fetches, pending)
	f.maxPending = max(f.maxPending, pending)
	failAfter := -1
	if len(f.failAfter) > 0 {
		failAfter, f.failAfter = f.failAfter[0], f.failAfter[1:]
	}
	f.notify()
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.subs[idx].active = false
		f.notify()
		f.mu.Unlock()
	}()

	go func() {
		for {
			req, err := st.Recv()
			if err != nil {
				return
			}
			f.mu.Lock()
			pending += req.GetNumRequested()
			f.fetches = append(f.fetches, req.GetNumRequested())
			f.maxPending = max(f.maxPending, pending)
			f.notify()
			f.mu.Unlock()
		}
	}()

	sent := 0
	keptAlive := false
	for {
		f.mu.Lock()
		if !f.tokens[token] {
			f.mu.Unlock()
			return status.Error(codes.Unauthenticated, "sfdc.platform.eventbus.grpc.service.auth.error")
		}
		if failAfter >= 0 && sent >= failAfter {
			f.mu.Unlock()
			return status.Error(codes.Unavailable, "stream failed for the test")
		}
		var resp *eventbus.FetchResponse
		switch {
		case f.silent:
		case pending > 0 && pos < uint64(len(f.events)):
			n := min(int(pending), len(f.events)-int(pos), 3)
			if failAfter >= 0 {
				n = min(n, failAfter-sent)
			}
			resp = &eventbus.FetchResponse{}
			for _, e := range f.events[pos : pos+uint64(n)] {
				resp.Events = append(resp.Events, &eventbus.ConsumerEvent{
					Event:    &eventbus.ProducerEvent{Id: e.id, SchemaId: e.schemaID, Payload: e.payload},
					ReplayId: e.replayID,
				})
			}
			pos += uint64(n)
			pending -= int32(n)
			sent += n
			resp.PendingNumRequested = pending
			resp.LatestReplayId = f.events[len(f.events)-1].replayID
			keptAlive = false
		case f.keepalives && pending > 0 && !keptAlive && len(f.events) > 0:
			resp = &eventbus.FetchResponse{LatestReplayId: f.events[len(f.events)-1].replayID, PendingNumRequested: pending}
			keptAlive = true
		}
		ch := f.changed
		f.mu.Unlock()
		if resp != nil {
			if err := st.Send(resp); err != nil {
				return err
			}
			continue
		}
		select {
		case <-ch:
		case <-st.Context().Done():
			return status.FromContextError(st.Context().Err()).Err()
		}
	}
}

// snapshot reads the server's state under its lock.
func (f *fakeServer) snapshot(read func(f *fakeServer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	read(f)
}

func (f *fakeServer) subscriptions() []subscription {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.subs)
}

// activeSubscriptions counts the streams open now.
func (f *fakeServer) activeSubscriptions() int {
	n := 0
	for _, s := range f.subscriptions() {
		if s.active {
			n++
		}
	}
	return n
}
