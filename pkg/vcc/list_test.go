package vcc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// listServer serves n items of a list in pages, as a VCC list endpoint
// does. Item i carries the ID s<i> under the ID key of every list type
// (each ignores the keys of the others).
type listServer struct {
	n        int
	key      string // the wrapper's key; "" for a bare array
	meta     bool   // send meta (page, count, pageCount, totalCount)
	maxLimit int    // the most items the server puts on a page (0: the limit asked)
	ignore   bool   // ignore page: always serve page 1
	endless  bool   // every page is full, with new items
}

func listItem(i int) map[string]any {
	id := fmt.Sprintf("s%d", i)
	return map[string]any{"skillId": id, "groupId": id, "callbackNumberId": id, "agentSkillLevel": strconv.Itoa(i%10 + 1), "groupPermission": "Read"}
}

func (ls listServer) handler(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		page, err1 := strconv.Atoi(q.Get("page"))
		limit, err2 := strconv.Atoi(q.Get("limit"))
		if err1 != nil || err2 != nil || page < 1 || limit < 1 || limit > MaxPageSize {
			t.Errorf("query %q: page and limit must be sent, page from 1, limit 1 to 5000", r.URL.RawQuery)
			writeJSON(w, 400, map[string]any{"message": "bad paging"})
			return
		}
		if ls.maxLimit > 0 {
			limit = min(limit, ls.maxLimit)
		}
		if ls.ignore {
			page = 1
		}
		items := []map[string]any{}
		switch {
		case ls.endless:
			for i := range limit {
				items = append(items, listItem((page-1)*limit+i))
			}
		default:
			for i := (page - 1) * limit; i < min(page*limit, ls.n); i++ {
				items = append(items, listItem(i))
			}
		}
		if ls.key == "" {
			writeJSON(w, 200, items)
			return
		}
		reply := map[string]any{ls.key: items}
		if ls.meta {
			reply["meta"] = map[string]any{"page": page, "count": len(items), "pageCount": (ls.n + limit - 1) / limit, "totalCount": ls.n}
		}
		writeJSON(w, 200, reply)
	}
}

// listReads are the client's list reads, each reduced to the IDs it read.
var listReads = []struct {
	name, key, path string
	read            func(*Client) ([]string, error)
}{
	{"GetSkills", "agentSkills", "/useradmin/users/u1/skills", func(c *Client) ([]string, error) {
		l, err := c.GetSkills(context.Background(), "u1")
		return ids(l, func(s Skill) string { return s.SkillID }), err
	}},
	{"GetGroups", "agentGroups", "/useradmin/users/u1/groups", func(c *Client) ([]string, error) {
		l, err := c.GetGroups(context.Background(), "u1")
		return ids(l, func(g Group) string { return g.GroupID }), err
	}},
	{"GetCallbackNumbers", "callbackNumbers", "/useradmin/users/u1/callbackNumbers", func(c *Client) ([]string, error) {
		l, err := c.GetCallbackNumbers(context.Background(), "u1")
		return ids(l, func(n CallbackNumberRef) string { return n.CallbackNumberID }), err
	}},
	{"GetGroupPermissions", "groupPermissions", "/useradmin/users/u1/permissions/groups", func(c *Client) ([]string, error) {
		l, err := c.GetGroupPermissions(context.Background(), "u1")
		return ids(l, func(p GroupPermission) string { return p.GroupID }), err
	}},
	{"ListCallbackNumbers", "callbackNumbers", "/useradmin/callbackNumbers", func(c *Client) ([]string, error) {
		l, err := c.ListCallbackNumbers(context.Background())
		return ids(l, func(n CallbackNumber) string { return n.CallbackNumberID }), err
	}},
}

func ids[T any](l []T, id func(T) string) []string {
	var out []string
	for _, x := range l {
		out = append(out, id(x))
	}
	return out
}

// TestListReadsFollowPages: every list read asks for pages of 5000 from
// page 1 and reads them all, whatever shape the reply has; a server that
// ignores paging does not make it loop.
func TestListReadsFollowPages(t *testing.T) {
	old := maxListPages
	maxListPages = 5
	t.Cleanup(func() { maxListPages = old })
	tests := []struct {
		name      string
		srv       listServer // key "" is replaced by the read's key when wrapped
		wrapped   bool
		want      int // items read
		wantPages int
		wantErr   string
	}{
		{name: "meta, 40 items in pages of 25", srv: listServer{n: 40, meta: true, maxLimit: 25}, wrapped: true, want: 40, wantPages: 2},
		{name: "meta, 3 pages of 2", srv: listServer{n: 5, meta: true, maxLimit: 2}, wrapped: true, want: 5, wantPages: 3},
		{name: "meta, one page", srv: listServer{n: 3, meta: true}, wrapped: true, want: 3, wantPages: 1},
		{name: "meta, empty", srv: listServer{n: 0, meta: true}, wrapped: true, want: 0, wantPages: 1},
		{name: "no meta, full pages then a short one", srv: listServer{n: 2*MaxPageSize + 3}, wrapped: true, want: 2*MaxPageSize + 3, wantPages: 3},
		{name: "no meta, exact pages then an empty one", srv: listServer{n: MaxPageSize}, wrapped: true, want: MaxPageSize, wantPages: 2},
		{name: "bare array, full pages", srv: listServer{n: MaxPageSize + 1}, want: MaxPageSize + 1, wantPages: 2},
		{name: "bare array, short", srv: listServer{n: 3}, want: 3, wantPages: 1},
		{name: "bare array, paging ignored", srv: listServer{n: MaxPageSize, ignore: true}, want: MaxPageSize, wantPages: 2},
		{name: "meta, paging ignored", srv: listServer{n: 6, meta: true, maxLimit: 2, ignore: true}, wrapped: true, wantPages: 2, wantErr: "ignores paging"},
		{name: "endless", srv: listServer{endless: true}, wantPages: 5, wantErr: "more than 5 pages"},
	}
	for _, rd := range listReads {
		for _, tt := range tests {
			t.Run(rd.name+"/"+tt.name, func(t *testing.T) {
				srv := tt.srv
				if tt.wrapped {
					srv.key = rd.key
				}
				f := newFake(t)
				f.setAPI(srv.handler(t))
				got, err := rd.read(f.client())
				switch {
				case tt.wantErr != "":
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("err = %v, want %q", err, tt.wantErr)
					}
				case err != nil:
					t.Fatal(err)
				default:
					if len(got) != tt.want {
						t.Fatalf("read %d items, want %d", len(got), tt.want)
					}
					for i, id := range got {
						if id != fmt.Sprintf("s%d", i) {
							t.Fatalf("item %d is %s: items missed, repeated or out of order", i, id)
						}
					}
				}
				reqs := f.requests()
				if len(reqs) != tt.wantPages {
					t.Errorf("%d page requests, want %d", len(reqs), tt.wantPages)
				}
				for i, r := range reqs {
					want := url.Values{"limit": {"5000"}, "page": {strconv.Itoa(i + 1)}}
					if r.Method != "GET" || r.Path != rd.path {
						t.Errorf("request %d: %s %s, want GET %s", i, r.Method, r.Path, rd.path)
					}
					if q, _ := url.ParseQuery(r.Query); !cmp.Equal(q, want) {
						t.Errorf("request %d: query (-want +got):\n%s", i, cmp.Diff(want, q))
					}
				}
			})
		}
	}
}

// TestListReadPageError: a page that fails ends the read with its error,
// not with a partial list (which a replace-all PUT would turn into a
// deletion).
func TestListReadPageError(t *testing.T) {
	f := newFake(t)
	ok := listServer{n: 40, key: "agentSkills", meta: true, maxLimit: 25}.handler(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "2" {
			writeJSON(w, 503, map[string]any{"message": "busy"})
			return
		}
		ok(w, r)
	})
	got, err := f.client(noRetries).GetSkills(context.Background(), "u1")
	var e *Error
	if got != nil || !errors.As(err, &e) || e.Status != 503 || e.Route != RouteUserSkills {
		t.Errorf("got %d skills, err %v; want none and the 503", len(got), err)
	}
}

// TestForEachUserIgnoredPaging: a server that ignores page makes
// ForEachUser stop at the repeated page (or fail when meta says more
// pages follow), not loop.
func TestForEachUserIgnoredPaging(t *testing.T) {
	for _, withMeta := range []bool{false, true} {
		f := newFake(t)
		f.setAPI(func(w http.ResponseWriter, r *http.Request) {
			reply := map[string]any{"users": []map[string]any{{"userId": "u1"}, {"userId": "u2"}}}
			if withMeta {
				reply["meta"] = map[string]any{"page": 1, "count": 2, "pageCount": 3, "totalCount": 6}
			}
			writeJSON(w, 200, reply)
		})
		var seen []string
		err := f.client().ForEachUser(context.Background(), IncludeAll, 2, func(u *User) error {
			seen = append(seen, u.UserID)
			return nil
		})
		switch {
		case withMeta && (err == nil || !strings.Contains(err.Error(), "ignores paging")):
			t.Errorf("meta: err = %v, want the server ignoring paging", err)
		case !withMeta && err != nil:
			t.Errorf("no meta: %v", err)
		}
		if diff := cmp.Diff([]string{"u1", "u2"}, seen); diff != "" {
			t.Errorf("meta %v: users seen (-want +got):\n%s", withMeta, diff)
		}
		if n := len(f.requests()); n != 2 {
			t.Errorf("meta %v: %d requests, want 2", withMeta, n)
		}
	}
}

func TestReadPage(t *testing.T) {
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/skills") {
			listServer{n: 5, key: "agentSkills", meta: true}.handler(t)(w, r)
			return
		}
		listServer{n: 5}.handler(t)(w, r) // a bare array, no meta
	})
	c := f.client()
	ctx := context.Background()
	p, err := c.ReadPage(ctx, RouteUserSkills, "u 1", 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 2 || p.Meta == nil || p.Meta.PageCount != 3 || p.Meta.Page != 2 || !strings.Contains(string(p.Items[0]), `"s2"`) {
		t.Errorf("page = %d items %s, meta %+v", len(p.Items), p.Items, p.Meta)
	}
	p, err = c.ReadPage(ctx, RouteCallbackNumbers, "", 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 1 || p.Meta != nil {
		t.Errorf("page = %d items, meta %+v; want 1 and none", len(p.Items), p.Meta)
	}
	reqs := f.requests()
	if len(reqs) != 2 || reqs[0].EscapedPath != "/useradmin/users/u%201/skills" || reqs[0].Query != "limit=2&page=2" ||
		reqs[1].EscapedPath != "/useradmin/callbackNumbers" || reqs[1].Query != "limit=2&page=3" {
		t.Errorf("requests %+v", reqs)
	}
	for name, call := range map[string]func() error{
		"not a list": func() error { _, err := c.ReadPage(ctx, RouteUser, "u1", 1, 1); return err },
		"page 0":     func() error { _, err := c.ReadPage(ctx, RouteUserSkills, "u1", 0, 1); return err },
		"limit":      func() error { _, err := c.ReadPage(ctx, RouteUserSkills, "u1", 1, MaxPageSize+1); return err },
		"no user":    func() error { _, err := c.ReadPage(ctx, RouteUserGroups, "", 1, 1); return err },
	} {
		if call() == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if len(f.requests()) != 2 {
		t.Errorf("invalid calls made requests")
	}
}
