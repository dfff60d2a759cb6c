package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
)

// MaxIngestBody bounds one POST to the IngestHandler.
const MaxIngestBody = 16 << 20

// IngestHandler accepts change-event messages over HTTP: POST one message
// or a JSON array of them, on any path. It answers once every message is
// handled: 200 when all were published (or were duplicates, ignored, or
// gaps read and published), 400 with the specific errors when one was
// rejected, 500 when one could not be published (post again: what was
// published is a duplicate the second time). The body has one line per
// message (Outcome.Line, labelled msg=N). It does not authenticate;
// routing (/healthz, /metrics) is the server's.
type IngestHandler struct {
	in     *Ingester
	counts *Counts
	out    io.Writer
	posts  atomic.Int64
}

var _ http.Handler = (*IngestHandler)(nil)

// NewIngestHandler returns the handler of in. It adds every outcome to
// counts (nil: a count of its own) and writes its line, labelled post=N
// msg=N, to out (nil: nowhere), which concurrent requests write to at once:
// each line is one Write.
func NewIngestHandler(in *Ingester, counts *Counts, out io.Writer) *IngestHandler {
	if counts == nil {
		counts = &Counts{}
	}
	if out == nil {
		out = io.Discard
	}
	return &IngestHandler{in: in, counts: counts, out: out}
}

func (h *IngestHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, fmt.Sprintf("method %s: POST a change event message (or a JSON array of them)", r.Method), http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxIngestBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		http.Error(w, fmt.Sprintf("body: larger than %s", formatSize(MaxIngestBody)), http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, fmt.Sprintf("body: %v", err), http.StatusBadRequest)
		return
	}
	msgs, err := splitBody(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}

	post := h.posts.Add(1)
	var reply strings.Builder
	status := http.StatusOK
	for i, m := range msgs {
		o := h.in.Ingest(r.Context(), m)
		h.counts.Add(o)
		label := fmt.Sprintf("msg=%d", i+1)
		fmt.Fprintf(h.out, "%s\n", o.Line(fmt.Sprintf("post=%d %s", post, label)))
		fmt.Fprintf(&reply, "%s\n", o.Line(label))
		switch {
		case o.Status == StatusFailed:
			status = http.StatusInternalServerError
		case o.Status == StatusRejected && status == http.StatusOK:
			status = http.StatusBadRequest
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, reply.String())
}

// splitBody returns the messages of a POST body: the body itself, or the
// elements of a JSON array (a UTF-8 byte order mark and surrounding white
// space are dropped).
func splitBody(body []byte) ([]json.RawMessage, error) {
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
