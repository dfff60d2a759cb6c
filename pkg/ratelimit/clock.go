package ratelimit

import (
	"context"
	"fmt"
	"time"
)

// A Clock is the time an Adaptive limiter lives in: Now dates every
// decision (token bucket, congestion events, growth) and Sleep waits for a
// reservation. Implementations must be safe for concurrent use.
//
// The default is the wall clock. A ScaledClock runs faster than the wall
// clock, so a simulation or a benchmark can run many minutes of the
// limiter's time in a few seconds (give the same clock to whatever it
// talks to, e.g. the VCC sandbox's VCCOptions.Now).
type Clock interface {
	Now() time.Time
	// Sleep waits d of the clock's time. It returns ctx.Err() if ctx is
	// done first, and at once an error wrapping context.DeadlineExceeded,
	// without waiting, if ctx's deadline comes before the wait would end.
	Sleep(ctx context.Context, d time.Duration) error
}

// WallClock is the real time.
var WallClock Clock = wallClock{}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) Sleep(ctx context.Context, d time.Duration) error { return sleep(ctx, d, d) }

// ScaledClock is a clock for tests and simulations that runs Scale times
// faster than the wall clock, from the virtual time Start on: Now is
// Start + Scale × (wall time elapsed since NewScaledClock), and Sleep(d)
// sleeps d/Scale of wall time. Timer granularity (tens of microseconds of
// wall time) is magnified by Scale, so keep Scale such that the shortest
// interesting interval stays well above it.
type ScaledClock struct {
	start     time.Time // virtual time at realStart
	realStart time.Time // wall time, with its monotonic reading
	scale     float64
}

var _ Clock = (*ScaledClock)(nil)

// NewScaledClock returns a clock at start now, running scale (> 0) times
// faster than the wall clock.
func NewScaledClock(start time.Time, scale float64) *ScaledClock {
	if !(scale > 0) {
		panic(fmt.Sprintf("ratelimit: NewScaledClock: scale %v: must be positive", scale))
	}
	return &ScaledClock{start: start, realStart: time.Now(), scale: scale}
}

// Now returns the virtual time.
func (c *ScaledClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.realStart)) * c.scale))
}

// Sleep waits d of virtual time, d/Scale of wall time.
func (c *ScaledClock) Sleep(ctx context.Context, d time.Duration) error {
	return sleep(ctx, time.Duration(float64(d)/c.scale), d)
}

// Scale is how many times faster than the wall clock c runs.
func (c *ScaledClock) Scale() float64 { return c.scale }

// sleep waits real of wall time, or until ctx is done; virtual is the same
// wait in the clock's time, for the error message.
func sleep(ctx context.Context, real, virtual time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if real <= 0 {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < real {
		return fmt.Errorf("ratelimit: a wait of %v would pass the context's deadline: %w", virtual, context.DeadlineExceeded)
	}
	t := time.NewTimer(real)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
