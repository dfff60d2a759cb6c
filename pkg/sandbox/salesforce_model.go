package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Salesforce key prefixes (the first three characters of an ID).
const (
	SFPrefixUser          = "005"
	SFPrefixProfile       = "00e"
	SFPrefixOrg           = "00D"
	SFPrefixContactCenter = "04v"
	SFPrefixNotification  = "04l"
	SFPrefixAction        = "04k"
	sfPrefixQueryLocator  = "01g"
)

// SFUser field API names, as in REST records, SOQL and outbound messages.
const (
	SFFieldID                   = "Id"
	SFFieldUsername             = "Username"
	SFFieldLastName             = "LastName"
	SFFieldFirstName            = "FirstName"
	SFFieldAlias                = "Alias"
	SFFieldEmail                = "Email"
	SFFieldIsActive             = "IsActive"
	SFFieldFederationIdentifier = "FederationIdentifier"
	SFFieldProfileID            = "ProfileId"
	SFFieldCallCenterID         = "CallCenterId"
	SFFieldNVMAgentID           = "NVMContactWorld__NVM_Agent_Id__c"
	SFFieldLastModifiedDate     = "LastModifiedDate"
	SFFieldSystemModstamp       = "SystemModstamp"
)

// SFUserFields are the User fields the sandbox knows, in the order REST
// records show them.
var SFUserFields = []string{
	SFFieldID, SFFieldUsername, SFFieldLastName, SFFieldFirstName, SFFieldAlias, SFFieldEmail,
	SFFieldIsActive, SFFieldFederationIdentifier, SFFieldProfileID, SFFieldCallCenterID,
	SFFieldNVMAgentID, SFFieldLastModifiedDate, SFFieldSystemModstamp,
}

// sfFieldByLower maps a lower-case field name to its API name: field names
// match case-insensitively, as in Salesforce.
var sfFieldByLower = func() map[string]string {
	m := map[string]string{}
	for _, f := range SFUserFields {
		m[strings.ToLower(f)] = f
	}
	return m
}()

// sfFieldMaxLength is the length limit of the text fields.
var sfFieldMaxLength = map[string]int{
	SFFieldUsername: 80, SFFieldLastName: 80, SFFieldFirstName: 40, SFFieldAlias: SFAliasMaxLength,
	SFFieldEmail: 128, SFFieldFederationIdentifier: 512, SFFieldNVMAgentID: 255,
}

// Time layouts: REST replies ("2024-04-26T18:25:03.000+0000") and SOAP
// outbound messages ("2024-04-26T18:25:03.000Z").
const (
	SFRESTTimeLayout = "2006-01-02T15:04:05.000-0700"
	SFSOAPTimeLayout = "2006-01-02T15:04:05.000Z07:00"
)

// SFUser is a Salesforce User record as the sandbox stores it. An empty
// string is a field with no value (null in REST, absent in outbound
// messages).
type SFUser struct {
	ID                   string // 18 characters, prefix 005
	Username             string
	Alias                string
	Email                string
	FirstName            string
	LastName             string
	IsActive             bool
	FederationIdentifier string
	ProfileID            string
	// CallCenterID is the contact center (04v…) the user is a member of:
	// User.CallCenterId, updatable through the REST API under the
	// membership rules. AddUser may set it under the same rules;
	// ModifyUser keeps it (use AddMember and RemoveMember).
	CallCenterID     string
	NVMAgentID       string // NVMContactWorld__NVM_Agent_Id__c
	LastModifiedDate time.Time
	SystemModstamp   time.Time
	// PermissionSets are the API names of the permission sets assigned to
	// the user (PermissionSetAssignment in Salesforce, not a User field).
	PermissionSets []string
}

func (u SFUser) clone() SFUser {
	u.PermissionSets = slices.Clone(u.PermissionSets)
	return u
}

// ContactCenterPermission reports whether the user holds a permission set
// that lets it be added to a contact center, i.e. be given a CallCenterId
// (PermissionsIsContactCenterAgent or PermissionsIsContactCenterAdmin).
func (u SFUser) ContactCenterPermission() bool {
	for _, p := range u.PermissionSets {
		if sfContactCenterPermissionSets[p] {
			return true
		}
	}
	return false
}

// field returns the value of an API field: a string, a bool, a formatted
// time, or nil when the field has no value. soap selects the outbound
// message time format.
func (u SFUser) field(name string, soap bool) any {
	str := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	tm := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		if soap {
			return t.UTC().Format(SFSOAPTimeLayout)
		}
		return t.UTC().Format(SFRESTTimeLayout)
	}
	switch name {
	case SFFieldID:
		return str(u.ID)
	case SFFieldUsername:
		return str(u.Username)
	case SFFieldLastName:
		return str(u.LastName)
	case SFFieldFirstName:
		return str(u.FirstName)
	case SFFieldAlias:
		return str(u.Alias)
	case SFFieldEmail:
		return str(u.Email)
	case SFFieldIsActive:
		return u.IsActive
	case SFFieldFederationIdentifier:
		return str(u.FederationIdentifier)
	case SFFieldProfileID:
		return str(u.ProfileID)
	case SFFieldCallCenterID:
		return str(u.CallCenterID)
	case SFFieldNVMAgentID:
		return str(u.NVMAgentID)
	case SFFieldLastModifiedDate:
		return tm(u.LastModifiedDate)
	case SFFieldSystemModstamp:
		return tm(u.SystemModstamp)
	}
	return nil
}

// setText sets a text field; the caller has checked the name.
func (u *SFUser) setText(name, v string) {
	switch name {
	case SFFieldUsername:
		u.Username = v
	case SFFieldLastName:
		u.LastName = v
	case SFFieldFirstName:
		u.FirstName = v
	case SFFieldAlias:
		u.Alias = v
	case SFFieldEmail:
		u.Email = v
	case SFFieldFederationIdentifier:
		u.FederationIdentifier = v
	case SFFieldProfileID:
		u.ProfileID = v
	case SFFieldCallCenterID:
		u.CallCenterID = v
	case SFFieldNVMAgentID:
		u.NVMAgentID = v
	}
}

// sfRecord is a REST record: "attributes" first, then the fields in order.
type sfRecord struct {
	typ    string // sObject type; "" is User
	url    string
	fields []string
	values []any
}

func newSFRecord(u SFUser, version string, fields []string) sfRecord {
	rec := sfRecord{typ: "User", url: "/services/data/" + version + "/sobjects/User/" + u.ID, fields: fields}
	for _, f := range fields {
		rec.values = append(rec.values, u.field(f, false))
	}
	return rec
}

func (r sfRecord) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	typ := r.typ
	if typ == "" {
		typ = "User"
	}
	attrs, err := json.Marshal(map[string]string{"type": typ, "url": r.url})
	if err != nil {
		return nil, err
	}
	b.WriteString(`{"attributes":`)
	b.Write(attrs)
	for i, f := range r.fields {
		v, err := json.Marshal(r.values[i])
		if err != nil {
			return nil, err
		}
		b.WriteByte(',')
		k, _ := json.Marshal(f)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Permission sets that allow contact-center membership.
const (
	SFPermissionSetAgent        = "ContactCenterAgent"                 // PermissionsIsContactCenterAgent
	SFPermissionSetAdmin        = "ContactCenterAdmin"                 // PermissionsIsContactCenterAdmin
	SFPermissionSetAgentPartner = "ContactCenterAgentPartnerTelephony" // Partner Telephony variant
	SFPermissionSetAdminPartner = "ContactCenterAdminPartnerTelephony" // Partner Telephony variant
)

var sfContactCenterPermissionSets = map[string]bool{
	SFPermissionSetAgent: true, SFPermissionSetAdmin: true,
	SFPermissionSetAgentPartner: true, SFPermissionSetAdminPartner: true,
}

const sfIDSuffixAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

// SalesforceID18 returns the 18-character form of a 15- or 18-character
// Salesforce ID: the 15 characters plus a 3-character suffix that encodes
// which of them are upper case. An 18-character ID must carry the right
// suffix.
func SalesforceID18(id string) (string, error) {
	if len(id) != 15 && len(id) != 18 {
		return "", fmt.Errorf("salesforce id %q: %d characters, want 15 or 18", id, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return "", fmt.Errorf("salesforce id %q: character %q at %d, want letters and digits", id, c, i)
		}
	}
	var suffix [3]byte
	for chunk := range 3 {
		bits := 0
		for j := range 5 {
			if c := id[chunk*5+j]; c >= 'A' && c <= 'Z' {
				bits |= 1 << j
			}
		}
		suffix[chunk] = sfIDSuffixAlphabet[bits]
	}
	full := id[:15] + string(suffix[:])
	if len(id) == 18 && id != full {
		return "", fmt.Errorf("salesforce id %q: checksum suffix %q, want %q", id, id[15:], full[15:])
	}
	return full, nil
}

// mustSFID18 is SalesforceID18 for the package's constant IDs.
func mustSFID18(id string) string {
	full, err := SalesforceID18(id)
	if err != nil {
		panic(err)
	}
	return full
}

// sfNormalizeID returns the 18-character form of id if it is a well-formed
// ID with the key prefix (any prefix when prefix is "").
func sfNormalizeID(id, prefix string) (string, bool) {
	full, err := SalesforceID18(id)
	if err != nil || !strings.HasPrefix(full, prefix) {
		return "", false
	}
	return full, true
}

const sfBase62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// sfMakeID builds an 18-character ID from a key prefix and a sequence
// number: prefix + "5e" + the number in base 62 over 10 characters.
func sfMakeID(prefix string, n int64) string {
	var digits [10]byte
	for i := len(digits) - 1; i >= 0; i-- {
		digits[i] = sfBase62[n%62]
		n /= 62
	}
	return mustSFID18(prefix + "5e" + string(digits[:]))
}
