package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vccsync/vccsync/pkg/events"
)

func dlqListUsage(w io.Writer, flags func(io.Writer)) {
	fmt.Fprintln(w, `usage: publisher dlq list [flags]

Lists the messages of VCCSYNC_DLQ that match the filters (every message
without one), oldest first, one line each:

  SEQ  FAILED-AT  CLASS  TYPE  USER  DELIVERIES  REPLAYS  ERROR

(SEQ is the DLQ sequence that show, replay and purge take; ERROR is cut at
80 characters: show prints it whole), then a histogram of the reasons: by
error class, and by the error's first clause (the text before its first
": ", with numbers and quoted text blanked, after "gave up after N
attempts" for an exhausted message).

With --json it prints one JSON document instead:
  {"messages":[{"seq":…,"failedAt":…,"class":…,"error":…,…}],
   "total":N,"byClass":{"permanent":N,…},"byReason":[{"reason":…,"count":N},…]}

`+dlqFiltersDoc+`

flags:`)
	flags(w)
}

func registerDLQList(o *dlqOptions, fs *flag.FlagSet) {
	o.registerFilters(fs)
	fs.BoolVar(&o.json, "json", false, "print one JSON document (messages and histogram) instead of text")
}

// dlqHistogram counts messages by class and by reason.
type dlqHistogram struct {
	total    int
	byClass  map[string]int
	byReason map[string]int
}

func newDLQHistogram() *dlqHistogram {
	return &dlqHistogram{byClass: map[string]int{}, byReason: map[string]int{}}
}

func (h *dlqHistogram) add(d *dlqDesc) {
	h.total++
	c := d.Class
	if c == "" {
		c = "(none)"
	}
	h.byClass[c]++
	h.byReason[d.Reason]++
}

// dlqCount is one bar of the histogram.
type dlqCount struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// dlqSorted returns the counts of m, largest first.
func dlqSorted(m map[string]int) []dlqCount {
	out := make([]dlqCount, 0, len(m))
	for k, v := range m {
		out = append(out, dlqCount{Reason: k, Count: v})
	}
	slices.SortFunc(out, func(a, b dlqCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}

// print writes the histogram as text, with bars of # up to 40 wide.
func (h *dlqHistogram) print(w io.Writer, stored uint64) {
	if h.total == 0 {
		fmt.Fprintf(w, "no message matches (%s holds %d)\n", events.DLQStream, stored)
		return
	}
	fmt.Fprintf(w, "%d %s (%s holds %d)\n", h.total, dlqPlural(h.total, "message", "messages"), events.DLQStream, stored)
	for _, part := range []struct {
		title string
		m     map[string]int
	}{{"by class:", h.byClass}, {"by reason:", h.byReason}} {
		fmt.Fprintln(w, part.title)
		counts := dlqSorted(part.m)
		width := len(strconv.Itoa(counts[0].Count))
		for _, c := range counts {
			bar := max(1, c.Count*40/counts[0].Count)
			fmt.Fprintf(w, "  %*d  %-40s  %s\n", width, c.Count, strings.Repeat("#", bar), c.Reason)
		}
	}
}

func dlqPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func runDLQList(ctx context.Context, o *dlqOptions, _ []string, _ dlqEnv, _ io.Reader, stdout, stderr io.Writer) int {
	r, closeConn, err := dlqOpen(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "publisher dlq list: %v\n", err)
		return exitFail
	}
	defer closeConn()
	p, err := r.plan(ctx, o.filter)
	if err != nil {
		fmt.Fprintf(stderr, "publisher dlq list: %v\n", err)
		return exitFail
	}

	h := newDLQHistogram()
	var rows []*dlqDesc
	var tw *tabwriter.Writer
	if !o.json {
		tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	}
	err = r.scan(ctx, p, o.filter, func(_ *dlqMsg, d *dlqDesc) error {
		h.add(d)
		if o.json {
			rows = append(rows, d)
			return nil
		}
		if h.total == 1 {
			fmt.Fprintln(tw, "SEQ\tFAILED-AT\tCLASS\tTYPE\tUSER\tDELIVERIES\tREPLAYS\tERROR")
		}
		replays := strconv.Itoa(d.Replays)
		if d.replaysErr != "" {
			replays = "?"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Seq, d.failedAt.Format(time.RFC3339),
			dlqDash(d.Class), dlqDash(d.Type), dlqDash(d.User), dlqDash(d.Deliveries), replays, dlqDash(dlqTruncate(dlqOneLine(d.Error), 80)))
		return nil
	}, func(seq uint64) {
		fmt.Fprintf(stderr, "publisher dlq list: seq %d: not in %s (replayed, purged or expired?)\n", seq, events.DLQStream)
	})
	if o.json {
		if rows == nil {
			rows = []*dlqDesc{}
		}
		doc := struct {
			Messages []*dlqDesc     `json:"messages"`
			Total    int            `json:"total"`
			Stored   uint64         `json:"stored"`
			ByClass  map[string]int `json:"byClass"`
			ByReason []dlqCount     `json:"byReason"`
		}{rows, h.total, p.msgs, h.byClass, dlqSorted(h.byReason)}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if eerr := enc.Encode(doc); eerr != nil && err == nil {
			err = eerr
		}
	} else {
		tw.Flush()
		if h.total > 0 {
			fmt.Fprintln(stdout)
		}
		h.print(stdout, p.msgs)
	}
	if err != nil {
		fmt.Fprintf(stderr, "publisher dlq list: %v\n", dlqInterrupted(err))
		return exitFail
	}
	return exitOK
}

func dlqDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// dlqOneLine puts a multi-line text on one line.
func dlqOneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), " ")
}

// dlqInterrupted words an interruption for an operator.
func dlqInterrupted(err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted")
	}
	return err
}

func dlqShowUsage(w io.Writer, flags func(io.Writer)) {
	fmt.Fprintln(w, `usage: publisher dlq show [flags] SEQ [SEQ…]

Shows messages of VCCSYNC_DLQ by their DLQ sequence (SEQ as list prints
it; A-B for a range): the error and its class, every header, and the
original body (indented when it is JSON). With --json, one JSON document per
message: {"seq":…,"subject":…,"stored":…,"class":…,"error":…,
"headers":{"Name":["value",…]},"body":<the JSON body>} ("bodyText" instead
of "body" when the body is not JSON).

Exit status 1 when a SEQ is not in the DLQ (replayed, purged or expired).

flags:`)
	flags(w)
}

func registerDLQShow(o *dlqOptions, fs *flag.FlagSet) {
	fs.BoolVar(&o.json, "json", false, "print one JSON document per message instead of text")
}

func runDLQShow(ctx context.Context, o *dlqOptions, pos []string, _ dlqEnv, _ io.Reader, stdout, stderr io.Writer) int {
	seqs, err := dlqParseSeqs(pos)
	if err != nil {
		fmt.Fprintf(stderr, "publisher dlq show: SEQ %v\n", err)
		return exitUsage
	}
	r, closeConn, err := dlqOpen(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "publisher dlq show: %v\n", err)
		return exitFail
	}
	defer closeConn()
	f := &dlqFilter{seqs: seqs}
	p, err := r.plan(ctx, f)
	if err != nil {
		fmt.Fprintf(stderr, "publisher dlq show: %v\n", err)
		return exitFail
	}
	code, shown := exitOK, 0
	err = r.scan(ctx, p, f, func(m *dlqMsg, d *dlqDesc) error {
		if o.json {
			return dlqShowJSON(stdout, m, d)
		}
		if shown > 0 {
			fmt.Fprintln(stdout)
		}
		shown++
		dlqShowText(stdout, m, d)
		return nil
	}, func(seq uint64) {
		fmt.Fprintf(stderr, "publisher dlq show: seq %d: not in %s (replayed, purged or expired?)\n", seq, events.DLQStream)
		code = exitFail
	})
	if err != nil {
		fmt.Fprintf(stderr, "publisher dlq show: %v\n", dlqInterrupted(err))
		return exitFail
	}
	return code
}

func dlqShowText(w io.Writer, m *dlqMsg, d *dlqDesc) {
	fmt.Fprintf(w, "seq:      %d\n", m.seq)
	fmt.Fprintf(w, "subject:  %s\n", m.subject)
	fmt.Fprintf(w, "stored:   %s\n", m.stored.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(w, "class:    %s\n", dlqDash(d.Class))
	fmt.Fprintf(w, "error:    %s\n", dlqDash(d.Error))
	fmt.Fprintln(w, "headers:")
	for _, k := range slices.Sorted(maps.Keys(m.header)) {
		for _, v := range m.header[k] {
			fmt.Fprintf(w, "  %s: %s\n", k, v)
		}
	}
	switch {
	case len(m.data) == 0:
		fmt.Fprintln(w, "body:     (empty)")
	case json.Valid(m.data):
		var b bytes.Buffer
		_ = json.Indent(&b, m.data, "", "  ")
		fmt.Fprintf(w, "body (%d bytes, JSON):\n%s\n", len(m.data), b.String())
	case utf8.Valid(m.data) && !strings.ContainsFunc(string(m.data), func(r rune) bool {
		return !unicode.IsPrint(r) && !unicode.IsSpace(r)
	}):
		fmt.Fprintf(w, "body (%d bytes, not JSON):\n%s\n", len(m.data), strings.TrimRight(string(m.data), "\n"))
	default:
		fmt.Fprintf(w, "body (%d bytes, not JSON, not text):\n%q\n", len(m.data), m.data)
	}
}

func dlqShowJSON(w io.Writer, m *dlqMsg, d *dlqDesc) error {
	doc := struct {
		Seq      uint64              `json:"seq"`
		Subject  string              `json:"subject"`
		Stored   time.Time           `json:"stored"`
		Class    string              `json:"class,omitempty"`
		Error    string              `json:"error,omitempty"`
		Headers  map[string][]string `json:"headers"`
		Body     json.RawMessage     `json:"body,omitempty"`
		BodyText *string             `json:"bodyText,omitempty"`
	}{Seq: m.seq, Subject: m.subject, Stored: m.stored.UTC(), Class: d.Class, Error: d.Error, Headers: m.header}
	if doc.Headers == nil {
		doc.Headers = map[string][]string{}
	}
	if json.Valid(m.data) {
		doc.Body = m.data
	} else {
		s := string(m.data)
		doc.BodyText = &s
	}
	return json.NewEncoder(w).Encode(doc)
}
