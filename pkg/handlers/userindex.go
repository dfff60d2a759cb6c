package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/vccsync/vccsync/pkg/vcc"
)

// Defaults of CacheOptions.
const (
	DefaultUserIndexMaxAge     = 10 * time.Minute
	DefaultUserIndexMaxEntries = 200_000
	DefaultTemplateMaxAge      = 5 * time.Minute
)

// CacheOptions says what the handler keeps in memory about the VCC account
// to spare VCC calls (see the package doc, "The user index"). A zero field
// takes its default.
type CacheOptions struct {
	// UserIndexMaxAge is how long a listing of the account's users (GET
	// /users?include=All, every page) is trusted: a lookup in an index
	// older than this lists the account again first. Default 10 minutes.
	UserIndexMaxAge time.Duration
	// UserIndexMaxEntries bounds the usernames the index holds. An account
	// with more users is not indexed by username (every unlinked user is
	// looked up in VCC, one GET each); its agent IDs in use are still kept.
	// Default 200000.
	UserIndexMaxEntries int
	// NoUsernameIndex looks every unlinked user up in VCC by username (GET
	// /users/by/username/{username}) before creating it, as vccsync did
	// before the index: one more call per create. For comparison and
	// troubleshooting.
	NoUsernameIndex bool
	// TemplateMaxAge is how long a template user and its lists, once read,
	// are reused for creates. Default 5 minutes.
	TemplateMaxAge time.Duration
	// ReadBeforeWrite reads a linked user from VCC before every update
	// (GET, then a PATCH of what differs), as vccsync did before updates
	// were written against State.Synced (see the package doc,
	// "Convergence"): one more call per update. For comparison and
	// troubleshooting.
	ReadBeforeWrite bool
	// SelectAfterCreate leaves the template's selected callback number out
	// of a create and selects it afterwards, once the user has its
	// callback numbers (a PATCH), as vccsync did before: one more call per
	// create from a template that selects one. The handler turns it on by
	// itself when VCC refuses a selection in a create. For comparison.
	SelectAfterCreate bool
}

// SetCaches sets the cache options; call it before the handler is used
// (it is safe meanwhile, but a listing or template already read is kept
// until it is older than the new max age).
func (h *Handler) SetCaches(o CacheOptions) {
	if o.UserIndexMaxAge <= 0 {
		o.UserIndexMaxAge = DefaultUserIndexMaxAge
	}
	if o.UserIndexMaxEntries <= 0 {
		o.UserIndexMaxEntries = DefaultUserIndexMaxEntries
	}
	if o.TemplateMaxAge <= 0 {
		o.TemplateMaxAge = DefaultTemplateMaxAge
	}
	h.idx.mu.Lock()
	h.idx.maxAge, h.idx.maxNames, h.idx.noNames = o.UserIndexMaxAge, o.UserIndexMaxEntries, o.NoUsernameIndex
	h.idx.mu.Unlock()
	h.tmplMu.Lock()
	h.tmplTTL = o.TemplateMaxAge
	h.tmplMu.Unlock()
	h.readFirst.Store(o.ReadBeforeWrite)
	h.selectAfterCreate.Store(o.SelectAfterCreate)
}

// userIndex is what the handler knows of the VCC account's users without
// asking: username → user ID, and the agent IDs in use, built from one
// listing of every user (active and archived), then kept in step by the
// handler's own creates, renames and deletes, and listed again when older
// than maxAge or after invalidate. It is safe for concurrent use; one
// listing runs at a time, and callers that need one meanwhile wait for it.
type userIndex struct {
	list     func(ctx context.Context, fn func(*vcc.User) error) error
	maxAge   time.Duration
	maxNames int
	noNames  bool // usernames are not looked up in the index
	now      func() time.Time

	mu       sync.Mutex
	names    map[string]string // lower-case username → user ID; nil when over maxNames
	users    map[string]string // user ID → its lower-case username in names
	agentIDs map[string]bool   // agentDisplayIds in use
	built    time.Time         // when the listing in use started; zero before the first
	stale    bool              // listed again before the next lookup
	// staleAfterBuild is set by an invalidation while a listing is under
	// way: that listing may have read past the user already.
	staleAfterBuild bool
	building        chan struct{}      // closed when the listing under way ends; nil when none
	buildErr        error              // the last listing's failure
	ops             []func(*indexData) // changes made while a listing is under way, replayed onto it
}

// indexData is one listing's content.
type indexData struct {
	names    map[string]string
	users    map[string]string
	agentIDs map[string]bool
}

func newUserIndex(list func(ctx context.Context, fn func(*vcc.User) error) error) *userIndex {
	return &userIndex{list: list, maxAge: DefaultUserIndexMaxAge, maxNames: DefaultUserIndexMaxEntries, now: time.Now}
}

func nameKey(username string) string { return strings.ToLower(strings.TrimSpace(username)) }

// fresh reports whether the index may answer without listing; the caller
// holds x.mu.
func (x *userIndex) fresh() bool {
	return !x.built.IsZero() && !x.stale && x.now().Sub(x.built) < x.maxAge
}

// ready makes sure the index is built and not older than maxAge: it lists
// the account's users, or waits for the listing under way. At most one
// listing is made or waited for per call; a listing cut short by its
// caller's cancellation is made again by a waiter whose context is alive.
func (x *userIndex) ready(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		x.mu.Lock()
		if x.fresh() {
			x.mu.Unlock()
			return nil
		}
		if ch := x.building; ch != nil {
			x.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return fmt.Errorf("wait for the listing of VCC users: %w", ctx.Err())
			}
			x.mu.Lock()
			err := x.buildErr
			x.mu.Unlock()
			if err != nil && ctx.Err() == nil && attempt < 2 &&
				(errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
				continue // the lister gave up, not VCC
			}
			return err
		}
		ch := make(chan struct{})
		x.building, x.ops, x.staleAfterBuild = ch, nil, false
		x.mu.Unlock()
		return x.build(ctx, ch)
	}
}

// build lists every user and installs the listing, with the changes made
// meanwhile replayed onto it.
func (x *userIndex) build(ctx context.Context, ch chan struct{}) error {
	x.mu.Lock()
	start, maxNames := x.now(), x.maxNames
	x.mu.Unlock()
	d := indexData{names: map[string]string{}, users: map[string]string{}, agentIDs: map[string]bool{}}
	err := x.list(ctx, func(u *vcc.User) error {
		if d.names != nil && u.Username != "" && u.UserID != "" {
			if len(d.names) >= maxNames {
				d.names, d.users = nil, nil // too many to index by username
			} else {
				k := nameKey(u.Username)
				d.names[k], d.users[u.UserID] = u.UserID, k
			}
		}
		if id := u.AgentDisplayID(); id != "" {
			d.agentIDs[id] = true
		}
		return nil
	})
	x.mu.Lock()
	defer x.mu.Unlock()
	defer close(ch)
	x.building = nil
	ops := x.ops
	x.ops = nil
	if err != nil {
		x.buildErr = fmt.Errorf("list VCC users (usernames and agent IDs in use): %w", err)
		return x.buildErr
	}
	for _, op := range ops {
		op(&d)
	}
	x.names, x.users, x.agentIDs = d.names, d.users, d.agentIDs
	x.built, x.buildErr = start, nil
	x.stale, x.staleAfterBuild = x.staleAfterBuild, false
	return nil
}

// change applies op to the index in use and, while a listing is under
// way, records it for the listing's result.
func (x *userIndex) change(op func(*indexData)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	d := indexData{names: x.names, users: x.users, agentIDs: x.agentIDs}
	if d.agentIDs != nil {
		op(&d)
	}
	if x.building != nil {
		x.ops = append(x.ops, op)
	}
}

// lookup returns the user ID the index holds for username ("" for none),
// listing first when needed. indexed is false when the index cannot say:
// usernames are not indexed (NoUsernameIndex, or more users than
// maxNames); the caller must then ask VCC.
func (x *userIndex) lookup(ctx context.Context, username string) (id string, indexed bool, err error) {
	x.mu.Lock()
	noNames := x.noNames
	x.mu.Unlock()
	if noNames {
		return "", false, nil
	}
	if err := x.ready(ctx); err != nil {
		return "", false, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.names == nil {
		return "", false, nil
	}
	return x.names[nameKey(username)], true, nil
}

// agentIDInUse reports whether a VCC user has the agent ID, as far as the
// index knows; call ready first. It must stay fast: the store calls it
// inside a write transaction.
func (x *userIndex) agentIDInUse(id string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.agentIDs[id]
}

// put records u as VCC has it now (just created, read or written): its
// username (dropping a former one) and its agent ID.
func (x *userIndex) put(u *vcc.User) {
	if u == nil || u.UserID == "" {
		return
	}
	id, name, agentID := u.UserID, nameKey(u.Username), u.AgentDisplayID()
	x.change(func(d *indexData) {
		if d.names != nil && name != "" {
			if old, ok := d.users[id]; ok && old != name && d.names[old] == id {
				delete(d.names, old)
			}
			if len(d.names) < x.maxNames || d.names[name] != "" {
				d.names[name], d.users[id] = id, name
			}
		}
		if agentID != "" {
			d.agentIDs[agentID] = true
		}
	})
}

// markAgentID records an agent ID as in use.
func (x *userIndex) markAgentID(agentID string) {
	if agentID == "" {
		return
	}
	x.change(func(d *indexData) { d.agentIDs[agentID] = true })
}

// remove forgets the user (deleted, or not found by its ID). Its agent ID
// stays in use: the allocator does not hand out a deleted agent's ID.
func (x *userIndex) remove(userID string) {
	x.change(func(d *indexData) {
		if d.names == nil {
			return
		}
		if name, ok := d.users[userID]; ok {
			if d.names[name] == userID {
				delete(d.names, name)
			}
			delete(d.users, userID)
		}
	})
}

// forgetName forgets the username (VCC has no user of that name after all).
func (x *userIndex) forgetName(username string) {
	name := nameKey(username)
	x.change(func(d *indexData) {
		if d.names == nil {
			return
		}
		if id, ok := d.names[name]; ok {
			delete(d.names, name)
			if d.users[id] == name {
				delete(d.users, id)
			}
		}
	})
}

// invalidate makes the next lookup list the account again: VCC refused a
// create for a username or agent ID the index did not know. A listing
// under way may have read past the user already, so it is not trusted
// either.
func (x *userIndex) invalidate() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.stale = true
	if x.building != nil {
		x.staleAfterBuild = true
	}
}
