package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// sfRouteDescribe is the User describe.
const sfRouteDescribe = "GET /services/data/{version}/sobjects/User/describe"

// HideUserFields makes fields invisible to the API user username (field-level
// security: no read permission through the user's profile or permission
// sets), as an org does for a managed package's field without the package's
// permission set. Their describe leaves them out, a query naming one fails
// whole with INVALID_FIELD, and a record read without a field list omits
// them. Id cannot be hidden.
func (s *Salesforce) HideUserFields(username string, fields ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.TrimSpace(username) == "" {
		return fmt.Errorf("hide user fields: no username")
	}
	id := s.runAsUserID(username)
	for _, f := range fields {
		name, ok := sfFieldByLower[strings.ToLower(f)]
		if !ok || name == SFFieldID {
			return fmt.Errorf("hide user fields: %q is not a User field that can be hidden", f)
		}
		if s.hidden == nil {
			s.hidden = map[string]map[string]bool{}
		}
		if s.hidden[id] == nil {
			s.hidden[id] = map[string]bool{}
		}
		s.hidden[id][name] = true
	}
	return nil
}

// hiddenFields are the fields the request's API user cannot read; the
// caller holds s.mu.
func (s *Salesforce) hiddenFields(r *http.Request) map[string]bool {
	sess, _ := r.Context().Value(sfSessionKey{}).(sfSession)
	return s.hidden[sess.userID]
}

// visibleFields is fields without the hidden ones; the caller holds s.mu.
func visibleFields(fields []string, hidden map[string]bool) []string {
	if len(hidden) == 0 {
		return fields
	}
	return slices.DeleteFunc(slices.Clone(fields), func(f string) bool { return hidden[f] })
}

// checkVisible refuses a field list that names a field hidden from the
// request's user, as Salesforce does: the field does not exist for them.
func checkVisible(fields []string, hidden map[string]bool) *sfFail {
	for _, f := range fields {
		if hidden[f] {
			return sfFailf(http.StatusBadRequest, "INVALID_FIELD", nil,
				"No such column '%s' on entity 'User'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", f)
		}
	}
	return nil
}

// sfDescribeField is one field of a describe reply, the properties vccsync
// reads.
type sfDescribeField struct {
	Name       string `json:"name"`
	Label      string `json:"label"`
	Type       string `json:"type"`
	Length     int    `json:"length"`
	Custom     bool   `json:"custom"`
	Nillable   bool   `json:"nillable"`
	Createable bool   `json:"createable"`
	Updateable bool   `json:"updateable"`
}

// describeUser is GET /services/data/vXX.X/sobjects/User/describe: the
// User fields the request's user can read.
func (s *Salesforce) describeUser(r *http.Request) (int, any) {
	s.mu.Lock()
	hidden := s.hiddenFields(r)
	s.mu.Unlock()
	var fields []sfDescribeField
	for _, f := range visibleFields(SFUserFields, hidden) {
		d := sfDescribeField{Name: f, Label: f, Type: "string", Length: sfFieldMaxLength[f], Nillable: true, Createable: true, Updateable: true}
		switch f {
		case SFFieldID:
			d.Type, d.Length, d.Nillable, d.Createable, d.Updateable = "id", 18, false, false, false
		case SFFieldIsActive:
			d.Type, d.Nillable = "boolean", false
		case SFFieldProfileID, SFFieldCallCenterID:
			d.Type, d.Length = "reference", 18
			d.Nillable = f == SFFieldCallCenterID
		case SFFieldLastModifiedDate, SFFieldSystemModstamp:
			d.Type, d.Nillable, d.Createable, d.Updateable = "datetime", false, false, false
		case SFFieldEmail:
			d.Type, d.Nillable = "email", false
		case SFFieldUsername, SFFieldLastName, SFFieldAlias:
			d.Nillable = false
		case SFFieldNVMAgentID:
			d.Custom, d.Label = true, "NVM Agent Id"
		}
		fields = append(fields, d)
	}
	return http.StatusOK, map[string]any{"name": "User", "label": "User", "custom": false, "queryable": true, "updateable": true, "fields": fields}
}
