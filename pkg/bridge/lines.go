package bridge

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxLineBytes bounds one JSON Lines record (publisher's publish and cdc
// inputs).
const MaxLineBytes = 4 << 20

// LineTooLongError is returned for a line longer than the limit; the line is
// skipped and reading continues with the next one.
type LineTooLongError struct{ max int }

// Error says the line was too long and not read.
func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("line longer than %d bytes (%s): not read", e.max, formatSize(int64(e.max)))
}

// LineReader reads newline-terminated lines of any length up to max bytes.
// Unlike bufio.Scanner it survives a line over the limit: that line alone
// is reported and skipped.
type LineReader struct {
	r   *bufio.Reader
	max int
	n   int // number of the line last returned, 1-based
	buf []byte
}

// NewLineReader reads lines of up to max bytes from r.
func NewLineReader(r io.Reader, max int) *LineReader {
	return &LineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// N is the 1-based number of the line last returned (0 before the first).
func (l *LineReader) N() int { return l.n }

// Next returns the next line without its line ending ("\n" or "\r\n") and
// its 1-based number. The slice is valid until the following call. A line
// over the limit yields a *LineTooLongError; the end of input yields io.EOF;
// any other error is a read error.
func (l *LineReader) Next() ([]byte, int, error) {
	l.buf = l.buf[:0]
	started, tooLong := false, false
	for {
		frag, isPrefix, err := l.r.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) && started {
				break // the last line ended at the end of a full buffer
			}
			if errors.Is(err, io.EOF) {
				return nil, l.n, io.EOF
			}
			return nil, l.n, fmt.Errorf("read line %d: %w", l.n+1, err)
		}
		started = true
		if !tooLong {
			if len(l.buf)+len(frag) > l.max {
				tooLong = true
				l.buf = l.buf[:0]
			} else {
				l.buf = append(l.buf, frag...)
			}
		}
		if !isPrefix {
			break
		}
	}
	l.n++
	if tooLong {
		return nil, l.n, &LineTooLongError{max: l.max}
	}
	if l.n == 1 {
		l.buf = bytes.TrimPrefix(l.buf, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	}
	return l.buf, l.n, nil
}

// SkipLine reports whether a line is blank or a '#' comment.
func SkipLine(line []byte) bool {
	t := bytes.TrimSpace(line)
	return len(t) == 0 || t[0] == '#'
}
