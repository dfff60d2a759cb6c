package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Message is one change-event message of an input, with its place in it.
type Message struct {
	Label string // line=3, line=3 msg=2 (an array on a line), msg=4 (an array)
	Body  []byte
	Err   error // the message could not be read; it is rejected
}

// ReadMessages reads change-event messages from in and calls fn with each: one
// JSON array of messages when the input starts with '['; JSON documents one
// after another (a single pretty-printed message, say) when it starts with
// a '{' whose line is not a whole document; otherwise JSON Lines (one
// message, or an array of messages, per line; blank lines and # comments
// are skipped). The error is a read error, malformed array
// syntax that stops the reading, or an interruption.
func ReadMessages(ctx context.Context, in io.Reader, fn func(Message)) error {
	br := bufio.NewReaderSize(in, 64<<10)
	first, err := firstByte(br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("read: %w", err)
	}
	if first == '[' {
		return readArray(ctx, br, fn)
	}
	if first == '{' && !firstLineWhole(br) {
		return readDocuments(ctx, br, fn)
	}
	lines := NewLineReader(br, MaxLineBytes)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted after line %d: the lines after it were not read", lines.N())
		}
		line, n, err := lines.Next()
		var tooLong *LineTooLongError
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.As(err, &tooLong):
			fn(Message{Label: fmt.Sprintf("line=%d", n), Err: err})
			continue
		case err != nil:
			return err
		}
		if SkipLine(line) {
			continue
		}
		label := fmt.Sprintf("line=%d", n)
		t := bytes.TrimSpace(line)
		if t[0] != '[' {
			fn(Message{Label: label, Body: bytes.Clone(t)})
			continue
		}
		var msgs []json.RawMessage
		if err := json.Unmarshal(t, &msgs); err != nil {
			fn(Message{Label: label, Err: fmt.Errorf("not a JSON array of messages: %v", err)})
			continue
		}
		for i, m := range msgs {
			fn(Message{Label: fmt.Sprintf("%s msg=%d", label, i+1), Body: m})
		}
	}
}

// readArray reads one JSON array of messages, element by element.
func readArray(ctx context.Context, r io.Reader, fn func(Message)) error {
	dec := json.NewDecoder(r)
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("read JSON array: %w", err)
	}
	n := 0
	for dec.More() {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted after message %d: the messages after it were not read", n)
		}
		n++
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("read JSON array: message %d: %w", n, err)
		}
		fn(Message{Label: fmt.Sprintf("msg=%d", n), Body: raw})
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("read JSON array: after message %d: %w", n, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("read JSON array: more input after the array's closing ]")
	}
	return nil
}

// firstLineWhole reports whether the input's first line, as far as it is
// buffered, is a whole JSON document (JSON Lines), not the start of a
// pretty-printed one.
func firstLineWhole(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Size())
	b = bytes.TrimLeft(b, "\xef\xbb\xbf \t\r\n")
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return json.Valid(bytes.TrimSpace(b))
}

// readDocuments reads JSON documents one after another, each a message.
func readDocuments(ctx context.Context, r io.Reader, fn func(Message)) error {
	dec := json.NewDecoder(r)
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted after message %d: the messages after it were not read", n-1)
		}
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read JSON document %d: %w", n, err)
		}
		fn(Message{Label: fmt.Sprintf("msg=%d", n), Body: raw})
	}
}

// firstByte returns the first byte that is not white space (or a UTF-8
// byte order mark) without consuming anything but the byte order mark, so
// that line numbers stay right. It reads no more than it needs: a pipe is
// not waited on for more than its first message.
func firstByte(br *bufio.Reader) (byte, error) {
	start := 0
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		start = 3
	}
	for n := start + 1; n <= br.Size(); n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			if err == nil {
				err = io.EOF
			}
			return 0, err
		}
		switch c := b[n-1]; c {
		case ' ', '\t', '\r', '\n':
			continue
		default:
			if c == '[' && start > 0 {
				_, _ = br.Discard(start)
			}
			return c, nil
		}
	}
	return 0, nil
}
