package ratelimit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of Config. Rates are requests a minute.
const (
	DefaultInitial   = 160.0            // Vonage's own sample throttles itself to 160 a minute
	DefaultFloor     = 10.0             // never slower than one request every 6 seconds
	DefaultCeiling   = 10000.0          // never faster than ~167 a second
	DefaultDecrease  = 0.95             // a congestion event costs 5% of the rate
	DefaultHold      = 20 * time.Second // 429s within 20s of a decrease are the same event
	DefaultSlowStart = 2.0              // far below the known limit, the rate doubles every minute
	DefaultProbe     = 0.01             // near the known limit, it grows by 1% a minute
	DefaultMaxBurst  = 10               // at most 10 requests at once after an idle spell
)

// Fixed parameters of the algorithm (see the package documentation).
const (
	// demandShare is the share of its rate a caller must use for the
	// limiter to learn from it. The rate grows only in steps in which at
	// least this share of the Waits had to wait (the limiter, not the
	// caller, set the pace); and a 429 takes the requests VCC accepted in
	// the last minute as VCC's limit only when the replies of that minute
	// reach this share of the rate. Otherwise the caller is app-limited and
	// its replies say nothing about a higher rate.
	demandShare = 0.5
	// minSample is how many replies a decision needs behind it: a 429
	// with fewer replies in the last minute (the first requests, when
	// others filled the account's budget) does not measure the level, and
	// fewer replies since the last decrease do not make a wall.
	minSample = 10
	// wallDecrease is the factor applied to the rate on a wall: a 429
	// after a congestion event in which no request got through.
	wallDecrease = 0.5
	// recoverySpeedup is how much faster than SlowStart the rate grows
	// back to Decrease × level, below which VCC accepted it before: the
	// rate is SlowStart^recoverySpeedup a minute (16 by default), so it
	// recovers from a storm in minutes, and it cannot overshoot a limit
	// that is still the level.
	recoverySpeedup = 4
	// probeAbove is how far above the level (at least two requests a
	// minute) the rate may climb without a 429 before the level is
	// forgotten as out of date.
	probeAbove = 0.02
)

// Config configures an Adaptive limiter. Zero values take the defaults.
type Config struct {
	// Initial is the rate to start from, in requests a minute (default 160).
	Initial float64
	// Floor and Ceiling bound the rate (default 10 and 10000 a minute).
	// Floor must be at least 1, so the burst never exceeds a minute's budget.
	Floor, Ceiling float64
	// Decrease is the factor applied to the rate on a congestion event,
	// in (0, 1) (default 0.95).
	Decrease float64
	// Hold is how long after a decrease further 429s count as the same
	// congestion event and are ignored (default 20s); the rate does not
	// grow meanwhile either.
	Hold time.Duration
	// SlowStart is the factor per minute by which the rate grows while no
	// limit is known or the rate is below Decrease × the known limit
	// (default 2).
	SlowStart float64
	// Probe is the share of the rate by which it grows per minute near the
	// known limit (default 0.01).
	Probe float64
	// MaxBurst caps the burst: the burst is a second's worth of the rate,
	// at least 1 and at most MaxBurst (default 10).
	MaxBurst int
	// Clock is the limiter's time (default WallClock).
	Clock Clock
}

func (c Config) withDefaults() Config {
	c.Initial = cmp.Or(c.Initial, DefaultInitial)
	c.Floor = cmp.Or(c.Floor, DefaultFloor)
	c.Ceiling = cmp.Or(c.Ceiling, DefaultCeiling)
	c.Decrease = cmp.Or(c.Decrease, DefaultDecrease)
	c.Hold = cmp.Or(c.Hold, DefaultHold)
	c.SlowStart = cmp.Or(c.SlowStart, DefaultSlowStart)
	c.Probe = cmp.Or(c.Probe, DefaultProbe)
	c.MaxBurst = cmp.Or(c.MaxBurst, DefaultMaxBurst)
	if c.Clock == nil {
		c.Clock = WallClock
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("ratelimit: config: "+format, args...))
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if !finite(c.Floor) || c.Floor < 1 {
		bad("Floor %v: must be at least 1 a minute", c.Floor)
	}
	if !finite(c.Ceiling) || c.Ceiling < c.Floor {
		bad("Ceiling %v: must be finite and at least Floor %v", c.Ceiling, c.Floor)
	}
	if !finite(c.Initial) || c.Initial < c.Floor || c.Initial > c.Ceiling {
		bad("Initial %v: must be within Floor %v and Ceiling %v", c.Initial, c.Floor, c.Ceiling)
	}
	if !(c.Decrease > 0 && c.Decrease < 1) {
		bad("Decrease %v: must be in (0, 1)", c.Decrease)
	}
	if c.Hold < 0 {
		bad("Hold %v: must not be negative", c.Hold)
	}
	if !finite(c.SlowStart) || c.SlowStart < 1 {
		bad("SlowStart %v: must be at least 1", c.SlowStart)
	}
	if !finite(c.Probe) || c.Probe < 0 {
		bad("Probe %v: must not be negative", c.Probe)
	}
	if c.MaxBurst < 1 {
		bad("MaxBurst %d: must be at least 1", c.MaxBurst)
	}
	return errors.Join(errs...)
}

// Adaptive is a client-side rate limiter that finds the rate a server
// allows from its 429 replies (see the package documentation). It is safe
// for concurrent use.
type Adaptive struct {
	cfg   Config // with defaults
	clock Clock
	lim   *rate.Limiter // paces Wait at rate/60 a second
	start time.Time

	waits, delayed atomic.Int64 // Waits, and those that had to wait, in the current growth step

	mu        sync.Mutex
	rate      float64   // requests a minute, within [Floor, Ceiling]
	level     float64   // requests VCC accepted in the minute before a congestion event: its limit; 0 when unknown
	holdUntil time.Time // end of the current congestion event
	tickStart time.Time // start of the current growth step
	sent      counter   // replies, 429s included
	accepted  counter   // replies other than 429
	sinceSent int       // replies since the last decrease
	sinceOK   int       // replies other than 429 since the last decrease
	events    int       // congestion events (decreases)
}

// NewAdaptive validates cfg, applies the defaults and returns a limiter at
// cfg.Initial.
func NewAdaptive(cfg Config) (*Adaptive, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	now := cfg.Clock.Now()
	a := &Adaptive{
		cfg:       cfg,
		clock:     cfg.Clock,
		start:     now,
		rate:      cfg.Initial,
		tickStart: now,
		sent:      newCounter(),
		accepted:  newCounter(),
	}
	a.lim = rate.NewLimiter(rate.Limit(cfg.Initial/60), a.burst(cfg.Initial))
	return a, nil
}

// Wait blocks until the current rate allows one more request, or ctx is
// done. Waiters are served in order. It returns ctx.Err() when ctx is done
// first, and at once an error wrapping context.DeadlineExceeded when the
// wait would outlast ctx's deadline.
func (a *Adaptive) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := a.clock.Now()
	r := a.lim.ReserveN(now, 1) // always OK: the burst is at least 1
	d := r.DelayFrom(now)
	a.waits.Add(1)
	if d == 0 {
		return nil
	}
	a.delayed.Add(1)
	if err := a.clock.Sleep(ctx, d); err != nil {
		r.CancelAt(a.clock.Now())
		return err
	}
	return nil
}

// Observe tells the limiter VCC's answer to a request: throttled is true
// for a 429. The first 429 outside a congestion event starts one and
// decreases the rate; other replies let it grow.
func (a *Adaptive) Observe(throttled bool) {
	now := a.clock.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sent.add(now)
	a.sinceSent++
	if !throttled {
		a.accepted.add(now)
		a.sinceOK++
	}
	if throttled && !now.Before(a.holdUntil) {
		a.decrease(now)
		return
	}
	a.grow(now)
}

// Rate returns the current rate in requests a minute.
func (a *Adaptive) Rate() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rate
}

// decrease starts a congestion event at now, and Hold from now on ignores
// further 429s. The rate goes down by one of three rules:
//   - a wall: nothing got through since the last decrease, or in the last
//     minute (at least minSample replies). The level measured before the
//     wall stays (the limit may be back when the wall ends: a 429 storm,
//     or a window still full of older requests) and the rate is halved.
//   - the caller used its rate: the requests VCC accepted in the last
//     minute are what VCC allows, the level; the rate goes to Decrease ×
//     the lower of the level and itself.
//   - the caller was app-limited (others use the account's budget): the
//     rate goes to Decrease × itself and the level stays.
func (a *Adaptive) decrease(now time.Time) {
	r := a.rate
	span := min(window, now.Sub(a.start))
	sent, accepted := a.sent.sum(now), a.accepted.sum(now)
	switch {
	case (a.sinceSent >= minSample && a.sinceOK == 0) || (sent >= minSample && accepted == 0):
		r *= wallDecrease
	case sent >= minSample && float64(sent) >= demandShare*r*span.Minutes():
		a.level = float64(accepted)
		r = a.cfg.Decrease * min(r, a.level)
	default:
		r *= a.cfg.Decrease
	}
	a.events++
	a.sinceSent, a.sinceOK = 0, 0
	a.holdUntil = now.Add(a.cfg.Hold)
	a.tickStart = a.holdUntil
	a.set(now, r)
}

// grow raises the rate at the end of each growth step in which the
// limiter set the pace (demandShare of the Waits waited): with no level
// known, by SlowStart a minute; below Decrease × level, back up to it by
// SlowStart^recoverySpeedup a minute; from there by Probe of the rate a
// minute up to probeAbove over the level. Past that no 429 came where one
// did before: the level is forgotten and the rate grows by SlowStart again
// until the next congestion event.
func (a *Adaptive) grow(now time.Time) {
	if now.Before(a.tickStart) { // in a congestion event
		a.waits.Store(0)
		a.delayed.Store(0)
		return
	}
	dt := now.Sub(a.tickStart)
	if dt < a.step() {
		return
	}
	a.tickStart = now
	waits, delayed := a.waits.Swap(0), a.delayed.Swap(0)
	if waits == 0 || float64(delayed) < demandShare*float64(waits) {
		return
	}
	m := min(dt, window).Minutes()
	r := a.rate
	low, high := a.cfg.Decrease*a.level, max(a.level*(1+probeAbove), a.level+2)
	switch {
	case a.level > 0 && r < low:
		r = min(r*math.Pow(a.cfg.SlowStart, recoverySpeedup*m), low)
	case a.level > 0 && r <= high:
		r += a.cfg.Probe * r * m
	default:
		a.level = 0
		r *= math.Pow(a.cfg.SlowStart, m)
	}
	a.set(now, r)
}

// step is the length of a growth step: a second, or ten requests' worth at
// a low rate, so that the share of Waits that waited is measured on enough.
func (a *Adaptive) step() time.Duration {
	return max(time.Second, time.Duration(10/a.rate*float64(time.Minute)))
}

// set makes r, bounded by Floor and Ceiling, the rate from now on.
func (a *Adaptive) set(now time.Time, r float64) {
	r = min(max(r, a.cfg.Floor), a.cfg.Ceiling)
	if r == a.rate {
		return
	}
	a.rate = r
	a.lim.SetLimitAt(now, rate.Limit(r/60))
	if b := a.burst(r); b != a.lim.Burst() {
		a.lim.SetBurstAt(now, b)
	}
}

// burst is the token bucket's size at r a minute: a second's worth, at
// least 1 (never more than a minute's budget, since r ≥ Floor ≥ 1) and at
// most MaxBurst.
func (a *Adaptive) burst(r float64) int {
	return min(max(int(r/60), 1), a.cfg.MaxBurst)
}

// window is the span over which VCC is assumed to count requests, and the
// unit of the rate.
const window = time.Minute

// bucketSpan is the resolution of a counter.
const bucketSpan = 250 * time.Millisecond

const nBuckets = int64(window / bucketSpan)

// counter counts events over the last window in buckets of bucketSpan.
type counter struct {
	n  [nBuckets]int
	at [nBuckets]int64 // the bucket number (time / bucketSpan) n[i] counts
}

func newCounter() counter {
	var c counter
	for i := range c.at {
		c.at[i] = math.MinInt64
	}
	return c
}

func bucketOf(t time.Time) int64 { return t.UnixNano() / int64(bucketSpan) }

func (c *counter) add(t time.Time) {
	b := bucketOf(t)
	i := (b%nBuckets + nBuckets) % nBuckets
	if c.at[i] != b {
		c.at[i], c.n[i] = b, 0
	}
	c.n[i]++
}

// sum returns the events of the window ending at t (to within a bucket).
func (c *counter) sum(t time.Time) int {
	cur := bucketOf(t)
	s := 0
	for i, b := range c.at {
		if b > cur-nBuckets && b <= cur {
			s += c.n[i]
		}
	}
	return s
}
