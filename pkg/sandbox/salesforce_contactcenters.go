package sandbox

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
)

// TelephonyUsername is the telephony provider's username of a contact
// center member and the SSO session name computed at login:
// Alias@UserId@OrgId.
func TelephonyUsername(alias, userID, orgID string) string {
	return alias + "@" + userID + "@" + orgID
}

// AddContactCenter adds a contact center (ID 04v…, 15 or 18 characters).
func (s *Salesforce) AddContactCenter(id, name string) error {
	full, ok := sfNormalizeID(id, SFPrefixContactCenter)
	if !ok {
		return fmt.Errorf("add contact center %q: not a contact center ID (04v…, 15 or 18 characters)", id)
	}
	if name == "" {
		return fmt.Errorf("add contact center %s: name is required", full)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.centers[full] != nil {
		return fmt.Errorf("add contact center %s: already exists", full)
	}
	s.centerSeq++
	s.centers[full] = &sfCenter{seq: s.centerSeq, cc: SFContactCenter{ID: full, Name: name}}
	return nil
}

// ContactCenters returns the org's contact centers in the order they were
// added.
func (s *Salesforce) ContactCenters() []SFContactCenter {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SFContactCenter, 0, len(s.centers))
	for _, c := range s.centers {
		out = append(out, c.cc)
	}
	slices.SortFunc(out, func(a, b SFContactCenter) int { return s.centers[a.ID].seq - s.centers[b.ID].seq })
	return out
}

// Members returns the members of a contact center in the order they were
// added (nil for an unknown contact center).
func (s *Salesforce) Members(ccID string) []SFMember {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.center(ccID)
	if c == nil {
		return nil
	}
	return s.membersOf(c)
}

// Member returns the membership of a user, if it is a member of a contact
// center.
func (s *Salesforce) Member(userID string) (SFMember, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, _ := sfNormalizeID(userID, SFPrefixUser)
	e := s.users[id]
	if e == nil || e.u.CallCenterID == "" {
		return SFMember{}, false
	}
	return SFMember{ContactCenterID: e.u.CallCenterID, UserID: id, TelephonyUsername: e.telephony}, true
}

// AddMember adds a user to a contact center under the rules of the API
// (without counting a write).
func (s *Salesforce) AddMember(ccID, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.center(ccID)
	if c == nil {
		return fmt.Errorf("add member to contact center %s: not found", ccID)
	}
	_, _, fail := s.addMember(c, userID)
	if fail != nil {
		return fmt.Errorf("add member to contact center %s: %s: %s", ccID, fail.ErrorCode, fail.Message)
	}
	return nil
}

// RemoveMember removes a user from a contact center (nothing when it is
// not a member), without counting a write.
func (s *Salesforce) RemoveMember(ccID, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.center(ccID)
	if c == nil {
		return fmt.Errorf("remove member from contact center %s: not found", ccID)
	}
	id, _ := sfNormalizeID(userID, SFPrefixUser)
	e := s.users[id]
	if e == nil {
		return fmt.Errorf("remove member %s from contact center %s: user not found", userID, ccID)
	}
	s.removeMemberLocked(c, e)
	return nil
}

// ErrSSO is wrapped by the errors of [Salesforce.CheckSSO].
var ErrSSO = errors.New("single sign-on refused")

// CheckSSO is the single sign-on check of [SFSSOCheckPath]: it returns the
// user's telephony username when the user is an active member of a
// contact center and that username equals the one computed from the
// user's current alias.
func (s *Salesforce) CheckSSO(userID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := sfNormalizeID(userID, SFPrefixUser)
	e := s.users[id]
	switch {
	case !ok || e == nil:
		return "", fmt.Errorf("%w: user %s not found", ErrSSO, userID)
	case !e.u.IsActive:
		return "", fmt.Errorf("%w: user %s is inactive", ErrSSO, id)
	case e.u.CallCenterID == "":
		return "", fmt.Errorf("%w: user %s is not a member of any contact center", ErrSSO, id)
	}
	if want := TelephonyUsername(e.u.Alias, id, s.opts.OrgID); e.telephony != want {
		return "", fmt.Errorf("%w: telephony username %s does not match alias %s: remove and re-add the user (seed 004)", ErrSSO, e.telephony, e.u.Alias)
	}
	return e.telephony, nil
}

// center finds a contact center by a 15- or 18-character ID; the caller
// holds s.mu.
func (s *Salesforce) center(raw string) *sfCenter {
	id, ok := sfNormalizeID(raw, SFPrefixContactCenter)
	if !ok {
		return nil
	}
	return s.centers[id]
}

func (s *Salesforce) membersOf(c *sfCenter) []SFMember {
	out := []SFMember{}
	for _, id := range c.members {
		out = append(out, SFMember{ContactCenterID: c.cc.ID, UserID: id, TelephonyUsername: s.users[id].telephony})
	}
	return out
}

// addMember applies the membership rules to one user; it returns the
// user's 18-character ID (or raw when it is not one), whether anything
// changed, and the refusal. The caller holds s.mu.
func (s *Salesforce) addMember(c *sfCenter, raw string) (string, bool, *sfError) {
	refuse := func(id, code, format string, args ...any) (string, bool, *sfError) {
		return id, false, &sfError{ErrorCode: code, Message: fmt.Sprintf(format, args...)}
	}
	id, ok := sfNormalizeID(raw, SFPrefixUser)
	if !ok {
		return refuse(raw, "INVALID_ID_FIELD", "Invalid user ID: %s", raw)
	}
	e := s.users[id]
	switch {
	case e == nil:
		return refuse(id, "NOT_FOUND", "User %s not found", id)
	case e.u.CallCenterID == c.cc.ID:
		return id, false, nil
	case e.u.CallCenterID != "":
		return refuse(id, "ALREADY_IN_CONTACT_CENTER", "User %s is a member of contact center %s (one contact center per user)", id, e.u.CallCenterID)
	case !e.u.IsActive:
		return refuse(id, "INACTIVE_USER", "User %s is inactive", id)
	case !e.u.ContactCenterPermission():
		return refuse(id, "NO_CONTACT_CENTER_PERMISSION", "User %s needs the Contact Center Agent or Contact Center Admin permission set", id)
	case !sfAliasRE.MatchString(e.u.Alias) || len(e.u.Alias) > SFAliasMaxLength:
		return refuse(id, "INVALID_ALIAS", "Alias %s has characters outside [A-Za-z0-9_.-]", e.u.Alias)
	}
	e.u.CallCenterID = c.cc.ID
	e.telephony = TelephonyUsername(e.u.Alias, id, s.opts.OrgID)
	c.members = append(c.members, id)
	s.touch(e)
	return id, true, nil
}

// removeMemberLocked removes e from c if it is a member and reports
// whether it was; the caller holds s.mu.
func (s *Salesforce) removeMemberLocked(c *sfCenter, e *sfUserEntry) bool {
	if e.u.CallCenterID != c.cc.ID {
		return false
	}
	c.members = slices.DeleteFunc(c.members, func(id string) bool { return id == e.u.ID })
	e.u.CallCenterID, e.telephony = "", ""
	s.touch(e)
	return true
}

type sfMembersReply struct {
	Members []sfMemberView `json:"members"`
}

type sfMemberView struct {
	UserID            string `json:"userId"`
	TelephonyUsername string `json:"telephonyUsername"`
}

// contactCenter finds the {ccId} of a request; the caller holds s.mu.
func (s *Salesforce) contactCenter(r *http.Request) (*sfCenter, *sfFail) {
	raw := r.PathValue("ccId")
	c := s.center(raw)
	if c == nil {
		return nil, sfFailf(http.StatusNotFound, "NOT_FOUND", nil, "Contact center %s not found", raw)
	}
	return c, nil
}

// listMembers is GET …/contactcenters/{ccId}/members.
func (s *Salesforce) listMembers(r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, fail := s.contactCenter(r)
	if fail != nil {
		return fail.reply()
	}
	out := sfMembersReply{Members: []sfMemberView{}}
	for _, m := range s.membersOf(c) {
		out.Members = append(out.Members, sfMemberView{UserID: m.UserID, TelephonyUsername: m.TelephonyUsername})
	}
	return http.StatusOK, out
}

type sfAddMembersBody struct {
	UserIDs []string `json:"userIds"`
}

type sfAddResult struct {
	UserID  string    `json:"userId"`
	Success bool      `json:"success"`
	Errors  []sfError `json:"errors,omitempty"`
}

// addMembers is POST …/contactcenters/{ccId}/members {"userIds":[…]}:
// 1 to 100 users, a result per user.
func (s *Salesforce) addMembers(r *http.Request) (int, any) {
	s.mu.Lock()
	_, fail := s.contactCenter(r)
	s.mu.Unlock()
	if fail != nil {
		return fail.reply()
	}
	var body sfAddMembersBody
	if fail := readSFJSON(r, &body); fail != nil {
		return fail.reply()
	}
	switch n := len(body.UserIDs); {
	case n == 0:
		return sfErrorReply(http.StatusBadRequest, "INVALID_INPUT", "userIds: at least one user ID is required")
	case n > SFMaxMembersPerAdd:
		return sfErrorReply(http.StatusBadRequest, "LIMIT_EXCEEDED", fmt.Sprintf("At most %d users can be added at a time", SFMaxMembersPerAdd))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, fail := s.contactCenter(r)
	if fail != nil {
		return fail.reply()
	}
	results := make([]sfAddResult, 0, len(body.UserIDs))
	for _, raw := range body.UserIDs {
		id, changed, refusal := s.addMember(c, raw)
		if refusal != nil {
			results = append(results, sfAddResult{UserID: id, Errors: []sfError{*refusal}})
			continue
		}
		s.countWrite(id, http.MethodPost, changed)
		results = append(results, sfAddResult{UserID: id, Success: true})
	}
	return http.StatusOK, map[string]any{"results": results}
}

// removeMember is DELETE …/contactcenters/{ccId}/members/{userId}: 204,
// also when the user is not a member.
func (s *Salesforce) removeMember(r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, fail := s.contactCenter(r)
	if fail != nil {
		return fail.reply()
	}
	raw := r.PathValue("userId")
	id, _ := sfNormalizeID(raw, SFPrefixUser)
	e := s.users[id]
	if e == nil {
		return sfErrorReply(http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("User %s not found", raw))
	}
	changed := s.removeMemberLocked(c, e)
	s.countWrite(id, http.MethodDelete, changed)
	return http.StatusNoContent, nil
}

type sfSSOBody struct {
	UserID string `json:"userId"`
}

// ssoCheck is POST /sandbox/sso/check {"userId":"005…"}: 200
// {"ok":true,"telephonyUsername":…} or 401 {"ok":false,"reason":…}.
func (s *Salesforce) ssoCheck(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"ok": false, "reason": "use POST"})
		return
	}
	var body sfSSOBody
	if fail := readSFJSON(r, &body); fail != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "reason": fail.errs[0].Message})
		return
	}
	if body.UserID == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "reason": "userId is required"})
		return
	}
	tel, err := s.CheckSSO(body.UserID)
	if err != nil {
		reason := err.Error()
		if len(reason) > len(ErrSSO.Error())+2 {
			reason = reason[len(ErrSSO.Error())+2:]
		}
		writeJSON(w, http.StatusUnauthorized, map[string]any{"ok": false, "reason": reason})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "telephonyUsername": tel})
}
