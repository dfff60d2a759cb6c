package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SpecVersion is the CloudEvents version of the envelope.
const SpecVersion = "1.0"

// CommandTypePrefix starts the type of every admin command: vccsync.command.<action>.
const CommandTypePrefix = "vccsync.command."

// Sources of salesforce.user.changed events whose point is to find what
// changed in VCC behind vccsync's back: reconcile's (SourceReconcile plus
// the org) and provisioning on demand's (SourceSync). The worker checks VCC
// in full for them (VerifiesVCC) instead of trusting what it last synced.
// Producers and the worker share these, so neither side hangs on a string
// the other may spell differently.
const (
	SourceReconcile = "salesforce/reconcile/"
	SourceSync      = "operator/sync"
)

// VerifiesVCC reports whether events of source must check VCC in full.
func VerifiesVCC(source string) bool {
	return strings.HasPrefix(source, SourceReconcile) || source == SourceSync
}

// Envelope is a CloudEvents 1.0 event in JSON structured mode.
// Nats-Msg-Id carries ID.
type Envelope struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            *time.Time      `json:"time,omitempty"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`
}

// Event is a decoded, validated message: its envelope and exactly one of
// User or Command.
type Event struct {
	Envelope
	// UserKey is the 18-character Salesforce user ID the event is about.
	UserKey string
	User    *User
	Command *Command
}

// Command is an operator's admin command (type vccsync.command.<action>).
// Params holds the action's own parameters, decoded by its handler.
type Command struct {
	Action      string          `json:"-"`
	RequestedBy string          `json:"requestedBy"`
	Reason      string          `json:"reason,omitempty"`
	Data        json.RawMessage `json:"-"` // the whole data; Params decodes the action's parameters
}

// NewUserChanged builds the envelope of a salesforce.user.changed event.
func NewUserChanged(id, source string, at time.Time, u User) (Envelope, error) {
	data, err := json.Marshal(u)
	if err != nil {
		return Envelope{}, fmt.Errorf("encode user %s: %w", u.ID, err)
	}
	t := at.UTC()
	return Envelope{
		SpecVersion: SpecVersion, ID: id, Source: source, Type: TypeUserChanged,
		Subject: u.ID, Time: &t, DataContentType: "application/json", Data: data,
	}, nil
}

// NATSSubject is the NATS subject the envelope is published on.
func (e Envelope) NATSSubject() (string, error) {
	switch {
	case e.Type == TypeUserChanged:
		if u, err := DecodeUser(e.Data); err == nil && u.ChangesAccess() {
			return UserPrioritySubject(e.Subject), nil
		}
		return UserChangedSubject(e.Subject), nil
	case strings.HasPrefix(e.Type, CommandTypePrefix):
		return CommandSubject(e.Subject, strings.TrimPrefix(e.Type, CommandTypePrefix)), nil
	}
	return "", fmt.Errorf("type: %q is not %q or %s<action>", e.Type, TypeUserChanged, CommandTypePrefix)
}

// Marshal encodes the envelope.
func (e Envelope) Marshal() ([]byte, error) { return json.Marshal(e) }

// Parse decodes and validates an envelope without a NATS subject (what a
// publisher checks before publishing).
func Parse(body []byte) (*Event, error) { return decode("", body) }

// Decode decodes and validates a message received on subject. Every problem
// is reported with the field it concerns; the error is meant for the DLQ's
// Vccsync-Error header and for operators.
func Decode(subject string, body []byte) (*Event, error) {
	if subject == "" {
		return nil, errors.New("subject: empty")
	}
	return decode(subject, body)
}

func decode(subject string, body []byte) (*Event, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("body: empty, want a CloudEvents JSON envelope")
	}
	env, user, fast := fastEnvelope(body)
	if !fast {
		if err := strictUnmarshal(body, &env); err != nil {
			return nil, fmt.Errorf("envelope: %w", err)
		}
	}
	var errs fieldErrors
	if env.SpecVersion != SpecVersion {
		errs.add("specversion", fmt.Sprintf("%q, want %q", env.SpecVersion, SpecVersion))
	}
	if env.ID == "" {
		errs.add("id", "missing")
	} else if len(env.ID) > 256 {
		errs.add("id", fmt.Sprintf("%d characters, at most 256", len(env.ID)))
	}
	if env.Source == "" {
		errs.add("source", "missing")
	}
	if env.Time != nil {
		// The encoders write the time in UTC, in RFC 3339 (four-digit years).
		if t := env.Time.UTC(); t.Before(minTime) || t.After(maxTime) {
			errs.add("time", fmt.Sprintf("%s is outside years 0000 to 9999 in UTC", env.Time.Format(time.RFC3339Nano)))
		}
	}
	if env.DataContentType != "" && !strings.HasPrefix(env.DataContentType, "application/json") {
		errs.add("datacontenttype", fmt.Sprintf("%q, want application/json", env.DataContentType))
	}
	if len(env.Data) == 0 || bytes.Equal(bytes.TrimSpace(env.Data), []byte("null")) {
		errs.add("data", "missing")
	}
	var key string
	if env.Subject == "" {
		errs.add("subject", "missing, want the Salesforce user ID")
	} else if k, err := UserKey(env.Subject); err != nil {
		errs.add("subject", err.Error())
	} else {
		key = k
	}
	var ps ParsedSubject
	if subject != "" {
		p, err := ParseSubject(subject)
		if err != nil {
			errs.list = append(errs.list, err)
		} else if k, _ := UserKey(p.UserID); key != "" && k != key {
			errs.add("subject", fmt.Sprintf("%q does not match the NATS subject's user %q", env.Subject, p.UserID))
		} else {
			ps = p
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}

	ev := &Event{Envelope: env, UserKey: key}
	switch {
	case env.Type == TypeUserChanged:
		if subject != "" && ps.Kind != KindChanged {
			return nil, fmt.Errorf("type: %q arrived on command subject %q", env.Type, subject)
		}
		var (
			u   User
			err error
		)
		if user != nil {
			u = *user
			err = u.Validate()
		} else {
			u, err = DecodeUser(env.Data)
		}
		if err != nil {
			return nil, err
		}
		if k, _ := UserKey(u.ID); k != key {
			return nil, fmt.Errorf("data.Id: %q is not the envelope subject %q", u.ID, env.Subject)
		}
		ev.User = &u
	case strings.HasPrefix(env.Type, CommandTypePrefix):
		action := strings.TrimPrefix(env.Type, CommandTypePrefix)
		if err := checkAction(action); err != nil {
			return nil, fmt.Errorf("type: %q: %w", env.Type, err)
		}
		if subject != "" && (ps.Kind != KindCommand || ps.Action != action) {
			return nil, fmt.Errorf("type: %q does not match subject %q", env.Type, subject)
		}
		if !strings.HasPrefix(env.Source, "operator/") {
			return nil, fmt.Errorf("source: %q, commands come from operator/<who>", env.Source)
		}
		var c Command
		if err := strictUnmarshal(env.Data, &c); err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		if c.RequestedBy == "" {
			return nil, errors.New("data.requestedBy: missing")
		}
		// The action's parameters are checked by Params: a command with a
		// bad parameter is a refusal (permanent), not an unreadable message.
		c.Action, c.Data = action, env.Data
		ev.Command = &c
	default:
		return nil, fmt.Errorf("type: unknown event type %q (want %q or %s<action>)", env.Type, TypeUserChanged, CommandTypePrefix)
	}
	return ev, nil
}

// fieldErrors collects validation problems, one per field.
type fieldErrors struct{ list []error }

func (f *fieldErrors) add(field, msg string) {
	f.list = append(f.list, fmt.Errorf("%s: %s", field, msg))
}

func (f *fieldErrors) err() error {
	switch len(f.list) {
	case 0:
		return nil
	case 1:
		return f.list[0]
	}
	msgs := make([]string, len(f.list))
	for i, e := range f.list {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

// strictUnmarshal decodes JSON and turns type errors into messages that name
// the field and the expected type.
func strictUnmarshal(b []byte, v any) error {
	err := json.Unmarshal(b, v)
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("%s: got JSON %s, want %s", field, te.Value, te.Type)
	case errors.As(err, &se):
		return fmt.Errorf("not valid JSON at byte %d: %v", se.Offset, err)
	}
	return err
}
