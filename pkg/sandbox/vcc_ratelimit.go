package sandbox

import "time"

// rateWindow is VCC's fair-usage limit as a sliding window: at most limit
// requests admitted in any 60 seconds. Refused requests are not admitted,
// so a client that keeps retrying does not extend its own penalty.
type rateWindow struct {
	limit    int         // 0: no limit
	admitted []time.Time // admission times within the window, oldest first
}

const rateWindowSpan = time.Minute

// admit reports whether a request at now fits in the window, and records
// it when it does.
func (w *rateWindow) admit(now time.Time) bool {
	if w.limit <= 0 {
		return true
	}
	cutoff := now.Add(-rateWindowSpan)
	i := 0
	for i < len(w.admitted) && !w.admitted[i].After(cutoff) {
		i++
	}
	w.admitted = w.admitted[i:]
	if len(w.admitted) >= w.limit {
		return false
	}
	w.admitted = append(w.admitted, now)
	return true
}

// rateLimited applies VCCOptions.RateLimitPerMinute to one /useradmin
// request, counting a refusal in [VCCStats].RateLimited.
func (v *VCC) rateLimited() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.window.admit(v.opts.Now()) {
		return false
	}
	v.stats.RateLimited++
	return true
}
