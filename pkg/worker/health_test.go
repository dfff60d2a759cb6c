package worker_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/metrics"
	"github.com/vccsync/vccsync/pkg/worker"
)

func TestRequestHealth(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int
		want     string // "" healthy, "few", or part of the error
	}{
		{"no requests", nil, "few"},
		{"too few to tell", []int{503, 503, 503}, "few"},
		{"healthy", repeatStatus(200, 40), ""},
		{"refusals are answers", append(repeatStatus(200, 20), repeatStatus(409, 20)...), ""},
		{"a few failures", append(repeatStatus(200, 35), repeatStatus(503, 5)...), ""},
		{"a third failing", append(append(repeatStatus(200, 28), repeatStatus(503, 9)...), repeatStatus(429, 3)...), "12 of its last 40 requests"},
		{"no replies", append(repeatStatus(200, 20), repeatStatus(0, 20)...), "20 without a reply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := worker.NewRequestHealth("VCC")
			for _, s := range tc.statuses {
				h.ObserveRequest("GET", "/users", s, 0)
			}
			err := h.Err()
			switch {
			case tc.want == "":
				if err != nil {
					t.Errorf("Err() = %v, want healthy", err)
				}
			case tc.want == "few":
				if !errors.Is(err, worker.ErrTooFewRequests) {
					t.Errorf("Err() = %v, want too few requests", err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "VCC degraded") {
					t.Errorf("Err() = %v, want it to say %q", err, tc.want)
				}
			}
		})
	}
}

func repeatStatus(s, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// health is a Health whose verdict the test sets.
type health struct {
	mu  sync.Mutex
	err error
}

func (h *health) set(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.err = err
}

func (h *health) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// A target failing a third of its calls answers most probes; the recent
// failure rate, not one probe, decides whether a message's last failure
// dead-letters it.
func TestLastAttemptJudgedByRecentFailureRate(t *testing.T) {
	for _, tc := range []struct {
		name        string
		health      error
		wantDLQ     bool
		wantApplied bool
	}{
		{"degraded: put back, applied later", errors.New("VCC degraded: 70 of its last 200 requests within 1m failed (70 × 503)"), false, true},
		{"healthy: about the message, exhausted", nil, true, false},
		{"too few requests: the probe decides", worker.ErrTooFewRequests, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := userID(t, "0055e000001Aaaa")
			h := newHarness(t, 30*time.Second)
			h.h.on("a1", repeat(fail(transient("vcc: GET /users/{userId}: 503 Service Unavailable")), 3)...)
			h.publish(t, a, "a1")
			p := &prober{h: h.h} // the target answers every probe
			hl := &health{err: tc.health}
			cfg := h.quarantineConfig(p)
			cfg.MaxAttempts = 3
			cfg.Health = hl
			r := h.run(t, cfg, nil)
			if tc.wantDLQ {
				waitFor(t, waitLong, "a1 dead-lettered", func() bool { return h.obs.count(outcome("a1", metrics.OutcomeDeadLettered)) == 1 })
				return
			}
			waitFor(t, waitLong, "quarantine", func() bool { on, _, _ := r.w.Quarantined(); return on })
			if _, reason, _ := r.w.Quarantined(); !strings.Contains(reason, "VCC degraded") {
				t.Errorf("quarantine reason %q does not give the failure rate", reason)
			}
			hl.set(nil)
			waitApplied(t, h, "a1")
			if n := h.obs.count(outcome("a1", metrics.OutcomeDeadLettered)); n != 0 {
				t.Error("a1 was dead-lettered while the target was degraded")
			}
		})
	}
}
