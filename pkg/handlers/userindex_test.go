package handlers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/vcc"
)

// fakeAccount lists users for a userIndex; a listing can be held midway.
type fakeAccount struct {
	mu    sync.Mutex
	users []*vcc.User
	calls atomic.Int32
	hold  chan struct{} // when set, a listing waits on it after the first user
	err   error
}

func vccUser(id, name, agentID string) *vcc.User {
	u := &vcc.User{UserID: id, Username: name}
	if agentID != "" {
		u.Config = &vcc.AccountConfiguration{Agent: &vcc.AgentConfiguration{AgentDisplayID: agentID}}
	}
	return u
}

func (a *fakeAccount) add(u *vcc.User) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.users = append(a.users, u)
}

func (a *fakeAccount) list(ctx context.Context, fn func(*vcc.User) error) error {
	a.calls.Add(1)
	a.mu.Lock()
	users, hold, err := append([]*vcc.User(nil), a.users...), a.hold, a.err
	a.mu.Unlock()
	if err != nil {
		return err
	}
	for i, u := range users {
		if err := fn(u); err != nil {
			return err
		}
		if i == 0 && hold != nil {
			select {
			case <-hold:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

func lookupOK(t *testing.T, x *userIndex, name string) string {
	t.Helper()
	id, indexed, err := x.lookup(context.Background(), name)
	if err != nil || !indexed {
		t.Fatalf("lookup %s: indexed %v, %v", name, indexed, err)
	}
	return id
}

func TestUserIndexLookups(t *testing.T) {
	acct := &fakeAccount{}
	acct.add(vccUser("u1", "Ann@Example.com", "1001"))
	acct.add(vccUser("u2", "bob@example.com", ""))
	x := newUserIndex(acct.list)
	if id := lookupOK(t, x, "ann@example.COM"); id != "u1" {
		t.Errorf("case-insensitive lookup: %q, want u1", id)
	}
	if id := lookupOK(t, x, "carl@example.com"); id != "" {
		t.Errorf("unknown username: %q", id)
	}
	if !x.agentIDInUse("1001") || x.agentIDInUse("1002") {
		t.Error("agent IDs in use: want 1001 only")
	}
	// Kept in step: a create, a rename, a delete.
	x.put(vccUser("u3", "carl@example.com", "1002"))
	x.put(vccUser("u2", "robert@example.com", ""))
	x.remove("u1")
	for name, want := range map[string]string{"carl@example.com": "u3", "bob@example.com": "", "robert@example.com": "u2", "ann@example.com": ""} {
		if id := lookupOK(t, x, name); id != want {
			t.Errorf("%s: %q, want %q", name, id, want)
		}
	}
	if !x.agentIDInUse("1002") || !x.agentIDInUse("1001") {
		t.Error("agent IDs: want the new one in use, and the deleted user's kept")
	}
	if n := acct.calls.Load(); n != 1 {
		t.Errorf("%d listings, want 1", n)
	}
	// Invalidated: listed again.
	x.invalidate()
	lookupOK(t, x, "ann@example.com")
	if n := acct.calls.Load(); n != 2 {
		t.Errorf("%d listings after invalidate, want 2", n)
	}
}

func TestUserIndexMaxAgeClock(t *testing.T) {
	acct := &fakeAccount{}
	x := newUserIndex(acct.list)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	x.now = func() time.Time { return now }
	x.maxAge = time.Minute
	lookupOK(t, x, "a")
	now = now.Add(59 * time.Second)
	lookupOK(t, x, "a")
	if n := acct.calls.Load(); n != 1 {
		t.Fatalf("%d listings within the max age, want 1", n)
	}
	now = now.Add(time.Second)
	lookupOK(t, x, "a")
	if n := acct.calls.Load(); n != 2 {
		t.Fatalf("%d listings at the max age, want 2", n)
	}
}

// Changes made while a listing is under way are replayed onto it; an
// invalidation meanwhile makes the next lookup list again.
func TestUserIndexChangesDuringListing(t *testing.T) {
	acct := &fakeAccount{hold: make(chan struct{})}
	acct.add(vccUser("u1", "ann@example.com", "1001"))
	acct.add(vccUser("u2", "bob@example.com", "1002"))
	x := newUserIndex(acct.list)
	done := make(chan error)
	go func() { done <- x.ready(context.Background()) }()
	for {
		x.mu.Lock()
		building := x.building != nil
		x.mu.Unlock()
		if building {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// The listing has read ann and waits: bob is renamed, carl created.
	x.put(vccUser("u2", "robert@example.com", "1002"))
	x.put(vccUser("u3", "carl@example.com", "1003"))
	x.invalidate()
	close(acct.hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	x.mu.Lock()
	names, stale := x.names, x.stale
	x.mu.Unlock()
	if names["robert@example.com"] != "u2" || names["bob@example.com"] != "" || names["carl@example.com"] != "u3" || names["ann@example.com"] != "u1" {
		t.Errorf("names %v: want the changes replayed onto the listing", names)
	}
	if !stale {
		t.Error("an invalidation during the listing was lost")
	}
}

// One listing at a time: concurrent lookups on a cold index wait for it.
func TestUserIndexSingleListing(t *testing.T) {
	acct := &fakeAccount{hold: make(chan struct{})}
	acct.add(vccUser("u1", "ann@example.com", ""))
	acct.add(vccUser("u2", "bob@example.com", ""))
	x := newUserIndex(acct.list)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, _, err := x.lookup(context.Background(), "bob@example.com")
			if err == nil && id != "u2" {
				err = fmt.Errorf("bob: %q", id)
			}
			errs <- err
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(acct.hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := acct.calls.Load(); n != 1 {
		t.Errorf("%d listings, want 1", n)
	}
}

// A listing abandoned by its caller's cancellation is made again by a
// waiter; a failure of VCC is returned to every waiter, and the next
// lookup lists again.
func TestUserIndexListingFailures(t *testing.T) {
	acct := &fakeAccount{hold: make(chan struct{})}
	acct.add(vccUser("u1", "ann@example.com", ""))
	acct.add(vccUser("u2", "bob@example.com", ""))
	x := newUserIndex(acct.list)
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error)
	go func() { first <- x.ready(ctx) }()
	for acct.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	second := make(chan error)
	go func() { _, _, err := x.lookup(context.Background(), "bob@example.com"); second <- err }()
	time.Sleep(10 * time.Millisecond)
	acct.mu.Lock()
	acct.hold = nil
	acct.mu.Unlock()
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled lister: %v", err)
	}
	if err := <-second; err != nil {
		t.Errorf("waiter: %v, want the listing made again", err)
	}

	boom := errors.New("503 Service Unavailable")
	acct.mu.Lock()
	acct.err = boom
	acct.mu.Unlock()
	x.invalidate()
	if _, _, err := x.lookup(context.Background(), "bob@example.com"); !errors.Is(err, boom) {
		t.Errorf("VCC failing: %v", err)
	}
	acct.mu.Lock()
	acct.err = nil
	acct.mu.Unlock()
	if id := lookupOK(t, x, "bob@example.com"); id != "u2" {
		t.Errorf("after VCC recovered: %q", id)
	}
}

// Over maxNames users the index does not answer for usernames (the caller
// asks VCC), but still knows the agent IDs in use.
func TestUserIndexBound(t *testing.T) {
	acct := &fakeAccount{}
	for i := range 5 {
		acct.add(vccUser(fmt.Sprint("u", i), fmt.Sprintf("user%d@example.com", i), fmt.Sprint(1000+i)))
	}
	x := newUserIndex(acct.list)
	x.maxNames = 3
	if _, indexed, err := x.lookup(context.Background(), "user0@example.com"); err != nil || indexed {
		t.Errorf("over the bound: indexed %v %v, want the caller to ask VCC", indexed, err)
	}
	if !x.agentIDInUse("1004") {
		t.Error("agent IDs not kept over the bound")
	}
	x.maxNames = 10
	x.invalidate()
	if id := lookupOK(t, x, "user4@example.com"); id != "u4" {
		t.Errorf("under the bound: %q", id)
	}
	x.noNames = true
	if _, indexed, _ := x.lookup(context.Background(), "user4@example.com"); indexed {
		t.Error("NoUsernameIndex: the index answered")
	}
}
