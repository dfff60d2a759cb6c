package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// cdcMaxBody bounds one POST.
const cdcMaxBody = 16 << 20

// cdcHandler accepts CDC messages over HTTP: POST one message or a JSON
// array of them. It answers once every message is handled: 200 when all
// were published (or were duplicates, ignored, or gaps read and
// published), 400 with the specific errors when one was rejected, 500 when
// one could not be published (retry: what was published is a duplicate
// the second time). The body has one line per message, as on stdout.
type cdcHandler struct {
	in     *cdcIngester
	counts *cdcCounts
	out    io.Writer
	posts  atomic.Int64
}

func (h *cdcHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, fmt.Sprintf("method %s: POST a change event message (or a JSON array of them)", r.Method), http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, cdcMaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		http.Error(w, fmt.Sprintf("body: larger than %s", sizeString(cdcMaxBody)), http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, fmt.Sprintf("body: %v", err), http.StatusBadRequest)
		return
	}
	msgs, err := cdcSplitBody(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}

	post := h.posts.Add(1)
	var reply strings.Builder
	status := http.StatusOK
	for i, m := range msgs {
		o := h.in.ingest(r.Context(), m)
		h.counts.add(o)
		label := fmt.Sprintf("msg=%d", i+1)
		fmt.Fprintf(h.out, "%s\n", o.line(fmt.Sprintf("post=%d %s", post, label)))
		fmt.Fprintf(&reply, "%s\n", o.line(label))
		switch {
		case o.status == cdcFailed:
			status = http.StatusInternalServerError
		case o.status == cdcRejected && status == http.StatusOK:
			status = http.StatusBadRequest
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, reply.String())
}

// cdcSplitBody returns the messages of a POST body: the body itself, or
// the elements of a JSON array.
func cdcSplitBody(body []byte) ([]json.RawMessage, error) {
	t := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	switch {
	case len(t) == 0:
		return nil, errors.New("body: empty, want a change event message or a JSON array of them")
	case t[0] != '[':
		return []json.RawMessage{t}, nil
	}
	var msgs []json.RawMessage
	if err := json.Unmarshal(t, &msgs); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("body: not valid JSON at byte %d: %v", se.Offset, err)
		}
		return nil, fmt.Errorf("body: not a JSON array of messages: %v", err)
	}
	if len(msgs) == 0 {
		return nil, errors.New("body: an empty array, want at least one message")
	}
	return msgs, nil
}

// serveCDC serves h on ln until ctx is done, then lets the requests in
// flight finish (up to grace).
func serveCDC(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-done
	return err
}
