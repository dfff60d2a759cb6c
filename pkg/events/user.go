package events

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// TypeUserChanged is the CloudEvents type of a Salesforce user change.
const TypeUserChanged = "salesforce.user.changed"

// AgentIDField is the API name of the VCC managed package's "NVM Agent Id" field.
const AgentIDField = "NVMContactWorld__NVM_Agent_Id__c"

// User is the data of a salesforce.user.changed event: a (possibly partial)
// snapshot of a Salesforce User, with Salesforce API field names. A field that
// is absent is unknown; an explicit null clears it.
type User struct {
	ID                   string        `json:"Id"`
	Username             Field[string] `json:"Username,omitzero"`
	Alias                Field[string] `json:"Alias,omitzero"`
	Email                Field[string] `json:"Email,omitzero"`
	FirstName            Field[string] `json:"FirstName,omitzero"`
	LastName             Field[string] `json:"LastName,omitzero"`
	IsActive             Field[bool]   `json:"IsActive,omitzero"`
	FederationIdentifier Field[string] `json:"FederationIdentifier,omitzero"`
	ProfileID            Field[string] `json:"ProfileId,omitzero"`
	CallCenterID         Field[string] `json:"CallCenterId,omitzero"`
	AgentID              Field[string] `json:"NVMContactWorld__NVM_Agent_Id__c,omitzero"`
	LastModifiedDate     Field[Time]   `json:"LastModifiedDate,omitzero"`
	SystemModstamp       Field[Time]   `json:"SystemModstamp,omitzero"`
	// ChangedFields lists the fields that changed (CDC gives it); optional.
	ChangedFields []string `json:"ChangedFields,omitempty"`
}

// Merge returns u with every field that update sets (value or null) taken
// from update: the state known after applying update to u. ID and
// ChangedFields come from update.
func (u User) Merge(update User) User {
	m := u
	m.ID = update.ID
	m.Username = u.Username.merge(update.Username)
	m.Alias = u.Alias.merge(update.Alias)
	m.Email = u.Email.merge(update.Email)
	m.FirstName = u.FirstName.merge(update.FirstName)
	m.LastName = u.LastName.merge(update.LastName)
	m.IsActive = u.IsActive.merge(update.IsActive)
	m.FederationIdentifier = u.FederationIdentifier.merge(update.FederationIdentifier)
	m.ProfileID = u.ProfileID.merge(update.ProfileID)
	m.CallCenterID = u.CallCenterID.merge(update.CallCenterID)
	m.AgentID = u.AgentID.merge(update.AgentID)
	m.LastModifiedDate = u.LastModifiedDate.merge(update.LastModifiedDate)
	m.SystemModstamp = u.SystemModstamp.merge(update.SystemModstamp)
	m.ChangedFields = update.ChangedFields
	return m
}

// Modstamp is the snapshot's ordering timestamp: SystemModstamp when known,
// else LastModifiedDate; the zero time when neither is known.
func (u User) Modstamp() time.Time {
	if u.SystemModstamp.Known() {
		return u.SystemModstamp.Value.Time
	}
	if u.LastModifiedDate.Known() {
		return u.LastModifiedDate.Value.Time
	}
	return time.Time{}
}

// ChangesAccess reports whether the change takes the user's access away
// or gives it back: IsActive known false (a deactivation, or any change of
// an inactive user), or IsActive true and listed in ChangedFields (a
// reactivation, as Change Data Capture reports it). Such changes are
// published on UserPrioritySubject, so that a leaver loses access while a
// backlog of other changes waits. An Outbound Message lists no changed
// fields, so a reactivation it carries takes the ordinary subject.
func (u User) ChangesAccess() bool {
	if !u.IsActive.Known() {
		return false
	}
	return !u.IsActive.Value || slices.Contains(u.ChangedFields, "IsActive")
}

// Name is "FirstName LastName" of what is known.
func (u User) Name() string {
	switch {
	case u.FirstName.Get() == "":
		return u.LastName.Get()
	case u.LastName.Get() == "":
		return u.FirstName.Get()
	}
	return u.FirstName.Get() + " " + u.LastName.Get()
}

// Validate checks the snapshot and returns every problem, each naming its field.
func (u User) Validate() error {
	var errs fieldErrors
	if u.ID == "" {
		errs.add("data.Id", "missing")
	} else if err := checkUserID(u.ID); err != nil {
		errs.add("data.Id", err.Error())
	}
	if u.Username.Null {
		errs.add("data.Username", "cannot be null: every Salesforce user has a username")
	}
	if u.IsActive.Null {
		errs.add("data.IsActive", "cannot be null")
	}
	for _, f := range []struct {
		name string
		v    Field[string]
		max  int
	}{
		{"data.Username", u.Username, 80}, {"data.Alias", u.Alias, 8}, {"data.Email", u.Email, 128},
		{"data.FirstName", u.FirstName, 40}, {"data.LastName", u.LastName, 80},
		{"data.FederationIdentifier", u.FederationIdentifier, 512},
	} {
		if n := len([]rune(f.v.Get())); n > f.max {
			errs.add(f.name, fmt.Sprintf("%d characters, Salesforce allows at most %d", n, f.max))
		}
	}
	if u.Username.Known() && u.Username.Value == "" {
		errs.add("data.Username", "empty")
	}
	if u.ProfileID.Known() && u.ProfileID.Value != "" {
		if _, err := NormalizeID(u.ProfileID.Value); err != nil || u.ProfileID.Value[:3] != "00e" {
			errs.add("data.ProfileId", fmt.Sprintf("%q is not a Salesforce profile ID (00e…, 15 or 18 characters)", u.ProfileID.Value))
		}
	}
	if u.CallCenterID.Known() && u.CallCenterID.Value != "" {
		if _, err := NormalizeID(u.CallCenterID.Value); err != nil || u.CallCenterID.Value[:3] != "04v" {
			errs.add("data.CallCenterId", fmt.Sprintf("%q is not a Salesforce contact center ID (04v…, 15 or 18 characters)", u.CallCenterID.Value))
		}
	}
	if u.AgentID.Known() && u.AgentID.Value != "" {
		for _, c := range u.AgentID.Value {
			if c < '0' || c > '9' {
				errs.add("data."+AgentIDField, fmt.Sprintf("%q is not a numeric agent ID", u.AgentID.Value))
				break
			}
		}
	}
	return errs.err()
}

// DecodeUser decodes and validates the data of a salesforce.user.changed event.
func DecodeUser(data json.RawMessage) (User, error) {
	var u User
	if err := strictUnmarshal(data, &u); err != nil {
		return User{}, fmt.Errorf("data: %w", err)
	}
	if err := u.Validate(); err != nil {
		return User{}, err
	}
	return u, nil
}
