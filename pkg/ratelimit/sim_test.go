package ratelimit

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// simStart is the virtual time simulations start at.
var simStart = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// limiter is what a simulation paces its callers with: an *Adaptive or the
// fixed baseline. It is vcc.Limiter.
type limiter interface {
	Wait(ctx context.Context) error
	Observe(throttled bool)
}

// fixed is the baseline: what pkg/vcc does without Config.Limiter — a
// token bucket of a fixed rate with a burst of 10, deaf to 429s — on a
// Clock.
type fixed struct {
	clock Clock
	lim   *rate.Limiter
}

func newFixed(clock Clock, perMinute float64) *fixed {
	return &fixed{clock: clock, lim: rate.NewLimiter(rate.Limit(perMinute/60), min(10, int(perMinute)))}
}

func (f *fixed) Wait(ctx context.Context) error {
	now := f.clock.Now()
	r := f.lim.ReserveN(now, 1)
	if err := f.clock.Sleep(ctx, r.DelayFrom(now)); err != nil {
		r.CancelAt(f.clock.Now())
		return err
	}
	return nil
}

func (*fixed) Observe(bool) {}

// slidingWindow is a simulated VCC fair-usage limit: a request is accepted
// when fewer than limit requests were accepted in the 60 seconds before it,
// else answered 429 (which does not count).
type slidingWindow struct {
	mu       sync.Mutex
	limit    int
	limitAt  func(time.Time) int // if set, the limit over time instead
	accepted []time.Time         // in order; those before head have left the window
	head     int
}

func (w *slidingWindow) try(now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	cut := now.Add(-time.Minute)
	for w.head < len(w.accepted) && !w.accepted[w.head].After(cut) {
		w.head++
	}
	if w.head > 4096 && w.head > len(w.accepted)/2 {
		w.accepted = append(w.accepted[:0], w.accepted[w.head:]...)
		w.head = 0
	}
	limit := w.limit
	if w.limitAt != nil {
		limit = w.limitAt(now)
	}
	if len(w.accepted)-w.head >= limit {
		return false
	}
	w.accepted = append(w.accepted, now)
	return true
}

// A caller makes one paced request: it waits for its limiter, sends, and
// tells the limiter the answer. throttled reports a 429; any other error
// ends the simulation (a context error quietly).
type caller func(ctx context.Context) (throttled bool, err error)

// memCaller is a caller of a slidingWindow of limit requests a minute, at
// clock's time, with latency from request to reply.
func memCaller(clock Clock, limit int, lim limiter, latency time.Duration) caller {
	return windowCaller(clock, &slidingWindow{limit: limit}, lim, latency)
}

// windowCaller is a caller of w.
func windowCaller(clock Clock, w *slidingWindow, lim limiter, latency time.Duration) caller {
	return func(ctx context.Context) (bool, error) {
		if err := lim.Wait(ctx); err != nil {
			return false, err
		}
		throttled := !w.try(clock.Now())
		if latency > 0 {
			if err := clock.Sleep(ctx, latency); err != nil {
				return false, err
			}
		}
		lim.Observe(throttled)
		return throttled, nil
	}
}

// simConfig is one simulated run.
type simConfig struct {
	callers int           // concurrent callers, each calling as fast as its limiter lets it
	length  time.Duration // virtual
	warmUp  time.Duration // virtual; the run is measured after it, and whole
}

// simResult is what a run measured.
type simResult struct {
	limit                       int
	accepted, throttled         int       // whole run
	acceptedWarm, throttledWarm int       // after the warm-up
	used, usedWarm              float64   // accepted a minute / limit
	share429, share429Warm      float64   // 429s / replies
	rates                       []float64 // the adaptive limiter's rate at the end of each virtual minute
	wall                        time.Duration
}

func (r simResult) String() string {
	return fmt.Sprintf("limit %d/min: used %.1f%% (whole run %.1f%%), 429s %.2f%% (whole run %.2f%%), %d requests in %v",
		r.limit, 100*r.usedWarm, 100*r.used, 100*r.share429Warm, 100*r.share429, r.accepted+r.throttled, r.wall.Round(time.Millisecond))
}

// simulate runs cfg.callers goroutines that call call for cfg.length of
// clock's time against a limit of limit a minute, and measures. a, if not
// nil, is sampled every virtual minute.
func simulate(tb testing.TB, cfg simConfig, clock Clock, limit int, call caller, a *Adaptive) simResult {
	tb.Helper()
	start := clock.Now()
	end, warm := start.Add(cfg.length), start.Add(cfg.warmUp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	join, leave := func() {}, func() {}
	if ec, ok := clock.(*eventClock); ok {
		join, leave = ec.join, ec.leave
	}
	var (
		mu  sync.Mutex
		res = simResult{limit: limit}
		err error
		wg  sync.WaitGroup
	)
	wallStart := time.Now()
	for range cfg.callers {
		join()
		wg.Go(func() {
			defer leave()
			for {
				throttled, cerr := call(ctx)
				if cerr != nil {
					if ctx.Err() == nil {
						mu.Lock()
						if err == nil {
							err = cerr
						}
						mu.Unlock()
						cancel()
					}
					return
				}
				now := clock.Now()
				if now.After(end) {
					cancel()
					return
				}
				mu.Lock()
				if throttled {
					res.throttled++
				} else {
					res.accepted++
				}
				if !now.Before(warm) {
					if throttled {
						res.throttledWarm++
					} else {
						res.acceptedWarm++
					}
				}
				mu.Unlock()
			}
		})
	}
	if a != nil {
		join()
		wg.Go(func() {
			defer leave()
			for next := start.Add(time.Minute); clock.Sleep(ctx, next.Sub(clock.Now())) == nil; next = next.Add(time.Minute) {
				r := a.Rate()
				mu.Lock()
				res.rates = append(res.rates, r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.wall = time.Since(wallStart)
	if err != nil {
		tb.Fatalf("simulation against a limit of %d/min: %v", limit, err)
	}
	l := float64(limit)
	res.used = float64(res.accepted) / (l * cfg.length.Minutes())
	res.usedWarm = float64(res.acceptedWarm) / (l * (cfg.length - cfg.warmUp).Minutes())
	res.share429 = share(res.throttled, res.accepted+res.throttled)
	res.share429Warm = share(res.throttledWarm, res.acceptedWarm+res.throttledWarm)
	return res
}

func share(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

func ratesString(rates []float64) string {
	var b strings.Builder
	for i, r := range rates {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.0f", r)
	}
	return b.String()
}
