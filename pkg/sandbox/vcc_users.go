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

// Refusal messages a client may match.
const (
	// MsgMultiAccountArchive is the refusal of an archive of a user who
	// belongs to several VCC accounts without acceptArchiveInMultipleAccounts=true.
	MsgMultiAccountArchive = "User belongs to multiple accounts. Set acceptArchiveInMultipleAccounts=true to archive the user in all accounts."
	// MsgDeleteWithCredentials is the refusal of a DELETE of a user who has
	// user-level API credentials, in the words of VCC's User Admin help
	// (seed 003).
	MsgDeleteWithCredentials = "You cannot delete a user that has any user-level API credentials in any account. To delete such a user, delete their API credentials first."
)

// listUsers is GET /users?include=Active|Archived|All&page=N&limit=M, in
// creation order.
func (v *VCC) listUsers(r *http.Request) (int, any) {
	include, aerr := includeParam(r)
	if aerr != nil {
		return aerr.reply()
	}
	p, aerr := pageParams(r)
	if aerr != nil {
		return aerr.reply()
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	users := []VCCUser{}
	for _, e := range v.sortedEntries() {
		if include == "All" || e.rec.User.Active == (include == "Active") {
			users = append(users, e.rec.User.view())
		}
	}
	return listReply(v, "users", users, p, nil)
}

func includeParam(r *http.Request) (string, *apiError) {
	s := r.URL.Query().Get("include")
	if s == "" {
		return "Active", nil
	}
	for _, x := range []string{"Active", "Archived", "All"} {
		if strings.EqualFold(s, x) {
			return x, nil
		}
	}
	return "", apiErrorf(400, "include must be one of Active, Archived, All")
}

// sortedEntries returns the users in creation order; the caller holds v.mu.
func (v *VCC) sortedEntries() []*userEntry {
	entries := make([]*userEntry, 0, len(v.users))
	for _, e := range v.users {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b *userEntry) int { return a.seq - b.seq })
	return entries
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

// createUser is POST /users?allowOverages=bool. A selectedCallbackNumberId
// in the body is taken when it is one of the account's callback numbers, as
// in Vonage's own "Create user" example, although the new user has none of
// its own yet (see checkAgent and VCCOptions.CreateRefusesSelection).
func (v *VCC) createUser(r *http.Request) (int, any) {
	overages, aerr := boolParam(r, "allowOverages")
	if aerr != nil {
		return aerr.reply()
	}
	var body userBody
	if aerr := readJSON(r, &body); aerr != nil {
		return aerr.reply()
	}
	if aerr := body.checkRequired(); aerr != nil {
		return aerr.reply()
	}
	u := VCCUser{UserID: newUUID(), Active: true}
	u.Config.Chargeable = strings.EqualFold(*body.Config.Role, VCCRoleAgent)
	if aerr := body.applyTo(&u); aerr != nil {
		return aerr.reply()
	}

	v.mu.Lock()
	defer v.mu.Unlock()
	rec := VCCUserRecord{User: u}
	if aerr := v.check(rec, nil, overages); aerr != nil {
		return aerr.reply()
	}
	v.put(rec)
	v.countWrite(r, u.UserID, true)
	if v.opts.CreateEmptyBody {
		return v.opts.CreateStatus, nil
	}
	return v.opts.CreateStatus, u.view()
}

// checkRequired checks the fields Create user requires.
func (b *userBody) checkRequired() *apiError {
	for _, f := range []struct {
		name string
		v    *string
	}{{"username", b.Username}, {"name", b.Name}, {"email", b.Email}} {
		if f.v == nil || strings.TrimSpace(*f.v) == "" {
			return apiErrorf(400, "%s is required", f.name)
		}
	}
	if b.Config == nil || b.Config.Role == nil || *b.Config.Role == "" {
		return apiErrorf(400, "userAccountConfiguration.role is required")
	}
	return nil
}

// patchUser is PATCH /users/{userId}?allowOverages=&acceptArchiveInMultipleAccounts=:
// the body merged into the user (see userBody.applyTo). {"active":false}
// archives, {"active":true} reverts.
func (v *VCC) patchUser(r *http.Request) (int, any) {
	overages, aerr := boolParam(r, "allowOverages")
	if aerr != nil {
		return aerr.reply()
	}
	acceptMulti, aerr := boolParam(r, "acceptArchiveInMultipleAccounts")
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
	// Update user by user ID: the flag "must be set to true if user being
	// archived is linked to multiple accounts". Any active:false counts.
	if body.Active != nil && !*body.Active && e.accounts > 1 && !acceptMulti {
		return apiErrorf(v.opts.MultiAccountArchiveStatus, "%s", MsgMultiAccountArchive).reply()
	}
	old := e.rec.User
	rec := e.rec.clone()
	if aerr := body.applyTo(&rec.User); aerr != nil {
		return aerr.reply()
	}
	if aerr := v.check(rec, &old, overages); aerr != nil {
		return aerr.reply()
	}
	v.put(rec)
	v.countWrite(r, old.UserID, !reflect.DeepEqual(old, rec.User))
	return http.StatusOK, rec.User.view()
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
		return apiErrorf(http.StatusConflict, "%s", MsgDeleteWithCredentials).reply()
	}
	v.unindex(e.rec.User)
	delete(v.users, e.rec.User.UserID)
	v.countWrite(r, e.rec.User.UserID, true)
	return http.StatusNoContent, nil
}

// check applies the account rules to rec, the proposed state of a user
// whose current state is old (nil for a new user). The caller holds v.mu.
func (v *VCC) check(rec VCCUserRecord, old *VCCUser, allowOverages bool) *apiError {
	u := rec.User
	if aerr := checkIdentity(u); aerr != nil {
		return aerr
	}
	if id := v.byUsername[strings.ToLower(u.Username)]; id != "" && id != u.UserID {
		return apiErrorf(v.opts.ConflictStatus, "Username %s already exists", u.Username)
	}
	if aerr := v.checkAgent(rec, old); aerr != nil {
		return aerr
	}
	if id := v.byAgentID[u.agentID()]; u.agentID() != "" && id != "" && id != u.UserID {
		return apiErrorf(v.opts.ConflictStatus, "agentDisplayId %s is already in use by another user", u.agentID())
	}
	if id := v.byPhone[u.phone()]; u.phone() != "" && id != "" && id != u.UserID {
		return apiErrorf(v.opts.ConflictStatus, "telephoneAddress %s is already in use by another agent", u.phone())
	}
	return v.checkLicence(u, old, allowOverages)
}

func checkIdentity(u VCCUser) *apiError {
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
	return nil
}

// checkAgent applies the rules of agentConfiguration. A telephony region,
// selected callback number or WebRTC breach already stored (through Go) is
// not refused again: only a change is checked. The caller holds v.mu.
func (v *VCC) checkAgent(rec VCCUserRecord, old *VCCUser) *apiError {
	u := rec.User
	a := u.Config.Agent
	if a == nil {
		return nil
	}
	oldID := ""
	if old != nil {
		oldID = old.agentID()
	}
	switch {
	case oldID != "" && a.AgentDisplayID != oldID:
		return apiErrorf(400, "agentDisplayId cannot be changed once set (it is %s)", oldID)
	case u.Config.ActAsAgent && a.AgentDisplayID == "" && !v.opts.AgentDisplayIDOptional:
		return apiErrorf(400, "userAccountConfiguration.agentConfiguration.agentDisplayId is required when actAsAgent is true")
	}
	if aerr := checkAgentNumbers(a); aerr != nil {
		return aerr
	}
	t := a.TelephonyAddress
	if s := t.SelectedCallbackNumberID; s != "" && (old == nil || old.selectedCallbackNumber() != s) && !slices.Contains(rec.CallbackNumbers, s) {
		if old != nil || v.opts.CreateRefusesSelection {
			return apiErrorf(400, "userAccountConfiguration.agentConfiguration.telephonyAddress.selectedCallbackNumberId %q is not one of the user's callback numbers: assign it with PUT /users/{userId}/callbackNumbers first", s)
		}
		if _, ok := v.callbackNumber(s); !ok {
			return apiErrorf(400, "userAccountConfiguration.agentConfiguration.telephonyAddress.selectedCallbackNumberId %q is not a callback number of this account (GET /callbackNumbers)", s)
		}
	}
	if r := t.OutboundTelephonyRegion; r != "" && (old == nil || old.region() != r) {
		if _, ok := v.telephonyRegion(r); !ok {
			return apiErrorf(400, "outboundTelephonyRegion %q is not a telephony region of this account; valid: %s", r, v.regionChoices())
		}
	}
	if u.webrtcWithoutPhone() && (old == nil || !old.webrtcWithoutPhone()) && !v.opts.WebRTCPhoneOptional {
		return apiErrorf(400, "userAccountConfiguration.agentConfiguration.telephonyAddress.telephoneAddress is required when webrtc is true: VCC routes the agent's calls to this number when WebRTC is unavailable")
	}
	return nil
}

// checkLicence refuses an agent licence over AgentLicences unless
// allowOverages; the caller holds v.mu.
func (v *VCC) checkLicence(u VCCUser, old *VCCUser, allowOverages bool) *apiError {
	if !u.usesLicence() || (old != nil && old.usesLicence()) || v.opts.AgentLicences <= 0 || allowOverages {
		return nil
	}
	used := 0
	for _, e := range v.users {
		if e.rec.User.usesLicence() {
			used++
		}
	}
	if used >= v.opts.AgentLicences {
		return apiErrorf(v.opts.OverageStatus, "All %d agent licences are in use: set allowOverages=true to exceed them", v.opts.AgentLicences)
	}
	return nil
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
