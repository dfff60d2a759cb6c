package ratelimit

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

var benchScale = flag.Float64("ratelimit.scale", 0,
	"run BenchmarkAdaptiveRate on a ScaledClock this many times faster than wall time instead of the discrete-event clock "+
		"(the callers must then keep up with L/60 × scale requests a second of wall time, or the figures measure the machine)")

// The benchmark's run: 16 callers for 30 virtual minutes, measured over the
// last 20 (and whole).
var benchRun = simConfig{callers: 16, length: 30 * time.Minute, warmUp: 10 * time.Minute}

// Goals of the adaptive limiter, after the warm-up.
const (
	goalUsed = 0.95 // of the limit
	goal429  = 0.01 // of the calls
)

// baselineRate is the fixed limiter the adaptive one replaces (--vcc-rate 160).
const baselineRate = 160

// BenchmarkAdaptiveRate measures how much of an unknown VCC limit the
// Adaptive limiter uses, and how many calls VCC answers 429, against the
// fixed 160/min limiter as the baseline in the same run.
//
// For each limit L (60, 600, 6000 a minute) 16 callers call as fast as
// their limiter lets them for 30 virtual minutes against a sliding 60 s
// window of L requests the limiter does not know, started at 160/min:
//   - sandbox: through the real pieces, a vcc.Client (Config.Limiter, no
//     retries) calling GET /useradmin/users/{userId} of the VCC sandbox
//     (VCCOptions.RateLimitPerMinute, VCCOptions.Now) over loopback HTTP;
//   - memory: the same window simulated in memory, no HTTP;
//
// and the fixed 160/min limiter (pkg/vcc's default: burst 10, deaf to
// 429s) through the sandbox. Time is a discrete-event clock (see
// eventClock): it stands still while a caller runs, so a run takes as long
// as its requests take to serve (the L=6000 sandbox run, ~150k requests,
// most of it) and its figures do not depend on the machine's load; replies
// take no virtual time. "-args -ratelimit.scale=N" runs on a ScaledClock N
// times faster than wall time instead (at N=120 the L=6000 sandbox run
// needs 12,000 requests a second: more than two cores serve).
//
// Metrics: %used is the requests accepted a minute over the last 20
// minutes / L, %429 the share of calls answered 429 over the same span;
// %used-all and %429-all the same over the whole run, start-up included.
// A table of figure, goal, measured and baseline is printed at the end.
//
//	go test -run XXX -bench AdaptiveRate -benchtime 1x ./pkg/ratelimit/
func BenchmarkAdaptiveRate(b *testing.B) {
	type key struct {
		limit int
		name  string
	}
	results := map[key]simResult{}
	limits := []int{60, 600, 6000}
	variants := []struct {
		name     string
		adaptive bool
		sandbox  bool
	}{
		{"adaptive-sandbox", true, true},
		{"adaptive-memory", true, false},
		{"fixed160-sandbox", false, true},
	}
	for _, limit := range limits {
		for _, v := range variants {
			b.Run(fmt.Sprintf("L=%d/%s", limit, v.name), func(b *testing.B) {
				var res simResult
				for range b.N {
					clock := benchClock()
					var (
						lim limiter
						a   *Adaptive
					)
					if v.adaptive {
						var err error
						if a, err = NewAdaptive(Config{Clock: clock}); err != nil {
							b.Fatal(err)
						}
						lim = a
					} else {
						lim = newFixed(clock, baselineRate)
					}
					call := memCaller(clock, limit, lim, 0)
					if v.sandbox {
						call = sandboxCaller(b, clock, limit, lim)
					}
					res = simulate(b, benchRun, clock, limit, call, a)
				}
				b.ReportMetric(100*res.usedWarm, "%used")
				b.ReportMetric(100*res.share429Warm, "%429")
				b.ReportMetric(100*res.used, "%used-all")
				b.ReportMetric(100*res.share429, "%429-all")
				if v.adaptive {
					b.Logf("rate at the end of each minute: %s", ratesString(res.rates))
				}
				results[key{limit, v.name}] = res
			})
		}
	}

	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
	measured := func(m float64) string { return fmt.Sprintf("%.2f%%\t", 100*m) }
	warm := benchRun.length - benchRun.warmUp
	fmt.Fprintf(tw, "limit\tfigure\tgoal\tadaptive, sandbox\tadaptive, memory\tfixed %d/min, sandbox\t\n", baselineRate)
	for _, limit := range limits {
		rows := []struct {
			figure string
			goal   string
			of     func(simResult) float64
		}{
			{fmt.Sprintf("limit used, last %v", warm), fmt.Sprintf("≥ %.0f%%", 100*goalUsed), func(r simResult) float64 { return r.usedWarm }},
			{fmt.Sprintf("429s, last %v", warm), fmt.Sprintf("≤ %.0f%%", 100*goal429), func(r simResult) float64 { return r.share429Warm }},
			{fmt.Sprintf("limit used, whole %v", benchRun.length), "-", func(r simResult) float64 { return r.used }},
			{fmt.Sprintf("429s, whole %v", benchRun.length), "-", func(r simResult) float64 { return r.share429 }},
		}
		for _, row := range rows {
			fmt.Fprintf(tw, "%d/min\t%s\t%s\t", limit, row.figure, row.goal)
			for _, v := range variants {
				if r, ok := results[key{limit, v.name}]; ok {
					fmt.Fprint(tw, measured(row.of(r)))
				} else {
					fmt.Fprint(tw, "-\t")
				}
			}
			fmt.Fprintln(tw)
		}
	}
	_ = tw.Flush()
	// A parent benchmark's log is not printed: the table goes to stdout.
	fmt.Printf("\nAdaptive limiter vs a sliding 60 s window of L requests unknown to it: %d callers, %v virtual from %d/min, measured over the last %v and the whole run\n%s\n",
		benchRun.callers, benchRun.length, baselineRate, warm, sb.String())
	for k, r := range results {
		if strings.HasPrefix(k.name, "adaptive") && (r.usedWarm < goalUsed || r.share429Warm > goal429) {
			b.Errorf("%s, L=%d/min: goal missed: %v", k.name, k.limit, r)
		}
	}
}

// benchClock is the clock of one benchmark run.
func benchClock() Clock {
	if *benchScale > 0 {
		return NewScaledClock(simStart, *benchScale)
	}
	return newEventClock(simStart)
}
