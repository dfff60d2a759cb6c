package sandbox

import (
	"bytes"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// VCCStats counts what the sandbox was asked to do.
type VCCStats struct {
	Requests       map[string]int            // every request by HTTP method (token requests, injected faults and 429s included)
	TokenRequests  int                       // requests to the token endpoint
	InjectedFaults int                       // requests answered by an injected fault
	RateLimited    int                       // /useradmin requests answered 429 by VCCOptions.RateLimitPerMinute
	Writes         int                       // successful POST, PATCH, PUT and DELETE calls under /useradmin
	WritesByMethod map[string]int            // Writes by HTTP method
	WritesByUser   map[string]map[string]int // VCC userId → HTTP method → successful writes; a create counts for the new user
}

// VCCWrite is one successful write, as [VCC.WriteLog] records it.
type VCCWrite struct {
	Method string // POST, PATCH, PUT or DELETE
	Path   string // the request URI, query included
	UserID string // the user written to (the new user for a create)
	Body   []byte // the request body as sent; nil when empty
	// Changed reports whether the write changed the stored state; a PATCH,
	// PUT or unlock that sets what is already there is false. A create, a
	// delete and a forgotPassword (an email goes out) are always true.
	Changed bool
	At      time.Time // by VCCOptions.Now
}

func newStats() VCCStats {
	return VCCStats{
		Requests:       map[string]int{},
		WritesByMethod: map[string]int{},
		WritesByUser:   map[string]map[string]int{},
	}
}

// Stats returns a copy of the counters.
func (v *VCC) Stats() VCCStats {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.stats
	s.Requests = maps.Clone(s.Requests)
	s.WritesByMethod = maps.Clone(s.WritesByMethod)
	s.WritesByUser = make(map[string]map[string]int, len(v.stats.WritesByUser))
	for id, m := range v.stats.WritesByUser {
		s.WritesByUser[id] = maps.Clone(m)
	}
	return s
}

// NoopWriteCount is the number of successful writes to one user, or to any
// user when userID is "", that left the stored state as it was: a PATCH or
// PUT of what was already there. Such writes count in [VCCStats] too.
func (v *VCC) NoopWriteCount(userID string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	if userID != "" {
		return v.noops[userID]
	}
	n := 0
	for _, c := range v.noops {
		n += c
	}
	return n
}

// WriteLog returns copies of the latest successful writes, oldest first
// (at most VCCOptions.WriteLogLimit of them).
func (v *VCC) WriteLog() []VCCWrite {
	v.mu.Lock()
	defer v.mu.Unlock()
	log, limit := v.writeLog, max(v.opts.WriteLogLimit, 0)
	if len(log) > limit {
		log = log[len(log)-limit:]
	}
	out := slices.Clone(log)
	for i := range out {
		out[i].Body = bytes.Clone(out[i].Body)
	}
	return out
}

// WritesTo returns copies of the logged writes to one user, oldest first.
func (v *VCC) WritesTo(userID string) []VCCWrite {
	var out []VCCWrite
	for _, w := range v.WriteLog() {
		if w.UserID == userID {
			out = append(out, w)
		}
	}
	return out
}

// WriteCount is the number of successful writes to one user with method, or
// with any method when method is "".
func (v *VCC) WriteCount(userID, method string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	if method != "" {
		return v.stats.WritesByUser[userID][strings.ToUpper(method)]
	}
	n := 0
	for _, c := range v.stats.WritesByUser[userID] {
		n += c
	}
	return n
}

// ResetStats zeroes the counters and empties the write log. The password
// reset outbox and the rate-limit window are kept.
func (v *VCC) ResetStats() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.stats = newStats()
	v.noops = map[string]int{}
	v.writeLog = nil
}

// countWrite records a successful write of r to a user, and whether it
// changed the stored state; the caller holds v.mu.
func (v *VCC) countWrite(r *http.Request, userID string, changed bool) {
	method := r.Method
	v.stats.Writes++
	v.stats.WritesByMethod[method]++
	m := v.stats.WritesByUser[userID]
	if m == nil {
		m = map[string]int{}
		v.stats.WritesByUser[userID] = m
	}
	m[method]++
	if !changed {
		v.noops[userID]++
	}
	limit := v.opts.WriteLogLimit
	if limit <= 0 {
		return
	}
	var body []byte
	if b, _ := r.Context().Value(bodyKey{}).([]byte); len(b) > 0 {
		body = bytes.Clone(b)
	}
	if len(v.writeLog) >= 2*limit {
		// Drop the oldest half at once: amortised O(1) per write.
		v.writeLog = slices.Clone(v.writeLog[len(v.writeLog)-limit:])
	}
	v.writeLog = append(v.writeLog, VCCWrite{
		Method: method, Path: r.URL.RequestURI(), UserID: userID, Body: body, Changed: changed, At: v.opts.Now(),
	})
}
