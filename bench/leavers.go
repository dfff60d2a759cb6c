package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
)

// leaversFlag is the worker's switch of the priority lane for
// deactivations; the scenario asks the binary whether it knows it.
const leaversFlag = "leavers-first"

// leaversRun is one run of the leavers scenario.
type leaversRun struct {
	name      string
	latency   []time.Duration // per leaver, publish → archived; -1: not archived by the end
	waited    []time.Duration // per leaver, publish → end of the run
	created   int             // users the backlog's creates made during the run
	requests  int             // VCC requests the sandbox answered, 429s included
	limited   int             // 429s
	capAfter  time.Duration
	published int
}

// p99 is the nearest-rank 99th percentile of the latencies (with 20
// leavers, the largest); ok is false when it falls on a leaver not
// archived, whose latency is only known to exceed the cap.
func (r *leaversRun) p99() (time.Duration, bool) {
	ls := slices.Clone(r.latency)
	for i, l := range ls {
		if l < 0 {
			ls[i] = time.Duration(math.MaxInt64)
		}
	}
	slices.Sort(ls)
	idx := max(int(math.Ceil(0.99*float64(len(ls))))-1, 0)
	if ls[idx] == time.Duration(math.MaxInt64) {
		return r.capAfter, false
	}
	return ls[idx], true
}

func (r *leaversRun) p99String() string {
	d, ok := r.p99()
	if !ok {
		return fmt.Sprintf("> %.0f s", d.Seconds())
	}
	return seconds(d.Seconds())
}

func (r *leaversRun) archived() int {
	n := 0
	for _, l := range r.latency {
		if l >= 0 {
			n++
		}
	}
	return n
}

// scenarioLeavers measures how long a leaver's deactivation waits behind a
// backlog of creates at VCC's fair-usage limit: with the worker's priority
// lane for deactivations (its default) and without it
// (--leavers-first=false), or, when the binary has no such flag, once.
//
// measuring is called once every run has published its backlog, when only
// the deactivations remain, which wait on VCC's rate limit, not the CPU.
func scenarioLeavers(ctx context.Context, e *env, o *options, measuring func()) ([]Row, error) {
	var once sync.Once
	defer once.Do(measuring) // a run failed before its backlog

	help, _ := exec.CommandContext(ctx, e.workerBin, "--help").CombinedOutput()
	hasLane := strings.Contains(string(help), "-"+leaversFlag)
	var lane, base *leaversRun
	if hasLane {
		// The two runs side by side: each has its own JetStream server,
		// sandbox (and so its own rate limit) and worker, and waits on
		// that limit, not on the CPU.
		e.log.printf("leavers: syncworker has --%s: a run with the lane (its default) beside one with --%s=false", leaversFlag, leaversFlag)
		var laneErr, baseErr error
		var wg, backlogs sync.WaitGroup
		backlogs.Add(2)
		published := func() { backlogs.Done() }
		go func() { backlogs.Wait(); once.Do(measuring) }()
		wg.Go(func() { lane, laneErr = runLeavers(ctx, e, o, "lane", nil, published) })
		wg.Go(func() {
			base, baseErr = runLeavers(ctx, e, o, "no-lane", []string{"--" + leaversFlag + "=false"}, published)
		})
		wg.Wait()
		if err := errors.Join(laneErr, baseErr); err != nil {
			return nil, err
		}
	} else {
		e.log.printf("leavers: syncworker has no --%s flag (no priority lane): one run, the baseline", leaversFlag)
		var err error
		if base, err = runLeavers(ctx, e, o, "baseline", nil, func() { once.Do(measuring) }); err != nil {
			return nil, err
		}
	}

	g := goal{text: "≤ 60 s", ok: func(m, _, _ float64) bool { return m <= 60 }}
	row := Row{Figure: fmt.Sprintf("leaver archived after publish, p99 of %d", o.leavers), Goal: g.text}
	baseLabel := "--" + leaversFlag + "=false "
	if !hasLane {
		baseLabel = "no lane (flag unknown) "
	}
	row.Baseline = baseLabel + base.p99String()
	if lane == nil {
		row.Measured, row.Met = "no priority lane", -1
	} else {
		row.Measured = lane.p99String()
		m, mok := lane.p99()
		b, bok := base.p99()
		switch {
		case mok && bok:
			row.Ratio = fmtRatio(m.Seconds() / b.Seconds())
		case mok:
			row.Ratio = "< " + fmtRatio(m.Seconds()/b.Seconds())
		}
		if mok {
			row.Met = g.judge(m.Seconds(), 0, 0)
		} else {
			row.Met = -1
		}
	}
	describe := func(r *leaversRun) string {
		return fmt.Sprintf("%s: %d of %d archived (latencies %s), %d backlog users created, %d VCC requests of which %d answered 429",
			r.name, r.archived(), len(r.latency), latencyList(r), r.created, r.requests, r.limited)
	}
	runs := describe(base)
	if lane != nil {
		runs = describe(lane) + "; " + runs
	}
	row.Note = fmt.Sprintf("vcc-sandbox -rate-limit %d (a sliding minute, per account), the real syncworker with its default --vcc-rate; "+
		"%d leavers linked to VCC users made for them; %s create events (new active users) published, then the %d deactivations "+
		"(IsActive false, a newer SystemModstamp, published as pkg/bus does) evenly over %s; a run ends when all are archived or %s after the last; "+
		"with the lane and without side by side, each with its own JetStream server (sync always), sandbox and worker. "+
		"Archived = the moment the sandbox answered 200 to the PATCH whose reply shows the user inactive, seen by a proxy between the worker and the "+
		"sandbox (polling the sandbox would spend the account's fair-usage budget the worker needs). %s.",
		o.rateLimit, o.leavers, group(int64(o.backlog)), o.leavers, o.spread, o.capAfter, runs)
	return []Row{row}, nil
}

func latencyList(r *leaversRun) string {
	parts := make([]string, len(r.latency))
	for i, l := range r.latency {
		if l < 0 {
			parts[i] = fmt.Sprintf(">%.0f", r.waited[i].Seconds())
		} else {
			parts[i] = fmt.Sprintf("%.1f", l.Seconds())
		}
	}
	return strings.Join(parts, " ") + " s"
}

// runLeavers is one run: a fresh JetStream server, sandbox and worker.
// published is called once, when the backlog is published or the run
// failed before.
func runLeavers(ctx context.Context, e *env, o *options, name string, extra []string, published func()) (*leaversRun, error) {
	var once sync.Once
	backlogDone := func() { once.Do(published) }
	defer backlogDone()
	r := &leaversRun{name: name, capAfter: o.capAfter}
	dir, err := e.mkdir("leavers", name)
	if err != nil {
		return nil, err
	}
	srv, err := startNATS(filepath.Join(dir, "nats"), true)
	if err != nil {
		return nil, err
	}
	defer stopNATS(srv)
	nc, js, err := connect(srv.ClientURL(), "bench")
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	sb, err := e.startSandbox(ctx, dir, o.rateLimit)
	if err != nil {
		return nil, err
	}
	defer sb.stop()
	tp, err := startTap(sb.url)
	if err != nil {
		return nil, err
	}
	defer tp.close()

	leavers, err := makeUsers("lv", 3_000_000, o.leavers)
	if err != nil {
		return nil, err
	}
	joiners, err := makeUsers("new", 4_000_000, o.backlog)
	if err != nil {
		return nil, err
	}
	// The leavers exist in VCC (made here, 1 request each of the
	// account's budget) and are linked by the worker (1 read each).
	vs := make([]vccUser, len(leavers))
	for i, u := range leavers {
		vs[i] = u.vcc(9000 + i)
	}
	vccIDs, err := sb.createUsers(ctx, vs)
	if err != nil {
		return nil, err
	}
	spec := workerSpec{name: "syncworker", dir: dir, dataDir: filepath.Join(dir, "data"), natsURL: srv.ClientURL(),
		vccURL: tp.url, vccRate: -1, agentIDs: 20000, extra: extra}
	w, err := e.startWorker(ctx, spec, true)
	if err != nil {
		return nil, err
	}
	defer w.stop()
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	const source = "bench/leavers"
	err = publishAll(ctx, js, len(leavers), func(i int) (outMsg, error) {
		return userMessage(fmt.Sprintf("lv-link-%03d", i), source, leavers[i].snapshot(true, t0))
	})
	if err != nil {
		return nil, err
	}
	out, err := w.waitOutcomeFor(ctx, "linked", len(leavers), 2*time.Minute)
	if err != nil {
		return nil, err
	}
	if int(out["linked"]) != len(leavers) {
		return nil, fmt.Errorf("%s: %d of %d leavers linked (outcomes %s)", name, int(out["linked"]), len(leavers), outcomeString(out))
	}
	e.log.printf("leavers[%s]: %d leavers linked; publishing %d create events", name, len(leavers), o.backlog)
	err = publishAll(ctx, js, len(joiners), func(i int) (outMsg, error) {
		return userMessage(fmt.Sprintf("new-%06d", i), source, joiners[i].snapshot(true, t0))
	})
	if err != nil {
		return nil, err
	}
	backlogDone()

	pubAt := make([]time.Time, len(leavers))
	r.latency = make([]time.Duration, len(leavers))
	r.waited = make([]time.Duration, len(leavers))
	start := time.Now()
	step := time.Duration(0)
	if len(leavers) > 1 {
		step = o.spread / time.Duration(len(leavers)-1)
	}
	// Publish the deactivations on schedule; in between, note archives.
	report := map[int]bool{}
	poll := func() {
		for i := range leavers {
			if pubAt[i].IsZero() || report[i] {
				continue
			}
			if at, ok := tp.archivedAt(vccIDs[i]); ok {
				report[i] = true
				e.log.printf("leavers[%s]: leaver %d archived %.1f s after its deactivation was published", name, i+1, at.Sub(pubAt[i]).Seconds())
			}
		}
	}
	for i, u := range leavers {
		for time.Until(start.Add(time.Duration(i)*step)) > 0 {
			if err := sleepCtx(ctx, min(200*time.Millisecond, time.Until(start.Add(time.Duration(i)*step)))); err != nil {
				return nil, err
			}
			poll()
			if err := w.alive(); err != nil {
				return nil, err
			}
		}
		env, err := events.NewUserChanged(fmt.Sprintf("lv-leave-%03d", i), source, time.Now(), u.snapshot(false, t0.Add(time.Hour)))
		if err != nil {
			return nil, err
		}
		pubAt[i] = time.Now()
		if _, err := bus.Publish(ctx, js, env); err != nil {
			return nil, err
		}
		r.published++
	}
	e.log.printf("leavers[%s]: %d deactivations published over %s; waiting up to %s", name, len(leavers), time.Since(start).Round(time.Second), o.capAfter)
	deadline := time.Now().Add(o.capAfter)
	for len(report) < len(leavers) && time.Now().Before(deadline) {
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
		poll()
		if err := w.alive(); err != nil {
			return nil, err
		}
	}
	end := time.Now()
	for i := range leavers {
		r.waited[i] = end.Sub(pubAt[i])
		r.latency[i] = -1
		if at, ok := tp.archivedAt(vccIDs[i]); ok {
			r.latency[i] = at.Sub(pubAt[i])
		}
	}
	if out, err := w.outcomes(ctx); err == nil {
		r.created = int(out["created"])
	}
	c := tp.counts()
	r.requests, r.limited = c.requests, c.limited
	e.log.printf("leavers[%s]: %d of %d archived, p99 %s; %d backlog users created, %d VCC requests, %d answered 429",
		name, r.archived(), len(leavers), r.p99String(), r.created, r.requests, r.limited)
	return r, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
