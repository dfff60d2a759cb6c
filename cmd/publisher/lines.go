package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxLineBytes bounds one JSON Lines record.
const maxLineBytes = 4 << 20

// lineTooLongError is returned for a line longer than the limit; the line is
// skipped and reading continues with the next one.
type lineTooLongError struct{ max int }

func (e *lineTooLongError) Error() string {
	return fmt.Sprintf("line longer than %d bytes (%s): not read", e.max, sizeString(e.max))
}

func sizeString(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// lineReader reads newline-terminated lines of any length up to max bytes.
// Unlike bufio.Scanner it survives a line over the limit: that line alone
// is reported and skipped.
type lineReader struct {
	r   *bufio.Reader
	max int
	n   int // number of the line last returned, 1-based
	buf []byte
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line without its line ending ("\n" or "\r\n") and
// its 1-based number. The slice is valid until the following call. A line
// over the limit yields a *lineTooLongError; the end of input yields io.EOF;
// any other error is a read error.
func (l *lineReader) next() ([]byte, int, error) {
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
		return nil, l.n, &lineTooLongError{max: l.max}
	}
	if l.n == 1 {
		l.buf = bytes.TrimPrefix(l.buf, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	}
	return l.buf, l.n, nil
}

// skipLine reports whether a line is blank or a '#' comment.
func skipLine(line []byte) bool {
	t := bytes.TrimSpace(line)
	return len(t) == 0 || t[0] == '#'
}
