package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Row is one line of the table.
type Row struct {
	Figure   string
	Goal     string
	Measured string
	Baseline string
	Ratio    string
	// Met is +1 when the goal is met, -1 when it is not, 0 when there is
	// no goal or nothing to judge it by.
	Met int
	// Note is printed under the table, numbered: how the figure was
	// measured, and checks (e.g. the VCC writes the sandbox saw).
	Note string
}

// goal is a row's target and how to judge a measurement against it.
type goal struct {
	text string
	// ok judges measured (m), baseline (b) and ratio (r); nil: not judged.
	ok func(m, b, r float64) bool
	// onRatio: the goal is about the ratio, which must be known.
	onRatio bool
}

func (g goal) judge(m, b, r float64) int {
	if g.ok == nil || math.IsNaN(m) || (g.onRatio && math.IsNaN(r)) {
		return 0
	}
	if g.ok(m, b, r) {
		return 1
	}
	return -1
}

func ratioAtLeast(x float64, of string) goal {
	return goal{text: "≥" + trimFloat(x) + "× " + of, ok: func(_, _, r float64) bool { return r >= x }, onRatio: true}
}

func ratioAtMost(x float64, of string) goal {
	return goal{text: "≤" + trimFloat(x) + "× " + of, ok: func(_, _, r float64) bool { return r <= x }, onRatio: true}
}

func ratioBelow(x float64, of string) goal {
	return goal{text: "<" + trimFloat(x) + "× " + of, ok: func(_, _, r float64) bool { return r < x }, onRatio: true}
}

func atLeast(x float64, text string) goal {
	return goal{text: "≥ " + text, ok: func(m, _, _ float64) bool { return m >= x }}
}

func atMost(x float64, text string) goal {
	return goal{text: "≤ " + text, ok: func(m, _, _ float64) bool { return m <= x }}
}

func noGoal() goal { return goal{text: "—"} }

// printTable writes the rows as aligned columns, then the notes.
func printTable(w io.Writer, rows []Row) {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "figure\tgoal\tmeasured\tbaseline\tratio\tmet\t")
	var notes []string
	for _, r := range rows {
		mark := ""
		switch r.Met {
		case 1:
			mark = "✓"
		case -1:
			mark = "✗"
		}
		fig := r.Figure
		if r.Note != "" {
			notes = append(notes, r.Note)
			fig += fmt.Sprintf(" [%d]", len(notes))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", fig, dash(r.Goal), dash(r.Measured), dash(r.Baseline), dash(r.Ratio), mark)
	}
	_ = tw.Flush()
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for i, n := range notes {
			fmt.Fprintf(w, "[%d] %s\n", i+1, n)
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// ratio formats m/b as "0.52×".
func ratio(m, b float64) (string, float64) {
	if b == 0 || math.IsNaN(m) || math.IsNaN(b) {
		return "", math.NaN()
	}
	r := m / b
	return fmtRatio(r), r
}

func fmtRatio(r float64) string {
	switch {
	case math.IsNaN(r):
		return ""
	case r >= 100:
		return fmt.Sprintf("%.0f×", r)
	case r >= 10:
		return fmt.Sprintf("%.1f×", r)
	case r != 0 && math.Abs(r) < 0.1:
		return strconv.FormatFloat(r, 'g', 2, 64) + "×"
	}
	return fmt.Sprintf("%.2f×", r)
}

// group formats n with thousands separators: 19000 → "19,000".
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// rate formats events a second: "9,800/s".
func rate(v float64) string { return group(int64(math.Round(v))) + "/s" }

// bytesStr formats a size: "612 B", "5.8 KiB", "88.3 MiB".
func bytesStr(v float64) string {
	switch {
	case v >= 1<<30:
		return fmt.Sprintf("%.2f GiB", v/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case v >= 10*1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B", v)
}

// seconds formats a duration in seconds: "4.2 s".
func seconds(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.2f s", v)
	}
	return fmt.Sprintf("%.1f s", v)
}

// nanos formats nanoseconds: "812 ns", "12.3 µs", "4.1 ms".
func nanos(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f s", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.1f ms", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f µs", v/1e3)
	}
	return fmt.Sprintf("%.0f ns", v)
}

// percent formats a metric already in percent: "97.3%".
func percent(v float64) string {
	if v != 0 && math.Abs(v) < 1 {
		return fmt.Sprintf("%.2f%%", v)
	}
	return fmt.Sprintf("%.1f%%", v)
}

// number formats a plain metric: at most three decimals, no trailing zeros.
func number(v float64) string {
	if math.Abs(v) >= 1000 {
		return group(int64(math.Round(v)))
	}
	return trimFloat(math.Round(v*1000) / 1000)
}

func trimFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
