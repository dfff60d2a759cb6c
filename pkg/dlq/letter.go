package dlq

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/vccsync/vccsync/pkg/events"
)

// Message is a message as VCCSYNC_DLQ stores it.
type Message struct {
	Seq     uint64    // DLQ stream sequence
	Subject string    // vccsync.dlq.…
	Stored  time.Time // when the stream stored it
	Header  nats.Header
	Data    []byte
}

// Letter is one dead letter: what the DLQ headers and the body of a
// stored message say about it. The JSON form is the one `dlq list --json`
// prints.
type Letter struct {
	Seq             uint64    `json:"seq"`
	Subject         string    `json:"subject"`
	Stored          time.Time `json:"stored"`
	FailedAt        string    `json:"failedAt,omitempty"`        // Vccsync-Failed-At as stored
	Class           string    `json:"class,omitempty"`           // Vccsync-Error-Class
	Error           string    `json:"error,omitempty"`           // Vccsync-Error
	Reason          string    `json:"reason"`                    // see Reason
	OriginalSubject string    `json:"originalSubject,omitempty"` // Vccsync-Original-Subject
	OriginalSeq     string    `json:"originalSeq,omitempty"`     // Vccsync-Original-Seq
	OriginalMsgID   string    `json:"originalMsgId,omitempty"`   // Vccsync-Original-Msg-Id
	Deliveries      string    `json:"deliveries,omitempty"`      // Vccsync-Deliveries
	Replays         int       `json:"replays"`                   // Vccsync-Replays; 0 when missing, -1 when unreadable
	ReplayedFrom    string    `json:"replayedFrom,omitempty"`    // Vccsync-Replayed-From
	Type            string    `json:"type,omitempty"`            // the envelope's type, when the body is one
	EventID         string    `json:"eventId,omitempty"`         // the envelope's id, when the body is one
	User            string    `json:"user,omitempty"`            // the user of the original subject (18 characters when an ID)

	// Failed is FailedAt read, or Stored when it is missing or unreadable.
	Failed time.Time `json:"-"`
	// ReplaysErr says why Vccsync-Replays could not be read ("" when it
	// could, or is missing).
	ReplaysErr string `json:"-"`
	// Header and Data are the stored message's.
	Header nats.Header `json:"-"`
	Data   []byte      `json:"-"`
}

// Decode reads the headers and the body of a stored DLQ message. It never
// fails: what cannot be read is left empty (see the fields).
func Decode(m Message) *Letter {
	h := m.Header
	l := &Letter{
		Seq: m.Seq, Subject: m.Subject, Stored: m.Stored.UTC(),
		FailedAt:        h.Get(events.HeaderFailedAt),
		Class:           h.Get(events.HeaderErrorClass),
		Error:           h.Get(events.HeaderError),
		OriginalSubject: h.Get(events.HeaderOriginalSubject),
		OriginalSeq:     h.Get(events.HeaderOriginalSequence),
		OriginalMsgID:   h.Get(events.HeaderOriginalMsgID),
		Deliveries:      h.Get(events.HeaderDeliveries),
		ReplayedFrom:    h.Get(events.HeaderReplayedFrom),
		Failed:          m.Stored.UTC(),
		Header:          h,
		Data:            m.Data,
	}
	if t, err := time.Parse(time.RFC3339Nano, l.FailedAt); err == nil {
		l.Failed = t.UTC()
	}
	if r := h.Get(events.HeaderReplays); r != "" {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n < 0 {
			l.Replays, l.ReplaysErr = -1, fmt.Sprintf("%s %q is not a count", events.HeaderReplays, r)
		} else {
			l.Replays = n
		}
	}
	var env struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	if json.Unmarshal(m.Data, &env) == nil {
		l.Type, l.EventID = env.Type, env.ID
	}
	l.User = subjectUser(l.OriginalSubject)
	l.Reason = Reason(l.Class, l.Error)
	return l
}

// subjectUser is the user of a subject, as an 18-character key when the
// token is a Salesforce user ID: the token after "user"
// (vccsync.user.<id>.…), else the subject's user token.
func subjectUser(subject string) string {
	if subject == "" {
		return ""
	}
	tok := strings.Split(subject, ".")
	raw := ""
	for i, t := range tok[:len(tok)-1] {
		if t == "user" {
			raw = tok[i+1]
			break
		}
	}
	if raw == "" && len(tok) >= events.UserIDToken {
		raw = tok[events.UserIDToken-1]
	}
	if k, err := events.UserKey(raw); err == nil {
		return k
	}
	return raw
}

// Reason is the histogram key of an error: its first clause (up to the
// first ": " or "; "), after "gave up after N attempts" for an exhausted
// message, with quoted text and words holding digits (IDs, counts, status
// codes) blanked so that the same failure of different users counts once.
func Reason(class, msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	if class == events.ClassExhausted && strings.HasPrefix(msg, "gave up after ") {
		if _, rest, ok := strings.Cut(msg, ": "); ok {
			msg = rest
		}
	}
	if i := strings.Index(msg, ": "); i >= 0 {
		msg = msg[:i]
	}
	if i := strings.Index(msg, "; "); i >= 0 {
		msg = msg[:i]
	}
	var b strings.Builder
	inQuote := false
	for i, r := range msg {
		switch {
		case r == '"' && (i == 0 || msg[i-1] != '\\'):
			if !inQuote {
				b.WriteString(`"…"`)
			}
			inQuote = !inQuote
		case !inQuote:
			b.WriteRune(r)
		}
	}
	words := strings.Fields(b.String())
	for i, w := range words {
		if strings.ContainsAny(w, "0123456789") {
			words[i] = "#"
		}
	}
	out := truncate(strings.Join(words, " "), 60)
	if out == "" {
		return "(no error)"
	}
	return out
}

// ErrorLine is the letter's error on one line, cut at n characters (n > 0)
// with … when longer.
func (l *Letter) ErrorLine(n int) string {
	return truncate(oneLine(l.Error), n)
}

// truncate shortens s to n characters, ending in … when cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// oneLine puts a multi-line text on one line.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), " ")
}

// plural is one or many by n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
