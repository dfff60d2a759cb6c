package vcc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
// starts at 1 and is always sent; limit is 1 to MaxPageSize (0 leaves VCC's
// default, 25).
func (c *Client) ListUsers(ctx context.Context, include string, page, limit int) (*UserPage, error) {
	if page < 1 {
		return nil, fmt.Errorf("vcc: ListUsers: page %d: pages start at 1", page)
	}
	if limit < 0 || limit > MaxPageSize {
		return nil, fmt.Errorf("vcc: ListUsers: limit %d: must be 1 to %d", limit, MaxPageSize)
	}
	q := url.Values{"page": {strconv.Itoa(page)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if include != "" {
		q.Set("include", include)
	}
	var p UserPage
	if err := c.do(ctx, &request{method: http.MethodGet, route: RouteUsers, path: "/users", query: q}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ForEachUser calls fn for every user, page by page from page 1, and stops
// after the last page (meta.pageCount), at an empty page, or — when VCC
// sends no pageCount — at a short page. pageSize 0 means DefaultPageSize.
// An error from fn stops the iteration and is returned as is. Pages are
// read one at a time while VCC may change, so a user created or archived
// meanwhile may be seen twice or missed.
func (c *Client) ForEachUser(ctx context.Context, include string, pageSize int, fn func(*User) error) error {
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	if pageSize < 0 || pageSize > MaxPageSize {
		return fmt.Errorf("vcc: ForEachUser: page size %d: must be 1 to %d", pageSize, MaxPageSize)
	}
	for page := 1; ; page++ {
		p, err := c.ListUsers(ctx, include, page, pageSize)
		if err != nil {
			return err
		}
		for i := range p.Users {
			if err := fn(&p.Users[i]); err != nil {
				return err
			}
		}
		switch {
		case len(p.Users) == 0:
			return nil
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
// only a 429 is retried.
func (c *Client) CreateUser(ctx context.Context, u *User) (*User, error) {
	if u == nil {
		return nil, errors.New("vcc: CreateUser: nil user")
	}
	var out User
	r := &request{method: http.MethodPost, route: RouteUsers, path: "/users", query: c.overagesQuery(), body: u}
	if strings.TrimSpace(u.Username) != "" {
		r.lookup = byUsername(u.Username)
	}
	if err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PatchUser applies patch to the user with the given ID and returns the
// updated user. Only the fields set in patch are sent (VCC deep-merges
// them); build it with Bool and String for flags and optional strings.
func (c *Client) PatchUser(ctx context.Context, id string, patch *User) (*User, error) {
	if err := requireID("PatchUser", id); err != nil {
		return nil, err
	}
	if patch == nil {
		return nil, errors.New("vcc: PatchUser: nil patch")
	}
	var out User
	r := &request{method: http.MethodPatch, route: RouteUser, path: userPath(id), query: c.overagesQuery(), body: patch}
	if err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ArchiveUser archives the user (PATCH {"active":false}).
func (c *Client) ArchiveUser(ctx context.Context, id string) (*User, error) {
	return c.PatchUser(ctx, id, &User{Active: Bool(false)})
}

// RevertUser reverts the archive of the user (PATCH {"active":true}).
func (c *Client) RevertUser(ctx context.Context, id string) (*User, error) {
	return c.PatchUser(ctx, id, &User{Active: Bool(true)})
}

// UnlockUser clears the lock VCC sets after five failed logins (PATCH
// {"locked":false}). VCC documents no unlock endpoint: this is inferred.
func (c *Client) UnlockUser(ctx context.Context, id string) (*User, error) {
	return c.PatchUser(ctx, id, &User{Locked: Bool(false)})
}

// DeleteUser deletes the user, which must be archived first.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	if err := requireID("DeleteUser", id); err != nil {
		return err
	}
	return c.do(ctx, &request{method: http.MethodDelete, route: RouteUser, path: userPath(id)}, nil)
}

// GetSkills returns the user's skills with their levels.
func (c *Client) GetSkills(ctx context.Context, id string) ([]Skill, error) {
	var out []Skill
	if err := c.getList(ctx, "GetSkills", RouteUserSkills, id, "/skills", "agentSkills", &out); err != nil {
		return nil, err
	}
	return out, nil
}

// PutSkills replaces all the user's skills (an empty list removes them all).
func (c *Client) PutSkills(ctx context.Context, id string, skills []Skill) error {
	if skills == nil {
		skills = []Skill{}
	}
	return c.putList(ctx, "PutSkills", RouteUserSkills, id, "/skills", map[string]any{"agentSkills": skills})
}

// GetGroups returns the groups the user belongs to.
func (c *Client) GetGroups(ctx context.Context, id string) ([]Group, error) {
	var out []Group
	if err := c.getList(ctx, "GetGroups", RouteUserGroups, id, "/groups", "agentGroups", &out); err != nil {
		return nil, err
	}
	return out, nil
}

// PutGroups replaces all the user's groups.
func (c *Client) PutGroups(ctx context.Context, id string, groups []Group) error {
	if groups == nil {
		groups = []Group{}
	}
	return c.putList(ctx, "PutGroups", RouteUserGroups, id, "/groups", map[string]any{"agentGroups": groups})
}

// GetCallbackNumbers returns the callback numbers assigned to the user.
func (c *Client) GetCallbackNumbers(ctx context.Context, id string) ([]CallbackNumberRef, error) {
	var out []CallbackNumberRef
	if err := c.getList(ctx, "GetCallbackNumbers", RouteUserCallbackNumbers, id, "/callbackNumbers", "callbackNumbers", &out); err != nil {
		return nil, err
	}
	return out, nil
}

// PutCallbackNumbers replaces all the user's callback numbers.
func (c *Client) PutCallbackNumbers(ctx context.Context, id string, numbers []CallbackNumberRef) error {
	if numbers == nil {
		numbers = []CallbackNumberRef{}
	}
	return c.putList(ctx, "PutCallbackNumbers", RouteUserCallbackNumbers, id, "/callbackNumbers", map[string]any{"callbackNumbers": numbers})
}

// ListCallbackNumbers returns all the account's callback numbers (outbound
// CLIDs).
func (c *Client) ListCallbackNumbers(ctx context.Context) ([]CallbackNumber, error) {
	var raw json.RawMessage
	r := &request{method: http.MethodGet, route: RouteCallbackNumbers, path: "/callbackNumbers"}
	if err := c.do(ctx, r, &raw); err != nil {
		return nil, err
	}
	var out []CallbackNumber
	if err := decodeList(raw, "callbackNumbers", &out); err != nil {
		return nil, fmt.Errorf("vcc: GET %s: decode reply: %w", RouteCallbackNumbers, err)
	}
	return out, nil
}

func (c *Client) getList(ctx context.Context, op, route, id, sub, key string, out any) error {
	if err := requireID(op, id); err != nil {
		return err
	}
	var raw json.RawMessage
	if err := c.do(ctx, &request{method: http.MethodGet, route: route, path: userPath(id) + sub}, &raw); err != nil {
		return err
	}
	if err := decodeList(raw, key, out); err != nil {
		return fmt.Errorf("vcc: GET %s: decode reply: %w", route, err)
	}
	return nil
}

func (c *Client) putList(ctx context.Context, op, route, id, sub string, body any) error {
	if err := requireID(op, id); err != nil {
		return err
	}
	return c.do(ctx, &request{method: http.MethodPut, route: route, path: userPath(id) + sub, body: body}, nil)
}

// decodeList decodes a list sent as {key:[…]}, {"items":[…]} (keys matched
// case-insensitively) or a bare array. A wrapper with neither key is an
// empty list.
func decodeList(raw json.RawMessage, key string, out any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		return json.Unmarshal(raw, out)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	var items json.RawMessage
	for k, v := range m {
		switch {
		case strings.EqualFold(k, key):
			items = v
		case strings.EqualFold(k, "items") && items == nil:
			items = v
		}
	}
	if len(items) == 0 || string(items) == "null" {
		return nil
	}
	return json.Unmarshal(items, out)
}
