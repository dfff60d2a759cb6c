package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// cdcMessage is one message of the input, with its place in it.
type cdcMessage struct {
	label string // line=3, line=3 msg=2 (an array on a line), msg=4 (an array)
	body  []byte
	err   error // the message could not be read; it is rejected
}

// readCDCInput reads CDC messages from in and calls fn with each: one
// JSON array of messages when the input starts with '['; JSON documents one
// after another (a single pretty-printed message, say) when it starts with
// a '{' whose line is not a whole document; otherwise JSON Lines (one
// message, or an array of messages, per line; blank lines and # comments
// are skipped). The error is a read error, malformed array
// syntax that stops the reading, or an interruption.
func readCDCInput(ctx context.Context, in io.Reader, fn func(cdcMessage)) error {
	br := bufio.NewReaderSize(in, 64<<10)
	first, err := cdcFirstByte(br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("read: %w", err)
	}
	if first == '[' {
		return readCDCArray(ctx, br, fn)
	}
	if first == '{' && !firstLineWhole(br) {
		return readCDCDocuments(ctx, br, fn)
	}
	lines := newLineReader(br, maxLineBytes)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted after line %d: the lines after it were not read", lines.n)
		}
		line, n, err := lines.next()
		var tooLong *lineTooLongError
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.As(err, &tooLong):
			fn(cdcMessage{label: fmt.Sprintf("line=%d", n), err: err})
			continue
		case err != nil:
			return err
		}
		if skipLine(line) {
			continue
		}
		label := fmt.Sprintf("line=%d", n)
		t := bytes.TrimSpace(line)
		if t[0] != '[' {
			fn(cdcMessage{label: label, body: bytes.Clone(t)})
			continue
		}
		var msgs []json.RawMessage
		if err := json.Unmarshal(t, &msgs); err != nil {
			fn(cdcMessage{label: label, err: fmt.Errorf("not a JSON array of messages: %v", err)})
			continue
		}
		for i, m := range msgs {
			fn(cdcMessage{label: fmt.Sprintf("%s msg=%d", label, i+1), body: m})
		}
	}
}

// readCDCArray reads one JSON array of messages, element by element.
func readCDCArray(ctx context.Context, r io.Reader, fn func(cdcMessage)) error {
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
		fn(cdcMessage{label: fmt.Sprintf("msg=%d", n), body: raw})
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

// readCDCDocuments reads JSON documents one after another, each a message.
func readCDCDocuments(ctx context.Context, r io.Reader, fn func(cdcMessage)) error {
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
		fn(cdcMessage{label: fmt.Sprintf("msg=%d", n), body: raw})
	}
}

// cdcFirstByte returns the first byte that is not white space (or a UTF-8
// byte order mark) without consuming anything but the byte order mark, so
// that line numbers stay right. It reads no more than it needs: a pipe is
// not waited on for more than its first message.
func cdcFirstByte(br *bufio.Reader) (byte, error) {
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
