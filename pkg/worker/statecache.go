package worker

import "container/list"

// stateCache keeps the committed states of the users whose lanes ended
// most recently, up to max of them, so that a user's next lane starts from
// the state in hand instead of reading the store. A lane takes its user's
// state out when it starts and puts it back when it ends with the state
// committed, so a state is in one place at a time; a lane whose run
// failed puts nothing back, and its user's next lane reads the store. The
// worker is the only writer of user states, and a cache lasts one
// pipeline: what it holds is what the store holds.
//
// Guarded by pipe.mu.
type stateCache[S any] struct {
	max   int
	order *list.List // of *cached[S], most recently put first
	at    map[string]*list.Element
}

type cached[S any] struct {
	key   string
	state S
}

func newStateCache[S any](max int) *stateCache[S] {
	return &stateCache[S]{max: max, order: list.New(), at: map[string]*list.Element{}}
}

// take removes and returns the state of key, if the cache has it.
func (c *stateCache[S]) take(key string) (S, bool) {
	e, ok := c.at[key]
	if !ok {
		var zero S
		return zero, false
	}
	delete(c.at, key)
	return c.order.Remove(e).(*cached[S]).state, true
}

// put keeps the state of key, forgetting the least recently put one when
// the cache is full.
func (c *stateCache[S]) put(key string, state S) {
	if c.max <= 0 {
		return
	}
	if e, ok := c.at[key]; ok {
		e.Value.(*cached[S]).state = state
		c.order.MoveToFront(e)
		return
	}
	if c.order.Len() >= c.max {
		old := c.order.Remove(c.order.Back()).(*cached[S])
		delete(c.at, old.key)
	}
	c.at[key] = c.order.PushFront(&cached[S]{key: key, state: state})
}

// len is how many states the cache holds.
func (c *stateCache[S]) len() int { return c.order.Len() }
