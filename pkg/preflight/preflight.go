package preflight

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Check is one start-up check. Run returns a one-line detail on success;
// an error that is a *Warning passes with a caveat.
type Check struct {
	Name string
	Run  func(ctx context.Context) (detail string, err error)
}

// Warning is a check's caveat: the check passes, the caveat is shown.
type Warning struct{ Msg string }

func (w *Warning) Error() string { return w.Msg }

// Result is the outcome of one run of a check.
type Result struct {
	Name   string
	Detail string // on success
	Err    error  // nil on success; a *Warning passes
	At     time.Time
}

// OK reports whether the check passed (a warning passes).
func (r Result) OK() bool {
	var w *Warning
	return r.Err == nil || errors.As(r.Err, &w)
}

// ErrNotRun is the error of a check that has not run yet.
var ErrNotRun = errors.New("not checked yet")

// Suite runs checks and keeps their last results. It is safe for
// concurrent use.
type Suite struct {
	checks  []Check
	timeout time.Duration

	mu   sync.Mutex
	last map[string]Result
}

// New returns a suite of the checks, each given at most timeout per run
// (0: 30s).
func New(timeout time.Duration, checks ...Check) *Suite {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &Suite{checks: checks, timeout: timeout, last: make(map[string]Result, len(checks))}
}

// Names returns the names of the checks, in order.
func (s *Suite) Names() []string {
	out := make([]string, len(s.checks))
	for i, c := range s.checks {
		out[i] = c.Name
	}
	return out
}

// Run runs every check, in order, and returns the results.
func (s *Suite) Run(ctx context.Context) []Result {
	out := make([]Result, 0, len(s.checks))
	for _, c := range s.checks {
		out = append(out, s.run(ctx, c))
	}
	return out
}

func (s *Suite) run(ctx context.Context, c Check) Result {
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	detail, err := c.Run(cctx)
	r := Result{Name: c.Name, Detail: detail, Err: err, At: time.Now()}
	s.mu.Lock()
	s.last[c.Name] = r
	s.mu.Unlock()
	return r
}

// Err returns the error of the named check's last run: nil when it
// passed, ErrNotRun before it ran.
func (s *Suite) Err(name string) error {
	s.mu.Lock()
	r, ok := s.last[name]
	s.mu.Unlock()
	switch {
	case !ok:
		return ErrNotRun
	case r.OK():
		return nil
	}
	return r.Err
}

// Failed returns the names of the checks whose last run failed or that
// have not run.
func (s *Suite) Failed() []string {
	var out []string
	for _, c := range s.checks {
		if s.Err(c.Name) != nil {
			out = append(out, c.Name)
		}
	}
	return out
}

// Watch re-runs, every interval, each check that has not passed, until all
// have or ctx ends; report is told every result of a re-run.
func (s *Suite) Watch(ctx context.Context, interval time.Duration, report func(Result)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		failed := s.Failed()
		if len(failed) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, c := range s.checks {
			if s.Err(c.Name) != nil {
				report(s.run(ctx, c))
			}
		}
	}
}

// Print writes one line per result — "ok", "warn" or "FAIL", the check's
// name, and its detail or error — and reports whether all passed.
func Print(w io.Writer, results []Result) bool {
	all := true
	for _, r := range results {
		var warn *Warning
		switch {
		case r.Err == nil:
			fmt.Fprintf(w, "ok    %-14s %s\n", r.Name, r.Detail)
		case errors.As(r.Err, &warn):
			fmt.Fprintf(w, "warn  %-14s %s\n", r.Name, r.Err)
		default:
			all = false
			fmt.Fprintf(w, "FAIL  %-14s %s\n", r.Name, r.Err)
		}
	}
	return all
}
