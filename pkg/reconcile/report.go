package reconcile

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/vccsync/vccsync/pkg/events"
)

// Guard is the archive guard's verdict.
type Guard struct {
	Archives  int     `json:"archives"`
	Threshold string  `json:"threshold"`
	Limit     float64 `json:"limit"`
	Exceeded  bool    `json:"exceeded"`
	Allowed   bool    `json:"allowed"`
}

// Totals counts the published events.
type Totals struct {
	Published int         `json:"published"`
	Duplicate int         `json:"duplicate"`
	Failed    int         `json:"failed"`
	Events    []Published `json:"events"`
}

// Statuses of a published event.
const (
	StatusPublished = "published"
	StatusDuplicate = "duplicate"
	StatusFailed    = "failed"
)

// Published is what happened to one event.
type Published struct {
	Status string `json:"status"` // published, duplicate, failed
	UserID string `json:"userId"`
	Event  string `json:"event"`
	Seq    uint64 `json:"seq,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Line is the event's line of the text output.
func (p Published) Line() string {
	s := fmt.Sprintf("%s user=%s event=%s", p.Status, p.UserID, quote(p.Event))
	switch p.Status {
	case StatusPublished:
		s += " seq=" + strconv.FormatUint(p.Seq, 10)
	case StatusFailed:
		s += ": " + p.Error
	}
	return s
}

// Report is the classification and the plan.
type Report struct {
	Counts    map[string]int `json:"counts"`
	SFUsers   int            `json:"salesforceUsers"`
	InScope   int            `json:"inScope"`
	VCCUsers  int            `json:"vccUsers"`
	Templates int            `json:"templates"`
	Guard     Guard          `json:"archiveGuard"`
	DryRun    bool           `json:"dryRun"`
	Users     []Entry        `json:"users"`
	Published *Totals        `json:"published,omitempty"`
}

// BuildEvents builds the event of every differing or missing user: the
// salesforce.user.changed event of its snapshot, id
// sf-reconcile-<user ID>-<SystemModstamp in ms>, so a second reconcile of
// the same state is a duplicate JetStream drops.
func (rep *Report) BuildEvents(source string) error {
	for i := range rep.Users {
		e := &rep.Users[i]
		if e.Class != Differs && e.Class != Missing {
			continue
		}
		env, err := envelope(source, e.sf)
		if err != nil {
			return err
		}
		e.env, e.Event = &env, env.ID
	}
	return nil
}

func envelope(source string, u events.User) (events.Envelope, error) {
	stamp := u.Modstamp()
	if stamp.IsZero() {
		return events.Envelope{}, fmt.Errorf("user %s read from Salesforce has no SystemModstamp or LastModifiedDate: its state cannot be named", u.ID)
	}
	u.ChangedFields = nil
	id := "sf-reconcile-" + u.ID + "-" + strconv.FormatInt(stamp.UnixMilli(), 10)
	env, err := events.NewUserChanged(id, source, stamp, u)
	if err != nil {
		return env, fmt.Errorf("user %s: %w", u.ID, err)
	}
	subject, err := env.NATSSubject()
	if err == nil {
		var body []byte
		if body, err = env.Marshal(); err == nil {
			_, err = events.Decode(subject, body)
		}
	}
	if err != nil {
		return env, fmt.Errorf("user %s: %w", u.ID, err)
	}
	return env, nil
}

// Archives counts the planned archives.
func (rep *Report) Archives() int {
	n := 0
	for _, e := range rep.Users {
		if e.Action == ActionArchive {
			n++
		}
	}
	return n
}

// Planned counts the planned events.
func (rep *Report) Planned() int {
	n := 0
	for _, e := range rep.Users {
		if e.env != nil {
			n++
		}
	}
	return n
}

// Publisher publishes one event to JetStream with its id as the message
// id; duplicate is JetStream's verdict.
type Publisher interface {
	Publish(ctx context.Context, env events.Envelope) (seq uint64, duplicate bool, err error)
}

// Publish publishes the planned events in plan order, each within timeout,
// telling report about each, and records the totals in rep.Published.
func (rep *Report) Publish(ctx context.Context, pub Publisher, timeout time.Duration, report func(Published)) {
	rep.Published = &Totals{}
	for _, class := range planOrder {
		for _, e := range rep.Users {
			if e.Class != class || e.env == nil {
				continue
			}
			res := Published{UserID: e.UserID, Event: e.Event}
			pctx, cancel := context.WithTimeout(ctx, timeout)
			seq, dup, err := pub.Publish(pctx, *e.env)
			cancel()
			switch {
			case err != nil:
				res.Status, res.Error = StatusFailed, err.Error()
				rep.Published.Failed++
			case dup:
				res.Status = StatusDuplicate
				rep.Published.Duplicate++
			default:
				res.Status, res.Seq = StatusPublished, seq
				rep.Published.Published++
			}
			rep.Published.Events = append(rep.Published.Events, res)
			report(res)
		}
	}
}

// WriteText writes the summary table and the plan.
func (rep *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%-13s %s\n", "class", "users")
	for _, c := range Classes {
		fmt.Fprintf(w, "%-13s %d\n", c, rep.Counts[c])
	}
	fmt.Fprintf(w, "salesforce_users=%d in_scope=%d vcc_users=%d templates=%d events=%d archives=%d archive_limit=%s\n",
		rep.SFUsers, rep.InScope, rep.VCCUsers, rep.Templates, rep.Planned(), rep.Guard.Archives, number(rep.Guard.Limit))
	lines := 0
	for _, class := range planOrder {
		for _, e := range rep.Users {
			if e.Class == class {
				if lines == 0 {
					fmt.Fprintln(w, "plan:")
				}
				lines++
				fmt.Fprintln(w, e.Line())
			}
		}
	}
	if lines == 0 {
		fmt.Fprintln(w, "plan: nothing to do")
	}
}

// Line is the entry's plan line.
func (e Entry) Line() string {
	var b strings.Builder
	b.WriteString(e.Class)
	if e.Class == VCCOnly {
		fmt.Fprintf(&b, " vcc_user=%s username=%s active=%t", quote(e.VCCUserID), quote(e.Username), e.Active != nil && *e.Active)
		return b.String()
	}
	fmt.Fprintf(&b, " user=%s username=%s", e.UserID, quote(e.Username))
	if e.Class == Ambiguous {
		b.WriteString(": " + e.Reason)
		return b.String()
	}
	if e.VCCUserID != "" {
		fmt.Fprintf(&b, " vcc_user=%s", quote(e.VCCUserID))
	}
	fmt.Fprintf(&b, " action=%s", e.Action)
	if e.Template != "" {
		fmt.Fprintf(&b, " template=%s", quote(e.Template))
	}
	if e.Event != "" {
		fmt.Fprintf(&b, " event=%s", quote(e.Event))
	}
	if len(e.Changes) > 0 {
		parts := make([]string, len(e.Changes))
		for i, c := range e.Changes {
			parts[i] = fmt.Sprintf("%s: %s → %s", c.Field, orNone(c.Old), orNone(c.New))
		}
		fmt.Fprintf(&b, " changes=%s", quote(strings.Join(parts, "; ")))
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, " note=%s", quote(e.Reason))
	}
	return b.String()
}

// number writes a limit with at most two decimals (10% of 7 users is 0.7,
// not 0.7000000000000001).
func number(f float64) string {
	return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// quote writes a value of a key=value line: as is, or quoted when it is
// empty or holds a quote, =, a backslash, a space or an unprintable rune.
func quote(s string) string {
	if s == "" {
		return `""`
	}
	if strings.ContainsFunc(s, func(r rune) bool {
		return r == '"' || r == '=' || r == '\\' || unicode.IsSpace(r) || !unicode.IsPrint(r)
	}) {
		return strconv.Quote(s)
	}
	return s
}
