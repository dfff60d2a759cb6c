package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// goBenchRow is a row of the table read from an in-package Go benchmark's
// b.ReportMetric values. To add a row, add an entry to goBenches.
type goBenchRow struct {
	Figure string
	Goal   goal
	Pkg    string // package, relative to the vccsync module: ./pkg/worker
	Bench  string // BenchmarkX, or BenchmarkX/sub for a sub-benchmark
	// Units of the metrics, as the benchmark reports them
	// (b.ReportMetric(v, unit)). Ratio "" is Measured / Baseline.
	Measured, Baseline, Ratio string
	// BaselineBench, when set, is the benchmark (of the same package) the
	// baseline comes from, e.g. another sub-benchmark.
	BaselineBench string
	BaseLabel     string               // what the baseline is, printed before its value
	Format        func(float64) string // how to print measured and baseline
	Note          string               // printed under the table, before what the run adds
}

// goBenches are the rows read from Go benchmarks, in table order. Bench
// may name a sub-benchmark (BenchmarkX/name=value); a parent name takes its
// first sub-benchmark that reports the Measured unit. A benchmark that
// does not exist (yet) prints "not found"; a unit it does not report
// prints, in the row's note, every metric it did report.
var goBenches = []goBenchRow{
	{Figure: "worker vs raw consume, no-op handler (events/s)", Goal: ratioAtLeast(0.5, "raw"),
		Pkg: "./pkg/worker", Bench: "BenchmarkWorkerThroughput",
		Measured: "worker_events/s", Baseline: "raw_events/s", Ratio: "worker/raw", BaseLabel: "raw ", Format: rate},
	{Figure: "bbolt file per user, 100k users (store alone)", Goal: atMost(1024, "1 KiB"),
		Pkg: "./pkg/store", Bench: "BenchmarkStoreSize100k",
		Measured: "file-B/user", Baseline: "v1-file-B/user", BaseLabel: "v1 layout ", Format: bytesStr},
	// A first load 20% faster at a given rate: at most 1/1.2 of the calls.
	{Figure: "VCC calls per create (demo agent template, 4 lists)", Goal: ratioAtMost(0.83, "old"),
		Pkg: "./pkg/handlers", Bench: "BenchmarkVCCCallsPerCreate/template=demo-agent",
		Measured: "calls/create", Baseline: "baseline-calls/create", Ratio: "calls-ratio", BaseLabel: "old path ", Format: number,
		Note: "The old path looked the user up by username before each create and selected the callback number with a PATCH after it; " +
			"now the account's paged user list answers the lookup and the POST carries the selection, as in Vonage's Create user example. " +
			"The POST and one replace-all PUT per list (skills, groups, callback numbers, group permissions) remain: VCC documents no way to " +
			"write a list in the create, so a template with four lists cannot be copied in fewer than 5 calls."},
	{Figure: "VCC calls per create (template with 2 lists)", Goal: atMost(4, "4"),
		Pkg: "./pkg/handlers", Bench: "BenchmarkVCCCallsPerCreate/template=plain",
		Measured: "calls/create", Baseline: "baseline-calls/create", Ratio: "calls-ratio", BaseLabel: "old path ", Format: number},
	{Figure: "VCC calls per event, realistic mix", Goal: atMost(0.25, "0.25"),
		Pkg: "./pkg/handlers", Bench: "BenchmarkVCCCallsPerEvent/mix=realistic",
		Measured: "calls/event", Baseline: "baseline-calls/event", Ratio: "calls-ratio", BaseLabel: "old path ", Format: number},
	{Figure: "VCC calls per event, heavy mix", Goal: noGoal(),
		Pkg: "./pkg/handlers", Bench: "BenchmarkVCCCallsPerEvent/mix=heavy",
		Measured: "calls/event", Baseline: "baseline-calls/event", Ratio: "calls-ratio", BaseLabel: "old path ", Format: number},
	{Figure: "ack wait behind one slow user", Goal: ratioAtMost(0.1, "barrier"),
		Pkg: "./pkg/worker", Bench: "BenchmarkCommitWhatIsDone",
		Measured: "ack-wait-s", Baseline: "barrier-ack-wait-s", Ratio: "ack-wait/barrier", BaseLabel: "slow user acked at ", Format: seconds},
	{Figure: "bbolt commit per message, 256 in one commit", Goal: noGoal(),
		Pkg: "./pkg/store", Bench: "BenchmarkCommit/nosync=false",
		Measured: "grouped-ns/msg", Baseline: "single-ns/msg", BaseLabel: "a commit each ", Format: nanos},
	{Figure: "embedded JetStream publishes, sync always (/s)", Goal: noGoal(),
		Pkg: "./pkg/bus", Bench: "BenchmarkEmbeddedSync",
		Measured: "always_publishes/s", Baseline: "2m_publishes/s", Ratio: "publish_always/2m", BaseLabel: "--nats-sync 2m ", Format: rate},
	{Figure: "embedded JetStream consume+acks, sync always (/s)", Goal: noGoal(),
		Pkg: "./pkg/bus", Bench: "BenchmarkEmbeddedSync",
		Measured: "always_consume+acks/s", Baseline: "2m_consume+acks/s", Ratio: "ack_always/2m", BaseLabel: "--nats-sync 2m ", Format: rate},
	{Figure: "VCC limit used at 600/min, adaptive limiter", Goal: atLeast(95, "95%"),
		Pkg: "./pkg/ratelimit", Bench: "BenchmarkAdaptiveRate/L=600/adaptive-sandbox", Measured: "%used",
		BaselineBench: "BenchmarkAdaptiveRate/L=600/fixed160-sandbox", Baseline: "%used", BaseLabel: "fixed 160/min ", Format: percent},
	{Figure: "VCC calls answered 429 at 60/min, adaptive limiter", Goal: atMost(1, "1%"),
		Pkg: "./pkg/ratelimit", Bench: "BenchmarkAdaptiveRate/L=60/adaptive-sandbox", Measured: "%429",
		BaselineBench: "BenchmarkAdaptiveRate/L=60/fixed160-sandbox", Baseline: "%429", BaseLabel: "fixed 160/min ", Format: percent},
}

func selectGoBenches(rows []goBenchRow, filter string) []goBenchRow {
	var out []goBenchRow
	for _, r := range rows {
		if filter == "" || strings.Contains(r.Bench, filter) {
			out = append(out, r)
		}
	}
	return out
}

// goBenchBuild compiles the test binaries of the rows' packages in the
// background (go test -c), one package after another.
type goBenchBuild struct {
	e    *env
	rows []goBenchRow
	done chan struct{}

	mu   sync.Mutex
	bins map[string]string // package → test binary
	errs map[string]error  // package → build error
}

func (e *env) buildGoBenches(ctx context.Context, rows []goBenchRow) *goBenchBuild {
	gb := &goBenchBuild{e: e, rows: rows, done: make(chan struct{}), bins: map[string]string{}, errs: map[string]error{}}
	go func() {
		defer close(gb.done)
		for _, pkg := range gb.packages() {
			if ctx.Err() != nil {
				return
			}
			gb.build(ctx, pkg)
		}
	}()
	return gb
}

func (gb *goBenchBuild) wait() { <-gb.done }

func (gb *goBenchBuild) packages() []string {
	var pkgs []string
	for _, r := range gb.rows {
		if !slices.Contains(pkgs, r.Pkg) {
			pkgs = append(pkgs, r.Pkg)
		}
	}
	return pkgs
}

// build runs go test -c for pkg in the module.
func (gb *goBenchBuild) build(ctx context.Context, pkg string) {
	dir := filepath.Join(gb.e.dir, "gobench")
	bin := filepath.Join(dir, strings.ReplaceAll(strings.Trim(pkg, "./"), "/", "_")+".test")
	var err error
	if err = os.MkdirAll(dir, 0o755); err == nil {
		cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, pkg)
		cmd.Dir = gb.e.root
		var out []byte
		if out, err = cmd.CombinedOutput(); err != nil {
			err = fmt.Errorf("go test -c %s: %w\n%s", pkg, err, bytes.TrimSpace(out))
		} else if _, serr := os.Stat(bin); serr != nil {
			err = fmt.Errorf("go test -c %s: no test binary (no test files?)", pkg)
		}
	}
	gb.mu.Lock()
	defer gb.mu.Unlock()
	if err != nil {
		gb.errs[pkg] = err
		delete(gb.bins, pkg)
		return
	}
	delete(gb.errs, pkg)
	gb.bins[pkg] = bin
}

func (gb *goBenchBuild) result(pkg string) (string, error) {
	gb.mu.Lock()
	defer gb.mu.Unlock()
	return gb.bins[pkg], gb.errs[pkg]
}

// scenarioGoBench runs each package's benchmarks once (-benchtime 1x), as
// `go test -run '^$' -bench … -benchtime 1x <pkg>` would, from binaries
// built beforehand, and turns their metrics into rows.
func scenarioGoBench(ctx context.Context, e *env, gb *goBenchBuild) ([]Row, error) {
	gb.wait()
	var failures []error
	results := map[string]map[string]*benchResult{} // package → benchmark → result
	runErrs := map[string]string{}
	for _, pkg := range gb.packages() {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if _, err := gb.result(pkg); err != nil {
			// The package may have been mid-edit: build it once more.
			e.log.printf("gobench: %s did not build; once more", pkg)
			gb.build(ctx, pkg)
		}
		bin, err := gb.result(pkg)
		if err != nil {
			failures = append(failures, err)
			runErrs[pkg] = "build failed"
			continue
		}
		var names []string
		for _, r := range gb.rows {
			if r.Pkg != pkg {
				continue
			}
			for _, b := range []string{r.Bench, r.BaselineBench} {
				top, _, _ := strings.Cut(b, "/")
				if top = regexp.QuoteMeta(top); top != "" && !slices.Contains(names, top) {
					names = append(names, top)
				}
			}
		}
		pattern := "^(" + strings.Join(names, "|") + ")$"
		e.log.printf("gobench: go test -run '^$' -bench '%s' -benchtime 1x %s", pattern, pkg)
		t0 := time.Now()
		cmd := exec.CommandContext(ctx, bin, "-test.run", "^$", "-test.bench", pattern, "-test.benchtime", "1x", "-test.timeout", "10m")
		cmd.Dir = filepath.Join(e.root, filepath.FromSlash(pkg))
		out, err := cmd.CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "Benchmark") {
				e.log.printf("gobench: %s", strings.Join(strings.Fields(line), " "))
			}
		}
		e.log.printf("gobench: %s done in %s", pkg, time.Since(t0).Round(time.Second))
		if err != nil {
			tail := string(out)
			if len(tail) > 2000 {
				tail = tail[len(tail)-2000:]
			}
			failures = append(failures, fmt.Errorf("benchmarks of %s: %w\n%s", pkg, err, tail))
			runErrs[pkg] = "failed"
		}
		results[pkg] = parseBenchOutput(string(out), benchProcs())
	}
	rows := make([]Row, 0, len(gb.rows))
	for _, r := range gb.rows {
		rows = append(rows, goBenchToRow(r, results[r.Pkg], runErrs[r.Pkg]))
	}
	return rows, errors.Join(failures...)
}

// goBenchToRow makes the row of r from its package's results.
func goBenchToRow(r goBenchRow, results map[string]*benchResult, runErr string) Row {
	row := Row{Figure: r.Figure, Goal: r.Goal.text}
	units := []string{r.Measured, r.Baseline}
	if r.Ratio != "" {
		units = append(units, r.Ratio)
	}
	res := findBench(results, r.Bench, units...)
	switch {
	case res == nil && runErr != "":
		row.Measured = runErr
		return row
	case res == nil:
		row.Measured = "not found"
		row.Note = fmt.Sprintf("%s has no %s (yet): no row", r.Pkg, r.Bench)
		return row
	}
	resB := res
	if r.BaselineBench != "" {
		if resB = findBench(results, r.BaselineBench, r.Baseline); resB == nil {
			resB = &benchResult{name: r.BaselineBench + " (not found)"}
		}
	}
	m, okM := res.metrics[r.Measured]
	b, okB := resB.metrics[r.Baseline]
	switch {
	case okM:
		row.Measured = r.Format(m)
	default:
		row.Measured = "no " + r.Measured
	}
	if okB {
		row.Baseline = r.BaseLabel + r.Format(b)
	} else {
		row.Baseline = "no " + r.Baseline
	}
	rv := nanRatio()
	if r.Ratio != "" {
		if v, ok := res.metrics[r.Ratio]; ok {
			rv = v
		} else {
			row.Ratio = "no " + r.Ratio
		}
	} else if okM && okB && b != 0 {
		rv = m / b
	}
	if row.Ratio == "" {
		row.Ratio = fmtRatio(rv)
	}
	switch {
	case !okM || !okB || strings.HasPrefix(row.Ratio, "no "):
		row.Note = fmt.Sprintf("%s %s reported: %s (want units %s, %s%s)", r.Pkg, res.name, res.metricList(),
			r.Measured, r.Baseline, optional(r.Ratio))
		if resB != res {
			row.Note += fmt.Sprintf("; %s reported: %s", resB.name, resB.metricList())
		}
	case resB != res:
		row.Note = fmt.Sprintf("%s %s against %s", r.Pkg, res.name, resB.name)
	case res.name != r.Bench:
		row.Note = fmt.Sprintf("%s %s: %s", r.Pkg, res.name, res.metricList())
	}
	if r.Note != "" {
		row.Note = strings.TrimSuffix(r.Note+" "+row.Note, " ")
	}
	if okM {
		if !okB {
			b = nanRatio()
		}
		row.Met = r.Goal.judge(m, b, rv)
	}
	return row
}

func optional(s string) string {
	if s == "" {
		return ""
	}
	return ", " + s
}

func nanRatio() float64 { return math.NaN() }

// benchResult is one benchmark's line of output.
type benchResult struct {
	name    string
	metrics map[string]float64 // unit → value
	units   []string           // in the order reported
}

func (b *benchResult) metricList() string {
	parts := make([]string, 0, len(b.units))
	for _, u := range b.units {
		parts = append(parts, number(b.metrics[u])+" "+u)
	}
	return strings.Join(parts, ", ")
}

// findBench returns the result of name, else of its first sub-benchmark
// (by name) that reports every unit, else the first that reports the
// first unit, else its first sub-benchmark.
func findBench(results map[string]*benchResult, name string, units ...string) *benchResult {
	if r, ok := results[name]; ok {
		return r
	}
	var subs []string
	for n := range results {
		if strings.HasPrefix(n, name+"/") {
			subs = append(subs, n)
		}
	}
	if len(subs) == 0 {
		return nil
	}
	slices.Sort(subs)
	reports := func(r *benchResult, units []string) bool {
		for _, u := range units {
			if _, ok := r.metrics[u]; !ok || u == "" {
				return false
			}
		}
		return true
	}
	for _, want := range [][]string{units, units[:min(1, len(units))]} {
		for _, n := range subs {
			if reports(results[n], want) {
				return results[n]
			}
		}
	}
	return results[subs[0]]
}

// benchProcs is the -N suffix go test gives benchmark names: GOMAXPROCS.
func benchProcs() int {
	if v, err := strconv.Atoi(os.Getenv("GOMAXPROCS")); err == nil && v > 0 {
		return v
	}
	return runtime.NumCPU()
}

// parseBenchOutput reads benchmark result lines:
//
//	BenchmarkX-2   	       1	10797837345 ns/op	      1852 raw_events/s	 0.52 worker/raw
//
// A benchmark that prints while it runs gets its name and its figures on
// different lines; the figures are the next line that starts with an
// iteration count.
func parseBenchOutput(out string, procs int) map[string]*benchResult {
	results := map[string]*benchResult{}
	suffix := ""
	if procs > 1 {
		suffix = "-" + strconv.Itoa(procs)
	}
	current := ""
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if strings.HasPrefix(f[0], "Benchmark") {
			current = strings.TrimSuffix(f[0], suffix)
			f = f[1:]
		} else if current == "" {
			continue
		}
		if r := parseFigures(current, f); r != nil {
			results[current] = r
			current = ""
		}
	}
	return results
}

// parseFigures reads "N v unit v unit …"; nil when f is not that.
func parseFigures(name string, f []string) *benchResult {
	if len(f) < 3 || (len(f)-1)%2 != 0 {
		return nil
	}
	if _, err := strconv.ParseInt(f[0], 10, 64); err != nil {
		return nil
	}
	r := &benchResult{name: name, metrics: map[string]float64{}}
	for i := 1; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return nil
		}
		if _, dup := r.metrics[f[i+1]]; !dup {
			r.units = append(r.units, f[i+1])
		}
		r.metrics[f[i+1]] = v
	}
	return r
}
