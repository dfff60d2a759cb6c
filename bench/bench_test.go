package main

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestQuickThroughput runs the harness as `go run . -quick -scenarios
// throughput` would: it builds the real binaries, runs the worker against
// the standalone sandbox and the two baselines, and prints the table. The
// no-write events must have made no VCC write.
func TestQuickThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real syncworker and vcc-sandbox")
	}
	var stdout bytes.Buffer
	stderr := &syncBuffer{}
	rep, err := run(t.Context(), []string{"-quick", "-scenarios", "throughput"}, &stdout, stderr)
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	table := stdout.String()
	t.Logf("table:\n%s", table)
	header := strings.Fields(firstLineWith(table, "figure"))
	if want := []string{"figure", "goal", "measured", "baseline", "ratio", "met"}; !slices.Equal(header, want) {
		t.Errorf("header %q, want %q", header, want)
	}
	for _, row := range []string{"no-write events end to end (events/s)", "no-write events vs Watermill (events/s)"} {
		line := firstLineWith(table, row)
		if line == "" {
			t.Errorf("no row %q", row)
			continue
		}
		if !strings.Contains(line, "/s") || !strings.Contains(line, "×") || !strings.ContainsAny(line, "✓✗") {
			t.Errorf("row %q lacks a rate, a ratio or a mark: %q", row, line)
		}
	}
	if !strings.Contains(table, "the sandbox answered 0 VCC writes") {
		t.Errorf("the table does not report zero VCC writes")
	}
	res := rep.Throughput
	if res == nil {
		t.Fatal("no throughput result")
	}
	if res.Writes != 0 {
		t.Errorf("the no-write events made %d VCC writes", res.Writes)
	}
	if got := int(res.Outcomes["unchanged"]); got != res.Events || res.Events != 5000 {
		t.Errorf("%d of %d events unchanged (outcomes %v)", got, res.Events, res.Outcomes)
	}
	for name, v := range map[string]float64{"worker": res.Worker, "raw": res.Raw, "watermill": res.Watermill} {
		if !(v > 0) || math.IsInf(v, 0) {
			t.Errorf("%s rate %v", name, v)
		}
	}
}

func TestParseBenchOutput(t *testing.T) {
	out := `goos: linux
BenchmarkWorkerThroughput-2   	       1	10797837345 ns/op	      1852 raw_events/s	 0.5200 worker/raw	 963.0 worker_events/s
BenchmarkAdaptiveRate/L=60/adaptive-sandbox-2         	some log line the benchmark printed
       1	 500 ns/op	 97.10 %used
BenchmarkStoreSize100k/order=id-2 	 1	 5 ns/op	 727.7 file-B/user	 4207 v1-file-B/user
BenchmarkStoreSize100k/order=random-2 	 1	 5 ns/op	 945.2 file-B/user	 3433 v1-file-B/user	 3.632 v1/v2-file-x
PASS
`
	res := parseBenchOutput(out, 2)
	w := res["BenchmarkWorkerThroughput"]
	if w == nil || w.metrics["worker/raw"] != 0.52 || w.metrics["raw_events/s"] != 1852 || len(w.units) != 4 {
		t.Fatalf("BenchmarkWorkerThroughput: %+v", w)
	}
	if a := res["BenchmarkAdaptiveRate/L=60/adaptive-sandbox"]; a == nil || a.metrics["%used"] != 97.1 {
		t.Errorf("figures on a later line: %+v", a)
	}
	if r := findBench(res, "BenchmarkStoreSize100k/order=random", "file-B/user"); r == nil || r.metrics["file-B/user"] != 945.2 {
		t.Errorf("named sub-benchmark: %+v", r)
	}
	if r := findBench(res, "BenchmarkStoreSize100k", "file-B/user"); r == nil || r.name != "BenchmarkStoreSize100k/order=id" {
		t.Errorf("first sub-benchmark: %+v", r)
	}
	if r := findBench(res, "BenchmarkStoreSize100k", "file-B/user", "v1-file-B/user", "v1/v2-file-x"); r == nil || r.name != "BenchmarkStoreSize100k/order=random" {
		t.Errorf("the sub-benchmark that reports every unit: %+v", r)
	}
	if r := findBench(res, "BenchmarkNone", "x"); r != nil {
		t.Errorf("BenchmarkNone found: %+v", r)
	}

	row := goBenchToRow(goBenches[0], res, "")
	if row.Measured != "963/s" || row.Baseline != "raw 1,852/s" || row.Ratio != "0.52×" || row.Met != 1 {
		t.Errorf("worker row: %+v", row)
	}
	missing := goBenchRow{Figure: "x", Goal: atMost(1, "1"), Pkg: "./pkg/store", Bench: "BenchmarkStoreSize100k",
		Measured: "bytes/user", Baseline: "v1_bytes/user", Format: number}
	row = goBenchToRow(missing, res, "")
	if row.Measured != "no bytes/user" || row.Met != 0 || !strings.Contains(row.Note, "727.7 file-B/user") {
		t.Errorf("row with a missing unit: %+v", row)
	}
	row = goBenchToRow(goBenchRow{Figure: "y", Goal: noGoal(), Pkg: "./pkg/x", Bench: "BenchmarkNone", Format: number}, res, "")
	if row.Measured != "not found" {
		t.Errorf("row of a missing benchmark: %+v", row)
	}
}

func TestParseProm(t *testing.T) {
	in := `# HELP vccsync_events_total x
# TYPE vccsync_events_total counter
vccsync_events_total{outcome="unchanged",type="salesforce.user.changed"} 2500
vccsync_events_total{outcome="odd \"one\"",type="t"} 1
vccsync_ready 1
`
	m, err := parseProm(strings.NewReader(in))
	if err != nil || len(m) != 3 {
		t.Fatalf("%v %+v", err, m)
	}
	if m[0].labels["outcome"] != "unchanged" || m[0].labels["type"] != "salesforce.user.changed" || m[0].value != 2500 {
		t.Errorf("%+v", m[0])
	}
	if m[1].labels["outcome"] != `odd "one"` || m[1].labels["type"] != "t" {
		t.Errorf("escaped label: %+v", m[1])
	}
	if m[2].name != "vccsync_ready" || m[2].value != 1 {
		t.Errorf("%+v", m[2])
	}
}

func TestFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{group(19000), "19,000"}, {group(999), "999"}, {group(-1234567), "-1,234,567"},
		{rate(9800.4), "9,800/s"}, {bytesStr(612), "612 B"}, {bytesStr(92_600_000), "88.3 MiB"},
		{fmtRatio(0.5213), "0.52×"}, {fmtRatio(0.002756), "0.0028×"}, {fmtRatio(3.651), "3.65×"}, {number(0.8571), "0.857"}, {kilo(10000), "10k"}, {kilo(2500), "2.5k"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func firstLineWith(s, sub string) string {
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			return line
		}
	}
	return ""
}

// syncBuffer is a bytes.Buffer safe for the harness's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
