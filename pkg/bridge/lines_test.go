package bridge

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestLineReader(t *testing.T) {
	const tooLong = "!too long"
	for _, tc := range []struct {
		name  string
		input string
		max   int
		want  []string // tooLong marks a line reported as too long
	}{
		{name: "empty", input: "", max: 10, want: nil},
		{name: "one line", input: "abc\n", max: 10, want: []string{"abc"}},
		{name: "no final newline", input: "abc\ndef", max: 10, want: []string{"abc", "def"}},
		{name: "crlf", input: "abc\r\ndef\r\n", max: 10, want: []string{"abc", "def"}},
		{name: "blank lines kept", input: "\n\nabc\n", max: 10, want: []string{"", "", "abc"}},
		{name: "byte order mark", input: "\xef\xbb\xbfabc\n\xef\xbb\xbfdef\n", max: 10, want: []string{"abc", "\xef\xbb\xbfdef"}},
		{name: "at the limit", input: "0123456789\nx\n", max: 10, want: []string{"0123456789", "x"}},
		{name: "over the limit", input: "0123456789A\nx\n", max: 10, want: []string{tooLong, "x"}},
		{name: "over the limit at the end", input: "x\n0123456789A", max: 10, want: []string{"x", tooLong}},
		{name: "longer than the buffer", input: strings.Repeat("a", 200<<10) + "\nb\n", max: 4 << 20, want: []string{strings.Repeat("a", 200<<10), "b"}},
		{name: "far over the limit", input: strings.Repeat("a", 300<<10) + "\r\nb\n", max: 100 << 10, want: []string{tooLong, "b"}},
		{name: "buffer-sized last line", input: strings.Repeat("a", 64<<10), max: 4 << 20, want: []string{strings.Repeat("a", 64<<10)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range map[string]io.Reader{"whole": strings.NewReader(tc.input), "bytewise": iotest.OneByteReader(strings.NewReader(tc.input))} {
				lr := NewLineReader(r, tc.max)
				var got []string
				for {
					line, n, err := lr.Next()
					if errors.Is(err, io.EOF) {
						break
					}
					var tl *LineTooLongError
					switch {
					case errors.As(err, &tl):
						got = append(got, tooLong)
					case err != nil:
						t.Fatalf("next: %v", err)
					default:
						got = append(got, string(line))
					}
					if n != len(got) {
						t.Errorf("line number = %d, want %d", n, len(got))
					}
				}
				if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
					t.Errorf("lines = %.80q, want %.80q", got, tc.want)
				}
			}
		})
	}
}

func TestLineReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	lr := NewLineReader(io.MultiReader(strings.NewReader("abc\n"), iotest.ErrReader(boom)), 10)
	if line, n, err := lr.Next(); err != nil || string(line) != "abc" || n != 1 {
		t.Fatalf("next = %q, %d, %v; want abc, 1, nil", line, n, err)
	}
	if _, _, err := lr.Next(); !errors.Is(err, boom) || !strings.Contains(err.Error(), "read line 2") {
		t.Fatalf("next = %v, want read line 2: boom", err)
	}
}

func TestLineTooLongError(t *testing.T) {
	got := (&LineTooLongError{max: MaxLineBytes}).Error()
	if want := "line longer than 4194304 bytes (4 MiB): not read"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestSkipLine(t *testing.T) {
	for in, want := range map[string]bool{"": true, "   ": true, "\t\r": true, "# comment": true, "  # indented": true, "{}": false, "x#": false} {
		if got := SkipLine([]byte(in)); got != want {
			t.Errorf("SkipLine(%q) = %v, want %v", in, got, want)
		}
	}
}
