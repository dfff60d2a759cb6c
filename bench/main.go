// Command bench runs vccsync's benchmarks against the real binaries and
// prints one table in which every figure stands beside a baseline measured
// in the same run, on the same machine.
//
//	go run .                         # every scenario (make bench)
//	go run . -quick                  # a smaller run of each
//	go run . -scenarios throughput   # some of them: throughput, memory, leavers, gobench (or 1-4)
//
// Scenarios, each a few rows of the table:
//
//  1. throughput: the real syncworker (a subprocess) against an embedded
//     JetStream server and the standalone vcc-sandbox, consuming events that
//     need no VCC write, against a raw nats.go Consume()+Ack() and Watermill's
//     JetStream subscriber on streams configured like VCCSYNC.
//  2. memory: the worker's resident memory and bbolt file after 100,000
//     users' events, against its memory at start and the bytes JetStream
//     stored for the same events.
//  3. leavers: how long a deactivation waits behind a backlog of creates at
//     VCC's fair-usage limit, with the priority lane and without it.
//  4. gobench: rows read from in-package Go benchmarks (see goBenches).
//
// Progress goes to stderr, the table to stdout. The exit status is 1 when a
// scenario failed (not when a goal is unmet: that is a ✗ in the table).
// Subprocesses and temporary directories are removed on exit and on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		// A second Ctrl-C while cleaning up ends at once; the children
		// die with this process (Pdeathsig).
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		fmt.Fprintln(os.Stderr, "bench: interrupted twice, exiting without cleaning up")
		os.Exit(130)
	}()
	_, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cancel()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Scenario names, in the order they run.
const (
	scThroughput = "throughput"
	scMemory     = "memory"
	scLeavers    = "leavers"
	scGoBench    = "gobench"
)

var scenarioOrder = []string{scThroughput, scMemory, scLeavers, scGoBench}

// options are the command line.
type options struct {
	quick     bool
	scenarios map[string]bool
	root      string // the vccsync module's directory
	keep      bool   // keep the temporary directory

	// throughput
	events, users int
	eventKind     string // unchanged or inactive
	rounds        int

	// memory
	memUsers int

	// leavers
	leavers, backlog int
	spread, capAfter time.Duration
	rateLimit        int
	tmpfs            bool

	// gobench
	goBenchFilter string
	overlap       bool
}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	scen := fs.String("scenarios", strings.Join(scenarioOrder, ","), "comma-separated scenarios to run: throughput, memory, leavers, gobench (or 1, 2, 3, 4)")
	fs.BoolVar(&o.quick, "quick", false, "a smaller run of each scenario (the defaults of the size flags shrink; flags given still win)")
	fs.StringVar(&o.root, "root", "", "directory of the vccsync module the binaries are built from (default: where the bench module's replace points, which the harness's own events and streams come from too)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (logs, data dirs) and print its path")
	fs.IntVar(&o.events, "events", 30000, "throughput: events consumed by each of worker, raw and Watermill (-quick: 5000)")
	fs.IntVar(&o.rounds, "rounds", 2, "throughput: the events are consumed in this many rounds of worker, raw, Watermill")
	fs.IntVar(&o.users, "users", 2000, "throughput: users the events are spread over (-quick: 200)")
	fs.BoolVar(&o.tmpfs, "tmpfs", true, "throughput: run once more with JetStream and bbolt on /dev/shm (a memory file system, where a sync costs nothing), when there is one")
	fs.StringVar(&o.eventKind, "event", "unchanged", "throughput: the no-write event: unchanged (a linked user's snapshot with nothing vccsync syncs changed) or inactive (an inactive user never synced)")
	fs.IntVar(&o.memUsers, "memory-users", 100000, "memory: distinct users, one event each (-quick: 10000)")
	fs.IntVar(&o.leavers, "leavers", 20, "leavers: deactivations of linked users (-quick: 5)")
	fs.IntVar(&o.backlog, "backlog", 10000, "leavers: create events published before the deactivations (-quick: 500)")
	fs.DurationVar(&o.spread, "spread", 57*time.Second, "leavers: the deactivations are published evenly over this time (-quick: 8s)")
	fs.DurationVar(&o.capAfter, "cap", 80*time.Second, "leavers: each run ends this long after the last deactivation is published; a leaver not archived by then counts as \"> cap\" (-quick: 30s)")
	fs.IntVar(&o.rateLimit, "rate-limit", 160, "leavers: the sandbox's fair-usage limit, requests a minute")
	fs.StringVar(&o.goBenchFilter, "gobench", "", "gobench: only rows whose benchmark name matches this substring")
	fs.BoolVar(&o.overlap, "overlap", true, "gobench: run the Go benchmarks while the leavers scenario waits on VCC's rate limit (false: after it)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		quick("events", func() { o.events = 5000 })
		quick("users", func() { o.users = 200 })
		quick("memory-users", func() { o.memUsers = 10000 })
		quick("leavers", func() { o.leavers = 5 })
		quick("backlog", func() { o.backlog = 500 })
		quick("spread", func() { o.spread = 8 * time.Second })
		quick("cap", func() { o.capAfter = 30 * time.Second })
	}
	o.scenarios = map[string]bool{}
	for _, s := range strings.Split(*scen, ",") {
		s = strings.TrimSpace(strings.ToLower(s))
		switch s {
		case "":
			continue
		case "1":
			s = scThroughput
		case "2":
			s = scMemory
		case "3":
			s = scLeavers
		case "4":
			s = scGoBench
		case "all":
			for _, n := range scenarioOrder {
				o.scenarios[n] = true
			}
			continue
		}
		known := false
		for _, n := range scenarioOrder {
			known = known || n == s
		}
		if !known {
			return nil, fmt.Errorf("-scenarios: unknown scenario %q (want %s, or 1-4)", s, strings.Join(scenarioOrder, ", "))
		}
		o.scenarios[s] = true
	}
	if len(o.scenarios) == 0 {
		return nil, errors.New("-scenarios: none given")
	}
	switch {
	case o.eventKind != "unchanged" && o.eventKind != "inactive":
		return nil, fmt.Errorf("-event %q: want unchanged or inactive", o.eventKind)
	case o.events < 1 || o.users < 1 || o.users > o.events:
		return nil, fmt.Errorf("-events %d, -users %d: want 1 ≤ users ≤ events", o.events, o.users)
	case o.rounds < 1 || o.rounds > o.events:
		return nil, fmt.Errorf("-rounds %d: want 1 ≤ rounds ≤ events", o.rounds)
	case o.memUsers < 1 || o.leavers < 1 || o.backlog < 0:
		return nil, errors.New("-memory-users and -leavers must be positive, -backlog not negative")
	}
	return o, nil
}

// Report is what a run measured: the table's rows, and the details a test
// checks.
type Report struct {
	Rows       []Row
	Throughput *throughputResult // nil unless the throughput scenario ran
	Failed     []string          // scenarios that failed, with the error
}

// run runs the scenarios of args, prints the table to stdout and progress
// to stderr, and returns the report; the error is non-nil when a scenario
// failed or the harness could not start.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (*Report, error) {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	lg := &logger{w: stderr, start: start}
	if o.root == "" {
		if o.root, err = moduleRoot(ctx); err != nil {
			return nil, err
		}
	}
	tmp, err := os.MkdirTemp("", "vccsync-bench.")
	if err != nil {
		return nil, err
	}
	defer func() {
		if o.keep {
			lg.printf("kept %s", tmp)
			return
		}
		_ = os.RemoveAll(tmp)
	}()
	e := &env{root: o.root, dir: tmp, log: lg}

	rep := &Report{}
	fail := func(scenario string, err error) {
		if ctx.Err() != nil {
			return // interrupted: said once below
		}
		lg.printf("%s: FAILED: %v", scenario, err)
		rep.Failed = append(rep.Failed, fmt.Sprintf("%s: %v", scenario, err))
		rep.Rows = append(rep.Rows, Row{Figure: scenario + " (scenario failed)", Measured: "failed", Note: firstLine(err.Error())})
	}

	needBinaries := o.scenarios[scThroughput] || o.scenarios[scMemory] || o.scenarios[scLeavers]
	if needBinaries {
		lg.printf("building syncworker and vcc-sandbox in %s", o.root)
		if err := e.buildBinaries(ctx); err != nil {
			return rep, err
		}
	}
	// The Go benchmarks' test binaries are built while the memory
	// scenario runs (it reports sizes, not speed), and, with -overlap, the
	// benchmarks run while the leavers scenario waits on VCC's rate limit
	// (after its backlogs are published). The throughput scenario runs
	// alone.
	var (
		gb             *goBenchBuild
		goRows         []Row
		goErr          error
		goDone         chan struct{}
		goStart        time.Time
		startGoBuild   = func() {}
		startGoBenches = func() {}
	)
	if o.scenarios[scGoBench] {
		startGoBuild = func() {
			if gb == nil {
				gb = e.buildGoBenches(ctx, selectGoBenches(goBenches, o.goBenchFilter))
			}
		}
		startGoBenches = func() {
			if goDone != nil {
				return
			}
			startGoBuild()
			goDone, goStart = make(chan struct{}), time.Now()
			lg.printf("== %s", scGoBench)
			go func() {
				defer close(goDone)
				goRows, goErr = scenarioGoBench(ctx, e, gb)
			}()
		}
	}
	for _, sc := range scenarioOrder {
		if !o.scenarios[sc] || ctx.Err() != nil {
			continue
		}
		if sc == scGoBench {
			startGoBenches()
			<-goDone
			rep.Rows = append(rep.Rows, goRows...)
			if goErr != nil {
				fail(sc, goErr)
			}
			lg.printf("== %s done in %s", sc, time.Since(goStart).Round(time.Second))
			continue
		}
		t0 := time.Now()
		lg.printf("== %s", sc)
		var rows []Row
		var err error
		switch sc {
		case scThroughput:
			var res *throughputResult
			rows, res, err = scenarioThroughput(ctx, e, o, "")
			rep.Throughput = res
			if mem := memoryFS(); err == nil && mem != "" && o.tmpfs {
				lg.printf("throughput: again with JetStream and bbolt on %s", mem)
				var more []Row
				more, _, err = scenarioThroughput(ctx, e, o, mem)
				rows = append(rows, more...)
			}
		case scMemory:
			startGoBuild()
			rows, err = scenarioMemory(ctx, e, o)
		case scLeavers:
			startGoBuild()
			measuring := func() {}
			if o.overlap {
				measuring = startGoBenches
			}
			rows, err = scenarioLeavers(ctx, e, o, measuring)
		}
		rep.Rows = append(rep.Rows, rows...)
		if err != nil {
			fail(sc, err)
		}
		lg.printf("== %s done in %s", sc, time.Since(t0).Round(time.Second))
	}
	if goDone != nil {
		<-goDone // when a scenario was cut short
	} else if gb != nil {
		gb.wait()
	}
	if ctx.Err() != nil {
		lg.printf("interrupted: subprocesses stopped, temporary files removed")
		return rep, errors.New("interrupted")
	}
	fmt.Fprintf(stdout, "\nvccsync bench: %s, %d CPUs, %s, wall time %s\n\n", quickLabel(o.quick), runtime.NumCPU(), runtime.Version(), time.Since(start).Round(time.Second))
	printTable(stdout, rep.Rows)
	if len(rep.Failed) > 0 {
		return rep, fmt.Errorf("%d scenario(s) failed: %s", len(rep.Failed), strings.Join(rep.Failed, "; "))
	}
	return rep, nil
}

func quickLabel(q bool) string {
	if q {
		return "-quick"
	}
	return "full run"
}

// moduleRoot is the directory of the vccsync module as the bench module
// sees it (its replace directive).
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/vccsync/vccsync").Output()
	if err != nil {
		return "", fmt.Errorf("find the vccsync module (go list -m): %w (run from the bench directory, or pass -root)", err)
	}
	dir := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return "", fmt.Errorf("vccsync module at %q: %w", dir, err)
	}
	return dir, nil
}

// logger prints progress lines to stderr with the time since start; the
// scenarios' goroutines share it.
type logger struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (l *logger) printf(format string, a ...any) {
	line := fmt.Sprintf("[%6.1fs] %s\n", time.Since(l.start).Seconds(), fmt.Sprintf(format, a...))
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, line)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
