package events

import (
	"bytes"
	"time"
)

// fastEnvelope decodes body in one pass when it has the shape producers
// write: an object of the envelope's own keys, spelled exactly, whose
// values are strings without escapes, true, false or null, and whose
// "data" is an object of User keys alike (ChangedFields an array of such
// strings, or null). It reports ok false for anything else (an escape, a
// number, an unknown key or a key in another case, invalid JSON), and the
// caller decodes with encoding/json. What it accepts it reads as
// encoding/json does, through the same UnmarshalJSON methods and with the
// last of repeated keys winning; FuzzFastEnvelope holds it to that.
//
// encoding/json reads the data twice (once to check the envelope, once to
// skip over data), and DecodeUser twice more: for a user change this
// costs less than half as much.
func fastEnvelope(body []byte) (env Envelope, u *User, ok bool) {
	s := scanner{b: body}
	var user User
	parsedUser := false
	ok = s.object(func(key []byte) bool {
		switch string(key) {
		case "specversion":
			return s.plain(&env.SpecVersion)
		case "id":
			return s.plain(&env.ID)
		case "source":
			return s.plain(&env.Source)
		case "type":
			return s.plain(&env.Type)
		case "subject":
			return s.plain(&env.Subject)
		case "datacontenttype":
			return s.plain(&env.DataContentType)
		case "time":
			tok, ok := s.scalar()
			switch {
			case !ok:
				return false
			case tok[0] == 'n':
				env.Time = nil
				return true
			case tok[0] != '"':
				return false
			}
			var t time.Time
			if t.UnmarshalJSON(tok) != nil {
				return false
			}
			env.Time = &t
			return true
		case "data":
			start := s.i
			user = User{}
			if !s.object(func(key []byte) bool { return s.userField(&user, key) }) {
				return false
			}
			env.Data, parsedUser = bytes.Clone(body[start:s.i]), true
			return true
		}
		return false
	})
	if !ok || !s.end() {
		return Envelope{}, nil, false
	}
	if parsedUser {
		u = &user
	}
	return env, u, true
}

// userField reads the value of key into u.
func (s *scanner) userField(u *User, key []byte) bool {
	var f interface{ UnmarshalJSON([]byte) error }
	switch string(key) {
	case "Id":
		return s.plain(&u.ID)
	case "ChangedFields":
		return s.strings(&u.ChangedFields)
	case "Username":
		f = &u.Username
	case "Alias":
		f = &u.Alias
	case "Email":
		f = &u.Email
	case "FirstName":
		f = &u.FirstName
	case "LastName":
		f = &u.LastName
	case "IsActive":
		f = &u.IsActive
	case "FederationIdentifier":
		f = &u.FederationIdentifier
	case "ProfileId":
		f = &u.ProfileID
	case "CallCenterId":
		f = &u.CallCenterID
	case AgentIDField:
		f = &u.AgentID
	case "LastModifiedDate":
		f = &u.LastModifiedDate
	case "SystemModstamp":
		f = &u.SystemModstamp
	default:
		return false
	}
	tok, ok := s.scalar()
	return ok && f.UnmarshalJSON(tok) == nil
}

// scanner reads the narrow JSON fastEnvelope accepts; b[i:] is unread.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// object reads an object, calling field with each key when the value is
// next; field reads the value.
func (s *scanner) object(field func(key []byte) bool) bool {
	s.ws()
	if s.peek() != '{' {
		return false
	}
	s.i++
	s.ws()
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		s.ws()
		tok, ok := s.str()
		if !ok {
			return false
		}
		s.ws()
		if s.peek() != ':' {
			return false
		}
		s.i++
		s.ws()
		if !field(tok[1 : len(tok)-1]) {
			return false
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// str reads a string without escapes or control characters and returns
// it with its quotes.
func (s *scanner) str() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			tok := s.b[s.i : j+1]
			s.i = j + 1
			return tok, true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// scalar reads a string without escapes, true, false or null.
func (s *scanner) scalar() ([]byte, bool) {
	switch s.peek() {
	case '"':
		return s.str()
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return nil, false
}

func (s *scanner) literal(lit string) ([]byte, bool) {
	j := s.i + len(lit)
	if j > len(s.b) || string(s.b[s.i:j]) != lit {
		return nil, false
	}
	if j < len(s.b) {
		switch s.b[j] {
		case ' ', '\t', '\n', '\r', ',', '}', ']':
		default:
			return nil, false
		}
	}
	tok := s.b[s.i:j]
	s.i = j
	return tok, true
}

// plain reads a string field: a null leaves it as it is, as with
// encoding/json.
func (s *scanner) plain(dst *string) bool {
	tok, ok := s.scalar()
	switch {
	case !ok || tok[0] == 't' || tok[0] == 'f':
		return false
	case tok[0] == 'n':
		return true
	}
	v, ok := plainString(tok)
	if ok {
		*dst = v
	}
	return ok
}

// strings reads null (nil) or an array of plain strings (never nil).
func (s *scanner) strings(dst *[]string) bool {
	if s.peek() == 'n' {
		_, ok := s.literal("null")
		*dst = nil
		return ok
	}
	if s.peek() != '[' {
		return false
	}
	s.i++
	list := []string{}
	s.ws()
	if s.peek() == ']' {
		s.i++
		*dst = list
		return true
	}
	for {
		s.ws()
		tok, ok := s.str()
		if !ok {
			return false
		}
		v, ok := plainString(tok)
		if !ok {
			return false
		}
		list = append(list, v)
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			*dst = list
			return true
		default:
			return false
		}
	}
}
