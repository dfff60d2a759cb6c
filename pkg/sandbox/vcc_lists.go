package sandbox

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
)

// Paging of every VCC list (limit and page of each list endpoint's
// documentation).
const (
	vccDefaultLimit = 25
	vccMaxLimit     = 5000
	vccMaxPage      = 1000000000
)

type listMeta struct {
	Page       int `json:"page"`
	Count      int `json:"count"`
	PageCount  int `json:"pageCount"`
	TotalCount int `json:"totalCount"`
}

// pageRequest is a list request's page (from 1) and limit.
type pageRequest struct{ page, limit int }

func pageParams(r *http.Request) (pageRequest, *apiError) {
	p := pageRequest{page: 1, limit: vccDefaultLimit}
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > vccMaxLimit {
			return p, apiErrorf(400, "limit must be a whole number between 1 and %d", vccMaxLimit)
		}
		p.limit = n
	}
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > vccMaxPage {
			return p, apiErrorf(400, "page must be a whole number between 1 and %d", vccMaxPage)
		}
		p.page = n
	}
	return p, nil
}

// paginate cuts the requested page out of all; a page past the end is
// empty, never null.
func paginate[T any](all []T, p pageRequest) ([]T, listMeta) {
	start := min((p.page-1)*p.limit, len(all))
	end := min(start+p.limit, len(all))
	items := append(make([]T, 0, end-start), all[start:end]...)
	return items, listMeta{
		Page:       p.page,
		Count:      len(items),
		PageCount:  (len(all) + p.limit - 1) / p.limit,
		TotalCount: len(all),
	}
}

// listReply answers one page of all: {"meta":{…},key:[…]} plus extra
// top-level fields, or the bare array when ListsAsBareArrays.
func listReply[T any](v *VCC, key string, all []T, p pageRequest, extra map[string]any) (int, any) {
	items, meta := paginate(all, p)
	if v.opts.ListsAsBareArrays {
		return http.StatusOK, items
	}
	body := map[string]any{"meta": meta, key: items}
	maps.Copy(body, extra)
	return http.StatusOK, body
}

// userList answers GET /users/{userId}/…: a page of the user's items under
// key, built by view under v.mu, with the documented top-level userId.
func userList[T any](v *VCC, r *http.Request, key string, view func(*VCCUserRecord) []T) (int, any) {
	p, aerr := pageParams(r)
	if aerr != nil {
		return aerr.reply()
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[r.PathValue("userId")]
	if e == nil {
		return errUserNotFound.reply()
	}
	return listReply(v, key, view(&e.rec), p, map[string]any{"userId": e.rec.User.UserID})
}

// replace applies a sub-resource PUT to the user named in the path. fn
// runs under v.mu and returns whether the list changed or why it is
// refused. VCC documents only "200 Success" for these PUTs: the reply has
// no body, and a client reads the list back with GET.
func (v *VCC) replace(r *http.Request, fn func(*VCCUserRecord) (bool, *apiError)) (int, any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[r.PathValue("userId")]
	if e == nil {
		return errUserNotFound.reply()
	}
	rec := e.rec.clone()
	changed, aerr := fn(&rec)
	if aerr != nil {
		return aerr.reply()
	}
	e.rec = rec
	v.countWrite(r, rec.User.UserID, changed)
	return http.StatusOK, nil
}

// getSkills is GET /users/{userId}/skills; VCC shows the level as a string.
func (v *VCC) getSkills(r *http.Request) (int, any) {
	return userList(v, r, "agentSkills", func(rec *VCCUserRecord) []skillView {
		out := make([]skillView, len(rec.Skills))
		for i, s := range rec.Skills {
			out[i] = skillView{SkillID: s.SkillID, Level: strconv.Itoa(s.Level)}
		}
		return out
	})
}

// putSkills replaces all the user's skills. Levels may be numbers or
// numeric strings. Skill IDs are not checked: the sandbox has no skills
// catalogue.
func (v *VCC) putSkills(r *http.Request) (int, any) {
	var body skillsBody
	if aerr := readJSON(r, &body); aerr != nil {
		return aerr.reply()
	}
	if body.AgentSkills == nil {
		return apiErrorf(400, "agentSkills is required").reply()
	}
	skills := []VCCSkill{}
	for _, s := range *body.AgentSkills {
		switch {
		case s.SkillID == "":
			return apiErrorf(400, "agentSkills: skillId is required").reply()
		case int(s.Level) < 1 || int(s.Level) > v.opts.MaxSkillLevel:
			return apiErrorf(400, "agentSkills: agentSkillLevel of skill %s must be between 1 and %d", s.SkillID, v.opts.MaxSkillLevel).reply()
		case slices.ContainsFunc(skills, func(k VCCSkill) bool { return k.SkillID == s.SkillID }):
			return apiErrorf(400, "agentSkills: skill %s is listed twice", s.SkillID).reply()
		}
		skills = append(skills, VCCSkill{SkillID: s.SkillID, Level: int(s.Level)})
	}
	return v.replace(r, func(rec *VCCUserRecord) (bool, *apiError) {
		changed := !slices.Equal(rec.Skills, skills)
		rec.Skills = skills
		return changed, nil
	})
}

// getGroups is GET /users/{userId}/groups.
func (v *VCC) getGroups(r *http.Request) (int, any) {
	return userList(v, r, "agentGroups", func(rec *VCCUserRecord) []groupView {
		out := make([]groupView, len(rec.Groups))
		for i, id := range rec.Groups {
			out[i] = v.groupView(id)
		}
		return out
	})
}

// putGroups replaces all the user's groups; each must be one of the
// account's (strict: VCC does not say what an unknown groupId does).
func (v *VCC) putGroups(r *http.Request) (int, any) {
	var body groupsBody
	if aerr := readJSON(r, &body); aerr != nil {
		return aerr.reply()
	}
	if body.AgentGroups == nil {
		return apiErrorf(400, "agentGroups is required").reply()
	}
	groups := []string{}
	for _, g := range *body.AgentGroups {
		switch {
		case g.GroupID == "":
			return apiErrorf(400, "agentGroups: groupId is required").reply()
		case slices.Contains(groups, g.GroupID):
			return apiErrorf(400, "agentGroups: group %s is listed twice", g.GroupID).reply()
		}
		groups = append(groups, g.GroupID)
	}
	return v.replace(r, func(rec *VCCUserRecord) (bool, *apiError) {
		if id, ok := v.unknownGroup(groups); !ok {
			return false, apiErrorf(400, "agentGroups: unknown groupId %q", id)
		}
		changed := !slices.Equal(rec.Groups, groups)
		rec.Groups = groups
		return changed, nil
	})
}

// getUserCallbackNumbers is GET /users/{userId}/callbackNumbers.
func (v *VCC) getUserCallbackNumbers(r *http.Request) (int, any) {
	return userList(v, r, "callbackNumbers", func(rec *VCCUserRecord) []VCCCallbackNumber {
		out := make([]VCCCallbackNumber, len(rec.CallbackNumbers))
		for i, id := range rec.CallbackNumbers {
			out[i], _ = v.callbackNumber(id)
		}
		return out
	})
}

// putUserCallbackNumbers replaces all the user's callback numbers; each
// must be one of the account's, and the user's selectedCallbackNumberId
// cannot be removed (strict: it must stay one of the user's numbers).
func (v *VCC) putUserCallbackNumbers(r *http.Request) (int, any) {
	var body callbackNumbersBody
	if aerr := readJSON(r, &body); aerr != nil {
		return aerr.reply()
	}
	if body.CallbackNumbers == nil {
		return apiErrorf(400, "callbackNumbers is required").reply()
	}
	ids := []string{}
	for _, c := range *body.CallbackNumbers {
		if slices.Contains(ids, c.ID) {
			return apiErrorf(400, "callbackNumbers: callback number %s is listed twice", c.ID).reply()
		}
		ids = append(ids, c.ID)
	}
	return v.replace(r, func(rec *VCCUserRecord) (bool, *apiError) {
		for _, id := range ids {
			if _, ok := v.callbackNumber(id); !ok {
				return false, apiErrorf(400, "callbackNumbers: unknown callbackNumberId %q", id)
			}
		}
		if s := rec.User.selectedCallbackNumber(); s != "" && slices.Contains(rec.CallbackNumbers, s) && !slices.Contains(ids, s) {
			return false, apiErrorf(400, "callbackNumbers: %s is the user's selectedCallbackNumberId: change telephonyAddress.selectedCallbackNumberId before removing it", s)
		}
		changed := !slices.Equal(rec.CallbackNumbers, ids)
		rec.CallbackNumbers = ids
		return changed, nil
	})
}

// getGroupPermissions is GET /users/{userId}/permissions/groups.
func (v *VCC) getGroupPermissions(r *http.Request) (int, any) {
	return userList(v, r, "groupPermissions", func(rec *VCCUserRecord) []groupPermissionView {
		out := make([]groupPermissionView, len(rec.GroupPermissions))
		for i, p := range rec.GroupPermissions {
			out[i] = groupPermissionView{groupView: v.groupView(p.GroupID), Permission: p.Permission}
		}
		return out
	})
}

// putGroupPermissions is PUT /users/{userId}/permissions/groups: it
// replaces all the user's group permissions. Each group must be one of the
// account's, listed once, with the permission None, Read or Write.
func (v *VCC) putGroupPermissions(r *http.Request) (int, any) {
	var body groupPermissionsBody
	if aerr := readJSON(r, &body); aerr != nil {
		return aerr.reply()
	}
	if body.GroupPermissions == nil {
		return apiErrorf(400, "groupPermissions is required").reply()
	}
	perms := []VCCGroupPermission{}
	for _, p := range *body.GroupPermissions {
		if aerr := checkGroupPermission(perms, VCCGroupPermission{GroupID: p.GroupID, Permission: p.Permission}); aerr != nil {
			return aerr.reply()
		}
		perms = append(perms, VCCGroupPermission{GroupID: p.GroupID, Permission: p.Permission})
	}
	return v.replace(r, func(rec *VCCUserRecord) (bool, *apiError) {
		for _, p := range perms {
			if _, ok := v.group(p.GroupID); !ok {
				return false, apiErrorf(400, "groupPermissions: unknown groupId %q", p.GroupID)
			}
		}
		changed := !slices.Equal(rec.GroupPermissions, perms)
		rec.GroupPermissions = perms
		return changed, nil
	})
}

// checkGroupPermission checks p, to be added after those before.
func checkGroupPermission(before []VCCGroupPermission, p VCCGroupPermission) *apiError {
	switch {
	case p.GroupID == "":
		return apiErrorf(400, "groupPermissions: groupId is required")
	case !slices.Contains(vccGroupPermissions, p.Permission):
		return apiErrorf(400, "groupPermissions: groupPermission %q of group %s must be one of None, Read, Write", p.Permission, p.GroupID)
	case slices.ContainsFunc(before, func(q VCCGroupPermission) bool { return q.GroupID == p.GroupID }):
		return apiErrorf(400, "groupPermissions: group %s is listed twice", p.GroupID)
	}
	return nil
}

// listCallbackNumbers is GET /callbackNumbers: the account's outbound
// CLIDs, in the order they were added.
func (v *VCC) listCallbackNumbers(r *http.Request) (int, any) {
	p, aerr := pageParams(r)
	if aerr != nil {
		return aerr.reply()
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return listReply(v, "callbackNumbers", v.numbers, p, nil)
}

// callbackNumber looks up one of the account's numbers; the caller holds v.mu.
func (v *VCC) callbackNumber(id string) (VCCCallbackNumber, bool) {
	for _, n := range v.numbers {
		if n.ID == id {
			return n, true
		}
	}
	return VCCCallbackNumber{ID: id}, false
}

// group looks up one of the account's groups; the caller holds v.mu.
func (v *VCC) group(id string) (VCCGroup, bool) {
	for _, g := range v.groups {
		if g.ID == id {
			return g, true
		}
	}
	return VCCGroup{ID: id}, false
}

// unknownGroup returns the first of ids that is not one of the account's
// groups, and false; or "", true. The caller holds v.mu.
func (v *VCC) unknownGroup(ids []string) (string, bool) {
	for _, id := range ids {
		if _, ok := v.group(id); !ok {
			return id, false
		}
	}
	return "", true
}

// groupView shows a group with its display ID and name; the caller holds v.mu.
func (v *VCC) groupView(id string) groupView {
	g, _ := v.group(id)
	return groupView{GroupID: g.ID, DisplayID: g.DisplayID, Name: g.Name}
}
