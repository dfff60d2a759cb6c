package vcc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Every list of the User Admin API is paged: limit 1 to 5000, default 25,
// page from 1. A read that does not follow the pages sees the first 25
// items, and a replace-all PUT built from it deletes the rest. So every
// list read of the client asks for pages of MaxPageSize, numbers them
// explicitly from 1 and reads them all (see getAll).

// maxListPages caps the pages one list read follows: 1000 pages of 5000 is
// more than any account has; past it the server is taken to ignore paging.
// A variable for the tests.
var maxListPages = 1000

// pageOf is one page of a list reply.
type pageOf struct {
	items   json.RawMessage // the list; nil when the reply has none
	meta    *PageMeta       // nil when the reply has no meta
	hasList bool
}

// decodePage splits a list reply: {key:[…], "meta":{…}} (keys matched
// case-insensitively; "items" accepted for key) or a bare array.
func decodePage(raw json.RawMessage, key string) (pageOf, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		return pageOf{items: raw, hasList: true}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return pageOf{}, err
	}
	var p pageOf
	var items json.RawMessage
	for k, v := range m {
		switch {
		case strings.EqualFold(k, key):
			items = v
		case strings.EqualFold(k, "items") && items == nil:
			items = v
		case strings.EqualFold(k, "meta") && string(bytes.TrimSpace(v)) != "null":
			var meta PageMeta
			if err := json.Unmarshal(v, &meta); err != nil {
				return pageOf{}, fmt.Errorf("meta: %w", err)
			}
			p.meta = &meta
		}
	}
	if len(items) > 0 && string(items) != "null" {
		p.items, p.hasList = items, true
	}
	return p, nil
}

// decodeList decodes a list sent as {key:[…]}, {"items":[…]} (keys matched
// case-insensitively) or a bare array. A wrapper with neither key is an
// empty list.
func decodeList(raw json.RawMessage, key string, out any) error {
	p, err := decodePage(raw, key)
	if err != nil || !p.hasList {
		return err
	}
	return json.Unmarshal(p.items, out)
}

// pageQuery is the query of page n of pages of limit, with extra.
func pageQuery(page, limit int, extra url.Values) url.Values {
	q := url.Values{}
	for k, v := range extra {
		q[k] = v
	}
	q.Set("page", strconv.Itoa(page))
	q.Set("limit", strconv.Itoa(limit))
	return q
}

// getAll reads every page of the list at path (route is its template) with
// pages of limit, decoding the list under key. It follows meta.pageCount
// when VCC sends it; without it (a bare array, or a wrapper without meta)
// it reads the next page while a page comes back full. An empty page ends
// the read. A page equal to the one before means the server ignores
// paging: the read ends there (an error when meta says more pages follow),
// and a read that goes on past maxListPages is an error.
func getAll[T any](ctx context.Context, c *Client, route, path, key string, limit int) ([]T, error) {
	var (
		all  []T
		prev json.RawMessage
	)
	for page := 1; ; page++ {
		if page > maxListPages {
			return nil, fmt.Errorf("vcc: GET %s: more than %d pages of %d: the server does not seem to page", route, maxListPages, limit)
		}
		var raw json.RawMessage
		r := &request{method: http.MethodGet, route: route, path: path, query: pageQuery(page, limit, nil)}
		if err := c.do(ctx, r, &raw); err != nil {
			return nil, err
		}
		p, err := decodePage(raw, key)
		if err != nil {
			return nil, fmt.Errorf("vcc: GET %s: decode reply (page %d): %w", route, page, err)
		}
		var items []T
		if p.hasList {
			if err := json.Unmarshal(p.items, &items); err != nil {
				return nil, fmt.Errorf("vcc: GET %s: decode reply (page %d): %w", route, page, err)
			}
		}
		if len(items) == 0 {
			return all, nil
		}
		pageCount := 0
		if p.meta != nil {
			pageCount = p.meta.PageCount
		}
		if page > 1 && bytes.Equal(compact(p.items), prev) {
			if pageCount > page {
				return nil, fmt.Errorf("vcc: GET %s: page %d repeats page %d although VCC counts %d pages: the server ignores paging", route, page, page-1, pageCount)
			}
			return all, nil
		}
		prev = compact(p.items)
		all = append(all, items...)
		switch {
		case pageCount > 0 && page >= pageCount:
			return all, nil
		case pageCount <= 0 && len(items) < limit:
			return all, nil
		}
	}
}

// compact returns raw without insignificant space, for comparing pages.
func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// getUserList reads every page of one of the user's lists.
func getUserList[T any](ctx context.Context, c *Client, op, route, id, sub, key string) ([]T, error) {
	if err := requireID(op, id); err != nil {
		return nil, err
	}
	return getAll[T](ctx, c, route, userPath(id)+sub, key, MaxPageSize)
}

// ListPage is one page of a list, as VCC sent it.
type ListPage struct {
	// Items are the list's items, undecoded.
	Items []json.RawMessage
	// Meta is the reply's paging block; nil when it had none (a bare
	// array, or a wrapper without meta).
	Meta *PageMeta
}

// listRoutes are the lists ReadPage reads: path under the user (or the
// root for RouteCallbackNumbers) and the key of the list.
var listRoutes = map[string]struct{ sub, key string }{
	RouteUserSkills:           {"/skills", "agentSkills"},
	RouteUserGroups:           {"/groups", "agentGroups"},
	RouteUserCallbackNumbers:  {"/callbackNumbers", "callbackNumbers"},
	RouteUserGroupPermissions: {"/permissions/groups", "groupPermissions"},
	RouteCallbackNumbers:      {"/callbackNumbers", "callbackNumbers"},
}

// ReadPage reads one page of a list: route is RouteUserSkills,
// RouteUserGroups, RouteUserCallbackNumbers or RouteUserGroupPermissions
// with the user's ID, or RouteCallbackNumbers with userID "". page starts
// at 1, limit is 1 to MaxPageSize. It is for checking VCC's paging (the
// contract tests of package vcctest) and for diagnostics: the Get… and
// List… methods read every page.
func (c *Client) ReadPage(ctx context.Context, route, userID string, page, limit int) (*ListPage, error) {
	lr, ok := listRoutes[route]
	if !ok {
		return nil, fmt.Errorf("vcc: ReadPage: %q is not a paged list route", route)
	}
	if page < 1 {
		return nil, fmt.Errorf("vcc: ReadPage: page %d: pages start at 1", page)
	}
	if limit < 1 || limit > MaxPageSize {
		return nil, fmt.Errorf("vcc: ReadPage: limit %d: must be 1 to %d", limit, MaxPageSize)
	}
	path := lr.sub
	if route != RouteCallbackNumbers {
		if err := requireID("ReadPage", userID); err != nil {
			return nil, err
		}
		path = userPath(userID) + lr.sub
	}
	var raw json.RawMessage
	r := &request{method: http.MethodGet, route: route, path: path, query: pageQuery(page, limit, nil)}
	if err := c.do(ctx, r, &raw); err != nil {
		return nil, err
	}
	p, err := decodePage(raw, lr.key)
	if err != nil {
		return nil, fmt.Errorf("vcc: GET %s: decode reply (page %d): %w", route, page, err)
	}
	out := &ListPage{Meta: p.meta, Items: []json.RawMessage{}}
	if p.hasList {
		if err := json.Unmarshal(p.items, &out.Items); err != nil {
			return nil, fmt.Errorf("vcc: GET %s: decode reply (page %d): %w", route, page, err)
		}
	}
	return out, nil
}
