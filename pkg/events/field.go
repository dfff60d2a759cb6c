package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Field is a Salesforce field value with three states: absent (Set false:
// unknown, keep what is known), null (Set and Null: cleared) and a value.
// Use the `omitzero` tag so an absent field stays absent when encoded.
type Field[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// Val returns a Field holding v.
func Val[T any](v T) Field[T] { return Field[T]{Set: true, Value: v} }

// Null returns a Field that clears the value.
func Null[T any]() Field[T] { return Field[T]{Set: true, Null: true} }

// Known reports whether the field carries a value (set and not null).
func (f Field[T]) Known() bool { return f.Set && !f.Null }

// Get returns the value, or the zero value when absent or null.
func (f Field[T]) Get() T { return f.Value }

// IsZero reports whether the field is absent (for `omitzero`).
func (f Field[T]) IsZero() bool { return !f.Set }

// UnmarshalJSON records that the key was present, and whether it was null.
// encoding/json has checked the whole document before it calls this, so
// plain strings, booleans and Times are read in place; anything else (an
// escaped string, another type) goes through json.Unmarshal.
func (f *Field[T]) UnmarshalJSON(b []byte) error {
	f.Set = true
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		f.Null = true
		var zero T
		f.Value = zero
		return nil
	}
	f.Null = false
	switch v := any(&f.Value).(type) {
	case *string:
		if s, ok := plainString(b); ok {
			*v = s
			return nil
		}
	case *bool:
		switch string(b) {
		case "true":
			*v = true
			return nil
		case "false":
			*v = false
			return nil
		}
	case json.Unmarshaler:
		return v.UnmarshalJSON(b)
	}
	return json.Unmarshal(b, &f.Value)
}

// plainString is the value of a JSON string literal without escapes or
// invalid UTF-8 (which json.Unmarshal would replace), and whether b is one.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	in := b[1 : len(b)-1]
	ascii := true
	for _, c := range in {
		if c == '\\' || c == '"' || c < 0x20 {
			return "", false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// MarshalJSON writes null or the value. Absent fields are dropped by `omitzero`.
func (f Field[T]) MarshalJSON() ([]byte, error) {
	if !f.Set || f.Null {
		return []byte("null"), nil
	}
	return json.Marshal(f.Value)
}

// merge returns update when it is set, otherwise f.
func (f Field[T]) merge(update Field[T]) Field[T] {
	if update.Set {
		return update
	}
	return f
}

// Time is a Salesforce datetime. It decodes the forms Salesforce emits:
// RFC 3339 with or without fractional seconds ("2026-11-20T10:15:00.000Z"),
// offsets without a colon ("2024-04-26T18:25:03.000+0000") and epoch
// milliseconds (CDC). It encodes as RFC 3339 with milliseconds in UTC, so
// it decodes only times in years 0000 to 9999 in UTC.
type Time struct{ time.Time }

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.000-0700",
	"2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05.000Z0700",
}

// minTime and maxTime bound a Time: it encodes as RFC 3339 in UTC, whose
// years have four digits.
var (
	minTime = time.Date(0, time.January, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, time.December, 31, 23, 59, 59, 999999999, time.UTC)
)

// ParseTime parses a Salesforce datetime string. Its time in UTC must fall
// in years 0000 to 9999.
func ParseTime(s string) (Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			t = t.UTC()
			if t.Before(minTime) || t.After(maxTime) {
				return Time{}, fmt.Errorf("%q is outside years 0000 to 9999 in UTC", s)
			}
			return Time{t}, nil
		}
	}
	return Time{}, fmt.Errorf("%q is not a Salesforce datetime (want e.g. 2026-11-20T10:15:00.000Z)", s)
}

// UnmarshalJSON accepts a datetime string or epoch milliseconds.
func (t *Time) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '"' {
		var ms int64
		if err := json.Unmarshal(b, &ms); err != nil {
			return fmt.Errorf("%s is neither a datetime string nor epoch milliseconds", compactJSON(b))
		}
		if ms < minTime.UnixMilli() || ms > maxTime.UnixMilli() {
			return fmt.Errorf("%d epoch milliseconds is outside years 0000 to 9999", ms)
		}
		t.Time = time.UnixMilli(ms).UTC()
		return nil
	}
	s, ok := plainString(b)
	if !ok {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	p, err := ParseTime(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	*t = p
	return nil
}

// MarshalJSON writes RFC 3339 with milliseconds, UTC.
func (t Time) MarshalJSON() ([]byte, error) {
	return json.Marshal(t.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
}

// compactJSON is a JSON value on one line, for an error message: errors
// become NATS header values, which cannot hold line breaks.
func compactJSON(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return strconv.Quote(string(raw))
	}
	return b.String()
}
