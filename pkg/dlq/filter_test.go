package dlq

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseSeqs(t *testing.T) {
	for in, want := range map[string]string{
		"5":              "[{5 5 true}]",
		"5,3,5":          "[{3 3 true} {5 5 true}]",
		"1-3,2-6,8-9,7":  "[{1 6 false} {7 7 true} {8 9 false}]",
		"4,1-3":          "[{1 3 false} {4 4 true}]",
		"10-12,11,1":     "[{1 1 true} {10 12 false}]",
		"3-3":            "[{3 3 false}]",
		"1-2, 20-30, 25": "[{1 2 false} {20 30 false}]",
	} {
		got, err := ParseSeqs(SplitList([]string{in}))
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("ParseSeqs(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"0":     `"0": want a sequence (1, 2, …) or a range A-B`,
		"a":     `"a": want a sequence (1, 2, …) or a range A-B`,
		"3-1":   `"3-1": want a range A-B with A <= B`,
		"1-":    `"1-": want a range A-B with A <= B`,
		"-3":    `"-3": want a sequence (1, 2, …) or a range A-B`,
		"1-2-3": `"1-2-3": want a range A-B with A <= B`,
	} {
		if _, err := ParseSeqs([]string{in}); err == nil || err.Error() != want {
			t.Errorf("ParseSeqs(%q) error %v, want %s", in, err, want)
		}
	}
}

func TestSplitList(t *testing.T) {
	if got := SplitList([]string{"a,b", " c ,,", ""}); fmt.Sprint(got) != "[a b c]" {
		t.Errorf("SplitList = %q", got)
	}
}

func TestParseValues(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		got  func() (string, error)
		want string // value, or "error: …" for an error
	}{
		{"class", func() (string, error) { return ParseClass("poison") }, "poison"},
		{"bad class", func() (string, error) { return ParseClass("fatal") }, `error: "fatal": want poison, permanent or exhausted`},
		{"type", func() (string, error) { return ParseType("salesforce.user.changed") }, "salesforce.user.changed"},
		{"type prefix", func() (string, error) { return ParseType("vccsync.command.*") }, "vccsync.command.*"},
		{"type inner star", func() (string, error) { return ParseType("vccsync.*.x") }, `error: "vccsync.*.x": want an event type, or a prefix ending in *`},
		{"type space", func() (string, error) { return ParseType("a b") }, `error: "a b": want an event type, or a prefix ending in *`},
		{"user 15", func() (string, error) { return ParseUser("0055e000001Jane") }, "0055e000001JaneAAC"},
		{"user 18", func() (string, error) { return ParseUser("0055e000001JaneAAC") }, "0055e000001JaneAAC"},
		{"not a user", func() (string, error) { return ParseUser("0015e000001AbCd") }, `error: "0015e000001AbCd": `},
		{"RFC 3339", timeOf("2026-11-20T10:15:00+01:00", now), "2026-11-20T09:15:00Z"},
		{"date", timeOf("2026-11-19", now), "2026-11-19T00:00:00Z"},
		{"minutes", timeOf("2026-11-19T08:30", now), "2026-11-19T08:30:00Z"},
		{"duration", timeOf("36h", now), "2026-11-19T00:00:00Z"},
		{"negative duration", timeOf("-1h", now), `error: "-1h": a duration before now must be positive`},
		{"words", timeOf("yesterday", now), `error: "yesterday": want RFC 3339`},
	} {
		v, err := tc.got()
		got := v
		if err != nil {
			got = "error: " + err.Error()
		}
		if !strings.HasPrefix(got, tc.want) || (err == nil && got != tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func timeOf(s string, now time.Time) func() (string, error) {
	return func() (string, error) {
		t, err := ParseTime(s, now)
		return t.Format(time.RFC3339), err
	}
}

func TestFilterMatch(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 11, 20, h, 0, 0, 0, time.UTC) }
	l := &Letter{Class: "permanent", Type: "vccsync.command.archive", User: "0055e000001JaneAAC", Failed: at(12)}
	for _, tc := range []struct {
		name string
		f    Filter
		want bool
	}{
		{"empty", Filter{}, true},
		{"class", Filter{Classes: []string{"poison", "permanent"}}, true},
		{"other class", Filter{Classes: []string{"poison"}}, false},
		{"type", Filter{Types: []string{"vccsync.command.archive"}}, true},
		{"type prefix", Filter{Types: []string{"vccsync.command.*"}}, true},
		{"other type", Filter{Types: []string{"salesforce.user.changed"}}, false},
		{"user", Filter{Users: []string{"0055e000001JaneAAC"}}, true},
		{"other user", Filter{Users: []string{"0055e000001JohnAAC"}}, false},
		{"since, at", Filter{Since: at(12)}, true},
		{"since, after", Filter{Since: at(13)}, false},
		{"until, at", Filter{Until: at(12)}, false},
		{"until, before", Filter{Until: at(13)}, true},
		{"seqs are not matched", Filter{Seqs: []SeqRange{{Lo: 99, Hi: 99}}}, true},
		{"all of them", Filter{Classes: []string{"permanent"}, Users: []string{"0055e000001JohnAAC"}}, false},
	} {
		if got := tc.f.Match(l); got != tc.want {
			t.Errorf("%s: Match = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := (&Letter{}); (&Filter{Types: []string{"x*"}}).Match(got) {
		t.Errorf("a type prefix matches a letter without a type")
	}
	if !(&Filter{}).Empty() || (&Filter{Seqs: []SeqRange{{Lo: 1, Hi: 1}}}).Empty() {
		t.Errorf("Empty is wrong")
	}
}

func TestHistogram(t *testing.T) {
	h := NewHistogram()
	for _, l := range []*Letter{
		{Class: "permanent", Reason: "a"}, {Class: "poison", Reason: "b"}, {Class: "permanent", Reason: "a"}, {Reason: "c"},
	} {
		h.Add(l)
	}
	if h.Total != 4 || fmt.Sprint(Sorted(h.ByClass)) != "[{permanent 2} {(none) 1} {poison 1}]" || fmt.Sprint(Sorted(h.ByReason)) != "[{a 2} {b 1} {c 1}]" {
		t.Errorf("histogram %d %v %v", h.Total, Sorted(h.ByClass), Sorted(h.ByReason))
	}
}
