package ratelimit

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// manualClock is a Clock for single-goroutine tests: it moves only when
// advanced, and Sleep advances it by d at once, as if the sleep had passed.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func newManualClock() *manualClock { return &manualClock{now: simStart} }

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *manualClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

func newTestAdaptive(t *testing.T, cfg Config) (*Adaptive, *manualClock) {
	t.Helper()
	clock := newManualClock()
	cfg.Clock = clock
	a, err := NewAdaptive(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a, clock
}

// drive makes paced requests for d of the clock's time, as one caller that
// always has work: Wait, then tell the reply. reply returns false when the
// request got no reply to tell (not observed), else whether it was a 429.
func drive(t *testing.T, a *Adaptive, clock *manualClock, d time.Duration, reply func(i int) (observed, throttled bool)) {
	t.Helper()
	end := clock.Now().Add(d)
	for i := 0; clock.Now().Before(end); i++ {
		if err := a.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if observed, throttled := reply(i); observed {
			a.Observe(throttled)
		}
	}
}

func clean(int) (bool, bool)     { return true, false }
func throttled(int) (bool, bool) { return true, true }

// steady is a config whose rate does not grow by itself, so a test sees
// the decreases alone.
func steady(initial float64) Config {
	return Config{Initial: initial, SlowStart: 1, Probe: math.SmallestNonzeroFloat64}
}

func approx(got, want, tolerance float64) bool { return math.Abs(got-want) <= tolerance*want }

func TestNewAdaptiveConfig(t *testing.T) {
	a, err := NewAdaptive(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Rate(); got != DefaultInitial {
		t.Errorf("Rate() = %v, want the default %v", got, DefaultInitial)
	}
	if got, want := a.lim.Burst(), 2; got != want {
		t.Errorf("burst at 160/min = %d, want %d (a second's worth)", got, want)
	}

	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error
	}{
		{"floor below one request a minute", Config{Floor: 0.5, Initial: 1}, []string{"Floor 0.5: must be at least 1"}},
		{"ceiling below floor", Config{Floor: 100, Ceiling: 50}, []string{"Ceiling 50: must be finite and at least Floor 100"}},
		{"initial out of bounds", Config{Initial: 20000}, []string{"Initial 20000: must be within Floor 10 and Ceiling 10000"}},
		{"decrease of one", Config{Decrease: 1}, []string{"Decrease 1: must be in (0, 1)"}},
		{"negative hold", Config{Hold: -time.Second}, []string{"Hold -1s: must not be negative"}},
		{"shrinking slow start", Config{SlowStart: 0.5}, []string{"SlowStart 0.5: must be at least 1"}},
		{"negative probe and burst", Config{Probe: -0.01, MaxBurst: -1}, []string{"Probe -0.01: must not be negative", "MaxBurst -1: must be at least 1"}},
		{"NaN", Config{Ceiling: math.NaN()}, []string{"Ceiling NaN: must be finite"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewAdaptive(tt.cfg)
			if err == nil {
				t.Fatalf("NewAdaptive(%+v) = %v, nil; want an error", tt.cfg, a)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestDecreaseOn429(t *testing.T) {
	tests := []struct {
		name      string
		before    func(i int) (observed, throttled bool) // a minute of replies before the 429
		wantLevel float64                                // VCC's limit as measured; 0: not measured
		want      float64
	}{
		{
			// It used its rate and VCC accepted it all: the level is what
			// VCC accepted in the sliding minute (600 but those of its
			// first quarter second: the burst of 10 and 2 more), the
			// rate goes to 0.95 × the lower of the rate and the level.
			name: "at the limit", before: clean, wantLevel: 598, want: 0.95 * 598,
		},
		{
			// Half the requests got no reply (transport errors): what was
			// accepted is the level, below the rate.
			name:      "accepted below the rate",
			before:    func(i int) (bool, bool) { return i%2 == 0, false },
			wantLevel: 299, want: 0.95 * 299,
		},
		{
			// A quarter of the rate: app-limited, the replies say nothing
			// about VCC's limit (others use the budget): 0.95 × the rate.
			name:   "app-limited",
			before: func(i int) (bool, bool) { return i%4 == 0, false },
			want:   0.95 * 600,
		},
		{
			// No reply at all: fewer than minSample, nothing measured.
			name:   "first reply",
			before: func(int) (bool, bool) { return false, false },
			want:   0.95 * 600,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, clock := newTestAdaptive(t, steady(600))
			drive(t, a, clock, time.Minute, tt.before)
			if got := a.Rate(); got != 600 {
				t.Fatalf("rate %v before the 429, want 600 (steady)", got)
			}
			a.Observe(true)
			if got := a.Rate(); !approx(got, tt.want, 1e-9) {
				t.Errorf("rate after a 429 = %v, want %v", got, tt.want)
			}
			if a.level != tt.wantLevel {
				t.Errorf("level = %v, want %v", a.level, tt.wantLevel)
			}
		})
	}
}

func TestOneDecreasePerCongestionEvent(t *testing.T) {
	a, clock := newTestAdaptive(t, Config{Initial: 600, SlowStart: 1, Probe: math.SmallestNonzeroFloat64, Hold: 20 * time.Second})
	drive(t, a, clock, time.Minute, clean)
	a.Observe(true)
	first := a.Rate()
	if !approx(first, 0.95*598, 1e-9) {
		t.Fatalf("rate after the first 429 = %v, want 0.95 × 598", first)
	}
	// A sliding window goes on refusing until old requests leave it: the
	// 429s of the next 20s, accepted replies among them, are the same event.
	drive(t, a, clock, 19*time.Second, func(i int) (bool, bool) { return true, i%3 != 0 })
	if got := a.Rate(); got != first {
		t.Errorf("rate after more 429s within the hold = %v, want %v unchanged", got, first)
	}
	if a.events != 1 {
		t.Errorf("%d congestion events, want 1", a.events)
	}
	// After the hold, a 429 is a new event: level is what was accepted in
	// the last minute (fewer than the rate now).
	clock.Advance(2 * time.Second)
	a.Observe(true)
	if got, want := a.Rate(), 0.95*min(first, float64(a.accepted.sum(clock.Now()))); got >= first || !approx(got, want, 1e-9) {
		t.Errorf("rate after a 429 past the hold = %v, want %v (below %v)", got, want, first)
	}
	if a.events != 2 {
		t.Errorf("%d congestion events, want 2", a.events)
	}
}

func TestWallHalvesAndKeepsLevel(t *testing.T) {
	a, clock := newTestAdaptive(t, steady(600))
	drive(t, a, clock, time.Minute, clean)
	a.Observe(true) // level 598, rate 568.1
	// Nothing gets through: a 429 storm, or the window full of older requests.
	drive(t, a, clock, 25*time.Second, throttled)
	if got, want := a.Rate(), 0.95*598*wallDecrease; !approx(got, want, 1e-9) {
		t.Errorf("rate after a wall = %v, want %v (halved)", got, want)
	}
	if a.level != 598 {
		t.Errorf("level after a wall = %v, want 598 kept", a.level)
	}
}

func TestGrowth(t *testing.T) {
	t.Run("no limit known: slow start", func(t *testing.T) {
		a, clock := newTestAdaptive(t, Config{Initial: 160})
		drive(t, a, clock, time.Minute, clean)
		// Doubling a minute, in steps of a second (the first step and the
		// last, partial ones, aside).
		if got := a.Rate(); got < 300 || got > 320 {
			t.Errorf("rate after a clean minute from 160 = %v, want about 320", got)
		}
	})
	t.Run("near the level: additive probe", func(t *testing.T) {
		a, clock := newTestAdaptive(t, Config{Initial: 600, Hold: time.Second})
		drive(t, a, clock, time.Minute, clean) // grows to ~1200
		a.Observe(true)
		level, cut := a.level, a.Rate()
		if !approx(cut, 0.95*level, 1e-9) {
			t.Fatalf("rate after the 429 = %v, want 0.95 × level %v", cut, level)
		}
		drive(t, a, clock, 3*time.Minute+time.Second, clean)
		// 1% of the rate a minute, compounded over 3 minutes.
		if got, want := a.Rate(), cut*math.Exp(0.03); !approx(got, want, 0.003) {
			t.Errorf("rate 3 minutes after the cut = %v, want %v (+1%%/min)", got, want)
		}
		if a.level != level {
			t.Errorf("level = %v, want %v kept", a.level, level)
		}
	})
	t.Run("below the level: fast recovery up to Decrease × level", func(t *testing.T) {
		a, clock := newTestAdaptive(t, Config{Initial: 600})
		drive(t, a, clock, time.Minute, clean)
		a.Observe(true)
		level := a.level
		drive(t, a, clock, 21*time.Second, throttled) // a wall: halved
		drive(t, a, clock, 20*time.Second, throttled) // and again
		if got, want := a.Rate(), 0.95*level/4; !approx(got, want, 1e-9) {
			t.Fatalf("rate after two walls = %v, want %v", got, want)
		}
		// 16× a minute: back from 0.95/4 of the level in half a minute.
		drive(t, a, clock, time.Minute, clean)
		if got := a.Rate(); got < 0.95*level || got > 0.96*level {
			t.Errorf("rate a minute after the walls = %v, want back at 0.95 × level %v and probing", got, level)
		}
	})
	t.Run("above the level: the level is forgotten", func(t *testing.T) {
		a, clock := newTestAdaptive(t, Config{Initial: 600, SlowStart: 1, Probe: 0.01})
		drive(t, a, clock, time.Minute, clean)
		a.Observe(true) // level 598, rate 568
		a.cfg.SlowStart = 2
		drive(t, a, clock, 8*time.Minute, clean) // 568 × e^0.08 = 615 > 598 × 1.02
		if a.level != 0 {
			t.Errorf("level = %v after climbing past it without a 429, want forgotten", a.level)
		}
		if got := a.Rate(); got < 700 {
			t.Errorf("rate = %v, want slow start past the old level", got)
		}
	})
	t.Run("app-limited: no growth", func(t *testing.T) {
		a, clock := newTestAdaptive(t, Config{Initial: 600})
		for range 300 { // every 0.5s: at 120/min, a fifth of the rate
			if err := a.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			a.Observe(false)
			clock.Advance(500 * time.Millisecond)
		}
		if got := a.Rate(); got != 600 {
			t.Errorf("rate after 2.5 minutes of a caller using a fifth of it = %v, want 600 unchanged", got)
		}
	})
}

func TestFloorAndCeiling(t *testing.T) {
	t.Run("floor", func(t *testing.T) {
		a, clock := newTestAdaptive(t, Config{Initial: 600, Floor: 50, Hold: time.Second})
		drive(t, a, clock, 2*time.Minute, throttled)
		if got := a.Rate(); got != 50 {
			t.Errorf("rate after 2 minutes of 429s = %v, want the floor 50", got)
		}
		if a.events < 10 {
			t.Errorf("%d congestion events in 2 minutes with a hold of 1s: want many", a.events)
		}
	})
	t.Run("ceiling", func(t *testing.T) {
		a, clock := newTestAdaptive(t, Config{Initial: 600, Ceiling: 2000})
		drive(t, a, clock, 3*time.Minute, clean)
		if got := a.Rate(); got != 2000 {
			t.Errorf("rate after 3 clean minutes = %v, want the ceiling 2000", got)
		}
	})
}

func TestBurstWithinBudget(t *testing.T) {
	tests := []struct {
		rate     float64
		maxBurst int
		want     int
	}{
		{1, 0, 1},
		{59, 0, 1},
		{120, 0, 2},
		{160, 0, 2},
		{600, 0, 10},
		{6000, 0, 10},
		{6000, 3, 3},
	}
	for _, tt := range tests {
		a, clock := newTestAdaptive(t, Config{Initial: tt.rate, Floor: 1, MaxBurst: tt.maxBurst})
		clock.Advance(time.Hour) // idle: the bucket is full
		start, immediate := clock.Now(), 0
		for clock.Now().Equal(start) {
			if err := a.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			if clock.Now().Equal(start) {
				immediate++
			}
		}
		if immediate != tt.want || float64(immediate) > tt.rate {
			t.Errorf("at %v/min (MaxBurst %d): %d requests at once after an idle hour, want %d (≤ the minute's budget)", tt.rate, tt.maxBurst, immediate, tt.want)
		}
	}
	// Every rate the limiter may take: a burst of at least one, at most a
	// second's worth and a minute's.
	a, _ := newTestAdaptive(t, Config{Floor: 1})
	for r := 1.0; r <= DefaultCeiling; r *= 1.07 {
		if b := a.burst(r); b < 1 || float64(b) > max(1, r/60) || float64(b) > r || b > DefaultMaxBurst {
			t.Errorf("burst at %v/min = %d", r, b)
		}
	}
	// Set with the rate: after a wall down to 30/min the bucket holds 1.
	b, clock := newTestAdaptive(t, Config{Initial: 6000, Hold: time.Second})
	drive(t, b, clock, 3*time.Second, throttled)
	for b.Rate() > 60 {
		drive(t, b, clock, 2*time.Second, throttled)
	}
	if got := b.lim.Burst(); got != 1 {
		t.Errorf("burst at %v/min = %d, want 1", b.Rate(), got)
	}
}

func TestWaitContext(t *testing.T) {
	a, err := NewAdaptive(Config{Initial: 1, Floor: 1}) // wall clock: one request a minute
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Wait(context.Background()); err != nil { // the burst of 1
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err = a.Wait(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 500*time.Millisecond {
		t.Errorf("Wait with a 1s deadline for a 60s wait = %v after %v, want a DeadlineExceeded at once", err, time.Since(start))
	}
	// The refused reservation was given back: the next wait is still a minute, not two.
	if tokens := a.lim.TokensAt(time.Now()); tokens < -0.1 {
		t.Errorf("tokens after a refused wait = %v, want about 0", tokens)
	}
	ctx, cancel = context.WithCancel(context.Background())
	delayed := a.delayed.Load()
	go func() {
		// Cancel once Wait has started its wait.
		for deadline := time.Now().Add(5 * time.Second); a.delayed.Load() == delayed && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if err := a.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait cancelled = %v, want context.Canceled", err)
	}
	if a.delayed.Load() == delayed {
		t.Error("Wait returned without waiting: the cancel did not end a wait")
	}
	if err := a.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on a done context = %v, want context.Canceled", err)
	}
}

// TestConcurrentUse runs many goroutines through Wait, Observe and Rate
// (go test -race): the pace holds and the state stays within its bounds.
func TestConcurrentUse(t *testing.T) {
	t.Run("pace", func(t *testing.T) {
		clock := NewScaledClock(simStart, 60)
		a, err := NewAdaptive(Config{Clock: clock, Initial: 600, Floor: 600, Ceiling: 600})
		if err != nil {
			t.Fatal(err)
		}
		const goroutines, each = 32, 8
		start := clock.Now()
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					if err := a.Wait(context.Background()); err != nil {
						t.Error(err)
						return
					}
					a.Observe((g+i)%5 == 0)
					_ = a.Rate()
				}
			})
		}
		wg.Wait()
		// 256 requests at 10 a second, 10 of them the burst: at least 24.6s.
		if got, want := clock.Now().Sub(start), time.Duration((goroutines*each-10)/10.0*float64(time.Second)); got < want {
			t.Errorf("%d requests at 600/min took %v of the clock, want at least %v", goroutines*each, got, want)
		}
	})
	t.Run("adapting", func(t *testing.T) {
		clock := NewScaledClock(simStart, 60)
		a, err := NewAdaptive(Config{Clock: clock, Initial: 3000, Floor: 100, Ceiling: 5000, Hold: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		w := &slidingWindow{limit: 500}
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for range 100 {
					if err := a.Wait(context.Background()); err != nil {
						t.Error(err)
						return
					}
					a.Observe(!w.try(clock.Now()))
					if r := a.Rate(); r < 100 || r > 5000 {
						t.Errorf("Rate() = %v, outside [100, 5000]", r)
					}
				}
			})
		}
		wg.Wait()
		if a.events == 0 || a.Rate() >= 3000 {
			t.Errorf("after 1600 requests against 500/min from 3000/min: %d congestion events, rate %v; want some and lower", a.events, a.Rate())
		}
	})
}

func TestCounter(t *testing.T) {
	c := newCounter()
	for _, d := range []time.Duration{0, 30 * time.Second, 59 * time.Second, 61 * time.Second, 61 * time.Second} {
		c.add(simStart.Add(d))
	}
	for _, tt := range []struct {
		at   time.Duration
		want int
	}{
		{0, 1}, {59 * time.Second, 3}, {61 * time.Second, 4}, {89 * time.Second, 4}, {91 * time.Second, 3}, {10 * time.Minute, 0},
	} {
		if got := c.sum(simStart.Add(tt.at)); got != tt.want {
			t.Errorf("sum at +%v = %d, want %d", tt.at, got, tt.want)
		}
	}
}

func TestScaledClock(t *testing.T) {
	c := NewScaledClock(simStart, 1000)
	wall := time.Now()
	if err := c.Sleep(context.Background(), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(wall); d < 20*time.Millisecond || d > 2*time.Second {
		t.Errorf("Sleep(20s) at scale 1000 took %v of wall time, want about 20ms", d)
	}
	if v := c.Now().Sub(simStart); v < 20*time.Second {
		t.Errorf("virtual time after Sleep(20s) = +%v, want at least 20s", v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := c.Sleep(ctx, time.Minute); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1m0s") {
		t.Errorf("Sleep(1m) = 60ms of wall time with 10ms left = %v, want a DeadlineExceeded at once naming the wait", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("NewScaledClock(0) did not panic")
		}
	}()
	NewScaledClock(simStart, 0)
}

func TestEventClock(t *testing.T) {
	c := newEventClock(simStart)
	var (
		mu    sync.Mutex
		woken []time.Duration
		wg    sync.WaitGroup
	)
	sleeps := []time.Duration{3 * time.Second, time.Second, 2 * time.Second}
	// Every sleeper joins before any sleeps: a clock whose only member is
	// asleep moves on at once.
	for range sleeps {
		c.join()
	}
	for _, d := range sleeps {
		wg.Go(func() {
			defer c.leave()
			if err := c.Sleep(context.Background(), d); err != nil {
				t.Error(err)
			}
			mu.Lock()
			woken = append(woken, c.Now().Sub(simStart))
			mu.Unlock()
		})
	}
	wg.Wait()
	if want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}; len(woken) != 3 || woken[0] != want[0] || woken[1] != want[1] || woken[2] != want[2] {
		t.Errorf("woken at %v, want %v", woken, want)
	}
}
