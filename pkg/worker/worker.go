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
	Outcome string // e.g. created, updated, unchanged, stale
	Detail  string // human-readable changes or note
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
	At  time.Time
	// State is the user's state after the message; written when HasState.
	State    S
	HasState bool
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
	BatchSize     int           // messages per batch (and per commit), default 256
	Concurrency   int           // users applied in parallel, default 16
	MaxAttempts   int           // deliveries before a transient failure is dead-lettered, default 10
	RetryInitial  time.Duration // first retry delay, default 1s
	RetryMax      time.Duration // longest retry delay, default 5m
	AckWait       time.Duration // the consumer's AckWait, for InProgress, default 30s
	ShutdownGrace time.Duration // time to finish in-flight work on stop, default 15s
	Linger        time.Duration // how long to wait for more messages to fill a batch, default 5ms
	// Observe, when set, is called for every message once its fate is
	// decided (after the commit for applied ones).
	Observe func(Outcome)
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
	def(&c.Concurrency, 16)
	def(&c.MaxAttempts, 10)
	defd(&c.RetryInitial, time.Second)
	defd(&c.RetryMax, 5*time.Minute)
	defd(&c.AckWait, 30*time.Second)
	defd(&c.ShutdownGrace, 15*time.Second)
	defd(&c.Linger, 5*time.Millisecond)
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

	// Per-user order across retries: while an event of a user waits for
	// its retry, later events of that user are held back. failures counts
	// real handler failures per stream sequence (not deliveries, which
	// holding back also increases).
	holdMu   sync.Mutex
	holds    map[string]hold
	failures map[uint64]int
}

// hold is a user's event waiting for its retry.
type hold struct {
	seq   uint64
	until time.Time // when it is due again
}

// New returns a Worker.
func New[S any](cfg Config, cons jetstream.Consumer, pub Publisher, h Handler[S], st Store[S], m *metrics.Metrics, log *zap.Logger) *Worker[S] {
	cfg.defaults()
	if log == nil {
		log = zap.NewNop()
	}
	return &Worker[S]{cfg: cfg, cons: cons, pub: pub, handler: h, store: st, m: m, log: log,
		holds: map[string]hold{}, failures: map[uint64]int{}}
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
// finishes the batch in hand (cancelling handlers after ShutdownGrace and
// naking what did not finish), naks messages fetched but not started, and
// returns nil.
func (w *Worker[S]) Run(ctx context.Context) error {
	it, err := w.cons.Messages(jetstream.PullMaxMessages(2 * w.cfg.BatchSize))
	if err != nil {
		return fmt.Errorf("worker: start consuming: %w", err)
	}
	w.setRunning(true)
	defer w.setRunning(false)
	// Work continues past ctx for a grace period so in-flight work finishes.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stop := context.AfterFunc(ctx, func() {
		it.Drain()
		time.AfterFunc(w.cfg.ShutdownGrace, cancelWork)
	})
	defer stop()

	for {
		batch, err := w.next(ctx, it)
		if len(batch) > 0 {
			if ctx.Err() != nil {
				w.nakAll(batch, "shutting down")
			} else {
				w.process(work, batch)
			}
		}
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
				it.Stop()
				return nil
			}
			w.log.Warn("fetch failed; retrying", zap.Error(err))
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// next blocks for one message, then takes whatever else arrives within
// Linger, up to BatchSize.
func (w *Worker[S]) next(ctx context.Context, it jetstream.MessagesContext) ([]jetstream.Msg, error) {
	first, err := it.Next(jetstream.NextContext(ctx))
	if err != nil {
		if ctx.Err() != nil {
			// Drain: take what the client still holds, to nak it now.
			var rest []jetstream.Msg
			for {
				m, err := it.Next(jetstream.NextMaxWait(w.cfg.Linger))
				if err != nil {
					return rest, jetstream.ErrMsgIteratorClosed
				}
				rest = append(rest, m)
			}
		}
		return nil, err
	}
	batch := []jetstream.Msg{first}
	for len(batch) < w.cfg.BatchSize {
		m, err := it.Next(jetstream.NextMaxWait(w.cfg.Linger))
		if err != nil {
			break
		}
		batch = append(batch, m)
	}
	return batch, nil
}

func (w *Worker[S]) nakAll(batch []jetstream.Msg, why string) {
	for _, m := range batch {
		if err := m.Nak(); err != nil {
			w.log.Warn("nak failed", zap.String("subject", m.Subject()), zap.String("why", why), zap.Error(err))
		}
	}
}

func (w *Worker[S]) observe(o Outcome) {
	if w.cfg.Observe != nil {
		w.cfg.Observe(o)
	}
}
