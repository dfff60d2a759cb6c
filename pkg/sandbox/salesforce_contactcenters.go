package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
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

// Members returns the members of a contact center, the users whose
// CallCenterId it is, in the order they joined (nil for an unknown contact
// center).
func (s *Salesforce) Members(ccID string) []SFMember {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.center(ccID)
	if c == nil {
		return nil
	}
	var entries []*sfUserEntry
	for _, e := range s.users {
		if e.u.CallCenterID == c.cc.ID {
			entries = append(entries, e)
		}
	}
	slices.SortFunc(entries, func(a, b *sfUserEntry) int { return a.joined - b.joined })
	out := []SFMember{}
	for _, e := range entries {
		out = append(out, SFMember{ContactCenterID: c.cc.ID, UserID: e.u.ID, TelephonyUsername: e.telephony})
	}
	return out
}

// Member returns the membership of a user, if it is a member of a contact
// center (its CallCenterId is set).
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

// AddMember sets a user's CallCenterId to a contact center under the rules
// of the API (without counting a write), moving the user out of any other
// one; adding a member of that contact center again changes nothing.
func (s *Salesforce) AddMember(ccID, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.center(ccID)
	if c == nil {
		return fmt.Errorf("add member to contact center %s: not found", ccID)
	}
	id, _ := sfNormalizeID(userID, SFPrefixUser)
	e := s.users[id]
	if e == nil {
		return fmt.Errorf("add member %s to contact center %s: user not found", userID, ccID)
	}
	if e.u.CallCenterID == c.cc.ID {
		return nil
	}
	u := e.u.clone()
	u.CallCenterID = c.cc.ID
	if fail := s.checkUser(u, e, false); fail != nil {
		return fmt.Errorf("add member %s to contact center %s: %s: %s", id, c.cc.ID, fail.errs[0].ErrorCode, fail.errs[0].Message)
	}
	s.store(e, u)
	s.touch(e)
	return nil
}

// RemoveMember clears a user's CallCenterId if it is a member of the
// contact center (nothing otherwise), without counting a write.
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
	if e.u.CallCenterID != c.cc.ID {
		return nil
	}
	u := e.u.clone()
	u.CallCenterID = ""
	s.store(e, u)
	s.touch(e)
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

// sfCallCenterFields are the CallCenter fields the sandbox models.
var sfCallCenterFields = []string{SFFieldID, "Name"}

// getCallCenter is GET /services/data/vXX.X/sobjects/CallCenter/{id}
// [?fields=Id,Name]: the contact center's record, or 404.
func (s *Salesforce) getCallCenter(r *http.Request) (int, any) {
	fields := sfCallCenterFields
	if q := r.URL.Query().Get("fields"); q != "" {
		fields = nil
		for f := range strings.SplitSeq(q, ",") {
			f = strings.TrimSpace(f)
			i := slices.IndexFunc(sfCallCenterFields, func(name string) bool { return strings.EqualFold(name, f) })
			if i < 0 {
				return sfErrorReply(http.StatusBadRequest, "INVALID_FIELD",
					fmt.Sprintf("No such column '%s' on entity 'CallCenter'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", f))
			}
			if !slices.Contains(fields, sfCallCenterFields[i]) {
				fields = append(fields, sfCallCenterFields[i])
			}
		}
	}
	raw := r.PathValue("id")
	id, ok := sfNormalizeID(raw, "")
	if !ok {
		return sfErrorReply(http.StatusNotFound, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: "+raw)
	}
	s.mu.Lock()
	c := s.centers[id]
	s.mu.Unlock()
	if c == nil {
		return sfErrorReply(http.StatusNotFound, "NOT_FOUND", sfNotFoundResource)
	}
	rec := sfRecord{typ: "CallCenter", url: "/services/data/" + r.PathValue("version") + "/sobjects/CallCenter/" + c.cc.ID, fields: fields}
	for _, f := range fields {
		if f == SFFieldID {
			rec.values = append(rec.values, c.cc.ID)
		} else {
			rec.values = append(rec.values, c.cc.Name)
		}
	}
	return http.StatusOK, rec
}

// sfCollectionBody is the body of an sObject Collections update.
type sfCollectionBody struct {
	AllOrNone bool                         `json:"allOrNone"`
	Records   []map[string]json.RawMessage `json:"records"`
}

// sfSaveError is an error of an sObject Collections result; its code is
// under statusCode there, not errorCode (reference §5).
type sfSaveError struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

// sfSaveResult is one record's result of an sObject Collections update:
// id is the record's ID when it was updated or rolled back, null when the
// record itself failed.
type sfSaveResult struct {
	ID      *string       `json:"id"`
	Success bool          `json:"success"`
	Errors  []sfSaveError `json:"errors"`
}

func sfSaveErr(code string, fields []string, format string, args ...any) *sfSaveError {
	if fields == nil {
		fields = []string{}
	}
	return &sfSaveError{StatusCode: code, Message: fmt.Sprintf(format, args...), Fields: fields}
}

const sfRolledBackMsg = "Record rolled back because not all records were valid and the request was using AllOrNone header"

// patchCollection is PATCH /services/data/vXX.X/composite/sobjects
// {"allOrNone":bool,"records":[{"attributes":{"type":"User"},"id":…,…}]}:
// 1 to 200 User records, each updated as PATCH /sobjects/User/{id} would
// (same rules, a write, LastModifiedDate bumped), in order; 200 with a
// result per record in request order. With allOrNone true, one failure
// rolls back every record.
func (s *Salesforce) patchCollection(r *http.Request) (int, any) {
	var body sfCollectionBody
	if fail := readSFJSON(r, &body); fail != nil {
		return fail.reply()
	}
	switch n := len(body.Records); {
	case n == 0:
		return sfErrorReply(http.StatusBadRequest, "MISSING_ARGUMENT", "records: at least one record is required")
	case n > SFMaxCollectionRecords:
		return sfErrorReply(http.StatusBadRequest, "EXCEEDED_ID_LIMIT",
			fmt.Sprintf("record limit reached. cannot submit more than %d records in a single call", SFMaxCollectionRecords))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type update struct {
		i       int
		e       *sfUserEntry
		prev    sfUserEntry
		changed bool
	}
	var updates []update
	results := make([]sfSaveResult, len(body.Records))
	seen := map[string]bool{}
	failed := false
	for i, rec := range body.Records {
		e, u, fail := s.collectionRecord(rec, seen)
		if fail != nil {
			results[i] = sfSaveResult{Errors: []sfSaveError{*fail}}
			failed = true
			continue
		}
		prev := *e
		prev.u = e.u.clone()
		updates = append(updates, update{i: i, e: e, prev: prev, changed: !sfSameRecord(e.u, u)})
		s.store(e, u)
	}
	if body.AllOrNone && failed {
		for _, up := range slices.Backward(updates) {
			delete(s.byUsername, strings.ToLower(up.e.u.Username))
			*up.e = up.prev
			s.byUsername[strings.ToLower(up.e.u.Username)] = up.e.u.ID
		}
		for _, up := range updates {
			id := up.e.u.ID
			results[up.i] = sfSaveResult{ID: &id, Errors: []sfSaveError{*sfSaveErr("ALL_OR_NONE_OPERATION_ROLLED_BACK", nil, sfRolledBackMsg)}}
		}
		return http.StatusOK, results
	}
	for _, up := range updates {
		id := up.e.u.ID
		s.touch(up.e)
		s.countWrite(id, http.MethodPatch, up.changed)
		results[up.i] = sfSaveResult{ID: &id, Success: true, Errors: []sfSaveError{}}
	}
	return http.StatusOK, results
}

// collectionRecord checks one record of an sObject Collections update and
// returns its user and the updated record; seen holds the IDs of the
// request's earlier records. The caller holds s.mu.
func (s *Salesforce) collectionRecord(rec map[string]json.RawMessage, seen map[string]bool) (*sfUserEntry, SFUser, *sfSaveError) {
	refuse := func(fail *sfSaveError) (*sfUserEntry, SFUser, *sfSaveError) { return nil, SFUser{}, fail }
	var attrs struct {
		Type string `json:"type"`
	}
	var rawID json.RawMessage
	for k, v := range rec {
		switch {
		case strings.EqualFold(k, "attributes"):
			_ = json.Unmarshal(v, &attrs)
		case strings.EqualFold(k, SFFieldID):
			rawID = v
		}
	}
	switch {
	case attrs.Type == "":
		return refuse(sfSaveErr("INVALID_TYPE", nil, "Must send a concrete entity type."))
	case !strings.EqualFold(attrs.Type, "User"):
		return refuse(sfSaveErr("INVALID_TYPE", nil, "sObject type '%s' is not supported: the sandbox models the User object only", attrs.Type))
	}
	var raw *string
	if len(rawID) > 0 && json.Unmarshal(rawID, &raw) != nil {
		return refuse(sfSaveErr("MALFORMED_ID", []string{SFFieldID}, "malformed id %s", bytes.TrimSpace(rawID)))
	}
	if raw == nil || *raw == "" {
		return refuse(sfSaveErr("MISSING_ARGUMENT", nil, "Id not specified in an update call"))
	}
	id, ok := sfNormalizeID(*raw, SFPrefixUser)
	if !ok {
		return refuse(sfSaveErr("MALFORMED_ID", []string{SFFieldID}, "malformed id %s", *raw))
	}
	if seen[id] {
		return refuse(sfSaveErr("DUPLICATE_VALUE", nil, "Duplicate id in list: %s", id))
	}
	seen[id] = true
	e := s.users[id]
	if e == nil {
		return refuse(sfSaveErr("INVALID_CROSS_REFERENCE_KEY", nil, "invalid cross reference id"))
	}
	u, fail := s.updatedUser(e, rec, true)
	if fail != nil {
		return refuse(sfSaveErr(fail.errs[0].ErrorCode, fail.errs[0].Fields, "%s", fail.errs[0].Message))
	}
	return e, u, nil
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
