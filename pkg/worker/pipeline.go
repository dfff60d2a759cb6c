package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/vccsync/vccsync/pkg/events"
)

// The pipeline has three stages joined by channels:
//
//	fetch ──msgs──▶ dispatch ──▶ lane per user ──groups──▶ commit ──▶ ack/nak
//
// fetch keeps one pull request open at a time, for as many messages as the
// worker may still take (MaxInflight less those it holds); dispatch reads
// each message's user from its subject and queues it in that user's lane;
// a lane has one of a fixed pool of appliers (Concurrency of them) decode
// and apply its user's queued messages in stream order, hands them to the
// committer as one group and waits for that group's
// commit before it runs again (so a user's next events start from a
// committed state, and a commit that closes the user's write intent cannot
// race the intent the next event opens); the committer commits every group
// that is ready as one store transaction, then acks. A slow user holds only
// its own lane: every other user's finished events are committed and acked
// meanwhile, and fetching, decoding and applying go on while a commit runs.

// fetchWait is how long one pull request stays open waiting for messages
// before the worker checks its consumer and asks again.
const fetchWait = 10 * time.Second

// lane is one user's queue of messages, and the state its next run starts
// from.
type lane[S any] struct {
	key     string
	queue   []*item[S]
	running bool
	// state is the user's committed state when loaded is set; only the
	// goroutine running the lane touches it.
	state  S
	loaded bool
	// applied carries the outcome of each of the lane's runs back from
	// its applier (see applyJob.done); made once per lane.
	applied chan bool
}

// group is what one lane run (or one poison message) finished: committed
// together with other ready groups, then acked.
type group[S any] struct {
	items []*item[S]
	done  chan error // the commit's outcome; buffered
}

// pipe is the state of one Run.
type pipe[S any] struct {
	w *Worker[S]

	mu    sync.Mutex
	lanes map[string]*lane[S]
	// states holds the committed states of users with no lane (see
	// stateCache).
	states *stateCache[S]
	// lent holds the stream sequences of messages borrowed and applied
	// ahead of an access change: when the main consumer delivers one, it
	// is acked without being reported again.
	lent map[uint64]struct{}
	runs sync.WaitGroup // lane runs and poison messages in progress

	// A goroutine that ran a lane waits on idle for another, up to
	// maxIdle of them, until quit closes: a lane starts on a stack that
	// has already grown instead of growing a new one each time. maxIdle is
	// the messages the worker may hold, since one commit may finish that
	// many lanes at once.
	idle    chan *lane[S]
	idlers  atomic.Int32
	maxIdle int32
	quit    chan struct{}

	// Lanes are applied by Concurrency appliers taking jobs, and lanes
	// with an access change by PriorityConcurrency more taking pjobs. The
	// deep handler calls run on these few goroutines, whose stacks stay
	// grown while they are busy, rather than on every lane's goroutine,
	// whose stack the garbage collector shrinks while it waits for its
	// commit and which would grow it again on its next run.
	jobs     chan *applyJob[S]
	pjobs    chan *applyJob[S]
	credits  chan struct{} // messages the worker may still take from the main consumer (MaxInflight)
	pcredits chan struct{} // and from the priority consumer (PriorityInflight)
	commits  chan *group[S]
	stream   jetstream.Stream // to borrow a user's earlier messages; nil when it cannot be read

	access *accessWatch // nil without a priority consumer

	heldMu sync.Mutex
	held   map[jetstream.Msg]bool // delivered, not yet acked or naked (kept alive) → from the priority consumer
}

// source is one consumer the pipeline fetches from.
type source struct {
	cons     jetstream.Consumer
	credits  chan struct{}
	batch    int
	priority bool
}

// delivery is a fetched message and the consumer it came from.
type delivery struct {
	m        jetstream.Msg
	priority bool
}

func (w *Worker[S]) newPipe() *pipe[S] {
	p := &pipe[S]{w: w, lanes: map[string]*lane[S]{}, lent: map[uint64]struct{}{},
		states:   newStateCache[S](w.cfg.StateCache),
		jobs:     make(chan *applyJob[S]),
		pjobs:    make(chan *applyJob[S]),
		credits:  make(chan struct{}, w.cfg.MaxInflight),
		pcredits: make(chan struct{}, w.cfg.PriorityInflight),
		commits:  make(chan *group[S], w.cfg.MaxInflight+w.cfg.PriorityInflight),
		held:     map[jetstream.Msg]bool{},
		idle:     make(chan *lane[S]),
		maxIdle:  int32(w.cfg.MaxInflight + w.cfg.PriorityInflight),
		quit:     make(chan struct{}),
	}
	for range w.cfg.MaxInflight {
		p.credits <- struct{}{}
	}
	for range w.cfg.PriorityInflight {
		p.pcredits <- struct{}{}
	}
	return p
}

// pipeline runs the stages until ctx ends or the consumer goes away. Work
// already started runs on under work.
func (w *Worker[S]) pipeline(ctx, work context.Context) error {
	p := w.newPipe()
	sources := []source{{cons: w.cons, credits: p.credits, batch: w.cfg.BatchSize}}
	if w.cfg.Priority != nil {
		sources = append(sources, source{cons: w.cfg.Priority, credits: p.pcredits, batch: w.cfg.PriorityInflight, priority: true})
		if sg, ok := w.pub.(StreamGetter); ok {
			if st, err := sg.Stream(ctx, events.Stream); err == nil {
				p.stream = st
			} else if ctx.Err() == nil {
				w.log.Warn("cannot read the stream: access changes may apply before a user's earlier messages", zap.Error(err))
			}
		}
	}
	if w.cfg.Priority != nil && p.stream != nil {
		var nc *nats.Conn
		if c, ok := w.pub.(interface{ Conn() *nats.Conn }); ok {
			nc = c.Conn()
		}
		p.access = newAccessWatch(ctx, nc, p.stream, w.log)
	}
	msgs := make(chan delivery, w.cfg.MaxInflight+w.cfg.PriorityInflight)
	errs := make(chan error, len(sources))
	var fetchers sync.WaitGroup
	fctx, stopFetching := context.WithCancel(ctx)
	defer stopFetching()
	for _, src := range sources {
		fetchers.Add(1)
		go func() {
			defer fetchers.Done()
			if err := p.fetch(fctx, src, msgs); err != nil {
				errs <- err
				stopFetching() // one consumer gone: the worker stops, to be restarted
			}
		}()
	}
	go func() { fetchers.Wait(); close(msgs) }()
	var appliers sync.WaitGroup
	for _, pool := range []struct {
		jobs chan *applyJob[S]
		n    int
	}{{p.jobs, w.cfg.Concurrency}, {p.pjobs, w.cfg.PriorityConcurrency}} {
		for range pool.n {
			appliers.Go(func() { p.applier(pool.jobs) })
		}
	}
	committed := make(chan struct{})
	go func() { defer close(committed); p.commitLoop() }()
	stopKeepAlive := p.keepAlive()
	defer stopKeepAlive()

	for d := range msgs {
		p.dispatch(fctx, work, d)
	}
	p.runs.Wait()
	close(p.quit)
	appliers.Wait()
	close(p.commits)
	<-committed
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// fetch pulls messages from src into out until ctx ends or the consumer
// goes away. It asks for no more messages than src has credits, so out
// never fills and every message the worker holds is kept alive. While
// quarantined the main source sits it out (probing, the consumer paused)
// and the priority source waits.
func (p *pipe[S]) fetch(ctx context.Context, src source, out chan<- delivery) error {
	w := p.w
	for {
		for w.quarantined() && ctx.Err() == nil {
			if !src.priority {
				w.sitOut(ctx)
				continue
			}
			select {
			case <-ctx.Done():
			case <-time.After(w.cfg.ProbeInitial):
			}
		}
		n := p.acquire(ctx, src)
		if n == 0 {
			return nil // stopped
		}
		got, err := p.pull(ctx, src, n, out)
		giveBack(src.credits, n-got)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && !isGone(err) {
			// A deleted consumer shows as "no responders" to a pull.
			if _, ierr := src.cons.Info(ctx); isGone(ierr) {
				err = ierr
			}
		}
		if err != nil {
			if isGone(err) {
				return fmt.Errorf("worker: consumer stopped delivering: %w", err)
			}
			w.log.Warn("fetch failed; retrying", zap.Error(err))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
	}
}

// pull makes one pull request for n messages and hands what arrives to
// out, until n arrived or the request expired. It returns how many
// arrived, and an error when the request failed or, after an empty one,
// the consumer cannot be read.
func (p *pipe[S]) pull(ctx context.Context, src source, n int, out chan<- delivery) (int, error) {
	// FetchContext withdraws the request on a stop (its inbox is
	// unsubscribed), so no message is handed to a worker that has gone.
	// Its deadline is the request's expiry.
	fctx, cancel := context.WithTimeout(ctx, fetchWait)
	defer cancel()
	batch, err := src.cons.Fetch(n, jetstream.FetchContext(fctx))
	if err != nil {
		return 0, err
	}
	got := 0
	for m := range batch.Messages() {
		got++
		p.hold(m, src.priority)
		out <- delivery{m: m, priority: src.priority}
	}
	if got > 0 || ctx.Err() != nil {
		return got, nil // an error after messages recurs on the next request
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return 0, err
	}
	// Nothing arrived: make sure the consumer still exists.
	if _, err := src.cons.Info(ctx); err != nil && ctx.Err() == nil {
		return 0, err
	}
	return 0, nil
}

// acquire waits for at least one of src's credits, then takes what else
// is free, up to its batch, and returns how many it took (0 when ctx
// ended).
func (p *pipe[S]) acquire(ctx context.Context, src source) int {
	select {
	case <-ctx.Done():
		return 0
	case <-src.credits:
	}
	n := 1
	// One pull per batch: while the worker still holds messages, wait a
	// moment for a quarter of a batch of credits rather than pull a few.
	var wait <-chan time.Time
	for n < src.batch {
		select {
		case <-src.credits:
			n++
			continue
		default:
		}
		if n >= src.batch/4 || p.holding(src.priority) == 0 {
			break
		}
		if wait == nil {
			wait = time.After(pullGather)
		}
		select {
		case <-src.credits:
			n++
			continue
		case <-wait:
		case <-ctx.Done():
		}
		break
	}
	return n
}

// commitGather is the longest a commit waits for more finished messages
// to join it while the worker holds others; commitEvery the least time
// between the starts of two commits.
const (
	commitGather = 10 * time.Millisecond
	commitEvery  = 5 * time.Millisecond
)

// holdingAny is how many messages the worker holds.
func (p *pipe[S]) holdingAny() int {
	p.heldMu.Lock()
	defer p.heldMu.Unlock()
	return len(p.held)
}

// pullGather is the longest a pull waits for more credits while the
// worker holds messages.
const pullGather = 5 * time.Millisecond

// holding is how many messages of one consumer the worker holds.
func (p *pipe[S]) holding(priority bool) int {
	p.heldMu.Lock()
	defer p.heldMu.Unlock()
	n := 0
	for _, pr := range p.held {
		if pr == priority {
			n++
		}
	}
	return n
}

func giveBack(credits chan struct{}, n int) {
	for range n {
		credits <- struct{}{}
	}
}

// hold records that the worker holds m.
func (p *pipe[S]) hold(m jetstream.Msg, priority bool) {
	p.heldMu.Lock()
	p.held[m] = priority
	p.heldMu.Unlock()
	if p.w.m != nil {
		p.w.m.Inflight.Inc()
	}
}

// let records that the worker no longer holds m (acked, naked or
// dead-lettered) and frees its credit.
func (p *pipe[S]) let(m jetstream.Msg) {
	p.heldMu.Lock()
	priority, ok := p.held[m]
	delete(p.held, m)
	p.heldMu.Unlock()
	if !ok {
		return // borrowed from the stream, not delivered
	}
	if p.w.m != nil {
		p.w.m.Inflight.Dec()
	}
	if priority {
		p.pcredits <- struct{}{}
	} else {
		p.credits <- struct{}{}
	}
}

// keepAlive sends InProgress for every message the worker holds every
// third of AckWait until stopped, so long VCC calls, and waits behind
// them, do not cause redelivery.
func (p *pipe[S]) keepAlive() func() {
	done := make(chan struct{})
	t := time.NewTicker(p.w.cfg.AckWait / 3)
	go func() {
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.heldMu.Lock()
				msgs := make([]jetstream.Msg, 0, len(p.held))
				for m := range p.held {
					msgs = append(msgs, m)
				}
				p.heldMu.Unlock()
				for _, m := range msgs {
					_ = m.InProgress()
				}
			}
		}
	}()
	return func() { close(done) }
}

// dispatch queues m in its user's lane, starting the lane when it is idle.
// A message that names no user is dead-lettered as poison on its own.
func (p *pipe[S]) dispatch(ctx, work context.Context, d delivery) {
	m := d.m
	it := &item[S]{msg: m, priority: d.priority}
	it.meta, _ = m.Metadata()
	if ctx.Err() != nil {
		p.nak(it, "shutting down")
		return
	}
	key, ok := userKeyOf(m.Subject())
	if !ok {
		p.runs.Add(1)
		go p.poison(work, it)
		return
	}
	p.mu.Lock()
	l := p.lanes[key]
	if l == nil {
		l = &lane[S]{key: key}
		l.state, l.loaded = p.states.take(key)
		p.lanes[key] = l
	}
	l.queue = append(l.queue, it)
	start := !l.running
	if start {
		l.running = true
		p.runs.Add(1)
	}
	p.mu.Unlock()
	if start {
		select {
		case p.idle <- l:
		default:
			go p.runner(ctx, work, l)
		}
	}
}

// runner runs l, then each lane handed to it while it waits idle.
func (p *pipe[S]) runner(ctx, work context.Context, l *lane[S]) {
	for {
		p.run(ctx, work, l)
		if p.idlers.Add(1) > p.maxIdle {
			p.idlers.Add(-1)
			return
		}
		select {
		case l = <-p.idle:
			p.idlers.Add(-1)
		case <-p.quit:
			return
		}
	}
}

// poison dead-letters a message that names no user and records it.
func (p *pipe[S]) poison(ctx context.Context, it *item[S]) {
	defer p.runs.Done()
	_, err := events.Decode(it.msg.Subject(), it.msg.Data())
	if err == nil {
		err = fmt.Errorf("subject %q names no user", it.msg.Subject())
	}
	if p.w.m != nil {
		p.w.m.EventsReceived.WithLabelValues("unknown").Inc()
	}
	it.dlqClass, it.dlqErr = events.ClassPoison, err
	p.w.deadLetter(ctx, it)
	g := &group[S]{items: []*item[S]{it}, done: make(chan error, 1)}
	p.commits <- g
}

// run works through the lane's queue: each turn takes what is queued,
// applies it, and waits for its commit. It ends when the queue is empty;
// after ctx ends, what is still queued is naked.
func (p *pipe[S]) run(ctx, work context.Context, l *lane[S]) {
	defer p.runs.Done()
	w := p.w
	for {
		p.mu.Lock()
		items := l.queue
		l.queue = nil
		if len(items) == 0 {
			l.running = false
			delete(p.lanes, l.key)
			if l.loaded {
				p.states.put(l.key, l.state)
			}
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()

		jobs := p.jobs
		for _, it := range items {
			if it.priority {
				jobs = p.pjobs
				break
			}
		}
		// Reading the stream waits on the server, not on an applier.
		if jobs == p.pjobs {
			items = p.borrow(ctx, l.key, items)
		} else {
			items = p.borrowAccess(ctx, l.key, items)
		}
		j := &applyJob[S]{ctx: ctx, work: work, l: l, items: items, done: l.applied}
		if j.done == nil {
			j.done = make(chan bool, 1)
			l.applied = j.done
		}
		applied := false
		select {
		case jobs <- j:
			applied = <-j.done
		case <-ctx.Done():
		}
		if !applied {
			for _, it := range items {
				if !it.borrowed {
					p.nak(it, "shutting down")
				}
			}
			continue
		}
		state := j.state

		// Dead-letter first: a DLQ'd message is acked only once the DLQ holds it.
		for _, it := range items {
			switch {
			case it.dlqErr != nil && it.borrowed:
				// Left to the main consumer, which dead-letters it in its turn.
				it.dlqErr, it.dlqClass, it.hasState, it.passed = nil, "", false, true
			case it.dlqErr != nil:
				w.deadLetter(work, it)
			}
		}
		g := &group[S]{items: items, done: make(chan error, 1)}
		p.commits <- g
		if err := <-g.done; err != nil || !l.loaded || failed(items) {
			// What failed may have left the state in hand ahead of what is
			// recorded: the next run reads the committed state.
			l.loaded = false
			continue
		}
		l.state = state
	}
}

// applyJob is one lane run handed to an applier: its items are decoded
// and applied to the lane's state, the result left in state.
type applyJob[S any] struct {
	ctx, work context.Context
	l         *lane[S]
	items     []*item[S]
	state     S
	done      chan bool // true once applied, false when ctx ended first
}

// applier applies lane runs from jobs until quit closes.
func (p *pipe[S]) applier(jobs <-chan *applyJob[S]) {
	for {
		select {
		case j := <-jobs:
			j.done <- p.apply(j)
		case <-p.quit:
			return
		}
	}
}

// apply decodes and applies j's items, starting from the lane's state
// (loaded first when the lane has none in hand). It reports false, having
// done nothing, when j.ctx has ended.
func (p *pipe[S]) apply(j *applyJob[S]) bool {
	if j.ctx.Err() != nil {
		return false
	}
	w, l, items := p.w, j.l, j.items
	p.decode(l.key, items)
	if !l.loaded {
		state, err := w.store.Load(l.key)
		if err != nil {
			err = fmt.Errorf("load state of user %s: %w", l.key, err)
			for _, it := range items {
				if it.dlqErr == nil {
					it.retry, it.retryErr = w.retryDelay(1), err
				}
			}
		} else {
			l.state, l.loaded = state, true
		}
	}
	j.state = l.state
	if l.loaded {
		j.state = w.applyLane(j.ctx, j.work, l.key, items, j.state)
	}
	return true
}

// decode decodes each message of a lane; one that cannot be is poison.
func (p *pipe[S]) decode(key string, items []*item[S]) {
	for _, it := range items {
		if it.ev != nil || it.dlqErr != nil {
			continue
		}
		typ := "unknown"
		ev, err := events.Decode(it.msg.Subject(), it.msg.Data())
		if err == nil && ev.UserKey != key {
			err = fmt.Errorf("event of user %s on the subject of user %s", ev.UserKey, key)
		}
		if err == nil {
			it.ev, typ = ev, ev.Type
		} else {
			it.dlqClass, it.dlqErr = events.ClassPoison, err
		}
		if p.w.m != nil {
			p.w.m.EventsReceived.WithLabelValues(typ).Inc()
		}
	}
}

// nak puts a message back at once, unapplied.
func (p *pipe[S]) nak(it *item[S], why string) {
	if err := it.msg.Nak(); err != nil {
		p.w.log.Warn("nak failed", zap.String("subject", it.msg.Subject()), zap.String("why", why), zap.Error(err))
	}
	p.let(it.msg)
}

// commitLoop commits every group that is ready as one store transaction,
// then settles its messages, until commits is closed.
func (p *pipe[S]) commitLoop() {
	var last time.Time
	for g := range p.commits {
		groups := []*group[S]{g}
		n := len(g.items)
		// Each commit costs a sync to disk: commits are at least
		// commitEvery apart, and while other messages are in hand a commit
		// waits a moment for them to join it.
		paced := last.Add(commitEvery)
		var gather <-chan time.Time
	more:
		for n < p.w.cfg.BatchSize {
			select {
			case g, ok := <-p.commits:
				if !ok {
					break more
				}
				groups = append(groups, g)
				n += len(g.items)
				continue
			default:
			}
			var wait <-chan time.Time
			switch d := time.Until(paced); {
			case d > 0:
				wait = time.After(d)
			case p.holdingAny() > n:
				if gather == nil {
					gather = time.After(commitGather)
				}
				wait = gather
			default:
				break more
			}
			select {
			case g, ok := <-p.commits:
				if !ok {
					break more
				}
				groups = append(groups, g)
				n += len(g.items)
			case <-wait:
				if wait == gather {
					break more
				}
			}
		}
		last = time.Now()
		items := make([]*item[S], 0, n)
		for _, g := range groups {
			items = append(items, g.items...)
		}
		err := p.w.commit(items)
		for _, it := range items {
			switch {
			case it.borrowed && (!it.done || it.outcome == "duplicate"):
				continue // not applied by this run: nothing to report
			case it.borrowed:
				p.lend(it.seq())
			case it.done && it.outcome == "duplicate" && p.lentBack(it.seq()):
				// Applied and reported when it was borrowed: ack only.
				if err := it.msg.Ack(); err != nil {
					p.w.log.Warn("ack failed", zap.String("subject", it.msg.Subject()), zap.Error(err))
				}
				p.let(it.msg)
				continue
			}
			p.w.settle(it)
			p.let(it.msg)
		}
		for _, g := range groups {
			g.done <- err
		}
	}
}

// lend records that the message with stream sequence seq was borrowed and
// applied.
func (p *pipe[S]) lend(seq uint64) {
	p.mu.Lock()
	p.lent[seq] = struct{}{}
	p.mu.Unlock()
}

// lentBack reports whether the message with stream sequence seq was
// borrowed and applied, and forgets it.
func (p *pipe[S]) lentBack(seq uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.lent[seq]
	delete(p.lent, seq)
	return ok
}

// failed reports whether any item of a run failed or was put back.
func failed[S any](items []*item[S]) bool {
	for _, it := range items {
		if it.retryErr != nil || it.dlqErr != nil || it.passed {
			return true
		}
	}
	return false
}

// commit records the items' fates in one store transaction. When it fails
// the applied ones are put back (their effects are applied but not
// recorded: they run again and the handlers converge), and each holds
// back its user's later events like any retry.
func (w *Worker[S]) commit(items []*item[S]) error {
	var records []Record[S]
	for _, it := range items {
		switch {
		case it.done && it.outcome == "duplicate":
			// Already recorded with its real outcome: nothing to write.
		case it.done:
			r := it.record()
			r.EventID, r.Outcome, r.Detail, r.Changes, r.State, r.HasState = it.ev.ID, it.outcome, it.detail, it.changes, it.state, it.hasState
			r.Settled = it.settled
			records = append(records, r)
		case it.dlqErr != nil && it.ev != nil && it.hasState:
			r := it.record()
			r.EventID, r.Outcome, r.Err, r.ErrClass, r.State, r.HasState = it.ev.ID, "dead_lettered", it.dlqErr.Error(), it.dlqClass, it.state, true
			records = append(records, r)
		case it.dlqErr != nil && it.ev == nil:
			if r, ok := it.poisonRecord(); ok {
				records = append(records, r)
			}
		}
	}
	start := time.Now()
	err := w.store.Commit(records)
	if err != nil {
		w.log.Error("commit failed; redelivering what it held", zap.Int("messages", len(items)), zap.Error(err))
		for _, it := range items {
			if it.done {
				it.done = false
				it.retry, it.retryErr = w.cfg.RetryInitial, fmt.Errorf("record in the store: %w", err)
				w.holdMu.Lock()
				w.pend(it.ev.UserKey, it.seq(), it.retry)
				w.holdMu.Unlock()
				if it.borrowed {
					it.retryErr = nil // the access change it preceded waits for it
				}
			}
		}
		return err
	}
	if w.m != nil {
		w.m.BatchCommitDuration.Observe(time.Since(start).Seconds())
		w.m.BatchSize.Observe(float64(len(items)))
	}
	return nil
}
