package vcc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// DefaultPageSize is the page size ForEachUser uses when given 0.
const DefaultPageSize = 500

func userPath(id string) string { return "/users/" + url.PathEscape(id) }

func requireID(op, id string) error {
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("vcc: %s: empty user ID", op)
	}
	return nil
}

func (c *Client) overagesQuery() url.Values {
	return url.Values{"allowOverages": {strconv.FormatBool(c.overages)}}
}

// GetUser returns the user with the given ID. A user that does not exist is
// an *Error matching ErrNotFound.
func (c *Client) GetUser(ctx context.Context, id string) (*User, error) {
	if err := requireID("GetUser", id); err != nil {
		return nil, err
	}
	var u User
	if err := c.do(ctx, &request{method: http.MethodGet, route: RouteUser, path: userPath(id)}, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// GetUserByUsername returns the user with the given username (any
// character may appear in it: it is path-escaped). A user that does not
// exist is an *Error matching ErrNotFound.
func (c *Client) GetUserByUsername(ctx context.Context, username string) (*User, error) {
	if strings.TrimSpace(username) == "" {
		return nil, errors.New("vcc: GetUserByUsername: empty username")
	}
	var u User
	if err := c.do(ctx, byUsername(username), &u); err != nil {
		return nil, err
	}
	return &u, nil
}

func byUsername(username string) *request {
	return &request{method: http.MethodGet, route: RouteUserByUsername, path: "/users/by/username/" + url.PathEscape(username)}
}

// ListUsers returns one page of users. include is IncludeActive,
// IncludeArchived or IncludeAll ("" leaves VCC's default, Active); page
// starts at 1 and limit is 1 to MaxPageSize (0 means VCC's default, 25):
// both are always sent, since VCC's pages disagree on where paging starts.
func (c *Client) ListUsers(ctx context.Context, include string, page, limit int) (*UserPage, error) {
	if page < 1 {
		return nil, fmt.Errorf("vcc: ListUsers: page %d: pages start at 1", page)
	}
	if limit < 0 || limit > MaxPageSize {
		return nil, fmt.Errorf("vcc: ListUsers: limit %d: must be 1 to %d", limit, MaxPageSize)
	}
	if limit == 0 {
		limit = VCCDefaultPageSize
	}
	var extra url.Values
	if include != "" {
		extra = url.Values{"include": {include}}
	}
	var p UserPage
	if err := c.do(ctx, &request{method: http.MethodGet, route: RouteUsers, path: "/users", query: pageQuery(page, limit, extra)}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ForEachUser calls fn for every user, page by page from page 1, and stops
// after the last page (meta.pageCount), at an empty page, or — when VCC
// sends no pageCount — at a short page. A page that repeats the one before
// (a server that ignores paging) ends the iteration too, or is an error
// when meta.pageCount says more pages follow. pageSize 0 means
// DefaultPageSize. An error from fn stops the iteration and is returned as
// is. Pages are read one at a time while VCC may change, so a user created
// or archived meanwhile may be seen twice or missed.
func (c *Client) ForEachUser(ctx context.Context, include string, pageSize int, fn func(*User) error) error {
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	if pageSize < 0 || pageSize > MaxPageSize {
		return fmt.Errorf("vcc: ForEachUser: page size %d: must be 1 to %d", pageSize, MaxPageSize)
	}
	var prev []string // the user IDs of the page before
	for page := 1; ; page++ {
		p, err := c.ListUsers(ctx, include, page, pageSize)
		if err != nil {
			return err
		}
		if len(p.Users) == 0 {
			return nil
		}
		ids := make([]string, len(p.Users))
		for i := range p.Users {
			ids[i] = p.Users[i].UserID
		}
		if page > 1 && slices.Equal(ids, prev) {
			if p.Meta.PageCount > page {
				return fmt.Errorf("vcc: GET %s: page %d repeats page %d although VCC counts %d pages: the server ignores paging", RouteUsers, page, page-1, p.Meta.PageCount)
			}
			return nil
		}
		prev = ids
		for i := range p.Users {
			if err := fn(&p.Users[i]); err != nil {
				return err
			}
		}
		switch {
		case p.Meta.PageCount > 0 && page >= p.Meta.PageCount:
			return nil
		case p.Meta.PageCount <= 0 && len(p.Users) < pageSize:
			return nil
		}
	}
}

// CreateUser creates u (username, name, email and
// userAccountConfiguration.role are required) and returns the user VCC
// made. VCC has no idempotency keys, so the POST is never sent again
// blindly: after a 429 (not processed) it is sent again; after any other
// transient failure (a 5xx, a 408, a *TransportError: the user may have
// been created all the same) the user is first looked up with GET
// /users/by/username/{username}: a user found is returned as the
// create's result, a 404 sends the POST again, and a lookup that fails
// transiently is tried again, all within the retry budget. When the
// retries end without an answer, the user may exist: look it up with
// GetUserByUsername before calling CreateUser again. Without a username
// only a 429 is retried. A 2xx reply with no body is taken as success and
// the user is read back by username. A duplicate username or agent ID is a
// permanent *Error (IsDuplicate); when it refuses a POST sent again after
// a lookup's 404, the first POST may have been processed late and the
// error also matches ErrMaybeCreated.
func (c *Client) CreateUser(ctx context.Context, u *User) (*User, error) {
	if u == nil {
		return nil, errors.New("vcc: CreateUser: nil user")
	}
	var raw json.RawMessage
	r := &request{method: http.MethodPost, route: RouteUsers, path: "/users", query: c.overagesQuery(), body: u, emptyOK: true}
	if strings.TrimSpace(u.Username) != "" {
		r.lookup = byUsername(u.Username)
	}
	if err := c.do(ctx, r, &raw); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		// Created, but VCC sent no body: read the user back.
		if strings.TrimSpace(u.Username) == "" {
			return nil, fmt.Errorf("vcc: POST %s: VCC answered with no body, and the user has no username to look it up by", RouteUsers)
		}
		out, err := c.GetUserByUsername(ctx, u.Username)
		if err != nil {
			return nil, fmt.Errorf("vcc: POST %s: VCC answered with no body, and reading the user back failed: %w", RouteUsers, err)
		}
		return out, nil
	}
	var out User
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("vcc: POST %s: decode reply: %w", RouteUsers, err)
	}
	return &out, nil
}

// PatchUser applies patch to the user with the given ID and returns the
// updated user. Only the fields set in patch are sent (VCC deep-merges
// them); build it with Bool, Int and String for flags, numbers and
// optional strings. A patch that archives (Active false) a user who
// belongs to several VCC accounts is refused by VCC; with
// Config.AcceptArchiveInMultipleAccounts it is sent again with
// acceptArchiveInMultipleAccounts=true (archiving the user in all its
// accounts), otherwise the error matches ErrMultipleAccounts.
func (c *Client) PatchUser(ctx context.Context, id string, patch *User) (*User, error) {
	if err := requireID("PatchUser", id); err != nil {
		return nil, err
	}
	if patch == nil {
		return nil, errors.New("vcc: PatchUser: nil patch")
	}
	var out User
	r := &request{method: http.MethodPatch, route: RouteUser, path: userPath(id), query: c.overagesQuery(), body: patch}
	err := c.do(ctx, r, &out)
	if err != nil && patch.Active != nil && !*patch.Active {
		if e, ok := multipleAccounts(err); ok {
			if !c.multiArch {
				return nil, &multipleAccountsError{userID: id, err: e}
			}
			r.query = c.overagesQuery()
			r.query.Set("acceptArchiveInMultipleAccounts", "true")
			err = c.do(ctx, r, &out)
		}
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ArchiveUser archives the user (PATCH {"active":false}); see PatchUser for
// a user of several accounts.
func (c *Client) ArchiveUser(ctx context.Context, id string) (*User, error) {
	return c.PatchUser(ctx, id, &User{Active: Bool(false)})
}

// RevertUser reverts the archive of the user (PATCH {"active":true}).
func (c *Client) RevertUser(ctx context.Context, id string) (*User, error) {
	return c.PatchUser(ctx, id, &User{Active: Bool(true)})
}

// UnlockUser clears the lock VCC sets after five failed logins (POST
// /users/{userId}/unlock, no body; VCC answers 200 with no body, any 2xx is
// accepted). Unlocking twice does no harm, so it is retried like a PUT.
// Read the user afterwards to confirm.
func (c *Client) UnlockUser(ctx context.Context, userID string) error {
	if err := requireID("UnlockUser", userID); err != nil {
		return err
	}
	r := &request{method: http.MethodPost, route: RouteUserUnlock, path: userPath(userID) + "/unlock", idempotent: true}
	return c.do(ctx, r, nil)
}

// ResetPassword asks VCC to send the user the password-reset email (POST
// /users/{userId}/forgotPassword, no body; VCC answers 200, any 2xx is
// accepted).
//
// It is not idempotent: every successful call sends another email, and a
// failure other than a 4xx *Error (a 5xx, a timeout, a broken connection)
// leaves the outcome unknown — the email may have been sent. So the client
// sends it again only after a 429 (VCC refused it unprocessed, within the
// retry budget) or when no token could be had (it was not sent); any other
// failure is returned at once. Callers must record their intent durably
// before calling and, finding that intent after a crash, report the
// outcome as unknown instead of calling again. A 401 is sent again once
// with a fresh token, as for every request: VCC refused that request
// before acting on it.
func (c *Client) ResetPassword(ctx context.Context, userID string) error {
	if err := requireID("ResetPassword", userID); err != nil {
		return err
	}
	r := &request{method: http.MethodPost, route: RouteUserForgotPassword, path: userPath(userID) + "/forgotPassword"}
	return c.do(ctx, r, nil)
}

// DeleteUser deletes the user, which must be archived first. VCC refuses
// to delete a user who has user-level API credentials: its message is in
// the *Error.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	if err := requireID("DeleteUser", id); err != nil {
		return err
	}
	return c.do(ctx, &request{method: http.MethodDelete, route: RouteUser, path: userPath(id)}, nil)
}

// GetSkills returns all the user's skills with their levels, every page
// read.
func (c *Client) GetSkills(ctx context.Context, id string) ([]Skill, error) {
	return getUserList[Skill](ctx, c, "GetSkills", RouteUserSkills, id, "/skills", "agentSkills")
}

// PutSkills replaces all the user's skills (an empty list removes them
// all). Build skills from a complete read (GetSkills): what is not in it
// is removed.
func (c *Client) PutSkills(ctx context.Context, id string, skills []Skill) error {
	if skills == nil {
		skills = []Skill{}
	}
	return c.putList(ctx, "PutSkills", RouteUserSkills, id, "/skills", map[string]any{"agentSkills": skills})
}

// GetGroups returns all the groups the user belongs to, every page read.
func (c *Client) GetGroups(ctx context.Context, id string) ([]Group, error) {
	return getUserList[Group](ctx, c, "GetGroups", RouteUserGroups, id, "/groups", "agentGroups")
}

// PutGroups replaces all the user's groups.
func (c *Client) PutGroups(ctx context.Context, id string, groups []Group) error {
	if groups == nil {
		groups = []Group{}
	}
	return c.putList(ctx, "PutGroups", RouteUserGroups, id, "/groups", map[string]any{"agentGroups": groups})
}

// GetCallbackNumbers returns all the callback numbers assigned to the
// user, every page read.
func (c *Client) GetCallbackNumbers(ctx context.Context, id string) ([]CallbackNumberRef, error) {
	return getUserList[CallbackNumberRef](ctx, c, "GetCallbackNumbers", RouteUserCallbackNumbers, id, "/callbackNumbers", "callbackNumbers")
}

// PutCallbackNumbers replaces all the user's callback numbers.
func (c *Client) PutCallbackNumbers(ctx context.Context, id string, numbers []CallbackNumberRef) error {
	if numbers == nil {
		numbers = []CallbackNumberRef{}
	}
	return c.putList(ctx, "PutCallbackNumbers", RouteUserCallbackNumbers, id, "/callbackNumbers", map[string]any{"callbackNumbers": numbers})
}

// GetGroupPermissions returns all the user's permissions on groups (a
// supervisor's), every page read.
func (c *Client) GetGroupPermissions(ctx context.Context, id string) ([]GroupPermission, error) {
	return getUserList[GroupPermission](ctx, c, "GetGroupPermissions", RouteUserGroupPermissions, id, "/permissions/groups", "groupPermissions")
}

// PutGroupPermissions replaces all the user's permissions on groups.
func (c *Client) PutGroupPermissions(ctx context.Context, id string, perms []GroupPermission) error {
	if perms == nil {
		perms = []GroupPermission{}
	}
	return c.putList(ctx, "PutGroupPermissions", RouteUserGroupPermissions, id, "/permissions/groups", map[string]any{"groupPermissions": perms})
}

// ListCallbackNumbers returns all the account's callback numbers (outbound
// CLIDs), every page read.
func (c *Client) ListCallbackNumbers(ctx context.Context) ([]CallbackNumber, error) {
	return getAll[CallbackNumber](ctx, c, RouteCallbackNumbers, "/callbackNumbers", "callbackNumbers", MaxPageSize)
}

func (c *Client) putList(ctx context.Context, op, route, id, sub string, body any) error {
	if err := requireID(op, id); err != nil {
		return err
	}
	return c.do(ctx, &request{method: http.MethodPut, route: route, path: userPath(id) + sub, body: body}, nil)
}

// maxRegionExamples is how many usernames RegionsInUse gives per region.
const maxRegionExamples = 3

// RegionsInUse reads every user, active and archived (pages of
// MaxPageSize), and returns the distinct telephony regions
// (telephonyAddress.outboundTelephonyRegion) they carry, each with how
// many users carry it and up to three of their usernames, the most used
// first (ties by GUID). VCC has no endpoint that lists telephony regions,
// and users carry only the GUID: this is how an operator finds which GUID
// is which region, for the configuration.
func (c *Client) RegionsInUse(ctx context.Context) ([]RegionUse, error) {
	byID := map[string]*RegionUse{}
	err := c.ForEachUser(ctx, IncludeAll, MaxPageSize, func(u *User) error {
		if u.Config == nil || u.Config.Agent == nil || u.Config.Agent.TelephonyAddress == nil {
			return nil
		}
		id := strings.TrimSpace(u.Config.Agent.TelephonyAddress.OutboundTelephonyRegion)
		if id == "" {
			return nil
		}
		r := byID[id]
		if r == nil {
			r = &RegionUse{Region: id, Examples: []string{}}
			byID[id] = r
		}
		r.Users++
		if len(r.Examples) < maxRegionExamples && u.Username != "" {
			r.Examples = append(r.Examples, u.Username)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]RegionUse, 0, len(byID))
	for _, r := range byID {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b RegionUse) int {
		if a.Users != b.Users {
			return b.Users - a.Users
		}
		return strings.Compare(a.Region, b.Region)
	})
	return out, nil
}
