package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	sfAliasRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	sfEmailRE = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
)

// getUser is GET /services/data/vXX.X/sobjects/User/{id}[?fields=a,b].
func (s *Salesforce) getUser(r *http.Request) (int, any) {
	raw := r.PathValue("id")
	fields := SFUserFields
	if q := r.URL.Query().Get("fields"); q != "" {
		fields = nil
		for f := range strings.SplitSeq(q, ",") {
			name, ok := sfFieldByLower[strings.ToLower(strings.TrimSpace(f))]
			if !ok {
				return sfErrorReply(http.StatusBadRequest, "INVALID_FIELD",
					fmt.Sprintf("No such column '%s' on entity 'User'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", strings.TrimSpace(f)))
			}
			if !slices.Contains(fields, name) {
				fields = append(fields, name)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fail := checkVisible(fields, s.hiddenFields(r)); fail != nil && r.URL.Query().Get("fields") != "" {
		return fail.reply()
	}
	fields = visibleFields(fields, s.hiddenFields(r))
	e, fail := s.lookupUser(raw)
	if fail != nil {
		return fail.reply()
	}
	return http.StatusOK, newSFRecord(e.u, r.PathValue("version"), fields)
}

// lookupUser finds a user by a 15- or 18-character ID with Salesforce's
// 404s; the caller holds s.mu.
func (s *Salesforce) lookupUser(raw string) (*sfUserEntry, *sfFail) {
	id, ok := sfNormalizeID(raw, "")
	if !ok {
		return nil, sfFailf(http.StatusNotFound, "NOT_FOUND", nil, "Provided external ID field does not exist or is not accessible: %s", raw)
	}
	e := s.users[id]
	if e == nil {
		return nil, sfFailf(http.StatusNotFound, "NOT_FOUND", nil, sfNotFoundResource)
	}
	return e, nil
}

// patchUser is PATCH /services/data/vXX.X/sobjects/User/{id}: 204 with no
// body. Every successful PATCH bumps LastModifiedDate and SystemModstamp.
func (s *Salesforce) patchUser(r *http.Request) (int, any) {
	var body map[string]json.RawMessage
	if fail := readSFJSON(r, &body); fail != nil {
		return fail.reply()
	}
	if body == nil {
		return sfErrorReply(http.StatusBadRequest, "JSON_PARSER_ERROR", "The request body must be a JSON object")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, fail := s.lookupUser(r.PathValue("id"))
	if fail != nil {
		return fail.reply()
	}
	u, fail := s.updatedUser(e, body, false)
	if fail != nil {
		return fail.reply()
	}
	changed := !sfSameRecord(e.u, u)
	s.store(e, u)
	s.touch(e)
	s.countWrite(e.u.ID, http.MethodPatch, changed)
	return http.StatusNoContent, nil
}

// updatedUser returns e's record with the fields of an update body set
// (field names match case-insensitively; "attributes" is skipped, and so
// is "id" when skipID), checked under the REST API's rules. It is the one
// validation of PATCH /sobjects/User/{id} and of sObject Collections
// updates. The caller holds s.mu.
func (s *Salesforce) updatedUser(e *sfUserEntry, body map[string]json.RawMessage, skipID bool) (SFUser, *sfFail) {
	u := e.u.clone()
	for _, k := range slices.Sorted(maps.Keys(body)) {
		if strings.EqualFold(k, "attributes") || skipID && strings.EqualFold(k, SFFieldID) {
			continue
		}
		name, ok := sfFieldByLower[strings.ToLower(k)]
		if !ok {
			return SFUser{}, sfFailf(http.StatusBadRequest, "INVALID_FIELD", nil, "No such column '%s' on sobject of type User", k)
		}
		if fail := setSFField(&u, name, body[k]); fail != nil {
			return SFUser{}, fail
		}
	}
	if fail := s.checkUser(u, e, true); fail != nil {
		return SFUser{}, fail
	}
	return u, nil
}

// setSFField sets one field from its JSON value. A CallCenterId that is a
// contact center ID is stored in its 18-character form; checkUser refuses
// any other.
func setSFField(u *SFUser, name string, raw json.RawMessage) *sfFail {
	raw = bytes.TrimSpace(raw)
	switch name {
	case SFFieldID, SFFieldLastModifiedDate, SFFieldSystemModstamp:
		return sfFailf(http.StatusBadRequest, "INVALID_FIELD_FOR_INSERT_UPDATE", []string{name},
			"Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", name)
	case SFFieldIsActive:
		var b *bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return sfFailf(http.StatusBadRequest, "JSON_PARSER_ERROR", nil,
				"Cannot deserialize instance of boolean from %s value %s or request may be missing a required field", sfJSONKind(raw), raw)
		}
		if b == nil {
			return sfFailf(http.StatusBadRequest, "INVALID_TYPE_ON_FIELD_IN_RECORD", []string{name}, "%s: value not of required type: null", name)
		}
		u.IsActive = *b
		return nil
	}
	var v *string
	if err := json.Unmarshal(raw, &v); err != nil {
		return sfFailf(http.StatusBadRequest, "JSON_PARSER_ERROR", nil,
			"Cannot deserialize instance of string from %s value %s or request may be missing a required field", sfJSONKind(raw), raw)
	}
	switch {
	case v == nil:
		u.setText(name, "")
	case name == SFFieldCallCenterID:
		u.setText(name, sfNormalizeRef(*v, SFPrefixContactCenter))
	default:
		u.setText(name, *v)
	}
	return nil
}

// sfNormalizeRef is the 18-character form of a reference field's value
// when it is an ID with the key prefix, else the value as given.
func sfNormalizeRef(v, prefix string) string {
	if id, ok := sfNormalizeID(v, prefix); ok {
		return id
	}
	return v
}

func sfJSONKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "END_OBJECT"
	}
	switch raw[0] {
	case '"':
		return "VALUE_STRING"
	case '{':
		return "START_OBJECT"
	case '[':
		return "START_ARRAY"
	case 't':
		return "VALUE_TRUE"
	case 'f':
		return "VALUE_FALSE"
	case 'n':
		return "VALUE_NULL"
	}
	if bytes.ContainsAny(raw, ".eE") {
		return "VALUE_NUMBER_FLOAT"
	}
	return "VALUE_NUMBER_INT"
}

// checkUser applies the record rules to u (old is the stored entry, nil
// for a new user). api adds the alias character rule that the REST API
// enforces.
func (s *Salesforce) checkUser(u SFUser, old *sfUserEntry, api bool) *sfFail {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{SFFieldUsername, u.Username}, {SFFieldLastName, u.LastName}, {SFFieldAlias, u.Alias},
		{SFFieldEmail, u.Email}, {SFFieldProfileID, u.ProfileID},
	} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return sfFailf(http.StatusBadRequest, "REQUIRED_FIELD_MISSING", missing, "Required fields are missing: [%s]", strings.Join(missing, ", "))
	}
	if api {
		if fail := checkSFAlias(u.Alias); fail != nil {
			return fail
		}
	}
	for _, name := range []string{SFFieldUsername, SFFieldLastName, SFFieldFirstName, SFFieldAlias, SFFieldEmail, SFFieldFederationIdentifier, SFFieldNVMAgentID} {
		v, _ := u.field(name, false).(string)
		if n := len([]rune(v)); n > sfFieldMaxLength[name] {
			code := "STRING_TOO_LONG"
			if name == SFFieldAlias {
				code = "FIELD_INTEGRITY_EXCEPTION"
			}
			return sfFailf(http.StatusBadRequest, code, []string{name}, "%s: data value too large: %s (max length=%d)", name, v, sfFieldMaxLength[name])
		}
	}
	if !sfEmailRE.MatchString(u.Email) {
		return sfFailf(http.StatusBadRequest, "INVALID_EMAIL_ADDRESS", []string{SFFieldEmail}, "Email: invalid email address: %s", u.Email)
	}
	if !sfEmailRE.MatchString(u.Username) {
		return sfFailf(http.StatusBadRequest, "FIELD_INTEGRITY_EXCEPTION", []string{SFFieldUsername},
			"Username: The username must be in the form of an email address (for example, john@acme.com): %s", u.Username)
	}
	if other := s.byUsername[strings.ToLower(u.Username)]; other != "" && (old == nil || other != old.u.ID) {
		return sfFailf(http.StatusBadRequest, "DUPLICATE_USERNAME", []string{SFFieldUsername},
			"Duplicate Username.<br>The username already exists in this or another Salesforce organization. Usernames must be unique across all Salesforce organizations. To resolve, use a different username (it doesn't need to match the user's email address). ")
	}
	if u.FederationIdentifier != "" {
		for _, e := range s.users {
			if e != old && e.u.FederationIdentifier == u.FederationIdentifier {
				return sfFailf(http.StatusBadRequest, "DUPLICATE_VALUE", []string{SFFieldFederationIdentifier},
					"duplicate value found: FederationIdentifier duplicates value on record with id: %s", e.u.ID)
			}
		}
	}
	pid, ok := sfNormalizeID(u.ProfileID, SFPrefixProfile)
	if !ok {
		return sfFailf(http.StatusBadRequest, "INVALID_CROSS_REFERENCE_KEY", []string{SFFieldProfileID}, "Profile ID: id value of incorrect type: %s", u.ProfileID)
	}
	if _, known := s.profiles[pid]; len(s.profiles) > 0 && !known {
		return sfFailf(http.StatusBadRequest, "INVALID_CROSS_REFERENCE_KEY", []string{SFFieldProfileID}, "invalid cross reference id")
	}
	return s.checkMembership(u, old)
}

// checkMembership applies the contact-center rules (reference §4) when u's
// CallCenterId is set to a contact center old is not a member of (an add
// or a move; clearing it and keeping it are always allowed, also for an
// inactive user or one who has lost the permission set): the contact
// center must be one of the org's (INVALID_CROSS_REFERENCE_KEY), the user
// must hold the Contact Center Agent or Admin permission set, and its alias
// must be of [A-Za-z0-9_.-] (both FIELD_INTEGRITY_EXCEPTION, strict). The
// caller holds s.mu.
func (s *Salesforce) checkMembership(u SFUser, old *sfUserEntry) *sfFail {
	if u.CallCenterID == "" || old != nil && old.u.CallCenterID == u.CallCenterID {
		return nil
	}
	fields := []string{SFFieldCallCenterID}
	cc, ok := sfNormalizeID(u.CallCenterID, SFPrefixContactCenter)
	switch {
	case !ok:
		return sfFailf(http.StatusBadRequest, "INVALID_CROSS_REFERENCE_KEY", fields, "Call Center ID: id value of incorrect type: %s", u.CallCenterID)
	case s.centers[cc] == nil:
		return sfFailf(http.StatusBadRequest, "INVALID_CROSS_REFERENCE_KEY", fields, "invalid cross reference id")
	case !u.ContactCenterPermission():
		return sfFailf(http.StatusBadRequest, "FIELD_INTEGRITY_EXCEPTION", fields,
			"CallCenterId: user %s needs the Contact Center Agent or Contact Center Admin permission set to be a member of a contact center", u.ID)
	case !sfAliasRE.MatchString(u.Alias):
		return sfFailf(http.StatusBadRequest, "FIELD_INTEGRITY_EXCEPTION", []string{SFFieldAlias},
			"Alias: invalid characters in %q: a contact center member's alias may use only A-Z a-z 0-9 _ . -", u.Alias)
	}
	return nil
}

// checkSFAlias applies the alias rule of the REST API and of contact
// centers: 1 to 8 characters of [A-Za-z0-9_.-].
func checkSFAlias(alias string) *sfFail {
	switch {
	case alias == "":
		return sfFailf(http.StatusBadRequest, "REQUIRED_FIELD_MISSING", []string{SFFieldAlias}, "Required fields are missing: [Alias]")
	case !sfAliasRE.MatchString(alias):
		return sfFailf(http.StatusBadRequest, "FIELD_INTEGRITY_EXCEPTION", []string{SFFieldAlias},
			"Alias: invalid characters in %q: use only A-Z a-z 0-9 _ . -", alias)
	case len(alias) > SFAliasMaxLength:
		return sfFailf(http.StatusBadRequest, "FIELD_INTEGRITY_EXCEPTION", []string{SFFieldAlias},
			"Alias: data value too large: %s (max length=%d)", alias, SFAliasMaxLength)
	}
	return nil
}

// sfSameRecord reports whether two users have the same field values
// (timestamps and permission sets aside).
func sfSameRecord(a, b SFUser) bool {
	for _, f := range SFUserFields {
		if f != SFFieldLastModifiedDate && f != SFFieldSystemModstamp && a.field(f, false) != b.field(f, false) {
			return false
		}
	}
	return true
}

// store replaces a user's record, keeping the username index and the
// membership: when CallCenterId changes to a contact center, the user
// joins it and its telephony username is fixed from the alias it has now;
// when it is cleared, both go. The caller holds s.mu and has checked u.
func (s *Salesforce) store(e *sfUserEntry, u SFUser) {
	u.ProfileID = sfNormalizeRef(u.ProfileID, SFPrefixProfile)
	u.CallCenterID = sfNormalizeRef(u.CallCenterID, SFPrefixContactCenter)
	if u.CallCenterID != e.u.CallCenterID {
		e.telephony, e.joined = "", 0
		if u.CallCenterID != "" {
			s.memberSeq++
			e.telephony, e.joined = TelephonyUsername(u.Alias, u.ID, s.opts.OrgID), s.memberSeq
		}
	}
	delete(s.byUsername, strings.ToLower(e.u.Username))
	e.u = u
	s.byUsername[strings.ToLower(u.Username)] = u.ID
}

// SOQL: SELECT f1, f2 FROM User [WHERE <Id|CallCenterId> = 'x' |
// WHERE <Id|CallCenterId> IN ('x', …)] [ORDER BY Id [ASC|DESC]].

type sfSOQL struct {
	fields []string
	// filter is the WHERE field (Id or CallCenterId), "" for none; ids are
	// the 18-character IDs it may equal.
	filter  string
	ids     map[string]bool
	orderBy bool
	desc    bool
}

// match reports whether u passes the WHERE clause.
func (q *sfSOQL) match(u SFUser) bool {
	switch q.filter {
	case SFFieldID:
		return q.ids[u.ID]
	case SFFieldCallCenterID:
		return q.ids[u.CallCenterID]
	}
	return true
}

type sfToken struct {
	kind byte // 'i' identifier, 's' string, or the punctuation itself
	text string
}

func sfMalformed(format string, args ...any) *sfFail {
	return sfFailf(http.StatusBadRequest, "MALFORMED_QUERY", nil, format, args...)
}

func sfLexSOQL(q string) ([]sfToken, *sfFail) {
	var toks []sfToken
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == ',' || c == '(' || c == ')' || c == '=':
			toks = append(toks, sfToken{kind: c, text: string(c)})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(q) && q[j] != '\''; j++ {
				if q[j] == '\\' && j+1 < len(q) {
					j++
				}
				b.WriteByte(q[j])
			}
			if j >= len(q) {
				return nil, sfMalformed("unexpected token: '%s' (unterminated string)", q[i:])
			}
			toks = append(toks, sfToken{kind: 's', text: b.String()})
			i = j + 1
		case c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			j := i
			for j < len(q) && (q[j] == '_' || q[j] >= 'A' && q[j] <= 'Z' || q[j] >= 'a' && q[j] <= 'z' || q[j] >= '0' && q[j] <= '9' || q[j] == '.') {
				j++
			}
			toks = append(toks, sfToken{kind: 'i', text: q[i:j]})
			i = j
		default:
			return nil, sfMalformed("unexpected token: '%c'", c)
		}
	}
	return toks, nil
}

func parseSFSOQL(q string) (*sfSOQL, *sfFail) {
	toks, fail := sfLexSOQL(q)
	if fail != nil {
		return nil, fail
	}
	pos := 0
	peek := func() sfToken {
		if pos < len(toks) {
			return toks[pos]
		}
		return sfToken{}
	}
	isKW := func(kw string) bool { t := peek(); return t.kind == 'i' && strings.EqualFold(t.text, kw) }
	unexpected := func() *sfFail {
		if pos >= len(toks) {
			return sfMalformed("unexpected end of query")
		}
		return sfMalformed("unexpected token: '%s'", toks[pos].text)
	}
	expectKW := func(kw string) *sfFail {
		if !isKW(kw) {
			return unexpected()
		}
		pos++
		return nil
	}
	out := &sfSOQL{}
	if fail := expectKW("SELECT"); fail != nil {
		return nil, fail
	}
	for {
		t := peek()
		if t.kind != 'i' || strings.EqualFold(t.text, "FROM") {
			return nil, unexpected()
		}
		name, ok := sfFieldByLower[strings.ToLower(t.text)]
		if !ok {
			return nil, sfFailf(http.StatusBadRequest, "INVALID_FIELD", nil,
				"No such column '%s' on entity 'User'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", t.text)
		}
		if slices.Contains(out.fields, name) {
			return nil, sfMalformed("duplicate field selected: %s", name)
		}
		out.fields = append(out.fields, name)
		pos++
		if peek().kind != ',' {
			break
		}
		pos++
	}
	if fail := expectKW("FROM"); fail != nil {
		return nil, fail
	}
	if t := peek(); t.kind != 'i' {
		return nil, unexpected()
	} else if !strings.EqualFold(t.text, "User") {
		return nil, sfFailf(http.StatusBadRequest, "INVALID_TYPE", nil,
			"sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", t.text)
	}
	pos++
	if isKW("WHERE") {
		pos++
		switch {
		case isKW(SFFieldID):
			out.filter = SFFieldID
		case isKW(SFFieldCallCenterID):
			out.filter = SFFieldCallCenterID
		default:
			return nil, sfMalformed("the sandbox supports WHERE Id or CallCenterId = '…' and WHERE Id or CallCenterId IN ('…', …) only")
		}
		pos++
		out.ids = map[string]bool{}
		var values []string
		switch {
		case peek().kind == '=':
			pos++
			if peek().kind != 's' {
				return nil, unexpected()
			}
			values = append(values, peek().text)
			pos++
		case isKW("IN"):
			pos++
			if peek().kind != '(' {
				return nil, unexpected()
			}
			pos++
			for {
				if peek().kind != 's' {
					return nil, unexpected()
				}
				values = append(values, peek().text)
				pos++
				if peek().kind == ')' {
					pos++
					break
				}
				if peek().kind != ',' {
					return nil, unexpected()
				}
				pos++
			}
		default:
			return nil, unexpected()
		}
		for _, v := range values {
			id, ok := sfNormalizeID(v, "")
			if !ok {
				return nil, sfFailf(http.StatusBadRequest, "INVALID_QUERY_FILTER_OPERATOR", nil, "invalid ID field: %s", v)
			}
			out.ids[id] = true
		}
	}
	if isKW("ORDER") {
		pos++
		if fail := expectKW("BY"); fail != nil {
			return nil, fail
		}
		if !isKW("Id") {
			return nil, sfMalformed("the sandbox supports ORDER BY Id only")
		}
		pos++
		out.orderBy = true
		switch {
		case isKW("ASC"):
			pos++
		case isKW("DESC"):
			out.desc = true
			pos++
		}
	}
	if pos < len(toks) {
		return nil, unexpected()
	}
	return out, nil
}

// sfCursor is a query's result set, paged through nextRecordsUrl.
type sfCursor struct {
	records []sfRecord
	version string
	created time.Time
}

const (
	sfCursorLifetime = 15 * time.Minute
	sfMaxCursors     = 100
)

type sfQueryResult struct {
	TotalSize      int        `json:"totalSize"`
	Done           bool       `json:"done"`
	NextRecordsURL string     `json:"nextRecordsUrl,omitempty"`
	Records        []sfRecord `json:"records"`
}

// query is GET /services/data/vXX.X/query?q=SOQL.
func (s *Salesforce) query(r *http.Request) (int, any) {
	q := r.URL.Query().Get("q")
	if strings.TrimSpace(q) == "" {
		return sfErrorReply(http.StatusBadRequest, "MALFORMED_QUERY", "A query string has to be specified")
	}
	soql, fail := parseSFSOQL(q)
	if fail != nil {
		return fail.reply()
	}
	version := r.PathValue("version")
	s.mu.Lock()
	defer s.mu.Unlock()
	named := soql.fields
	if soql.filter != "" {
		named = append(slices.Clone(named), soql.filter)
	}
	if fail := checkVisible(named, s.hiddenFields(r)); fail != nil {
		return fail.reply()
	}
	entries := s.sortedUsers()
	if soql.orderBy {
		slices.SortFunc(entries, func(a, b *sfUserEntry) int { return strings.Compare(a.u.ID, b.u.ID) })
		if soql.desc {
			slices.Reverse(entries)
		}
	}
	records := []sfRecord{}
	for _, e := range entries {
		if !soql.match(e.u) {
			continue
		}
		records = append(records, newSFRecord(e.u, version, soql.fields))
	}
	return http.StatusOK, s.page(&sfCursor{records: records, version: version, created: s.opts.Now()}, "", 0)
}

// page returns the page of c at offset, registering the cursor under a new
// locator when more pages follow; the caller holds s.mu.
func (s *Salesforce) page(c *sfCursor, locator string, offset int) sfQueryResult {
	end := min(offset+s.opts.PageSize, len(c.records))
	res := sfQueryResult{TotalSize: len(c.records), Done: end >= len(c.records), Records: c.records[offset:end]}
	if res.Done {
		return res
	}
	if locator == "" {
		now := s.opts.Now()
		for k, old := range s.cursors {
			if now.Sub(old.created) > sfCursorLifetime {
				delete(s.cursors, k)
			}
		}
		for len(s.cursors) >= sfMaxCursors {
			var oldest string
			for k, old := range s.cursors {
				if oldest == "" || old.created.Before(s.cursors[oldest].created) {
					oldest = k
				}
			}
			delete(s.cursors, oldest)
		}
		locator = sfMakeID(sfPrefixQueryLocator, s.idSeq.Add(1))
		s.cursors[locator] = c
	}
	res.NextRecordsURL = fmt.Sprintf("%s/%s/query/%s-%d", SFDataRoot, c.version, locator, end)
	return res
}

// queryMore is GET /services/data/vXX.X/query/{locator}-{offset}, the
// nextRecordsUrl of a query.
func (s *Salesforce) queryMore(r *http.Request) (int, any) {
	invalid := func() (int, any) {
		return sfErrorReply(http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "invalid query locator")
	}
	locator, off, ok := strings.Cut(r.PathValue("locator"), "-")
	offset, err := strconv.Atoi(off)
	if !ok || err != nil || offset < 0 {
		return invalid()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cursors[locator]
	if c == nil || offset > len(c.records) || s.opts.Now().Sub(c.created) > sfCursorLifetime {
		return invalid()
	}
	return http.StatusOK, s.page(c, locator, offset)
}

// sortedUsers returns the users in creation order; the caller holds s.mu.
func (s *Salesforce) sortedUsers() []*sfUserEntry {
	entries := make([]*sfUserEntry, 0, len(s.users))
	for _, e := range s.users {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b *sfUserEntry) int { return a.seq - b.seq })
	return entries
}
