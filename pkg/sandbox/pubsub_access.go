package sandbox

import (
	"net/http"
	"strings"
	"time"
)

// The Salesforce sandbox as the Pub/Sub sandbox sees it: the org's
// clock, its OAuth sessions, its users while a change is announced, and a
// way to serve the org through another handler.

// now is the org's clock.
func (s *Salesforce) now() time.Time { return s.opts.Now() }

// sessionUser returns the user of a live access token, checked as the
// REST API checks a bearer token (an expired one is forgotten).
func (s *Salesforce) sessionUser(tok string) (userID string, ok bool) {
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", false
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, found := s.sessions[tok]
	if found && !now.Before(sess.expires) {
		delete(s.sessions, tok)
		found = false
	}
	if !found {
		return "", false
	}
	return sess.userID, true
}

// userLocked returns a copy of a user by its 18-character ID; the caller
// holds s.mu (a listener registered with subscribeUsers does).
func (s *Salesforce) userLocked(id string) (SFUser, bool) {
	e := s.users[id]
	if e == nil {
		return SFUser{}, false
	}
	return e.u.clone(), true
}

// subscribeUsers registers fn as subscribe does and returns, taken under
// the same lock, the users as they are before fn hears of any change.
func (s *Salesforce) subscribeUsers(fn func(userID string)) (users []SFUser, unsubscribe func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.sortedUsers() {
		users = append(users, e.u.clone())
	}
	s.listenSeq++
	id := s.listenSeq
	s.listeners[id] = fn
	return users, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.listeners, id)
	}
}

// startHandler serves h, a handler in front of the org, on addr as
// Start serves the org itself: the URL becomes the org's instance URL.
func (s *Salesforce) startHandler(addr string, h http.Handler) (url string, stop func() error, err error) {
	url, stop, err = Start(addr, h)
	if err == nil {
		s.mu.Lock()
		s.startedURL = url
		s.mu.Unlock()
	}
	return url, stop, err
}
