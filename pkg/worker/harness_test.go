package worker_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/metrics"
	"github.com/vccsync/vccsync/pkg/store"
	"github.com/vccsync/vccsync/pkg/worker"
)

// State is the handler state the tests use: the store's own user state.
type State = store.UserState

var (
	_ worker.Store[State]   = boltStore{}
	_ worker.Store[State]   = (*failFirstCommit)(nil)
	_ worker.Handler[State] = (*scriptedHandler)(nil)
)

// boltStore is the worker's Store on a real bbolt file: the ledger gets
// the records with an event id and no error, the users their last state.
type boltStore struct{ db *store.DB }

func (s boltStore) Seen(eventID string) (bool, error) {
	_, ok, err := s.db.Seen(eventID)
	return ok, err
}

func (s boltStore) Load(key string) (State, error) {
	u, _, err := s.db.User(key)
	return u, err
}

func (s boltStore) Commit(recs []worker.Record[State]) error {
	var b store.Batch
	for _, r := range recs {
		if r.EventID != "" && r.Err == "" {
			b.Ledger = append(b.Ledger, store.LedgerEntry{EventID: r.EventID, UserKey: r.UserKey, Outcome: r.Outcome, At: r.At})
		}
		if r.HasState {
			u := r.State
			u.Key, u.Outcome, u.LastError, u.UpdatedAt = r.UserKey, r.Outcome, r.Err, r.At
			b.Users = append(b.Users, u)
		}
	}
	return s.db.Commit(b)
}

// failFirstCommit is a real store whose first non-empty Commit fails
// without writing anything.
type failFirstCommit struct {
	worker.Store[State]
	mu     sync.Mutex
	failed int
	lost   map[string]bool // event ids of the failed commit
}

func (f *failFirstCommit) Commit(recs []worker.Record[State]) error {
	f.mu.Lock()
	fail := len(recs) > 0 && f.failed == 0
	if fail {
		f.failed++
		f.lost = map[string]bool{}
		for _, r := range recs {
			f.lost[r.EventID] = true
		}
	}
	f.mu.Unlock()
	if fail {
		return errors.New("commit batch: write /var/lib/vccsync/vccsync.db: no space left on device")
	}
	return f.Store.Commit(recs)
}

// inLost reports whether the failed commit held the event.
func (f *failFirstCommit) inLost(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lost[id]
}

// failures is how many commits failed.
func (f *failFirstCommit) failures() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// statusError is a reply of the target with an HTTP status that
// classifies itself as the clients' errors do.
type statusError struct {
	msg       string
	status    int
	temporary bool
}

func (e *statusError) Error() string   { return e.msg }
func (e *statusError) Temporary() bool { return e.temporary }
func (e *statusError) StatusCode() int { return e.status }

// unauthorized is the target refusing the worker's credentials.
func unauthorized() error {
	return &statusError{msg: "vcc: POST /Auth/connect/token: 401 Unauthorized: invalid_client", status: 401}
}

// refused is a business rule the target will not change its mind about.
func refused(status int, msg string) error { return &statusError{msg: msg, status: status} }

// tempError is a transient failure, as the VCC client reports a 429 or 5xx.
type tempError struct {
	msg    string
	after  time.Duration
	status int
}

func (e *tempError) Error() string             { return e.msg }
func (e *tempError) Temporary() bool           { return true }
func (e *tempError) RetryAfter() time.Duration { return e.after }
func (e *tempError) StatusCode() int           { return e.status }

func transient(msg string) error { return &tempError{msg: msg, status: 503} }

func throttled(after time.Duration) error {
	return &tempError{msg: "vcc: 429 Too Many Requests", after: after, status: 429}
}

// permError is a failure the target will not change its mind about.
type permError struct{ msg string }

func (e *permError) Error() string   { return e.msg }
func (e *permError) Temporary() bool { return false }

func permanent(msg string) error { return &permError{msg: msg} }

// act is what the handler does on one call for an event.
type act struct {
	err     error
	partial bool // with err: return the state as far as the event got

	sleep       time.Duration
	wait        <-chan struct{}
	untilCancel bool
}

func fail(err error) act                { return act{err: err} }
func sleep(d time.Duration) act         { return act{sleep: d} }
func block(release <-chan struct{}) act { return act{wait: release} }
func blockUntilCancelled() act          { return act{untilCancel: true} }

func repeat(a act, n int) []act {
	s := make([]act, n)
	for i := range s {
		s[i] = a
	}
	return s
}

// call is one recorded handler call.
type call struct {
	EventID string
	User    string
	Prev    State
	Start   time.Time
	End     time.Time
	Err     error
}

// scriptedHandler does what its script says for each event id, call by
// call (success once the script runs out), and records every call.
type scriptedHandler struct {
	mu        sync.Mutex
	outage    error // when set, every call fails with it, script or not
	script    map[string][]act
	calls     []call
	active    int
	maxActive int
}

func newHandler() *scriptedHandler { return &scriptedHandler{script: map[string][]act{}} }

func (h *scriptedHandler) on(eventID string, acts ...act) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.script[eventID] = acts
}

// down makes every call fail with err, as when the target is down or
// refuses the credentials; down(nil) ends it.
func (h *scriptedHandler) down(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.outage = err
}

func (h *scriptedHandler) outageErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.outage
}

func (h *scriptedHandler) Handle(ctx context.Context, ev *events.Event, prev State) (worker.Result[State], error) {
	h.mu.Lock()
	outage := h.outage
	n := 0
	for _, c := range h.calls {
		if c.EventID == ev.ID {
			n++
		}
	}
	var a act
	if s := h.script[ev.ID]; n < len(s) {
		a = s[n]
	}
	h.active++
	h.maxActive = max(h.maxActive, h.active)
	idx := len(h.calls)
	h.calls = append(h.calls, call{EventID: ev.ID, User: ev.UserKey, Prev: prev, Start: time.Now()})
	h.mu.Unlock()

	var err error
	if outage != nil {
		a = act{err: outage}
	}
	if a.sleep > 0 {
		t := time.NewTimer(a.sleep)
		select {
		case <-t.C:
		case <-ctx.Done():
			err = ctx.Err()
		}
		t.Stop()
	}
	if a.wait != nil && err == nil {
		select {
		case <-a.wait:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if a.untilCancel && err == nil {
		<-ctx.Done()
		err = ctx.Err()
	}
	if err == nil {
		err = a.err
	}

	h.mu.Lock()
	h.active--
	h.calls[idx].End, h.calls[idx].Err = time.Now(), err
	h.mu.Unlock()
	next := prev
	if err != nil {
		if a.partial {
			next.LastEventID = ev.ID + " (partial)"
			return worker.Result[State]{State: next, Partial: true}, err
		}
		return worker.Result[State]{}, err
	}
	next.Key = ev.UserKey
	next.Applied++
	next.LastEventID = ev.ID
	if ev.User != nil {
		next.Snapshot = prev.Snapshot.Merge(*ev.User)
	}
	return worker.Result[State]{State: next, Outcome: metrics.OutcomeApplied, Detail: "applied " + ev.ID}, nil
}

func (h *scriptedHandler) allCalls() []call {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]call(nil), h.calls...)
}

// callsFor returns the calls for one event id, in order.
func (h *scriptedHandler) callsFor(eventID string) []call {
	var out []call
	for _, c := range h.allCalls() {
		if c.EventID == eventID {
			out = append(out, c)
		}
	}
	return out
}

// succeeded counts the calls for eventID that returned no error.
func (h *scriptedHandler) succeeded(eventID string) int {
	n := 0
	for _, c := range h.callsFor(eventID) {
		if c.Err == nil && !c.End.IsZero() {
			n++
		}
	}
	return n
}

// appliedOrder is the order in which the user's events were applied.
func (h *scriptedHandler) appliedOrder(user string) []string {
	var out []string
	for _, c := range h.allCalls() {
		if c.User == user && c.Err == nil && !c.End.IsZero() {
			out = append(out, c.EventID)
		}
	}
	return out
}

func (h *scriptedHandler) maxConcurrent() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.maxActive
}

// observed is an outcome and when it was reported.
type observed struct {
	worker.Outcome
	At time.Time
}

// observer collects what Config.Observe reports.
type observer struct {
	mu   sync.Mutex
	list []observed
}

func (o *observer) observe(out worker.Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.list = append(o.list, observed{Outcome: out, At: time.Now()})
}

func (o *observer) all() []observed {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]observed(nil), o.list...)
}

func (o *observer) count(match func(worker.Outcome) bool) int {
	n := 0
	for _, x := range o.all() {
		if match(x.Outcome) {
			n++
		}
	}
	return n
}

func (o *observer) first(match func(worker.Outcome) bool) (observed, bool) {
	for _, x := range o.all() {
		if match(x.Outcome) {
			return x, true
		}
	}
	return observed{}, false
}

func outcome(eventID, what string) func(worker.Outcome) bool {
	return func(o worker.Outcome) bool { return o.EventID == eventID && o.Outcome == what }
}

func deadLettered(subject string) func(worker.Outcome) bool {
	return func(o worker.Outcome) bool { return o.Subject == subject && o.Outcome == metrics.OutcomeDeadLettered }
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// harness is a real embedded JetStream with the vccsync streams and
// consumer, a real bbolt store and a real metrics registry.
type harness struct {
	url     string // the embedded server's client URL
	js      jetstream.JetStream
	cons    jetstream.Consumer
	db      *store.DB
	store   boltStore
	reg     *prometheus.Registry
	m       *metrics.Metrics
	h       *scriptedHandler
	obs     *observer
	ackWait time.Duration
	prio    jetstream.Consumer // the priority consumer, for access changes
}

func newHarness(t testing.TB, ackWait time.Duration) *harness {
	t.Helper()
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := bus.Connect(bus.ConnectConfig{URL: srv.ClientURL(), Name: t.Name()})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.EnsureStreams(ctx, js, bus.StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	cons, prio, err := bus.EnsureConsumers(ctx, js, bus.ConsumerConfig{AckWait: ackWait})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "vccsync.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{url: srv.ClientURL(), js: js, cons: cons, prio: prio, db: db, store: boltStore{db}, reg: reg, m: m,
		h: newHandler(), obs: &observer{}, ackWait: ackWait}
}

// config is the worker configuration of the tests: quick retries.
func (h *harness) config() worker.Config {
	return worker.Config{
		RetryInitial:  10 * time.Millisecond,
		RetryMax:      100 * time.Millisecond,
		AckWait:       h.ackWait,
		ShutdownGrace: 5 * time.Second,
		Observe:       h.obs.observe,
	}
}

// prober is the Probe of the tests: it fails with the handler's outage
// error while there is one, and counts its calls.
type prober struct {
	h      *scriptedHandler
	mu     sync.Mutex
	calls  int
	failed int
}

func (p *prober) probe(ctx context.Context) error {
	err := p.h.outageErr()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if err != nil {
		p.failed++
	}
	return err
}

func (p *prober) counts() (calls, failed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls, p.failed
}

// quarantineConfig is config with quarantine on: the default window
// (10 of the last 20 messages), quick probes.
func (h *harness) quarantineConfig(p *prober) worker.Config {
	cfg := h.config()
	cfg.Probe = p.probe
	cfg.ProbeInitial = 20 * time.Millisecond
	cfg.ProbeMax = 100 * time.Millisecond
	cfg.ProbeTimeout = 2 * time.Second
	return cfg
}

// consumerInfo is the consumer's state on the server.
func (h *harness) consumerInfo(t testing.TB) *jetstream.ConsumerInfo {
	t.Helper()
	info, err := h.cons.Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// running is a Worker.Run in a goroutine.
type running struct {
	w      *worker.Worker[State]
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error         // what Run returned

	mu      sync.Mutex
	checked bool // a test looked at err
}

func (h *harness) run(t testing.TB, cfg worker.Config, st worker.Store[State]) *running {
	t.Helper()
	if st == nil {
		st = h.store
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	w := worker.New[State](cfg, h.cons, h.js, h.h, st, h.m, log)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{w: w, cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = w.Run(ctx)
		close(r.done)
	}()
	t.Cleanup(func() {
		r.cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return within 30s of cancellation")
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.err != nil && !r.checked {
			t.Errorf("Run: %v", r.err)
		}
	})
	return r
}

// wait waits up to timeout for Run to return and returns its error.
func (r *running) wait(timeout time.Duration) error {
	select {
	case <-r.done:
		r.mu.Lock()
		r.checked = true
		r.mu.Unlock()
		return r.err
	case <-time.After(timeout):
		return fmt.Errorf("Run did not return within %s", timeout)
	}
}

// stop cancels Run and waits up to timeout for it to return.
func (r *running) stop(timeout time.Duration) error {
	r.cancel()
	return r.wait(timeout)
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// userID returns the 18-character form of a 15-character user ID.
func userID(t testing.TB, id15 string) string {
	t.Helper()
	id, err := events.NormalizeID(id15)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// nthUser is a distinct valid user ID for i.
func nthUser(t testing.TB, i int) string {
	return userID(t, fmt.Sprintf("0055e%010d", i))
}

var eventTime = time.Date(2026, 11, 20, 10, 15, 1, 0, time.UTC)

func userChanged(t testing.TB, user, eventID string) events.Envelope {
	t.Helper()
	env, err := events.NewUserChanged(eventID, "salesforce/outbound-message/00D5e000000KQ2e", eventTime, events.User{
		ID: user, Username: events.Val("agent." + eventID + "@acme.example"), Alias: events.Val("agent"),
		IsActive: events.Val(true), SystemModstamp: events.Val(events.Time{Time: eventTime}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// publish publishes a user-changed event with Nats-Msg-Id = its id and
// returns its stream sequence.
func (h *harness) publish(t testing.TB, user, eventID string) uint64 {
	t.Helper()
	return h.publishWithID(t, user, eventID, eventID)
}

func (h *harness) publishWithID(t testing.TB, user, eventID, msgID string) uint64 {
	t.Helper()
	r, err := bus.PublishWithID(testCtx(t), h.js, userChanged(t, user, eventID), msgID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Duplicate {
		t.Fatalf("publish %s (msg id %s): stream says duplicate", eventID, msgID)
	}
	return r.Sequence
}

// dlq returns the last dead letter of a message first published on subject.
func (h *harness) dlq(t testing.TB, subject string) *jetstream.RawStreamMsg {
	t.Helper()
	ctx := testCtx(t)
	s, err := h.js.Stream(ctx, events.DLQStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(ctx, events.DLQSubject(subject))
	if err != nil {
		t.Fatalf("no dead letter for %s on %s: %v", subject, events.DLQSubject(subject), err)
	}
	return m
}

func (h *harness) streamMsgs(t testing.TB, name string) uint64 {
	t.Helper()
	ctx := testCtx(t)
	s, err := h.js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// waitWorkQueueEmpty waits until every message left VCCSYNC (acked).
func (h *harness) waitWorkQueueEmpty(t testing.TB) {
	t.Helper()
	waitFor(t, 10*time.Second, "VCCSYNC to be empty", func() bool { return h.streamMsgs(t, events.Stream) == 0 })
}

func (h *harness) seen(t testing.TB, eventID string) bool {
	t.Helper()
	_, ok, err := h.db.Seen(eventID)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func (h *harness) user(t testing.TB, key string) State {
	t.Helper()
	u, _, err := h.db.User(key)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// metric sums the samples of a counter or gauge whose labels include the
// given ones.
func (h *harness) metric(t testing.TB, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}
