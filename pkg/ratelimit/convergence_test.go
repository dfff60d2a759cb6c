package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

// TestConvergence runs the default Adaptive limiter, from 160/min, against
// sliding 60 s windows of limits it does not know, on the discrete-event
// clock: after 10 minutes, over the next 20, it must use at least 95% of
// the limit with at most 1% of the calls answered 429, whatever the
// limit, the number of callers and the latency of VCC's replies (when the
// callers can reach the limit at all).
func TestConvergence(t *testing.T) {
	type tc struct {
		limit, callers int
		latency        time.Duration
	}
	var tests []tc
	for _, l := range []int{60, 100, 160, 250, 600, 1500, 3000, 6000} {
		tests = append(tests, tc{l, 16, 0})
	}
	tests = append(tests,
		tc{60, 1, 0}, tc{6000, 1, 0},
		tc{60, 64, 0}, tc{6000, 64, 0},
		tc{100, 4, 200 * time.Millisecond}, tc{1000, 16, 200 * time.Millisecond}, tc{3000, 16, 200 * time.Millisecond},
	)
	for _, tt := range tests {
		t.Run(fmt.Sprintf("L=%d/callers=%d/latency=%v", tt.limit, tt.callers, tt.latency), func(t *testing.T) {
			t.Parallel()
			clock := newEventClock(simStart)
			a, err := NewAdaptive(Config{Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			cfg := simConfig{callers: tt.callers, length: 30 * time.Minute, warmUp: 10 * time.Minute}
			res := simulate(t, cfg, clock, tt.limit, memCaller(clock, tt.limit, a, tt.latency), a)
			if res.usedWarm < goalUsed || res.share429Warm > goal429 {
				t.Errorf("%v\nrate each minute: %s", res, ratesString(res.rates))
			}
		})
	}
}

// TestLimitChanges changes VCC's limit under the limiter (another client
// of the account starts or stops, a 429 storm): a few minutes after the
// change ends (settle) it must be back at ≥ 95% of the new limit with ≤ 1%
// 429s: 3 minutes after a storm, 5 after a tenfold drop (the window
// refuses until it has emptied, then echoes the recovery once), 7 after a
// tenfold rise (the rate first probes slowly past the old level).
func TestLimitChanges(t *testing.T) {
	const at = 15 * time.Minute // the change, once converged
	tests := []struct {
		name        string
		before, now int           // limit a minute before the change, and from it on
		lasts       time.Duration // 0: for good
		settle      time.Duration
	}{
		{"drop 6000 to 600", 6000, 600, 0, 5 * time.Minute},
		{"drop 600 to 60", 600, 60, 0, 5 * time.Minute},
		{"rise 600 to 6000", 600, 6000, 0, 7 * time.Minute},
		{"rise 60 to 600", 60, 600, 0, 7 * time.Minute},
		{"storm of one minute at 600", 600, 0, time.Minute, 3 * time.Minute},
		{"storm of five minutes at 6000", 6000, 0, 5 * time.Minute, 3 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newEventClock(simStart)
			a, err := NewAdaptive(Config{Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			w := &slidingWindow{limitAt: func(now time.Time) int {
				d := now.Sub(simStart)
				if d < at || (tt.lasts > 0 && d >= at+tt.lasts) {
					return tt.before
				}
				return tt.now
			}}
			final := tt.now
			if tt.lasts > 0 {
				final = tt.before
			}
			settled := at + tt.lasts + tt.settle
			cfg := simConfig{callers: 16, length: settled + 10*time.Minute, warmUp: settled}
			res := simulate(t, cfg, clock, final, windowCaller(clock, w, a, 0), a)
			if res.usedWarm < goalUsed || res.share429Warm > goal429 {
				t.Errorf("from %v after the change: %v\nrate each minute: %s", settled, res, ratesString(res.rates))
			}
		})
	}
}
