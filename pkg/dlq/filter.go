package dlq

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
)

// Filter selects dead letters. Every field given must match; a field with
// several values matches any of them. The zero Filter selects every
// letter. The Parse functions check the values a user gives.
type Filter struct {
	Classes []string  // Vccsync-Error-Class (ParseClass)
	Types   []string  // the envelope's type; "prefix*" matches a prefix (ParseType)
	Users   []string  // 18-character user keys of the original subject (ParseUser)
	Since   time.Time // Vccsync-Failed-At at or after (ParseTime)
	Until   time.Time // Vccsync-Failed-At before
	Seqs    []SeqRange
}

// Empty reports whether f selects every letter.
func (f *Filter) Empty() bool {
	return len(f.Classes) == 0 && len(f.Types) == 0 && len(f.Users) == 0 &&
		f.Since.IsZero() && f.Until.IsZero() && len(f.Seqs) == 0
}

// Match reports whether a letter passes every part of the filter but Seqs
// (a Scan reads only the sequences asked for).
func (f *Filter) Match(l *Letter) bool {
	if len(f.Classes) > 0 && !slices.Contains(f.Classes, l.Class) {
		return false
	}
	if len(f.Types) > 0 && !slices.ContainsFunc(f.Types, func(t string) bool {
		if p, ok := strings.CutSuffix(t, "*"); ok {
			return l.Type != "" && strings.HasPrefix(l.Type, p)
		}
		return l.Type == t
	}) {
		return false
	}
	if len(f.Users) > 0 && !slices.Contains(f.Users, l.User) {
		return false
	}
	if !f.Since.IsZero() && l.Failed.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !l.Failed.Before(f.Until) {
		return false
	}
	return true
}

// ParseClass checks an error class: poison, permanent or exhausted.
func ParseClass(s string) (string, error) {
	switch s {
	case events.ClassPoison, events.ClassPermanent, events.ClassExhausted:
		return s, nil
	}
	return "", fmt.Errorf("%q: want %s, %s or %s", s, events.ClassPoison, events.ClassPermanent, events.ClassExhausted)
}

// ParseType checks an event type, or a prefix of one ending in *.
func ParseType(s string) (string, error) {
	if strings.ContainsAny(strings.TrimSuffix(s, "*"), "* \t") {
		return "", fmt.Errorf("%q: want an event type, or a prefix ending in *", s)
	}
	return s, nil
}

// ParseUser reads a Salesforce user ID (15 or 18 characters) as its
// 18-character key.
func ParseUser(s string) (string, error) {
	k, err := events.UserKey(s)
	if err != nil {
		return "", fmt.Errorf("%q: %v", s, err)
	}
	return k, nil
}

// ParseTime reads an RFC 3339 time, a date (UTC) or a duration before now.
func ParseTime(s string, now time.Time) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration before now must be positive", s)
		}
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-11-20T10:15:00Z), a date (2026-11-20) or a duration before now (36h)", s)
}

// SplitList splits the values of a repeatable option on commas, dropping
// empty ones.
func SplitList(list []string) []string {
	var out []string
	for _, v := range list {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// SeqRange is an inclusive range of DLQ sequences. Single marks a sequence
// given alone: a Scan reports it when it is not in the stream.
type SeqRange struct {
	Lo, Hi uint64
	Single bool
}

// ParseSeqs reads sequences ("7") and ranges ("3-9"), and returns them
// sorted, ranges merged and sequences inside a range dropped.
func ParseSeqs(list []string) ([]SeqRange, error) {
	var ranges, singles []SeqRange
	for _, s := range list {
		a, b, isRange := strings.Cut(s, "-")
		lo, err := strconv.ParseUint(strings.TrimSpace(a), 10, 64)
		if err != nil || lo == 0 {
			return nil, fmt.Errorf("%q: want a sequence (1, 2, …) or a range A-B", s)
		}
		if !isRange {
			singles = append(singles, SeqRange{Lo: lo, Hi: lo, Single: true})
			continue
		}
		hi, err := strconv.ParseUint(strings.TrimSpace(b), 10, 64)
		if err != nil || hi < lo {
			return nil, fmt.Errorf("%q: want a range A-B with A <= B", s)
		}
		ranges = append(ranges, SeqRange{Lo: lo, Hi: hi})
	}
	byLo := func(x, y SeqRange) int { return cmp.Compare(x.Lo, y.Lo) }
	slices.SortFunc(ranges, byLo)
	var merged []SeqRange
	for _, r := range ranges {
		if n := len(merged); n > 0 && r.Lo <= merged[n-1].Hi+1 {
			merged[n-1].Hi = max(merged[n-1].Hi, r.Hi)
			continue
		}
		merged = append(merged, r)
	}
	out := merged
	for _, s := range singles {
		inside := slices.ContainsFunc(merged, func(r SeqRange) bool { return s.Lo >= r.Lo && s.Lo <= r.Hi })
		if !inside && !slices.ContainsFunc(out, func(r SeqRange) bool { return r.Single && r.Lo == s.Lo }) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, byLo)
	return out, nil
}
