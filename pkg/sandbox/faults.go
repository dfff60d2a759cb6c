package sandbox

import (
	"math"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Faults are the faults a sandbox injects in front of its API: latency,
// failures with a status, an outage.
type Faults struct {
	Latency  time.Duration // added to every request
	FailNext int           // answer the next FailNext requests with FailStatus
	FailRate float64       // probability (0..1) of answering a request with FailStatus
	// FailStatus is the injected status (default 503). For Salesforce, 403
	// answers REQUEST_LIMIT_EXCEEDED, the org's API limit.
	FailStatus int
	// RetryAfter, when positive, is sent as Retry-After (whole seconds,
	// rounded up) with injected 429 and 503 replies.
	RetryAfter time.Duration
	Down       bool // every request is answered 503 until cleared
	// ExcludeToken exempts the token endpoint from every fault above.
	ExcludeToken bool
}

// VCCFaults are the faults injected in front of the VCC API.
type VCCFaults = Faults

// SFFaults are the faults injected in front of the Salesforce API (the
// token endpoint, /services/data and /services/apexrest; never the
// sandbox's SSO check).
type SFFaults = Faults

// faultInjector holds a sandbox's faults, safe for concurrent use.
type faultInjector struct {
	mu sync.Mutex
	f  Faults
}

func (i *faultInjector) set(f Faults) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.f = f
}

func (i *faultInjector) get() Faults {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.f
}

func (i *faultInjector) failNext(n, status int, retryAfter time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.f.FailNext, i.f.FailStatus, i.f.RetryAfter = n, status, retryAfter
}

func (i *faultInjector) setDown(down bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.f.Down = down
}

// inject waits the injected latency and returns the status to answer
// with, 0 for none. A Retry-After header is set on w for an injected 429
// or 503 when the faults ask for one.
func (i *faultInjector) inject(w http.ResponseWriter, r *http.Request, isToken bool) int {
	i.mu.Lock()
	f := i.f
	if f.ExcludeToken && isToken {
		i.mu.Unlock()
		return 0
	}
	fail := f.FailStatus
	if fail == 0 {
		fail = http.StatusServiceUnavailable
	}
	status := 0
	switch {
	case f.Down:
		status = http.StatusServiceUnavailable
	case f.FailNext > 0:
		i.f.FailNext--
		status = fail
	case f.FailRate > 0 && mrand.Float64() < f.FailRate:
		status = fail
	}
	i.mu.Unlock()

	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if status != 0 && f.RetryAfter > 0 && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds()))))
	}
	return status
}
