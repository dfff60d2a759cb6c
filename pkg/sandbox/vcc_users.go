package sandbox

import (
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

var errUserNotFound = apiErrorf(http.StatusNotFound, "User not found")

type listMeta struct {
	Page       int `json:"page"`
	Count      int `json:"count"`
	PageCount  int `json:"pageCount"`
	TotalCount int `json:"totalCount"`
}

// listUsers is GET /users?include=Active|Archived|All&page=N&limit=M, in
// creation order.
func (v *VCC) listUsers(r *http.Request) (int, any) {
	q := r.URL.Query()
	include := "Active"
	if s := q.Get("include"); s != "" {
		include = ""
		for _, x := range []string{"Active", "Archived", "All"} {
			if strings.EqualFold(s, x) {
				include = x
			}
		}
		if include == "" {
			return apiErrorf(400, "include must be one of Active, Archived, All").reply()
		}
	}
	page, limit := 1, 25
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return apiErrorf(400, "page must be a whole number of 1 or more").reply()
		}
		page = n
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 5000 {
			return apiErrorf(400, "limit must be a whole number between 1 and 5000").reply()
		}
		limit = n
	}

	v.mu.Lock()
	var match []*userEntry
	for _, e := range v.users {
		if include == "All" || e.rec.User.Active == (include == "Active") {
			match = append(match, e)
		}
	}
	slices.SortFunc(match, func(a, b *userEntry) int { return a.seq - b.seq })
	users := []VCCUser{}
	for i := (page - 1) * limit; i < len(match) && i < page*limit; i++ {
		users = append(users, match[i].rec.User.view())
	}
	v.mu.Unlock()

	return http.StatusOK, map[string]any{
		"meta": listMeta{
			Page:       page,
			Count:      len(users),
			PageCount:  (len(match) + limit - 1) / limit,
			TotalCount: len(match),
		},
		"users": users,
	}
}

func (v *VCC) getUser(r *http.Request) (int, any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[r.PathValue("userId")]
	if e == nil {
		return errUserNotFound.reply()
	}
	return http.StatusOK, e.rec.User.view()
}

func (v *VCC) getUserByUsername(r *http.Request) (int, any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[v.byUsername[strings.ToLower(r.PathValue("username"))]]
	if e == nil {
		return errUserNotFound.reply()
	}
	return http.StatusOK, e.rec.User.view()
}

// createUser is POST /users?allowOverages=bool.
func (v *VCC) createUser(r *http.Request) (int, any) {
	overages, aerr := boolParam(r, "allowOverages")
	if aerr != nil {
		return aerr.reply()
	}
	var body userBody
	if aerr := readJSON(r, &body); aerr != nil {
		return aerr.reply()
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"username", body.Username}, {"name", body.Name}, {"email", body.Email}} {
		if f.v == nil || strings.TrimSpace(*f.v) == "" {
			return apiErrorf(400, "%s is required", f.name).reply()
		}
	}
	if body.Config == nil || body.Config.Role == nil || *body.Config.Role == "" {
		return apiErrorf(400, "userAccountConfiguration.role is required").reply()
	}
	u := VCCUser{UserID: newUUID(), Active: true}
	u.Config.Chargeable = strings.EqualFold(*body.Config.Role, VCCRoleAgent)
	if aerr := body.applyTo(&u); aerr != nil {
		return aerr.reply()
	}

	v.mu.Lock()
	defer v.mu.Unlock()
	if aerr := v.check(u, nil, overages); aerr != nil {
		return aerr.reply()
	}
	v.put(VCCUserRecord{User: u})
	v.countWrite(r, u.UserID, true)
	return v.opts.CreateStatus, u.view()
}

// patchUser is PATCH /users/{userId}: a deep merge of the body into the
// user. {"active":false} archives, {"active":true} reverts, {"locked":false}
// unlocks and resets the count of failed logins.
func (v *VCC) patchUser(r *http.Request) (int, any) {
	overages, aerr := boolParam(r, "allowOverages")
	if aerr == nil {
		_, aerr = boolParam(r, "acceptArchiveInMultipleAccounts")
	}
	if aerr != nil {
		return aerr.reply()
	}
	var body userBody
	if aerr := readJSON(r, &body); aerr != nil {
		return aerr.reply()
	}

	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[r.PathValue("userId")]
	if e == nil {
		return errUserNotFound.reply()
	}
	old := e.rec.User
	u := old.clone()
	if aerr := body.applyTo(&u); aerr != nil {
		return aerr.reply()
	}
	if aerr := v.check(u, &old, overages); aerr != nil {
		return aerr.reply()
	}
	rec := e.rec.clone()
	rec.User = u
	v.put(rec)
	changed := !reflect.DeepEqual(old, u)
	if body.Locked != nil && !*body.Locked && e.failedLogins > 0 {
		e.failedLogins = 0
		changed = true
	}
	v.countWrite(r, u.UserID, changed)
	return http.StatusOK, u.view()
}

// deleteUser is DELETE /users/{userId}; the user must be archived first
// and have no user-level API credentials.
func (v *VCC) deleteUser(r *http.Request) (int, any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[r.PathValue("userId")]
	if e == nil {
		return errUserNotFound.reply()
	}
	if e.rec.User.Active {
		return apiErrorf(v.opts.DeleteActiveStatus, "User must be archived before it can be deleted").reply()
	}
	if len(e.credentials) > 0 {
		return apiErrorf(http.StatusConflict, "User %s has user-level API credentials (%s): delete them first",
			e.rec.User.UserID, strings.Join(e.credentials, ", ")).reply()
	}
	v.unindex(e.rec.User)
	delete(v.users, e.rec.User.UserID)
	v.countWrite(r, e.rec.User.UserID, true)
	return http.StatusNoContent, nil
}

func (v *VCC) getSkills(r *http.Request) (int, any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[r.PathValue("userId")]
	if e == nil {
		return errUserNotFound.reply()
	}
	return http.StatusOK, skillsView(e.rec.Skills)
}

// putSkills replaces all the user's skills. Levels may be numbers or
// numeric strings.
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
	return v.replace(r, func(rec *VCCUserRecord) (any, bool) {
		changed := !slices.Equal(rec.Skills, skills)
		rec.Skills = skills
		return skillsView(skills), changed
	})
}

func skillsView(skills []VCCSkill) map[string]any {
	out := []skillView{}
	for _, s := range skills {
		out = append(out, skillView{SkillID: s.SkillID, Level: strconv.Itoa(s.Level)})
	}
	return map[string]any{"agentSkills": out}
}

func (v *VCC) getGroups(r *http.Request) (int, any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[r.PathValue("userId")]
	if e == nil {
		return errUserNotFound.reply()
	}
	return http.StatusOK, groupsView(e.rec.Groups)
}

// putGroups replaces all the user's groups.
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
	return v.replace(r, func(rec *VCCUserRecord) (any, bool) {
		changed := !slices.Equal(rec.Groups, groups)
		rec.Groups = groups
		return groupsView(groups), changed
	})
}

func groupsView(groups []string) map[string]any {
	out := []groupView{}
	for _, g := range groups {
		out = append(out, groupView{GroupID: g})
	}
	return map[string]any{"agentGroups": out}
}

func (v *VCC) getUserCallbackNumbers(r *http.Request) (int, any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[r.PathValue("userId")]
	if e == nil {
		return errUserNotFound.reply()
	}
	return http.StatusOK, v.callbackNumbersView(e.rec.CallbackNumbers)
}

// putUserCallbackNumbers replaces all the user's callback numbers; each must
// be one of the account's.
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
	v.mu.Lock()
	for _, id := range ids {
		if _, ok := v.callbackNumber(id); !ok {
			v.mu.Unlock()
			return apiErrorf(400, "callbackNumbers: unknown callbackNumberId %q", id).reply()
		}
	}
	v.mu.Unlock()
	return v.replace(r, func(rec *VCCUserRecord) (any, bool) {
		changed := !slices.Equal(rec.CallbackNumbers, ids)
		rec.CallbackNumbers = ids
		return v.callbackNumbersView(ids), changed
	})
}

// listCallbackNumbers is GET /callbackNumbers: the account's outbound CLIDs.
func (v *VCC) listCallbackNumbers(*http.Request) (int, any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return http.StatusOK, map[string]any{"callbackNumbers": slices.Clone(v.numbers)}
}

// callbackNumbersView shows the numbers with their names; the caller holds v.mu.
func (v *VCC) callbackNumbersView(ids []string) map[string]any {
	out := []VCCCallbackNumber{}
	for _, id := range ids {
		n, _ := v.callbackNumber(id)
		out = append(out, n)
	}
	return map[string]any{"callbackNumbers": out}
}

func (v *VCC) callbackNumber(id string) (VCCCallbackNumber, bool) {
	for _, n := range v.numbers {
		if n.ID == id {
			return n, true
		}
	}
	return VCCCallbackNumber{ID: id}, false
}

// replace applies a sub-resource PUT to the user named in the path; fn
// returns the reply and whether the list changed.
func (v *VCC) replace(r *http.Request, fn func(*VCCUserRecord) (any, bool)) (int, any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[r.PathValue("userId")]
	if e == nil {
		return errUserNotFound.reply()
	}
	body, changed := fn(&e.rec)
	v.countWrite(r, e.rec.User.UserID, changed)
	return http.StatusOK, body
}

// listTelephonyRegions is GET /telephonyRegions: the account's telephony
// regions, in the order they were added.
func (v *VCC) listTelephonyRegions(*http.Request) (int, any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return http.StatusOK, map[string]any{"telephonyRegions": append([]VCCTelephonyRegion{}, v.regions...)}
}

func (v *VCC) telephonyRegion(id string) (VCCTelephonyRegion, bool) {
	for _, t := range v.regions {
		if t.ID == id {
			return t, true
		}
	}
	return VCCTelephonyRegion{}, false
}

// regionChoices lists the account's regions for an error message; the
// caller holds v.mu.
func (v *VCC) regionChoices() string {
	if len(v.regions) == 0 {
		return "none"
	}
	parts := make([]string, len(v.regions))
	for i, t := range v.regions {
		parts[i] = fmt.Sprintf("%s [%s]", t.Name, t.ID)
	}
	return strings.Join(parts, ", ")
}

// check applies the account rules to u, the proposed state of a user whose
// current state is old (nil for a new user). The caller holds v.mu.
func (v *VCC) check(u VCCUser, old *VCCUser, allowOverages bool) *apiError {
	switch {
	case strings.TrimSpace(u.Username) == "":
		return apiErrorf(400, "username is required")
	case strings.TrimSpace(u.Name) == "":
		return apiErrorf(400, "name is required")
	case strings.TrimSpace(u.Email) == "":
		return apiErrorf(400, "email is required")
	case !strings.Contains(u.Email, "@"):
		return apiErrorf(400, "email %q is not a valid email address", u.Email)
	case !slices.Contains(vccRoles, u.Config.Role):
		return apiErrorf(400, "userAccountConfiguration.role %q is not valid: use one of %s", u.Config.Role, strings.Join(vccRoles, ", "))
	}
	if id := v.byUsername[strings.ToLower(u.Username)]; id != "" && id != u.UserID {
		return apiErrorf(v.opts.ConflictStatus, "Username %s already exists", u.Username)
	}
	oldID := ""
	if old != nil {
		oldID = old.agentID()
	}
	if a := u.Config.Agent; a != nil {
		switch {
		case oldID != "" && a.AgentDisplayID != oldID:
			return apiErrorf(400, "agentDisplayId cannot be changed once set (it is %s)", oldID)
		case u.Config.ActAsAgent && a.AgentDisplayID == "" && !v.opts.AgentDisplayIDOptional:
			return apiErrorf(400, "userAccountConfiguration.agentConfiguration.agentDisplayId is required when actAsAgent is true")
		}
		for _, c := range []struct {
			name string
			n    int
		}{{"live", a.Capacity.Live}, {"nonLive", a.Capacity.NonLive}, {"semiLive", a.Capacity.SemiLive}} {
			if c.n < 0 || c.n > 100 {
				return apiErrorf(400, "userAccountConfiguration.agentConfiguration.capacity.%s must be a percentage between 0 and 100", c.name)
			}
		}
		if s := a.TelephonyAddress.SelectedCallbackNumberID; s != "" {
			if _, ok := v.callbackNumber(s); !ok {
				return apiErrorf(400, "userAccountConfiguration.agentConfiguration.telephonyAddress.selectedCallbackNumberId: unknown callbackNumberId %q", s)
			}
		}
		// A region already stored is not checked again: only the change is.
		if t := a.TelephonyAddress.OutboundTelephonyRegion; t != "" && (old == nil || old.region() != t) {
			if _, ok := v.telephonyRegion(t); !ok {
				return apiErrorf(400, "outboundTelephonyRegion %q is not a telephony region of this account; valid: %s", t, v.regionChoices())
			}
		}
		// Likewise a user already in breach is not refused for other changes.
		if u.webrtcWithoutPhone() && (old == nil || !old.webrtcWithoutPhone()) && !v.opts.WebRTCPhoneOptional {
			return apiErrorf(400, "userAccountConfiguration.agentConfiguration.telephonyAddress.telephoneAddress is required when webrtc is true: VCC routes the agent's calls to this number when WebRTC is unavailable")
		}
	}
	if id := v.byAgentID[u.agentID()]; u.agentID() != "" && id != "" && id != u.UserID {
		return apiErrorf(v.opts.ConflictStatus, "agentDisplayId %s is already in use by another user", u.agentID())
	}
	if id := v.byPhone[u.phone()]; u.phone() != "" && id != "" && id != u.UserID {
		return apiErrorf(v.opts.ConflictStatus, "telephoneAddress %s is already in use by another agent", u.phone())
	}
	if u.usesLicence() && (old == nil || !old.usesLicence()) && v.opts.AgentLicences > 0 && !allowOverages {
		used := 0
		for _, e := range v.users {
			if e.rec.User.usesLicence() {
				used++
			}
		}
		if used >= v.opts.AgentLicences {
			return apiErrorf(v.opts.OverageStatus, "All %d agent licences are in use: set allowOverages=true to exceed them", v.opts.AgentLicences)
		}
	}
	return nil
}

// put stores rec, keeping its creation order and the indexes. The caller
// holds v.mu and has checked rec.
func (v *VCC) put(rec VCCUserRecord) {
	e := v.users[rec.User.UserID]
	if e == nil {
		v.seq++
		e = &userEntry{seq: v.seq}
		v.users[rec.User.UserID] = e
	} else {
		v.unindex(e.rec.User)
	}
	e.rec = rec
	id := rec.User.UserID
	v.byUsername[strings.ToLower(rec.User.Username)] = id
	if a := rec.User.agentID(); a != "" {
		v.byAgentID[a] = id
	}
	if p := rec.User.phone(); p != "" {
		v.byPhone[p] = id
	}
}

func (v *VCC) unindex(u VCCUser) {
	delete(v.byUsername, strings.ToLower(u.Username))
	delete(v.byAgentID, u.agentID())
	delete(v.byPhone, u.phone())
}

func readJSON(r *http.Request, dst any) *apiError {
	b, err := io.ReadAll(io.LimitReader(r.Body, vccMaxBodySize+1))
	if err != nil {
		return apiErrorf(400, "Invalid request body: %v", err)
	}
	if len(b) > vccMaxBodySize {
		return apiErrorf(http.StatusRequestEntityTooLarge, "Request body larger than %d bytes", vccMaxBodySize)
	}
	return decodeJSON(b, dst)
}

func boolParam(r *http.Request, name string) (bool, *apiError) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, apiErrorf(400, "%s must be true or false", name)
	}
	return b, nil
}
