package sandbox

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/hamba/avro/v2"
)

// Change event schema: the Avro record com.sforce.eventbus.UserChangeEvent
// as an org's GetSchema returns it. ChangeEventHeader is field 0; the User
// fields follow, each a ["null", T] union with default null. Name and
// Address are compound fields: nested records whose subfields the
// "<position>-0x…" bitmaps count.

// PubSubTopicUser is the channel of User change events.
const PubSubTopicUser = "/data/UserChangeEvent"

const (
	psNamespace  = "com.sforce.eventbus"
	psRecordName = "UserChangeEvent"
)

// Change types of a ChangeEventHeader, in the schema's enum order.
const (
	PubSubCreate      = "CREATE"
	PubSubUpdate      = "UPDATE"
	PubSubDelete      = "DELETE"
	PubSubUndelete    = "UNDELETE"
	PubSubGapCreate   = "GAP_CREATE"
	PubSubGapUpdate   = "GAP_UPDATE"
	PubSubGapDelete   = "GAP_DELETE"
	PubSubGapUndelete = "GAP_UNDELETE"
	PubSubGapOverflow = "GAP_OVERFLOW"
)

var psChangeTypes = []string{
	PubSubCreate, PubSubUpdate, PubSubDelete, PubSubUndelete,
	PubSubGapCreate, PubSubGapUpdate, PubSubGapDelete, PubSubGapUndelete, PubSubGapOverflow,
}

type psKind int

const (
	psString psKind = iota
	psBoolean
	psLong
	psRecord // a compound field: a nested record of string subfields
)

// psField is a User field of the schema.
type psField struct {
	name   string
	kind   psKind
	record string   // the nested record's name (psRecord)
	sub    []string // its subfields (psRecord)
}

// Field paths of the values the sandbox fills: a subfield of a compound
// field is "<field>.<subfield>".
const (
	psPathFirstName        = "Name.FirstName"
	psPathLastName         = "Name.LastName"
	psPathCreatedDate      = "CreatedDate"
	psPathCreatedByID      = "CreatedById"
	psPathLastModifiedByID = "LastModifiedById"
)

// psUserFields are the User fields of the schema in order: position i+1
// (ChangeEventHeader is position 0). The order and the fields besides the
// ones vccsync reads are those of a real org's UserChangeEvent schema, so
// that positions, and bitmaps past 32 bits, are realistic.
var psUserFields = []psField{
	{name: SFFieldUsername},
	{name: "CompanyName"},
	{name: "Division"},
	{name: "Name", kind: psRecord, record: "Switchable_PersonName",
		sub: []string{"Salutation", SFFieldFirstName, SFFieldLastName, "MiddleName", "InformalName", "Suffix"}},
	{name: SFFieldAlias},
	{name: SFFieldEmail},
	{name: SFFieldIsActive, kind: psBoolean},
	{name: "TimeZoneSidKey"},
	{name: "UserRoleId"},
	{name: SFFieldProfileID},
	{name: SFFieldCallCenterID},
	{name: SFFieldFederationIdentifier},
	{name: psPathCreatedDate, kind: psLong},
	{name: psPathCreatedByID},
	{name: SFFieldLastModifiedDate, kind: psLong},
	{name: psPathLastModifiedByID},
	{name: "Address", kind: psRecord, record: "Address",
		sub: []string{"Street", "City", "State", "PostalCode", "Country"}},
	{name: "Title"},
	{name: "Department"},
	{name: "Phone"},
	{name: "MobilePhone"},
	{name: "Extension"},
	{name: "EmployeeNumber"},
	{name: "ManagerId"},
	{name: "LanguageLocaleKey"},
	{name: "LocaleSidKey"},
	{name: "EmailEncodingKey"},
	{name: "UserType"},
	{name: "CommunityNickname"},
	{name: "SenderEmail"},
	{name: "SenderName"},
	{name: "Signature"},
	{name: SFFieldNVMAgentID},
	{name: "AboutMe"},
}

// psAvroField, psAvroRecord, psAvroArray and psAvroEnum are the parts of
// an Avro schema in JSON.
type psAvroField struct {
	Name    string          `json:"name"`
	Type    any             `json:"type"`
	Default json.RawMessage `json:"default,omitempty"`
	Doc     string          `json:"doc,omitempty"`
}

type psAvroRecord struct {
	Type      string        `json:"type"`
	Name      string        `json:"name"`
	Namespace string        `json:"namespace,omitempty"`
	Fields    []psAvroField `json:"fields"`
}

type psAvroArray struct {
	Type  string `json:"type"`
	Items string `json:"items"`
}

type psAvroEnum struct {
	Type      string   `json:"type"`
	Name      string   `json:"name"`
	Namespace string   `json:"namespace,omitempty"`
	Symbols   []string `json:"symbols"`
}

var psNullDefault = json.RawMessage("null")

// psSchemaJSON builds the schema's JSON from psUserFields.
func psSchemaJSON() string {
	strList := psAvroArray{Type: "array", Items: "string"}
	header := psAvroRecord{Type: "record", Name: "ChangeEventHeader", Namespace: psNamespace, Fields: []psAvroField{
		{Name: "entityName", Type: "string"},
		{Name: "recordIds", Type: strList},
		{Name: "changeType", Type: psAvroEnum{Type: "enum", Name: "ChangeType", Namespace: psNamespace, Symbols: psChangeTypes}},
		{Name: "changeOrigin", Type: "string"},
		{Name: "transactionKey", Type: "string"},
		{Name: "sequenceNumber", Type: "int"},
		{Name: "commitTimestamp", Type: "long"},
		{Name: "commitNumber", Type: "long"},
		{Name: "commitUser", Type: "string"},
		{Name: "nulledFields", Type: strList},
		{Name: "diffFields", Type: strList},
		{Name: "changedFields", Type: strList},
	}}
	rec := psAvroRecord{Type: "record", Name: psRecordName, Namespace: psNamespace, Fields: []psAvroField{
		{Name: "ChangeEventHeader", Type: header, Doc: "Data:ChangeEventHeader"},
	}}
	for _, f := range psUserFields {
		var t any
		doc := ""
		switch f.kind {
		case psString:
			t = "string"
		case psBoolean:
			t = "boolean"
		case psLong:
			t = "long"
		case psRecord:
			sub := psAvroRecord{Type: "record", Name: f.record}
			for _, s := range f.sub {
				sub.Fields = append(sub.Fields, psAvroField{Name: s, Type: []any{"null", "string"}, Default: psNullDefault})
			}
			t = sub
			doc = "Data:" + f.record
		}
		rec.Fields = append(rec.Fields, psAvroField{Name: f.name, Type: []any{"null", t}, Default: psNullDefault, Doc: doc})
	}
	b, err := json.Marshal(rec)
	if err != nil {
		panic(fmt.Sprintf("sandbox: pub/sub schema: %v", err)) // static data
	}
	return string(b)
}

// psSchema is the change event schema: its JSON, its id and its parsed form.
type psSchema struct {
	json   string
	id     string
	schema avro.Schema
}

var psUserSchema = func() psSchema {
	js := psSchemaJSON()
	sum := sha256.Sum256([]byte(js))
	return psSchema{
		json:   js,
		id:     base64.RawURLEncoding.EncodeToString(sum[:16]),
		schema: avro.MustParse(js),
	}
}()

// psValues are a user's field values by path: a string, a bool or an
// int64 (epoch milliseconds); a missing path is null.
type psValues map[string]any

func (v psValues) clone() psValues {
	out := make(psValues, len(v))
	for k, x := range v {
		out[k] = x
	}
	return out
}

// psPaths lists every field path in schema order: a compound field's
// subfields in place of it.
func psPaths() []string {
	var out []string
	for _, f := range psUserFields {
		if f.kind == psRecord {
			for _, s := range f.sub {
				out = append(out, f.name+"."+s)
			}
			continue
		}
		out = append(out, f.name)
	}
	return out
}

var psAllPaths = psPaths()

// psUserValues are the values of the User fields the sandbox models, as
// a change event carries them; empty text is null.
func psUserValues(u SFUser) psValues {
	v := psValues{SFFieldIsActive: u.IsActive}
	for path, s := range map[string]string{
		SFFieldUsername: u.Username, psPathFirstName: u.FirstName, psPathLastName: u.LastName,
		SFFieldAlias: u.Alias, SFFieldEmail: u.Email, SFFieldProfileID: u.ProfileID,
		SFFieldCallCenterID: u.CallCenterID, SFFieldFederationIdentifier: u.FederationIdentifier,
		SFFieldNVMAgentID: u.NVMAgentID,
	} {
		if s != "" {
			v[path] = s
		}
	}
	if !u.LastModifiedDate.IsZero() {
		v[SFFieldLastModifiedDate] = u.LastModifiedDate.UnixMilli()
	}
	return v
}

// psNewUserValues are the values of a user first seen: the modelled
// fields, and for the fields Salesforce requires on a User that the
// sandbox does not model, fixed defaults (strict: an org's own defaults
// may differ; they never change afterwards).
func psNewUserValues(u SFUser, by string) psValues {
	v := psUserValues(u)
	v["TimeZoneSidKey"] = "America/Los_Angeles"
	v["LanguageLocaleKey"] = "en_US"
	v["LocaleSidKey"] = "en_US"
	v["EmailEncodingKey"] = "UTF-8"
	v["UserType"] = "Standard"
	if nick, _, _ := strings.Cut(u.Username, "@"); nick != "" {
		v["CommunityNickname"] = nick
	}
	if lm, ok := v[SFFieldLastModifiedDate]; ok {
		v[psPathCreatedDate] = lm
	}
	v[psPathCreatedByID] = by
	v[psPathLastModifiedByID] = by
	return v
}

// psBitmaps encodes a set of field paths as Pub/Sub field bitmaps: a
// top-level bitmap ("0x…", bit i = field position i) for the fields named
// by their own name, then one "<position>-0x…" bitmap per compound field
// whose subfields are named. Hex digits are upper case, without leading
// zeros; an empty set is an empty list.
func psBitmaps(paths map[string]bool) []string {
	out := []string{}
	top := new(big.Int)
	var nested []string
	for i, f := range psUserFields {
		pos := i + 1
		if paths[f.name] {
			top.SetBit(top, pos, 1)
		}
		if f.kind != psRecord {
			continue
		}
		sub := new(big.Int)
		for j, s := range f.sub {
			if paths[f.name+"."+s] {
				sub.SetBit(sub, j, 1)
			}
		}
		if sub.Sign() != 0 {
			nested = append(nested, fmt.Sprintf("%d-0x%X", pos, sub))
		}
	}
	if top.Sign() != 0 {
		out = append(out, fmt.Sprintf("0x%X", top))
	}
	return append(out, nested...)
}

// psHeader is a ChangeEventHeader.
type psHeader struct {
	changeType      string
	recordIDs       []string
	changeOrigin    string
	transactionKey  string
	sequenceNumber  int32
	commitTimestamp int64
	commitNumber    int64
	commitUser      string
	changed, nulled []string
}

// psEncode encodes a change event: the header, and the values of the
// fields include names (by path; a compound field is sent when one of its
// subfields is included), every other field null.
func psEncode(h psHeader, v psValues, include func(path string) bool) ([]byte, error) {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	rec := map[string]any{
		"ChangeEventHeader": map[string]any{
			"entityName":      "User",
			"recordIds":       nonNil(h.recordIDs),
			"changeType":      h.changeType,
			"changeOrigin":    h.changeOrigin,
			"transactionKey":  h.transactionKey,
			"sequenceNumber":  h.sequenceNumber,
			"commitTimestamp": h.commitTimestamp,
			"commitNumber":    h.commitNumber,
			"commitUser":      h.commitUser,
			"nulledFields":    nonNil(h.nulled),
			"diffFields":      []string{},
			"changedFields":   nonNil(h.changed),
		},
	}
	for _, f := range psUserFields {
		if f.kind != psRecord {
			rec[f.name] = psUnion(f.name, v, include)
			continue
		}
		sub := map[string]any{}
		sent := false
		for _, s := range f.sub {
			path := f.name + "." + s
			sub[s] = psUnion(path, v, include)
			sent = sent || include(path)
		}
		if sent {
			rec[f.name] = map[string]any{psNamespace + "." + f.record: sub}
		} else {
			rec[f.name] = map[string]any(nil)
		}
	}
	return avro.Marshal(psUserSchema.schema, rec)
}

// psUnion is the value of a ["null", T] union in hamba/avro's generic
// form: a nil map for null, else {"<type>": value}.
func psUnion(path string, v psValues, include func(string) bool) map[string]any {
	if !include(path) {
		return nil
	}
	switch x := v[path].(type) {
	case string:
		return map[string]any{"string": x}
	case bool:
		return map[string]any{"boolean": x}
	case int64:
		return map[string]any{"long": x}
	}
	return nil
}
