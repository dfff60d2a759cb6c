package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/metrics"
)

// Handler applies one decoded event to a user's state S.
type Handler[S any] interface {
	Handle(ctx context.Context, ev *events.Event, prev S) (Result[S], error)
}

// Result is what a Handler did.
type Result[S any] struct {
	State   S
	Outcome string   // e.g. created, updated, unchanged, stale
	Detail  string   // human-readable changes or note
	Changes []Change // what was written, old → new
	// Partial, returned with an error, says State holds what the handler
	// learned or did before it failed: recorded with a dead letter, and
	// the user's later events in the batch go on from it, instead of the
	// state before the event.
	Partial bool
}

// Change is one field a handler changed, old → new.
type Change struct {
	Field, Old, New string
}

// Store is the worker's view of the state store.
type Store[S any] interface {
	// Seen reports whether the event id is in the processed-event ledger.
	Seen(eventID string) (bool, error)
	// Load returns the user's state, the zero S when there is none.
	Load(userKey string) (S, error)
	// Commit records a batch in one transaction.
	Commit(records []Record[S]) error
}

// Record is one processed message of a batch.
type Record[S any] struct {
	EventID string
	UserKey string
	Type    string
	Outcome string
	Detail  string
	// Err is set for a dead-lettered event: it is not written to the
	// ledger (so a replay applies it), but the user's last error is.
	Err string
	// ErrClass is the dead-letter class of Err (events.ClassPoison,
	// ClassPermanent, ClassExhausted).
	ErrClass string
	// Action, RequestedBy and Reason are set for admin commands.
	Action, RequestedBy, Reason string
	Changes                     []Change
	At                          time.Time
	// State is the user's state after the message; written when HasState.
	State    S
	HasState bool
	// Settled is set on the last record of a user in a batch when no
	// handler call of that user failed after the last one that succeeded:
	// the state accounts for every write the handler made to its targets,
	// so the store may close the user's write intent.
	Settled bool
}

// Publisher publishes to JetStream and waits for the PubAck (DLQ).
type Publisher interface {
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// Outcome is reported to Config.Observe for every message handled.
type Outcome struct {
	Subject  string
	EventID  string
	UserKey  string
	Type     string
	Outcome  string // handler outcome, duplicate, retried, dead_lettered
	Detail   string
	Class    string // DLQ class when dead-lettered
	Err      error
	Attempts uint64
}

// Config tunes the worker. Zero values take the defaults.
type Config struct {
	BatchSize int // messages per pull request, and the most committed at once, default 256
	// MaxInflight bounds the messages the worker holds (delivered, not yet
	// acked or naked), default 2×BatchSize.
	MaxInflight int
	// Priority, when set, is the consumer of access changes (the priority
	// subject): they overtake the main consumer's backlog (see
	// priority.go). PriorityInflight bounds the messages it has in hand,
	// default 64; PriorityConcurrency the users with an access change
	// applied at once, on top of Concurrency, default 4.
	Priority            jetstream.Consumer
	PriorityInflight    int
	PriorityConcurrency int
	Concurrency         int // users applied in parallel, default 16
	// StateCache is how many users' committed states the worker keeps in
	// memory after their events are done, so that their next events do
	// not read them from the store again; default 4096, negative for none.
	StateCache    int
	MaxAttempts   int           // deliveries before a transient failure is dead-lettered, default 10
	RetryInitial  time.Duration // first retry delay, default 1s
	RetryMax      time.Duration // longest retry delay, default 5m
	AckWait       time.Duration // the consumer's AckWait, for InProgress, default 30s
	ShutdownGrace time.Duration // time to finish in-flight work on stop, default 15s
	// ConsumerStatsEvery is how often the consumers' backlogs are read for
	// vccsync_consumer_pending and _ack_pending, default 15s.
	ConsumerStatsEvery time.Duration
	// Observe, when set, is called for every message once its fate is
	// decided (after the commit for applied ones).
	Observe func(Outcome)

	// Probe, when set, turns quarantine on: it is a cheap call to the
	// target (VCC, Salesforce) that returns nil when the target answers
	// and accepts the worker's credentials. See the package documentation.
	Probe func(ctx context.Context) error
	// Health, when set, judges the target by its recent requests (see
	// RequestHealth): before a message that failed because the target was
	// unavailable is dead-lettered, the worker asks Health rather than one
	// Probe call, and quarantines when the target has been failing lately.
	// Too few recent requests to tell (ErrTooFewRequests) falls back on the
	// Probe, as do refusals of the credentials. The Probe alone decides when
	// a quarantine ends.
	Health interface{ Err() error }
	// QuarantineWindow is how many of the last handled messages (each
	// counted once, with its last outcome) the detector looks at, default 20.
	QuarantineWindow int
	// QuarantineMinSamples is how many messages the window must hold
	// before it can decide, default 10 (at most QuarantineWindow).
	QuarantineMinSamples int
	// QuarantineRatio is the share of the window that must have failed
	// the same way, default 0.8.
	QuarantineRatio float64
	// QuarantineMaxAge forgets outcomes older than this, default 1m.
	QuarantineMaxAge time.Duration
	// ProbeInitial and ProbeMax bound the exponential backoff between
	// probes while quarantined, default 1s and 1m.
	ProbeInitial, ProbeMax time.Duration
	// ProbeTimeout bounds one probe, default 10s.
	ProbeTimeout time.Duration
}

func (c *Config) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.BatchSize, 256)
	def(&c.MaxInflight, 2*c.BatchSize)
	def(&c.PriorityInflight, 64)
	def(&c.PriorityConcurrency, 4)
	def(&c.Concurrency, 16)
	if c.StateCache == 0 {
		c.StateCache = 4096
	}
	def(&c.MaxAttempts, 10)
	defd(&c.RetryInitial, time.Second)
	defd(&c.RetryMax, 5*time.Minute)
	defd(&c.AckWait, 30*time.Second)
	defd(&c.ShutdownGrace, 15*time.Second)
	defd(&c.ConsumerStatsEvery, 15*time.Second)
	def(&c.QuarantineWindow, 20)
	def(&c.QuarantineMinSamples, 10)
	c.QuarantineMinSamples = min(c.QuarantineMinSamples, c.QuarantineWindow)
	if c.QuarantineRatio <= 0 || c.QuarantineRatio > 1 {
		c.QuarantineRatio = 0.8
	}
	defd(&c.QuarantineMaxAge, time.Minute)
	defd(&c.ProbeInitial, time.Second)
	defd(&c.ProbeMax, time.Minute)
	c.ProbeMax = max(c.ProbeMax, c.ProbeInitial)
	defd(&c.ProbeTimeout, 10*time.Second)
}

// Worker consumes and applies events.
type Worker[S any] struct {
	cfg     Config
	cons    jetstream.Consumer
	pub     Publisher
	handler Handler[S]
	store   Store[S]
	m       *metrics.Metrics
	log     *zap.Logger

	mu      sync.Mutex
	running bool

	// Per-user order across retries: every event of a user that was naked
	// (failed, or held back itself) is pending until it is settled, and an
	// event goes ahead only when no earlier event of its user is pending.
	// failures counts real handler failures per stream sequence (not
	// deliveries, which holding back also increases).
	holdMu   sync.Mutex
	pending  map[string]map[uint64]time.Time // user → stream sequence → when it is due again
	failures map[uint64]int

	q quarantine
}

// New returns a Worker. If pub is also a ConsumerPauser (a
// jetstream.JetStream is), quarantine pauses cons on the server.
func New[S any](cfg Config, cons jetstream.Consumer, pub Publisher, h Handler[S], st Store[S], m *metrics.Metrics, log *zap.Logger) *Worker[S] {
	cfg.defaults()
	if log == nil {
		log = zap.NewNop()
	}
	return &Worker[S]{cfg: cfg, cons: cons, pub: pub, handler: h, store: st, m: m, log: log,
		pending: map[string]map[uint64]time.Time{}, failures: map[uint64]int{}}
}

// Running reports whether Run is consuming.
func (w *Worker[S]) Running() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running
}

func (w *Worker[S]) setRunning(r bool) {
	w.mu.Lock()
	w.running = r
	w.mu.Unlock()
	if w.m != nil {
		w.m.SetReady(r)
	}
}

// Run consumes until ctx is cancelled. On cancellation it stops fetching,
// finishes the work each user has started (cancelling handlers after
// ShutdownGrace; what did not finish is naked), naks what waited behind it,
// commits and returns nil. If the consumer goes away (deleted, or the
// connection closed for good) Run returns an error.
//
// Run is a pipeline (see pipeline.go): one pull request at a time keeps
// up to MaxInflight messages in hand, each kept alive with InProgress;
// each user's messages run in order in that user's lane, users in
// parallel; the store commits whatever lanes have finished as one group
// while the lanes go on, and acks follow each commit.
func (w *Worker[S]) Run(ctx context.Context) error {
	info, err := w.cons.Info(ctx)
	if ctx.Err() != nil {
		return nil // stopped before it started: nothing in hand
	}
	if err != nil {
		return fmt.Errorf("worker: consumer: %w", err)
	}
	if err := w.adoptOrphans(ctx, info); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("worker: messages left by an earlier worker: %w", err)
	}
	if w.cfg.Priority != nil {
		pinfo, err := w.cfg.Priority.Info(ctx)
		if err == nil {
			err = w.adoptOrphans(ctx, pinfo)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("worker: priority consumer: %w", err)
		}
	}
	w.setRunning(true)
	defer w.setRunning(false)
	// Work continues past ctx for a grace period so in-flight work finishes.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(w.cfg.ShutdownGrace, cancelWork) })
	defer stop()
	go w.watchConsumer(ctx)
	return w.pipeline(ctx, work)
}

// watchConsumer keeps vccsync_consumer_pending and _ack_pending of each
// consumer current until ctx ends.
func (w *Worker[S]) watchConsumer(ctx context.Context) {
	if w.m == nil {
		return
	}
	consumers := []jetstream.Consumer{w.cons}
	if w.cfg.Priority != nil {
		consumers = append(consumers, w.cfg.Priority)
	}
	t := time.NewTicker(w.cfg.ConsumerStatsEvery)
	defer t.Stop()
	for {
		for _, c := range consumers {
			if info, err := c.Info(ctx); err == nil {
				w.m.ConsumerPending.WithLabelValues(info.Name).Set(float64(info.NumPending))
				w.m.ConsumerAckPending.WithLabelValues(info.Name).Set(float64(info.NumAckPending))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// isGone reports errors after which fetching again cannot succeed.
func isGone(err error) bool {
	return errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
		errors.Is(err, jetstream.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionClosed)
}

func (w *Worker[S]) observe(o Outcome) {
	if w.cfg.Observe != nil {
		w.cfg.Observe(o)
	}
}
