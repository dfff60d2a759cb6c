package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

	"github.com/spf13/pflag"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/dlq"
	"github.com/vccsync/vccsync/pkg/events"
)

const dlqListUsage = `Lists the messages of VCCSYNC_DLQ that match the filters (every message
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

{filters}`

func registerDLQList(o *dlqOptions, fs *pflag.FlagSet) {
	o.registerFilters(fs)
	fs.BoolVar(&o.json, "json", false, "print one JSON document (messages and histogram) instead of text")
}

// dlqPrintHistogram writes the histogram as text, with bars of # up to 40 wide.
func dlqPrintHistogram(w io.Writer, h *dlq.Histogram, stored uint64) {
	if h.Total == 0 {
		fmt.Fprintf(w, "no message matches (%s holds %d)\n", events.DLQStream, stored)
		return
	}
	fmt.Fprintf(w, "%d %s (%s holds %d)\n", h.Total, dlqPlural(h.Total, "message", "messages"), events.DLQStream, stored)
	for _, part := range []struct {
		title string
		m     map[string]int
	}{{"by class:", h.ByClass}, {"by reason:", h.ByReason}} {
		fmt.Fprintln(w, part.title)
		counts := dlq.Sorted(part.m)
		width := len(strconv.Itoa(counts[0].Count))
		for _, c := range counts {
			bar := max(1, c.Count*40/counts[0].Count)
			fmt.Fprintf(w, "  %*d  %-40s  %s\n", width, c.Count, strings.Repeat("#", bar), c.Reason)
		}
	}
}

func runDLQList(ctx context.Context, a *cli.App, o *dlqOptions, _ []string, _ dlqEnv) error {
	stdout, stderr := a.Stdout, a.Stderr
	d, closeConn, err := dlqOpen(ctx, a, o)
	if err != nil {
		return cli.Fail(err)
	}
	defer closeConn()
	p, err := d.Plan(ctx, o.filter)
	if err != nil {
		return cli.Fail(err)
	}

	h := dlq.NewHistogram()
	var rows []*dlq.Letter
	var tw *tabwriter.Writer
	if !o.json {
		tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	}
	err = d.Scan(ctx, p, o.filter, func(l *dlq.Letter) error {
		h.Add(l)
		if o.json {
			rows = append(rows, l)
			return nil
		}
		if h.Total == 1 {
			fmt.Fprintln(tw, "SEQ\tFAILED-AT\tCLASS\tTYPE\tUSER\tDELIVERIES\tREPLAYS\tERROR")
		}
		replays := strconv.Itoa(l.Replays)
		if l.ReplaysErr != "" {
			replays = "?"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Seq, l.Failed.Format(time.RFC3339),
			dlqDash(l.Class), dlqDash(l.Type), dlqDash(l.User), dlqDash(l.Deliveries), replays, dlqDash(l.ErrorLine(80)))
		return nil
	}, func(seq uint64) {
		fmt.Fprintf(stderr, "vccctl dlq list: seq %d: not in %s (replayed, purged or expired?)\n", seq, events.DLQStream)
	})
	if o.json {
		if rows == nil {
			rows = []*dlq.Letter{}
		}
		doc := struct {
			Messages []*dlq.Letter  `json:"messages"`
			Total    int            `json:"total"`
			Stored   uint64         `json:"stored"`
			ByClass  map[string]int `json:"byClass"`
			ByReason []dlq.Count    `json:"byReason"`
		}{rows, h.Total, p.Stored, h.ByClass, dlq.Sorted(h.ByReason)}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if eerr := enc.Encode(doc); eerr != nil && err == nil {
			err = eerr
		}
	} else {
		tw.Flush()
		if h.Total > 0 {
			fmt.Fprintln(stdout)
		}
		dlqPrintHistogram(stdout, h, p.Stored)
	}
	if err != nil {
		return cli.Fail(dlqInterrupted(err))
	}
	return nil
}

func dlqDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// dlqInterrupted words an interruption for an operator.
func dlqInterrupted(err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted")
	}
	return err
}

const dlqShowUsage = `Shows messages of VCCSYNC_DLQ by their DLQ sequence (SEQ as list prints
it; A-B for a range): the error and its class, every header, and the
original body (indented when it is JSON). With --json, one JSON document per
message: {"seq":…,"subject":…,"stored":…,"class":…,"error":…,
"headers":{"Name":["value",…]},"body":<the JSON body>} ("bodyText" instead
of "body" when the body is not JSON).

Exit status 1 when a SEQ is not in the DLQ (replayed, purged or expired).`

func registerDLQShow(o *dlqOptions, fs *pflag.FlagSet) {
	fs.BoolVar(&o.json, "json", false, "print one JSON document per message instead of text")
}

func runDLQShow(ctx context.Context, a *cli.App, o *dlqOptions, pos []string, _ dlqEnv) error {
	stdout, stderr := a.Stdout, a.Stderr
	seqs, err := dlq.ParseSeqs(pos)
	if err != nil {
		return cli.Usagef("SEQ %v", err)
	}
	d, closeConn, err := dlqOpen(ctx, a, o)
	if err != nil {
		return cli.Fail(err)
	}
	defer closeConn()
	f := &dlq.Filter{Seqs: seqs}
	p, err := d.Plan(ctx, f)
	if err != nil {
		return cli.Fail(err)
	}
	code, shown := cli.ExitOK, 0
	err = d.Scan(ctx, p, f, func(l *dlq.Letter) error {
		if o.json {
			return dlqShowJSON(stdout, l)
		}
		if shown > 0 {
			fmt.Fprintln(stdout)
		}
		shown++
		dlqShowText(stdout, l)
		return nil
	}, func(seq uint64) {
		fmt.Fprintf(stderr, "vccctl dlq show: seq %d: not in %s (replayed, purged or expired?)\n", seq, events.DLQStream)
		code = cli.ExitFail
	})
	if err != nil {
		return cli.Fail(dlqInterrupted(err))
	}
	return cli.Exit(code)
}

func dlqShowText(w io.Writer, l *dlq.Letter) {
	fmt.Fprintf(w, "seq:      %d\n", l.Seq)
	fmt.Fprintf(w, "subject:  %s\n", l.Subject)
	fmt.Fprintf(w, "stored:   %s\n", l.Stored.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(w, "class:    %s\n", dlqDash(l.Class))
	fmt.Fprintf(w, "error:    %s\n", dlqDash(l.Error))
	fmt.Fprintln(w, "headers:")
	for _, k := range slices.Sorted(maps.Keys(l.Header)) {
		for _, v := range l.Header[k] {
			fmt.Fprintf(w, "  %s: %s\n", k, v)
		}
	}
	switch {
	case len(l.Data) == 0:
		fmt.Fprintln(w, "body:     (empty)")
	case json.Valid(l.Data):
		var b bytes.Buffer
		_ = json.Indent(&b, l.Data, "", "  ")
		fmt.Fprintf(w, "body (%d bytes, JSON):\n%s\n", len(l.Data), b.String())
	case utf8.Valid(l.Data) && !strings.ContainsFunc(string(l.Data), func(r rune) bool {
		return !unicode.IsPrint(r) && !unicode.IsSpace(r)
	}):
		fmt.Fprintf(w, "body (%d bytes, not JSON):\n%s\n", len(l.Data), strings.TrimRight(string(l.Data), "\n"))
	default:
		fmt.Fprintf(w, "body (%d bytes, not JSON, not text):\n%q\n", len(l.Data), l.Data)
	}
}

func dlqShowJSON(w io.Writer, l *dlq.Letter) error {
	doc := struct {
		Seq      uint64              `json:"seq"`
		Subject  string              `json:"subject"`
		Stored   time.Time           `json:"stored"`
		Class    string              `json:"class,omitempty"`
		Error    string              `json:"error,omitempty"`
		Headers  map[string][]string `json:"headers"`
		Body     json.RawMessage     `json:"body,omitempty"`
		BodyText *string             `json:"bodyText,omitempty"`
	}{Seq: l.Seq, Subject: l.Subject, Stored: l.Stored.UTC(), Class: l.Class, Error: l.Error, Headers: l.Header}
	if doc.Headers == nil {
		doc.Headers = map[string][]string{}
	}
	if json.Valid(l.Data) {
		doc.Body = l.Data
	} else {
		s := string(l.Data)
		doc.BodyText = &s
	}
	return json.NewEncoder(w).Encode(doc)
}
