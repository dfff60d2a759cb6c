package main

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"
	"unicode"

	"github.com/vccsync/vccsync/pkg/events"
)

// builtCommand is a command checked and ready to publish.
type builtCommand struct {
	env     events.Envelope
	subject string
}

// build checks the command line and builds the command; it returns every
// problem found, or none.
func (o *cmdOptions) build(spec actionSpec, now time.Time) (builtCommand, []string) {
	problems := spec.checkFlags(o.given)
	if len(problems) > 0 {
		return builtCommand{}, problems
	}

	var key string
	switch k, err := events.UserKey(o.user); {
	case !o.given["user"]:
		problems = append(problems, "--user is required: the Salesforce user ID (005…, 15 or 18 characters) the command is for")
	case err != nil:
		problems = append(problems, "--user: "+err.Error())
	default:
		key = k
	}
	who, err := operatorName(o.as, o.given["as"], user.Current, os.Getenv)
	if err != nil {
		problems = append(problems, err.Error())
	}
	id := o.id
	if o.given["id"] {
		if err := checkCommandID(id); err != nil {
			problems = append(problems, "--id: "+err.Error())
		}
	} else {
		id = newCommandID(now)
	}
	if o.timeout <= 0 {
		problems = append(problems, fmt.Sprintf("--timeout %s: must be positive", o.timeout))
	}
	if o.wait && o.waitTimeout <= 0 {
		problems = append(problems, fmt.Sprintf("--wait-timeout %s: must be positive", o.waitTimeout))
	}
	p, pp := spec.params(o)
	if len(pp) == 0 {
		pp = spec.contractProblems(p)
	}
	problems = append(problems, pp...)
	if len(problems) > 0 {
		return builtCommand{}, problems
	}

	env, err := events.NewCommand(id, key, spec.name, who, o.reason, p)
	if err != nil {
		return builtCommand{}, []string{err.Error()}
	}
	t := now.UTC().Truncate(time.Millisecond)
	env.Time = &t
	subject, err := checkAsReceived(env)
	if err != nil {
		return builtCommand{}, []string{err.Error()}
	}
	return builtCommand{env: env, subject: subject}, nil
}

// checkAsReceived checks the command as publisher checks its input
// (events.Parse) and as syncworker will receive it on its subject
// (events.Decode, then the action's parameters), and returns the subject.
func checkAsReceived(env events.Envelope) (string, error) {
	body, err := env.Marshal()
	if err != nil {
		return "", fmt.Errorf("encode: %w", err)
	}
	if _, err := events.Parse(body); err != nil {
		return "", err
	}
	subject, err := env.NATSSubject()
	if err != nil {
		return "", err
	}
	ev, err := events.Decode(subject, body)
	if err != nil {
		return "", err
	}
	if ev.Command == nil {
		return "", fmt.Errorf("type: %q does not decode as a command", env.Type)
	}
	if _, err := ev.Command.Params(); err != nil {
		return "", err
	}
	return subject, nil
}

// operatorName is who asks for the command: --as, else the OS user name,
// else $USER.
func operatorName(as string, given bool, current func() (*user.User, error), getenv func(string) string) (string, error) {
	if given {
		if err := checkWho(as); err != nil {
			return "", fmt.Errorf("--as: %w", err)
		}
		return as, nil
	}
	name := ""
	if u, err := current(); err == nil && u != nil {
		name = u.Username
	}
	if name == "" {
		name = getenv("USER")
	}
	if name == "" {
		return "", errors.New("cannot tell who asks (no OS user name, $USER unset): give --as WHO")
	}
	if err := checkWho(name); err != nil {
		return "", fmt.Errorf("the OS user name cannot be used: %w; give --as WHO", err)
	}
	return name, nil
}

// checkWho checks a requester's name: it becomes source operator/<who>.
func checkWho(s string) error {
	switch {
	case s == "":
		return errors.New("empty, want who asks (a user name)")
	case len(s) > 128:
		return fmt.Errorf("%d characters, at most 128", len(s))
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '/' }):
		return fmt.Errorf("%q: want a name without spaces, '/' or control characters", s)
	}
	return nil
}

// checkCommandID checks an operator's command id: it is the envelope id and
// the Nats-Msg-Id header.
func checkCommandID(s string) error {
	switch {
	case s == "":
		return errors.New("empty, want the command id to publish (e.g. the id a failed run printed)")
	case len(s) > 256:
		return fmt.Errorf("%d characters, at most 256", len(s))
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }):
		return fmt.Errorf("%q: want no spaces or control characters", s)
	}
	return nil
}

// crockford is the base-32 alphabet of command ids (no I, L, O, U).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newCommandID returns "cmd-" and 26 characters: the time in milliseconds
// (48 bits) then 80 random bits, in Crockford base 32, so that ids sort by
// time.
func newCommandID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return "cmd-" + string(out[:])
}
