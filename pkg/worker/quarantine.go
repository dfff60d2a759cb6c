package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// ConsumerPauser pauses and resumes a JetStream consumer on the server.
// jetstream.JetStream implements it; when the Publisher given to New does
// too, a quarantine pauses the worker's consumer.
type ConsumerPauser interface {
	PauseConsumer(ctx context.Context, stream, consumer string, pauseUntil time.Time) (*jetstream.ConsumerPauseResponse, error)
	ResumeConsumer(ctx context.Context, stream, consumer string) (*jetstream.ConsumerPauseResponse, error)
}

// Kinds of failure that say the target cannot be used, whatever the
// message: the values of QuarantineKind.
const (
	// KindUnavailable: the target is down, overloaded or unreachable
	// (5xx, 429, 408, network errors and timeouts, Temporary() true).
	KindUnavailable = "unavailable"
	// KindAuth: the target refuses the worker's credentials (401, 403).
	KindAuth = "auth"
	// KindConfig: the worker's configuration does not match the target
	// (the error has Misconfigured() true: e.g. a template user that does
	// not exist), so every message that needs it fails alike.
	KindConfig = "config"
)

// QuarantineKind says how err shows that the target cannot be used at all,
// or "" when err is about the message (a rule the target refuses, a
// record it does not have) or about nothing the target said. It looks at
// behaviour only:
//
//   - interface{ Misconfigured() bool } true is config: the
//     configuration does not match the target;
//   - interface{ Unavailable() bool }, when the error has it, decides:
//     false means "not the target's state", true "the target cannot be
//     used" (auth when the status is 401 or 403, else unavailable);
//   - interface{ StatusCode() int }: 401 and 403 are auth; 408, 429 and
//     5xx unavailable; any other status is about the message;
//   - network errors (net.Error) and context.DeadlineExceeded are
//     unavailable;
//   - interface{ Temporary() bool } true, with no status, is unavailable.
func QuarantineKind(err error) string {
	if err == nil {
		return ""
	}
	var mc interface{ Misconfigured() bool }
	if errors.As(err, &mc) && mc.Misconfigured() {
		return KindConfig
	}
	status := 0
	var sc interface{ StatusCode() int }
	if errors.As(err, &sc) {
		status = sc.StatusCode()
	}
	auth := status == http.StatusUnauthorized || status == http.StatusForbidden
	var u interface{ Unavailable() bool }
	if errors.As(err, &u) {
		switch {
		case !u.Unavailable():
			return ""
		case auth:
			return KindAuth
		}
		return KindUnavailable
	}
	if status > 0 {
		switch {
		case auth:
			return KindAuth
		case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
			return KindUnavailable
		}
		return ""
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return KindUnavailable
	}
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && t.Temporary() {
		return KindUnavailable
	}
	return ""
}

// quarantinedError is the reason a message is put back while the worker is
// quarantined: the handler was not called (cause nil), or it failed
// because the target cannot be used (cause). No attempt is counted.
type quarantinedError struct{ cause error }

func (e *quarantinedError) Error() string {
	if e.cause == nil {
		return "quarantined: put back until the target answers"
	}
	return "quarantined: put back until the target answers: " + e.cause.Error()
}

func (e *quarantinedError) Unwrap() error { return e.cause }

// sample is the last handler outcome of one message (stream sequence).
type sample struct {
	seq  uint64
	at   time.Time
	kind string // QuarantineKind of the failure; "" for a success or a failure about the message
}

// quarantine is the detector and the state.
type quarantine struct {
	active atomic.Bool // on, for the hot path

	mu      sync.Mutex
	samples []sample // oldest first, one per message
	on      bool
	kind    string
	reason  string
	since   time.Time
	probes  int   // failed probes since it began
	lastErr error // the last failed probe

	// probeMu serialises probes; probeStart and probeErr are the last one.
	probeMu    sync.Mutex
	probeStart time.Time
	probeErr   error
}

// quarantineEnabled reports whether the worker quarantines at all: only
// with a Probe, which is how it finds out that the target answers again.
func (w *Worker[S]) quarantineEnabled() bool { return w.cfg.Probe != nil }

// Quarantined reports whether the worker is quarantined, why (with the
// error of the last failed probe, if any) and since when. While it is, the
// worker fetches nothing, its consumer is paused, and /readyz should say
// not ready.
func (w *Worker[S]) Quarantined() (bool, string, time.Time) {
	q := &w.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.on {
		return false, "", time.Time{}
	}
	reason := q.reason
	if q.lastErr != nil {
		reason = fmt.Sprintf("%s; %d probe(s) failed, last: %v", reason, q.probes, q.lastErr)
	}
	return true, reason, q.since
}

func (w *Worker[S]) quarantined() bool { return w.q.active.Load() }

// observeTarget records the handler outcome of message seq (kind "" for a
// success or a failure about the message) and enters quarantine when, of
// the last QuarantineWindow messages handled within QuarantineMaxAge, at
// least QuarantineMinSamples are known and a share of QuarantineRatio or
// more failed with the same kind. It reports whether the worker is
// quarantined.
func (w *Worker[S]) observeTarget(seq uint64, kind string, err error) bool {
	if !w.quarantineEnabled() {
		return false
	}
	q := &w.q
	now := time.Now()
	q.mu.Lock()
	if q.on {
		q.mu.Unlock()
		return true
	}
	keep := q.samples[:0]
	for _, s := range q.samples {
		if s.seq != seq && now.Sub(s.at) <= w.cfg.QuarantineMaxAge {
			keep = append(keep, s)
		}
	}
	q.samples = append(keep, sample{seq: seq, at: now, kind: kind})
	if n := len(q.samples) - w.cfg.QuarantineWindow; n > 0 {
		q.samples = append(q.samples[:0], q.samples[n:]...)
	}
	total := len(q.samples)
	if kind == "" || total < w.cfg.QuarantineMinSamples {
		q.mu.Unlock()
		return false
	}
	failed := 0
	for _, s := range q.samples {
		if s.kind == kind {
			failed++
		}
	}
	if float64(failed) < w.cfg.QuarantineRatio*float64(total) {
		q.mu.Unlock()
		return false
	}
	reason := fmt.Sprintf("%s: %d of the last %d messages failed: %v", describeKind(kind), failed, total, err)
	w.enterLocked(kind, reason, now)
	q.mu.Unlock()
	w.announce(kind, reason)
	return true
}

// confirmDown asks whether the target answers, for a failure of the given
// kind seen at failedAt that would dead-letter the message (a refusal of
// the credentials, or the last attempt): Health's recent failure rate for
// an unavailable target when it can tell, else the Probe. A probe started
// after failedAt is as good as a new one, so concurrent callers share it.
// If the target is found failing the worker enters quarantine and
// confirmDown reports true: the message is put back instead of
// dead-lettered.
func (w *Worker[S]) confirmDown(ctx context.Context, failedAt time.Time, kind string, cause error) bool {
	if !w.quarantineEnabled() {
		return false
	}
	q := &w.q
	q.probeMu.Lock()
	defer q.probeMu.Unlock()
	if w.quarantined() {
		return true
	}
	var err error
	judged := false
	if kind == KindUnavailable && w.cfg.Health != nil {
		// One call says little when a third of all calls fail: the
		// recent failure rate decides, when there is one.
		if err = w.cfg.Health.Err(); !errors.Is(err, ErrTooFewRequests) {
			judged = true
		}
	}
	if !judged {
		if q.probeStart.After(failedAt) && q.probeErr == nil {
			return false
		}
		err = w.probe(ctx)
	}
	if err == nil {
		return false
	}
	reason := fmt.Sprintf("%s: %v; probe: %v", describeKind(kind), cause, err)
	q.mu.Lock()
	if q.on {
		q.mu.Unlock()
		return true
	}
	w.enterLocked(kind, reason, time.Now())
	q.mu.Unlock()
	w.announce(kind, reason)
	return true
}

// probe calls the Probe with ProbeTimeout and records when it started
// and what it said. probeMu must be held.
func (w *Worker[S]) probe(ctx context.Context) error {
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, w.cfg.ProbeTimeout)
	defer cancel()
	err := w.cfg.Probe(pctx)
	w.q.probeStart, w.q.probeErr = start, err
	return err
}

// enterLocked enters quarantine. q.mu must be held.
func (w *Worker[S]) enterLocked(kind, reason string, now time.Time) {
	q := &w.q
	q.on, q.kind, q.reason, q.since = true, kind, reason, now
	q.active.Store(true)
	q.probes, q.lastErr = 0, nil
	q.samples = q.samples[:0]
}

// leave ends the quarantine: the detector starts afresh.
func (w *Worker[S]) leave() {
	q := &w.q
	q.mu.Lock()
	kind, since, probes := q.kind, q.since, q.probes
	q.on, q.kind, q.reason, q.since = false, "", "", time.Time{}
	q.active.Store(false)
	q.probes, q.lastErr = 0, nil
	q.samples = q.samples[:0]
	q.mu.Unlock()
	if w.m != nil {
		w.m.SetQuarantined(false)
	}
	w.log.Info("quarantine over: the target answers; consuming again",
		zap.String("kind", kind), zap.Duration("quarantined_for", time.Since(since).Round(time.Millisecond)),
		zap.Int("failed_probes", probes))
}

// announce logs the entry into quarantine and sets the metrics.
func (w *Worker[S]) announce(kind, reason string) {
	if w.m != nil {
		w.m.SetQuarantined(true)
	}
	w.log.Warn("quarantined: the target cannot be used; pausing consumption and probing until it answers",
		zap.String("kind", kind), zap.String("reason", reason))
}

func describeKind(kind string) string {
	switch kind {
	case KindAuth:
		return "target refuses the credentials"
	case KindConfig:
		return "configuration does not match the target"
	}
	return "target unavailable"
}

// sitOut waits out a quarantine: it pauses the consumer, probes with
// exponential backoff (ProbeInitial to ProbeMax), renewing the pause
// before each wait, and when a probe succeeds resumes the consumer and
// leaves quarantine. It returns early, leaving the consumer paused until
// the last pauseUntil, when ctx ends.
func (w *Worker[S]) sitOut(ctx context.Context) {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(w.cfg.ProbeInitial),
		backoff.WithMaxInterval(w.cfg.ProbeMax),
		backoff.WithMaxElapsedTime(0),
	)
	pauseWarned := false
	for {
		d := b.NextBackOff()
		// Long enough to cover the wait and the probe, short enough that a
		// worker that dies here does not leave the consumer paused for long.
		until := time.Now().Add(2*d + w.cfg.ProbeTimeout)
		if err := w.pause(ctx, until); err != nil && !pauseWarned && ctx.Err() == nil {
			pauseWarned = true
			w.log.Warn("could not pause the consumer; this worker fetches nothing while quarantined, others sharing the consumer may", zap.Error(err))
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		w.q.probeMu.Lock()
		err := w.probe(ctx)
		w.q.probeMu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.q.mu.Lock()
			w.q.probes++
			w.q.lastErr = err
			w.q.mu.Unlock()
			continue
		}
		if err := w.resume(ctx); err != nil {
			w.log.Warn("could not resume the consumer; it resumes by itself when the pause runs out",
				zap.Time("pause_until", until), zap.Error(err))
		}
		w.leave()
		return
	}
}

var errNoPauser = errors.New("the publisher cannot pause consumers (it is not a worker.ConsumerPauser)")

func (w *Worker[S]) pause(ctx context.Context, until time.Time) error {
	p, ok := w.pub.(ConsumerPauser)
	if !ok {
		return errNoPauser
	}
	info := w.cons.CachedInfo()
	if info == nil {
		return errors.New("consumer info unknown")
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := p.PauseConsumer(pctx, info.Stream, info.Name, until); err != nil {
		return fmt.Errorf("pause consumer %s on %s: %w", info.Name, info.Stream, err)
	}
	return nil
}

func (w *Worker[S]) resume(ctx context.Context) error {
	p, ok := w.pub.(ConsumerPauser)
	if !ok {
		return nil
	}
	info := w.cons.CachedInfo()
	if info == nil {
		return errors.New("consumer info unknown")
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := p.ResumeConsumer(pctx, info.Stream, info.Name); err != nil {
		return fmt.Errorf("resume consumer %s on %s: %w", info.Name, info.Stream, err)
	}
	return nil
}
