package vcctest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/vcc"
)

// Target is what the suite runs against.
type Target struct {
	Client *vcc.Client
	// Template is the username of an existing user to read (a template
	// user): the read-only checks.
	Template string
	// WriteUser is the username of a test user the write checks may change
	// (and restore); "" skips them.
	WriteUser string
	// AllowWrites is the explicit opt-in for the write checks.
	AllowWrites bool
}

// checkTimeout bounds each check.
const checkTimeout = 5 * time.Minute

// Run runs the contract checks against tgt as subtests of t.
func Run(t *testing.T, tgt Target) {
	t.Helper()
	if tgt.Client == nil {
		t.Fatal("vcctest: Target.Client is nil")
	}
	if strings.TrimSpace(tgt.Template) == "" {
		t.Fatal("vcctest: Target.Template is empty: name a user to read")
	}
	run := func(name string, check func(*testing.T, Target)) {
		t.Run(name, func(t *testing.T) { check(t, tgt) })
	}
	run("Token", checkToken)
	run("UsersPaging", checkUsersPaging)
	run("GetByUsername", checkGetByUsername)
	run("TemplateLists", checkTemplateLists)
	run("AccountCallbackNumbers", checkAccountCallbackNumbers)

	writes := func(name string, check func(*testing.T, Target, *vcc.User)) {
		t.Run(name, func(t *testing.T) {
			switch {
			case tgt.WriteUser == "":
				t.Skip("no write user: set Target.WriteUser (and AllowWrites) to run the write checks")
			case !tgt.AllowWrites:
				t.Skip("writes not allowed: set Target.AllowWrites to run the write checks")
			case strings.EqualFold(tgt.WriteUser, tgt.Template):
				t.Fatal("the write user is the template: the write checks change it; name a test user")
			}
			u, err := tgt.Client.GetUserByUsername(ctxOf(t), tgt.WriteUser)
			if err != nil {
				t.Fatalf("read the write user %s: %v", tgt.WriteUser, err)
			}
			check(t, tgt, u)
		})
	}
	writes("PatchName", checkPatchName)
	writes("TelephonyAddress", checkTelephonyAddress)
	writes("SkillsRoundTrip", checkSkillsRoundTrip)
	writes("Unlock", checkUnlock)
}

// ctxOf is a context for one check: ended with the test, and bounded.
func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), checkTimeout)
	t.Cleanup(cancel)
	return ctx
}

// cleanupCtx is a context for a t.Cleanup: t.Context is already done there.
func cleanupCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func checkToken(t *testing.T, tgt Target) {
	p, err := tgt.Client.ListUsers(ctxOf(t), vcc.IncludeActive, 1, 1)
	if err != nil {
		t.Fatalf("GET /users (a token, then one request): %v", err)
	}
	if len(p.Users) > 1 {
		t.Errorf("limit=1 answered with %d users: VCC ignores limit", len(p.Users))
	}
}

// smallPages is the page size that reads n items in about 20 pages, and in
// at least 2 when n > 1.
func smallPages(n, floor int) int {
	size := max(floor, (n+19)/20)
	if n > 1 && size >= n {
		size = max(1, n/2)
	}
	return max(size, 1)
}

func checkUsersPaging(t *testing.T, tgt Target) {
	ctx := ctxOf(t)
	read := func(pageSize int) []string {
		var ids []string
		err := tgt.Client.ForEachUser(ctx, vcc.IncludeAll, pageSize, func(u *vcc.User) error {
			ids = append(ids, u.UserID)
			return nil
		})
		if err != nil {
			t.Fatalf("ForEachUser, pages of %d: %v", pageSize, err)
		}
		return ids
	}
	big := read(vcc.MaxPageSize)
	if len(big) == 0 {
		t.Fatal("no users at all (include=All): the template should be one")
	}
	size := smallPages(len(big), 2)
	small := read(size)
	if d := duplicates(small); len(d) > 0 {
		t.Errorf("pages of %d show users twice: %v", size, d)
	}
	if d := duplicates(big); len(d) > 0 {
		t.Errorf("pages of %d show users twice: %v", vcc.MaxPageSize, d)
	}
	if missing, extra := diff(big, small); len(missing)+len(extra) > 0 {
		t.Errorf("pages of %d and of %d differ (was the account changed meanwhile?): %d users only in the big pages %v, %d only in the small %v",
			size, vcc.MaxPageSize, len(missing), head(missing), len(extra), head(extra))
	}
	t.Logf("%d users, read in pages of %d and of %d", len(big), vcc.MaxPageSize, size)
}

func checkGetByUsername(t *testing.T, tgt Target) {
	ctx := ctxOf(t)
	u, err := tgt.Client.GetUserByUsername(ctx, tgt.Template)
	if err != nil {
		t.Fatalf("GET /users/by/username/%s: %v", tgt.Template, err)
	}
	if u.UserID == "" || !strings.EqualFold(u.Username, tgt.Template) {
		t.Errorf("by username %s: userId %q, username %q", tgt.Template, u.UserID, u.Username)
	}
	if u.Config == nil || u.Config.Role == "" {
		t.Errorf("the template %s has no userAccountConfiguration.role", tgt.Template)
	}
	byID, err := tgt.Client.GetUser(ctx, u.UserID)
	if err != nil {
		t.Fatalf("GET /users/%s: %v", u.UserID, err)
	}
	if byID.UserID != u.UserID || !strings.EqualFold(byID.Username, u.Username) {
		t.Errorf("by ID: %s %s, by username: %s %s", byID.UserID, byID.Username, u.UserID, u.Username)
	}

	missing := fmt.Sprintf("vccsync-contract-no-such-user-%d@invalid.example", time.Now().UnixNano())
	_, err = tgt.Client.GetUserByUsername(ctx, missing)
	if !errors.Is(err, vcc.ErrNotFound) {
		t.Errorf("GET /users/by/username/%s: err = %v, want a 404 (vcc.ErrNotFound)", missing, err)
	}
}

// list is one of a user's lists (or the account's callback numbers), read
// by the client and item by item from a raw page.
type list struct {
	name  string
	route string
	read  func(ctx context.Context, c *vcc.Client, userID string) ([]string, error)
	item  func(json.RawMessage) (string, error)
}

// key decodes a raw item into T and gives its comparison key.
func key[T any](k func(T) string) func(json.RawMessage) (string, error) {
	return func(raw json.RawMessage) (string, error) {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return "", err
		}
		return k(v), nil
	}
}

func keys[T any](l []T, err error, k func(T) string) ([]string, error) {
	out := make([]string, 0, len(l))
	for _, v := range l {
		out = append(out, k(v))
	}
	return out, err
}

var (
	skillKey = func(s vcc.Skill) string { return fmt.Sprintf("%s@%d", s.SkillID, s.Level) }
	groupKey = func(g vcc.Group) string { return g.GroupID }
	cbRefKey = func(n vcc.CallbackNumberRef) string { return n.CallbackNumberID }
	permKey  = func(p vcc.GroupPermission) string { return p.GroupID + ":" + p.Permission }
	cbKey    = func(n vcc.CallbackNumber) string { return n.CallbackNumberID }
)

var userLists = []list{
	{"skills", vcc.RouteUserSkills, func(ctx context.Context, c *vcc.Client, id string) ([]string, error) {
		l, err := c.GetSkills(ctx, id)
		return keys(l, err, skillKey)
	}, key(skillKey)},
	{"groups", vcc.RouteUserGroups, func(ctx context.Context, c *vcc.Client, id string) ([]string, error) {
		l, err := c.GetGroups(ctx, id)
		return keys(l, err, groupKey)
	}, key(groupKey)},
	{"callback numbers", vcc.RouteUserCallbackNumbers, func(ctx context.Context, c *vcc.Client, id string) ([]string, error) {
		l, err := c.GetCallbackNumbers(ctx, id)
		return keys(l, err, cbRefKey)
	}, key(cbRefKey)},
	{"group permissions", vcc.RouteUserGroupPermissions, func(ctx context.Context, c *vcc.Client, id string) ([]string, error) {
		l, err := c.GetGroupPermissions(ctx, id)
		return keys(l, err, permKey)
	}, key(permKey)},
}

var accountCallbackNumbers = list{"account callback numbers", vcc.RouteCallbackNumbers, func(ctx context.Context, c *vcc.Client, _ string) ([]string, error) {
	l, err := c.ListCallbackNumbers(ctx)
	return keys(l, err, cbKey)
}, key(cbKey)}

// maxRawPages bounds the raw pages one list check reads.
const maxRawPages = 200

// readRaw reads the list in raw pages of size, page by page until a short
// or empty page or meta's pageCount, and returns the items' keys.
func readRaw(ctx context.Context, t *testing.T, c *vcc.Client, l list, userID string, size int) []string {
	t.Helper()
	var out []string
	for page := 1; ; page++ {
		if page > maxRawPages {
			t.Fatalf("%s: more than %d raw pages of %d", l.name, maxRawPages, size)
		}
		p, err := c.ReadPage(ctx, l.route, userID, page, size)
		if err != nil {
			t.Fatalf("%s: raw page %d of %d: %v", l.name, page, size, err)
		}
		if len(p.Items) > size {
			t.Errorf("%s: raw page %d has %d items, more than limit=%d: VCC ignores limit", l.name, page, len(p.Items), size)
		}
		for _, raw := range p.Items {
			k, err := l.item(raw)
			if err != nil {
				t.Fatalf("%s: raw page %d: item %s: %v", l.name, page, raw, err)
			}
			out = append(out, k)
		}
		if m := p.Meta; m != nil && m.Page != 0 && m.Page != page {
			t.Errorf("%s: raw page %d says it is page %d", l.name, page, m.Page)
		}
		switch {
		case len(p.Items) == 0:
			return out
		case p.Meta != nil && p.Meta.PageCount > 0:
			if page >= p.Meta.PageCount {
				return out
			}
		case len(p.Items) < size:
			return out
		}
	}
}

// checkList compares the client's read of l with the union of small raw
// pages.
func checkList(ctx context.Context, t *testing.T, c *vcc.Client, l list, userID string) []string {
	t.Helper()
	got, err := l.read(ctx, c, userID)
	if err != nil {
		t.Fatalf("%s: %v", l.name, err)
	}
	size := smallPages(len(got), 10)
	raw := readRaw(ctx, t, c, l, userID, size)
	if d := duplicates(got); len(d) > 0 {
		t.Errorf("%s: the client read items twice: %v", l.name, head(d))
	}
	if d := duplicates(raw); len(d) > 0 {
		t.Errorf("%s: raw pages of %d show items twice: %v", l.name, size, head(d))
	}
	if missing, extra := diff(raw, got); len(missing)+len(extra) > 0 {
		t.Errorf("%s: the client read %d items, raw pages of %d hold %d: %d missing from the client's read %v, %d not in the pages %v",
			l.name, len(got), size, len(raw), len(missing), head(missing), len(extra), head(extra))
	}
	pages := (len(raw) + size - 1) / size
	t.Logf("%s: %d items; raw pages of %d: %d", l.name, len(got), size, pages)
	return got
}

func checkTemplateLists(t *testing.T, tgt Target) {
	ctx := ctxOf(t)
	u, err := tgt.Client.GetUserByUsername(ctx, tgt.Template)
	if err != nil {
		t.Fatalf("read the template %s: %v", tgt.Template, err)
	}
	for _, l := range userLists {
		t.Run(strings.ReplaceAll(l.name, " ", "_"), func(t *testing.T) {
			got := checkList(ctx, t, tgt.Client, l, u.UserID)
			if len(got) <= vcc.VCCDefaultPageSize {
				t.Logf("%s: %d items, not more than VCC's default page of %d: a client that did not page would pass too",
					l.name, len(got), vcc.VCCDefaultPageSize)
			}
		})
	}
}

func checkAccountCallbackNumbers(t *testing.T, tgt Target) {
	ctx := ctxOf(t)
	all := checkList(ctx, t, tgt.Client, accountCallbackNumbers, "")
	u, err := tgt.Client.GetUserByUsername(ctx, tgt.Template)
	if err != nil {
		t.Fatalf("read the template %s: %v", tgt.Template, err)
	}
	mine, err := tgt.Client.GetCallbackNumbers(ctx, u.UserID)
	if err != nil {
		t.Fatalf("the template's callback numbers: %v", err)
	}
	account := map[string]bool{}
	for _, id := range all {
		account[id] = true
	}
	for _, n := range mine {
		if !account[n.CallbackNumberID] {
			t.Errorf("the template's callback number %s is not among the account's %d", n.CallbackNumberID, len(all))
		}
	}
}

// The write checks. Each restores what it changed, in t.Cleanup.

func checkPatchName(t *testing.T, tgt Target, u *vcc.User) {
	ctx := ctxOf(t)
	c := tgt.Client
	orig := u.Name
	t.Cleanup(func() {
		if _, err := c.PatchUser(cleanupCtx(t), u.UserID, &vcc.User{Name: orig}); err != nil {
			t.Errorf("restore the name of %s to %q: %v", tgt.WriteUser, orig, err)
		}
	})
	name := "vccsync contract " + time.Now().UTC().Format("150405")
	if orig == name {
		name += " 2"
	}
	out, err := c.PatchUser(ctx, u.UserID, &vcc.User{Name: name})
	if err != nil {
		t.Fatalf("PATCH name: %v", err)
	}
	if out.Name != name {
		t.Errorf("PATCH name answered name %q, want %q", out.Name, name)
	}
	back, err := c.GetUser(ctx, u.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if back.Name != name || back.Email != u.Email || back.Username != u.Username {
		t.Errorf("after PATCH name: name %q email %q username %q; want %q %q %q", back.Name, back.Email, back.Username, name, u.Email, u.Username)
	}
	if _, err := c.PatchUser(ctx, u.UserID, &vcc.User{Name: orig}); err != nil {
		t.Fatalf("PATCH the name back: %v", err)
	}
	if back, err := c.GetUser(ctx, u.UserID); err != nil || back.Name != orig {
		t.Errorf("after PATCH back: name %q (%v), want %q", back.Name, err, orig)
	}
}

func checkTelephonyAddress(t *testing.T, tgt Target, u *vcc.User) {
	ctx := ctxOf(t)
	c := tgt.Client
	if u.Config == nil || u.Config.Agent == nil || u.Config.Agent.TelephonyAddress == nil {
		t.Skipf("%s has no agentConfiguration.telephonyAddress: use an agent as the write user", tgt.WriteUser)
	}
	orig := *u.Config.Agent.TelephonyAddress
	if orig.TelephoneAddress == "" {
		t.Logf("%s has no telephoneAddress: the check shows only that the rest is kept", tgt.WriteUser)
	}
	patch := func(ta vcc.TelephonyAddress) (*vcc.User, error) {
		return c.PatchUser(ctx, u.UserID, &vcc.User{Config: &vcc.AccountConfiguration{Agent: &vcc.AgentConfiguration{TelephonyAddress: &ta}}})
	}
	restore := orig
	if restore.NationalDisplay == nil {
		restore.NationalDisplay = vcc.Bool(false) // VCC's default when not shown
	}
	t.Cleanup(func() {
		ta := restore
		_, err := c.PatchUser(cleanupCtx(t), u.UserID, &vcc.User{Config: &vcc.AccountConfiguration{Agent: &vcc.AgentConfiguration{TelephonyAddress: &ta}}})
		if err != nil {
			t.Errorf("restore the telephonyAddress of %s: %v", tgt.WriteUser, err)
		}
	})

	// Read, modify one flag, write the whole object back.
	changed := orig
	changed.NationalDisplay = vcc.Bool(!*restore.NationalDisplay)
	if _, err := patch(changed); err != nil {
		t.Fatalf("PATCH telephonyAddress: %v", err)
	}
	back, err := c.GetUser(ctx, u.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if back.Config == nil || back.Config.Agent == nil || back.Config.Agent.TelephonyAddress == nil {
		t.Fatal("after PATCH telephonyAddress: the user has none")
	}
	got := *back.Config.Agent.TelephonyAddress
	if got.NationalDisplay == nil || *got.NationalDisplay != *changed.NationalDisplay {
		t.Errorf("nationalDisplay %v, want %v", ptr(got.NationalDisplay), *changed.NationalDisplay)
	}
	if got.TelephoneAddress != orig.TelephoneAddress {
		t.Errorf("telephoneAddress %q after a read-modify-write, want %q kept", got.TelephoneAddress, orig.TelephoneAddress)
	}
	if got.OutboundTelephonyRegion != orig.OutboundTelephonyRegion || got.TelephonyExtension != orig.TelephonyExtension ||
		got.VirtualLocation != orig.VirtualLocation || got.SelectedCallbackNumberID != orig.SelectedCallbackNumberID ||
		ptr(got.PreventAutoCallbackNumber) != ptr(orig.PreventAutoCallbackNumber) {
		t.Errorf("telephonyAddress changed beyond nationalDisplay:\n got %+v\nwas %+v", got, orig)
	}
	if _, err := patch(restore); err != nil {
		t.Fatalf("PATCH telephonyAddress back: %v", err)
	}
}

func checkSkillsRoundTrip(t *testing.T, tgt Target, u *vcc.User) {
	ctx := ctxOf(t)
	c := tgt.Client
	orig, err := c.GetSkills(ctx, u.UserID)
	if err != nil {
		t.Fatalf("GET skills: %v", err)
	}
	t.Cleanup(func() {
		ctx := cleanupCtx(t)
		now, err := c.GetSkills(ctx, u.UserID)
		if err == nil && sameSkills(now, orig) {
			return
		}
		if err := c.PutSkills(ctx, u.UserID, orig); err != nil {
			t.Errorf("restore the %d skills of %s: %v", len(orig), tgt.WriteUser, err)
		}
	})
	if err := c.PutSkills(ctx, u.UserID, orig); err != nil {
		t.Fatalf("PUT the %d skills as read: %v", len(orig), err)
	}
	again, err := c.GetSkills(ctx, u.UserID)
	if err != nil {
		t.Fatalf("GET skills again: %v", err)
	}
	if !sameSkills(again, orig) {
		k := func(l []vcc.Skill) []string { s, _ := keys(l, nil, skillKey); return s }
		missing, extra := diff(k(orig), k(again))
		t.Errorf("skills after PUT of what was read: %d, were %d; lost %v, gained %v", len(again), len(orig), head(missing), head(extra))
	}
	t.Logf("%d skills put back as read", len(orig))
}

func sameSkills(a, b []vcc.Skill) bool {
	ka, _ := keys(a, nil, skillKey)
	kb, _ := keys(b, nil, skillKey)
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}

func checkUnlock(t *testing.T, tgt Target, u *vcc.User) {
	ctx := ctxOf(t)
	if err := tgt.Client.UnlockUser(ctx, u.UserID); err != nil {
		t.Fatalf("POST /users/%s/unlock: %v", u.UserID, err)
	}
	back, err := tgt.Client.GetUser(ctx, u.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if back.Locked != nil && *back.Locked {
		t.Errorf("after unlock: locked is still true")
	}
}

// duplicates returns the keys that appear more than once in l.
func duplicates(l []string) []string {
	seen := map[string]int{}
	for _, k := range l {
		seen[k]++
	}
	var out []string
	for k, n := range seen {
		if n > 1 {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// diff returns the keys of want missing from got, and those of got not in
// want.
func diff(want, got []string) (missing, extra []string) {
	w, g := set(want), set(got)
	for k := range w {
		if !g[k] {
			missing = append(missing, k)
		}
	}
	for k := range g {
		if !w[k] {
			extra = append(extra, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return missing, extra
}

func set(l []string) map[string]bool {
	m := make(map[string]bool, len(l))
	for _, k := range l {
		m[k] = true
	}
	return m
}

// head is the first few of l, for messages.
func head(l []string) []string {
	if len(l) > 5 {
		return append(slices.Clone(l[:5]), fmt.Sprintf("… %d more", len(l)-5))
	}
	return l
}

func ptr[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
