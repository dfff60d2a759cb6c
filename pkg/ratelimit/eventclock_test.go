package ratelimit

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// eventClock is a discrete-event Clock for simulations: its time stands
// still while any of its parties runs, and when all of them sleep it jumps
// to the earliest wake-up and wakes that one sleeper. A simulation thus
// runs as fast as the CPU allows, one party at a time, and its virtual
// time does not depend on the scheduler (a ScaledClock magnifies every
// late wake-up by its scale).
//
// Every goroutine that sleeps on it must be a party (join before it
// starts, leave when it ends); anything else (an HTTP server, a client's
// own timers) runs in zero virtual time. Context deadlines are wall time
// and mean nothing here: Sleep ignores them, but honours cancellation.
type eventClock struct {
	mu      sync.Mutex
	now     time.Time
	parties int
	queue   sleepers
	seq     int64
}

var _ Clock = (*eventClock)(nil)

func newEventClock(start time.Time) *eventClock { return &eventClock{now: start} }

// join adds a party; call it before the party's goroutine starts.
func (c *eventClock) join() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.parties++
}

// leave removes a party that will not sleep again.
func (c *eventClock) leave() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.parties--
	c.advance()
}

func (c *eventClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *eventClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	c.mu.Lock()
	s := &sleeper{at: c.now.Add(d), seq: c.seq, wake: make(chan struct{})}
	c.seq++
	heap.Push(&c.queue, s)
	c.advance()
	c.mu.Unlock()
	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		defer c.mu.Unlock()
		if s.index < 0 { // woken meanwhile
			return nil
		}
		heap.Remove(&c.queue, s.index) // awake again: the clock waits for it
		return ctx.Err()
	}
}

// advance wakes the earliest sleeper when every party sleeps.
func (c *eventClock) advance() {
	if len(c.queue) == 0 || len(c.queue) < c.parties {
		return
	}
	s := heap.Pop(&c.queue).(*sleeper)
	if s.at.After(c.now) {
		c.now = s.at
	}
	close(s.wake)
}

type sleeper struct {
	at    time.Time
	seq   int64 // ties wake in the order they slept
	wake  chan struct{}
	index int // in the heap; -1 once popped
}

type sleepers []*sleeper

func (h sleepers) Len() int { return len(h) }
func (h sleepers) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h sleepers) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *sleepers) Push(x any) {
	s := x.(*sleeper)
	s.index = len(*h)
	*h = append(*h, s)
}
func (h *sleepers) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	s.index = -1
	*h = old[:len(old)-1]
	return s
}
