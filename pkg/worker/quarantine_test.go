package worker_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/metrics"
	"github.com/vccsync/vccsync/pkg/worker"
)

// unavailableError classifies itself with Unavailable(), as a client may
// for the failures of its token endpoint.
type unavailableError struct {
	statusError
	unavailable bool
}

func (e *unavailableError) Unavailable() bool { return e.unavailable }

func TestQuarantineKind(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"503", transient("vcc: 503 Service Unavailable"), worker.KindUnavailable},
		{"429", throttled(time.Second), worker.KindUnavailable},
		{"408", &statusError{msg: "408", status: 408, temporary: true}, worker.KindUnavailable},
		{"500 wrapped", fmt.Errorf("create user: %w", &statusError{msg: "500", status: 500, temporary: true}), worker.KindUnavailable},
		{"401 invalid_client", unauthorized(), worker.KindAuth},
		{"403 temporary (org API limit)", &statusError{msg: "REQUEST_LIMIT_EXCEEDED", status: 403, temporary: true}, worker.KindAuth},
		{"409 rule", refused(409, "username already used"), ""},
		{"409 a retry gets past", &statusError{msg: "conflict cleared", status: 409, temporary: true}, ""},
		{"404", refused(404, "not found"), ""},
		{"400", refused(400, "bad field"), ""},
		{"network", fmt.Errorf("vcc: GET /users: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), worker.KindUnavailable},
		{"deadline", fmt.Errorf("vcc: GET /users: %w", context.DeadlineExceeded), worker.KindUnavailable},
		{"temporary, no status", &tempError{msg: "transport"}, worker.KindUnavailable},
		{"permanent, no status", permanent("no template for profile"), ""},
		{"unclassified", errors.New("handler bug"), ""},
		{"Unavailable true beats a 400", &unavailableError{statusError{msg: "invalid_client", status: 400}, true}, worker.KindUnavailable},
		{"Unavailable true with a 401", &unavailableError{statusError{msg: "invalid_client", status: 401}, true}, worker.KindAuth},
		{"Unavailable false beats a 503", &unavailableError{statusError{msg: "503 for this record", status: 503, temporary: true}, false}, ""},
		{"misconfigured", fmt.Errorf("create: %w", &configError{"template VCC user agent.template not found"}), worker.KindConfig},
		{"misconfigured beats a 404", &configError{"404 template"}, worker.KindConfig},
		{"nil", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := worker.QuarantineKind(tc.err); got != tc.want {
				t.Errorf("QuarantineKind(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

// When most calls fail because the target is down or refuses the
// credentials, the worker pauses its consumer instead of dead-lettering,
// probes until the target answers, then resumes by itself and applies
// every message. No attempt is used up by the outage.
func TestQuarantineDuringOutage(t *testing.T) {
	const n = 12
	for _, tc := range []struct {
		name string
		err  error
		kind string
	}{
		{"VCC answers 503", transient("vcc: PATCH /users/{userId}: 503 Service Unavailable: maintenance"), worker.KindUnavailable},
		{"credentials refused", unauthorized(), worker.KindAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 30*time.Second)
			h.h.down(tc.err)
			var ids []string
			for i := range n {
				id := "e" + strconv.Itoa(i)
				ids = append(ids, id)
				h.publish(t, nthUser(t, i), id)
			}
			p := &prober{h: h.h}
			cfg := h.quarantineConfig(p)
			cfg.MaxAttempts = 2
			r := h.run(t, cfg, nil)

			waitFor(t, waitLong, "quarantine", func() bool { on, _, _ := r.w.Quarantined(); return on })
			on, reason, since := r.w.Quarantined()
			if !on || since.IsZero() || !strings.Contains(reason, tc.err.Error()) {
				t.Errorf("Quarantined() = %v, %q, %v; want true, a reason naming %q, a time", on, reason, since, tc.err)
			}
			waitFor(t, waitLong, "the consumer to be paused", func() bool { return h.consumerInfo(t).Paused })
			info := h.consumerInfo(t)
			if info.Config.PauseUntil == nil || !info.Config.PauseUntil.After(time.Now()) || info.PauseRemaining > time.Minute {
				t.Errorf("consumer paused until %v (remaining %s), want shortly after now", info.Config.PauseUntil, info.PauseRemaining)
			}
			waitFor(t, waitLong, "two probes", func() bool { _, failed := p.counts(); return failed >= 2 })
			calls := len(h.h.allCalls())
			waitFor(t, waitLong, "more probes", func() bool { _, failed := p.counts(); return failed >= 5 })
			if got := len(h.h.allCalls()); got != calls {
				t.Errorf("the handler was called %d times while quarantined, want 0", got-calls)
			}
			_, reason, _ = r.w.Quarantined()
			if !strings.Contains(reason, "probe") {
				t.Errorf("reason %q does not mention the failing probes", reason)
			}
			if got := h.metric(t, metrics.QuarantinedName, nil); got != 1 {
				t.Errorf("%s = %v, want 1", metrics.QuarantinedName, got)
			}
			if got := h.metric(t, metrics.QuarantineTransitionsName, map[string]string{"state": metrics.StateQuarantined}); got != 1 {
				t.Errorf("%s{state=quarantined} = %v, want 1", metrics.QuarantineTransitionsName, got)
			}
			if got := h.metric(t, metrics.RetriesName, map[string]string{"reason": "quarantine"}); got == 0 {
				t.Errorf("%s{reason=quarantine} = 0, want the messages put back", metrics.RetriesName)
			}
			if n := h.streamMsgs(t, events.DLQStream); n != 0 {
				t.Errorf("%s holds %d messages during the outage, want 0", events.DLQStream, n)
			}
			if h.streamMsgs(t, events.Stream) != n {
				t.Errorf("%s lost messages during the outage", events.Stream)
			}

			h.h.down(nil) // the target answers again
			waitApplied(t, h, ids...)
			waitFor(t, waitLong, "the quarantine to end", func() bool { on, _, _ := r.w.Quarantined(); return !on })
			if h.consumerInfo(t).Paused {
				t.Error("the consumer is still paused after the quarantine")
			}
			h.waitWorkQueueEmpty(t)
			if n := h.obs.count(func(o worker.Outcome) bool { return o.Outcome == metrics.OutcomeDeadLettered }); n != 0 {
				t.Errorf("%d messages dead-lettered, want none", n)
			}
			if n := h.streamMsgs(t, events.DLQStream); n != 0 {
				t.Errorf("%s holds %d messages, want 0", events.DLQStream, n)
			}
			for _, id := range ids {
				if !h.seen(t, id) {
					t.Errorf("%s not in the ledger", id)
				}
				if calls := h.h.callsFor(id); len(calls) > cfg.MaxAttempts {
					t.Errorf("%s: %d handler calls, more than MaxAttempts %d", id, len(calls), cfg.MaxAttempts)
				}
			}
			if got := h.metric(t, metrics.QuarantinedName, nil); got != 0 {
				t.Errorf("%s = %v after the quarantine, want 0", metrics.QuarantinedName, got)
			}
			if got := h.metric(t, metrics.QuarantineTransitionsName, map[string]string{"state": metrics.StateResumed}); got != 1 {
				t.Errorf("%s{state=resumed} = %v, want 1", metrics.QuarantineTransitionsName, got)
			}
		})
	}
}

// A message on its last attempt is not dead-lettered as exhausted while
// the probe says the target is down, even with too little traffic for the
// window to decide.
func TestQuarantineBeforeLastAttempt(t *testing.T) {
	a := userID(t, "0055e000001Aaaa")
	h := newHarness(t, 30*time.Second)
	h.h.down(transient("vcc: GET /users: 502 Bad Gateway"))
	h.publish(t, a, "a1")
	p := &prober{h: h.h}
	cfg := h.quarantineConfig(p)
	cfg.MaxAttempts = 3
	r := h.run(t, cfg, nil)

	waitFor(t, waitLong, "quarantine", func() bool { on, _, _ := r.w.Quarantined(); return on })
	if n := len(h.h.callsFor("a1")); n != cfg.MaxAttempts {
		t.Errorf("%d handler calls before the quarantine, want MaxAttempts (%d)", n, cfg.MaxAttempts)
	}
	waitFor(t, waitLong, "the consumer to be paused", func() bool { return h.consumerInfo(t).Paused })
	waitFor(t, waitLong, "probes", func() bool { _, failed := p.counts(); return failed >= 3 })
	if n := h.obs.count(outcome("a1", metrics.OutcomeDeadLettered)); n != 0 {
		t.Fatal("a1 was dead-lettered during the outage")
	}
	h.h.down(nil)
	waitApplied(t, h, "a1")
	h.waitWorkQueueEmpty(t)
	if n := h.streamMsgs(t, events.DLQStream); n != 0 {
		t.Errorf("%s holds %d messages, want 0", events.DLQStream, n)
	}
}

// Failures that are about the messages do not quarantine the worker: a
// rule the target refuses goes to the DLQ as permanent at once, a 403 on
// one record while the target answers the probe too, and a message that
// keeps failing while the target answers is exhausted as before.
func TestNoQuarantineWhenTheTargetAnswers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		failing int // messages failing with err, of 13
		class   string
		probes  bool // whether the probe is asked
	}{
		{"409 business rule", refused(409, "vcc: POST /users: 409 Conflict: username agent@acme.example is already used by another user"), 12, events.ClassPermanent, false},
		{"403 on each record", refused(403, "salesforce: PATCH /sobjects/User/{id}: 403 Forbidden: INSUFFICIENT_ACCESS_OR_READONLY"), 12, events.ClassPermanent, true},
		{"503 for a few records", transient("vcc: PATCH /users/{userId}: 503 Service Unavailable"), 3, events.ClassExhausted, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 30*time.Second)
			n := tc.failing
			var ids, ok []string
			for i := range 13 {
				id := "e" + strconv.Itoa(i)
				if i < n {
					ids = append(ids, id)
					h.h.on(id, repeat(fail(tc.err), 10)...)
				} else {
					ok = append(ok, id)
				}
				h.publish(t, nthUser(t, i), id)
			}
			p := &prober{h: h.h}
			cfg := h.quarantineConfig(p)
			cfg.MaxAttempts = 2
			r := h.run(t, cfg, nil)

			waitApplied(t, h, ok...)
			waitFor(t, waitLong, "every failing message to be dead-lettered", func() bool {
				return h.obs.count(func(o worker.Outcome) bool { return o.Outcome == metrics.OutcomeDeadLettered }) == n
			})
			h.waitWorkQueueEmpty(t)
			for _, id := range ids {
				o, _ := h.obs.first(outcome(id, metrics.OutcomeDeadLettered))
				if o.Class != tc.class {
					t.Errorf("%s dead-lettered as %q, want %q", id, o.Class, tc.class)
				}
			}
			if on, reason, _ := r.w.Quarantined(); on {
				t.Errorf("quarantined: %s", reason)
			}
			calls, failed := p.counts()
			if tc.probes != (calls > 0) || failed != 0 {
				t.Errorf("probe called %d times (%d failed), want calls %v and no failure", calls, failed, tc.probes)
			}
			if h.consumerInfo(t).Paused {
				t.Error("the consumer was paused")
			}
			if got := h.metric(t, metrics.QuarantineTransitionsName, nil); got != 0 {
				t.Errorf("%s = %v, want 0", metrics.QuarantineTransitionsName, got)
			}
		})
	}
}

// Without a Probe there is no quarantine: an outage dead-letters as
// before, once the attempts are used up.
func TestNoQuarantineWithoutProbe(t *testing.T) {
	h := newHarness(t, 30*time.Second)
	h.h.down(transient("vcc: 503 Service Unavailable"))
	for i := range 12 {
		h.publish(t, nthUser(t, i), "e"+strconv.Itoa(i))
	}
	cfg := h.config()
	cfg.MaxAttempts = 2
	r := h.run(t, cfg, nil)
	waitFor(t, waitLong, "the messages to be exhausted", func() bool {
		return h.obs.count(func(o worker.Outcome) bool { return o.Class == events.ClassExhausted }) == 12
	})
	if on, _, _ := r.w.Quarantined(); on {
		t.Error("quarantined without a probe")
	}
}

// configError is a refusal caused by the configuration (Misconfigured).
type configError struct{ msg string }

func (e *configError) Error() string       { return e.msg }
func (e *configError) Temporary() bool     { return false }
func (e *configError) Misconfigured() bool { return true }
