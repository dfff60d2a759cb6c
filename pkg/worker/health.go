package worker

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// RequestHealth judges a target (VCC) by the outcome of its recent
// requests, for the Probe: one call answering says little when a third of
// all calls fail, so the worker asks how the target has been answering
// lately. The target's client reports every request to ObserveRequest (it
// has the signature of the clients' request observers); Err reports the
// target degraded when, of the last Window requests within MaxAge, at least
// MinSamples are known and a share of Ratio or more failed the way an
// unusable target fails: no reply, 408, 429 or 5xx. Refusals about a request
// (other 4xx) and successes count as answers. The zero value is not usable:
// use NewRequestHealth.
type RequestHealth struct {
	name       string
	window     int
	minSamples int
	ratio      float64
	maxAge     time.Duration
	now        func() time.Time

	mu   sync.Mutex
	ring []requestOutcome // the last window requests, oldest first
}

type requestOutcome struct {
	at     time.Time
	failed bool
	status int
}

// Defaults of NewRequestHealth.
const (
	DefaultHealthWindow     = 200
	DefaultHealthMinSamples = 20
	DefaultHealthRatio      = 0.25
	DefaultHealthMaxAge     = time.Minute
)

// NewRequestHealth returns a RequestHealth for the target called name (in
// its error), with the default window (200 requests within 1m, at least 20,
// degraded from 25% failures).
func NewRequestHealth(name string) *RequestHealth {
	return &RequestHealth{name: name, window: DefaultHealthWindow, minSamples: DefaultHealthMinSamples,
		ratio: DefaultHealthRatio, maxAge: DefaultHealthMaxAge, now: time.Now}
}

// ObserveRequest records one request's outcome: status 0 when no complete
// reply arrived.
func (h *RequestHealth) ObserveRequest(_, _ string, status int, _ time.Duration) {
	failed := status == 0 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ring = append(h.ring, requestOutcome{at: h.now(), failed: failed, status: status})
	if n := len(h.ring) - h.window; n > 0 {
		h.ring = append(h.ring[:0], h.ring[n:]...)
	}
}

// ErrTooFewRequests is returned by Err when too few recent requests are
// known to judge the target: the caller should make a call of its own.
var ErrTooFewRequests = errors.New("too few recent requests to judge the target")

// Err is nil when the target has been answering lately, an error saying
// how it failed when it has not, and ErrTooFewRequests when too few
// requests were made within MaxAge to tell.
func (h *RequestHealth) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	cutoff := h.now().Add(-h.maxAge)
	total, failed := 0, 0
	statuses := map[int]int{}
	for _, r := range h.ring {
		if r.at.Before(cutoff) {
			continue
		}
		total++
		if r.failed {
			failed++
			statuses[r.status]++
		}
	}
	if total < h.minSamples {
		return ErrTooFewRequests
	}
	if float64(failed) < h.ratio*float64(total) {
		return nil
	}
	return fmt.Errorf("%s degraded: %d of its last %d requests within %s failed (%s)", h.name, failed, total, h.maxAge, describeStatuses(statuses))
}

func describeStatuses(s map[int]int) string {
	out := ""
	for _, st := range []int{0, 408, 429, 500, 502, 503, 504} {
		if s[st] == 0 {
			continue
		}
		if out != "" {
			out += ", "
		}
		if st == 0 {
			out += fmt.Sprintf("%d without a reply", s[st])
		} else {
			out += fmt.Sprintf("%d × %d", s[st], st)
		}
		delete(s, st)
	}
	other := 0
	for _, n := range s {
		other += n
	}
	if other > 0 {
		if out != "" {
			out += ", "
		}
		out += fmt.Sprintf("%d other 5xx", other)
	}
	return out
}
