package vcc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/vccsync/vccsync/pkg/sandbox"
)

// A create refused as a duplicate after an earlier try whose outcome was
// unknown matches ErrMaybeCreated: here a proxy answered the first POST
// 503 while VCC processed it late, after the lookup had answered 404, so
// the POST sent again is refused. The user the refusal is about is the one
// this call created. The same refusal on a first try does not match.
func TestCreateRefusedAfterUnknownOutcome(t *testing.T) {
	const username = "late.agent@demo.example"
	const post, lookup = "POST /useradmin/users", "GET /useradmin/users/by/username/" + username
	var (
		mu    sync.Mutex
		posts int
		held  *http.Request // the first POST, processed after the lookup
	)
	v, log, cfg := startSandbox(t, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		mu.Lock()
		defer mu.Unlock()
		switch r.Method + " " + r.URL.Path {
		case post:
			if posts++; posts == 1 {
				b, _ := io.ReadAll(r.Body)
				held = httptest.NewRequest(r.Method, r.URL.RequestURI(), bytes.NewReader(b))
				held.Header = r.Header.Clone()
				writeJSON(w, http.StatusServiceUnavailable, map[string]any{"message": "Service Unavailable"})
				return
			}
		case lookup:
			next.ServeHTTP(w, r)
			if held != nil {
				next.ServeHTTP(httptest.NewRecorder(), held)
				held = nil
			}
			return
		}
		next.ServeHTTP(w, r)
	})
	c := newClient(t, cfg)
	newUser := &User{Username: username, Name: "Late Agent", Email: username, Config: &AccountConfiguration{Role: RoleAdmin}}
	_, err := c.CreateUser(context.Background(), newUser)
	if want := []string{post, lookup, post}; !slices.Equal(log.get(), want) {
		t.Fatalf("requests %q, want %q", log.get(), want)
	}
	var ve *Error
	if !errors.Is(err, ErrMaybeCreated) || !IsDuplicate(err) || !errors.As(err, &ve) || ve.Status != http.StatusConflict {
		t.Fatalf("error %v: want a duplicate *Error 409 matching ErrMaybeCreated", err)
	}
	var temp interface{ Temporary() bool }
	if !errors.As(err, &temp) || temp.Temporary() {
		t.Errorf("error %v: want permanent", err)
	}
	if _, ok := v.UserByUsername(username); !ok {
		t.Fatal("the late POST made no user")
	}

	// The same refusal on the first try: nothing of this call was processed.
	_, err = c.CreateUser(context.Background(), newUser)
	if err == nil || !IsDuplicate(err) || errors.Is(err, ErrMaybeCreated) {
		t.Errorf("first-try refusal %v: want a duplicate not matching ErrMaybeCreated", err)
	}
}

// The user list is read whatever shape VCC gives it: under "users", under
// "items", or as a bare array without meta (ForEachUser then reads on
// while pages come back full).
func TestForEachUserBareArrays(t *testing.T) {
	v := sandbox.NewVCC(sandbox.VCCOptions{ListsAsBareArrays: true})
	if err := v.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	url, stop, err := v.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	c := newClient(t, Config{BaseURL: url + sandbox.VCCAPIRoot, TokenURL: url + sandbox.VCCTokenPath,
		ClientID: sandbox.DemoClientID, ClientSecret: sandbox.DemoClientSecret, RatePerMinute: -1})
	var got []string
	if err := c.ForEachUser(context.Background(), IncludeAll, 2, func(u *User) error {
		got = append(got, u.Username)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, rec := range v.Users() {
		want = append(want, rec.User.Username)
	}
	if !slices.Equal(got, want) {
		t.Errorf("users %q, want %q", got, want)
	}

	for _, body := range []string{`{"meta":{"pageCount":1},"Items":[{"userId":"a"}]}`, `[{"userId":"a"}]`, `{"USERS":[{"userId":"a"}]}`} {
		var p UserPage
		if err := p.UnmarshalJSON([]byte(body)); err != nil || len(p.Users) != 1 || p.Users[0].UserID != "a" {
			t.Errorf("%s: %+v %v", body, p, err)
		}
	}
}
