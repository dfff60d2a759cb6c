package salesforce

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
)

// CDCChannel is the Streaming API channel of User change events.
const CDCChannel = "/data/UserChangeEvent"

// Change types of a change event header.
const (
	ChangeCreate      = "CREATE"
	ChangeUpdate      = "UPDATE"
	ChangeDelete      = "DELETE"
	ChangeUndelete    = "UNDELETE"
	ChangeGapCreate   = "GAP_CREATE"
	ChangeGapUpdate   = "GAP_UPDATE"
	ChangeGapDelete   = "GAP_DELETE"
	ChangeGapUndelete = "GAP_UNDELETE"
	ChangeGapOverflow = "GAP_OVERFLOW"
)

// Reasons a CDCResult gives for a message that yields nothing to publish.
const (
	// CDCIgnoredOwnChange: the change was made by vccsync itself (its
	// client id is in changeOrigin); publishing it would echo vccsync's
	// own writes back to it.
	CDCIgnoredOwnChange = "own change"
	// CDCIgnoredDelete: Salesforce users are never deleted; a user who
	// leaves is deactivated, which arrives as an UPDATE of IsActive.
	CDCIgnoredDelete = "Salesforce users are never deleted (a deactivation arrives as an UPDATE of IsActive)"
)

// CDCFormat is the form a change event message arrives in.
type CDCFormat string

// Forms of change event messages.
const (
	// CDCDetect tells the form from the message's shape.
	CDCDetect CDCFormat = ""
	// CDCStreaming is the Streaming API (CometD) JSON message:
	// {"channel":"/data/UserChangeEvent","data":{"schema":…,"payload":{…},"event":{"replayId":…}}}
	// (the data object alone is accepted too). Field lists hold names.
	CDCStreaming CDCFormat = "streaming"
	// CDCPubSub is a Pub/Sub API event payload decoded from Avro into JSON:
	// {"ChangeEventHeader":{…},"Username":…,…} (or {"payload":{…},…}).
	// Field lists hold bitmaps over the schema's field positions.
	CDCPubSub CDCFormat = "pubsub"
)

// ParseCDCFormat reads a format name: "streaming", "pubsub", or "" / "detect".
func ParseCDCFormat(s string) (CDCFormat, error) {
	switch s {
	case "", "detect":
		return CDCDetect, nil
	case "streaming":
		return CDCStreaming, nil
	case "pubsub":
		return CDCPubSub, nil
	}
	return "", fmt.Errorf("format %q: want streaming, pubsub or detect", s)
}

// CDCHeader is a change event's ChangeEventHeader. The field lists are as
// received (names, or Pub/Sub bitmaps).
type CDCHeader struct {
	EntityName      string   `json:"entityName"`
	RecordIDs       []string `json:"recordIds"`
	ChangeType      string   `json:"changeType"`
	ChangeOrigin    string   `json:"changeOrigin"`
	TransactionKey  string   `json:"transactionKey"`
	SequenceNumber  int64    `json:"sequenceNumber"`
	CommitTimestamp int64    `json:"commitTimestamp"`
	CommitNumber    int64    `json:"commitNumber"`
	CommitUser      string   `json:"commitUser"`
	ChangedFields   []string `json:"changedFields"`
	NulledFields    []string `json:"nulledFields"`
	DiffFields      []string `json:"diffFields"`
}

// CDCResult is what one change event message asks for. Exactly one of
// these holds: Events is not empty, GapIDs is not empty, Overflow is true,
// or Ignored says why there is nothing to do.
type CDCResult struct {
	// Header of the event (zero for a CometD meta message).
	Header CDCHeader
	// Events are salesforce.user.changed envelopes, one per user of the
	// change (a merged event names several users; each gets the same data).
	Events []events.Envelope
	// GapIDs are the users of a gap event (GAP_CREATE, GAP_UPDATE,
	// GAP_DELETE, GAP_UNDELETE): Salesforce could not say what changed, so
	// read their current state over REST.
	GapIDs []string
	// Overflow is a GAP_OVERFLOW (or a change to every user, recordIds
	// "005*"): too many changes to tell; resynchronise all users.
	Overflow bool
	// Ignored is why the message needs nothing: CDCIgnoredOwnChange,
	// CDCIgnoredDelete, or a CometD meta message.
	Ignored string
}

// CDCDecoder turns UserChangeEvent messages into wire events.
//
// Each event's id is derived from the change, so that the same change
// delivered or ingested again (a replay, a retried POST) is a duplicate:
//
//	cdc-<18-character user ID>-<transactionKey>-<sequenceNumber>
//
// transactionKey identifies the Salesforce transaction and sequenceNumber
// the change within it; both are part of the stored event and are the same
// on every replay. Its time is the header's commitTimestamp, its source
// salesforce/cdc/<OrgID>. The user's LastModifiedDate is the payload's, or
// commitTimestamp when the payload has none, so that the worker's
// per-user checkpoint orders CDC events with other snapshots.
//
// Field states follow what Salesforce sends:
//   - CREATE and UNDELETE carry the record: every field present is set (a
//     null clears it); a field the message leaves out stays unknown.
//   - UPDATE: only fields in changedFields carry values (in the Pub/Sub
//     form every other field is an empty null). A changed field that is
//     null is cleared only if nulledFields lists it. The Streaming API sends
//     no nulledFields; there a null is sent only for a field set to null,
//     so a changed field that is present and null is cleared.
//   - FirstName and LastName are nested in Name (changedFields says
//     Name.FirstName; "Name" alone means all of its subfields).
//   - A field in diffFields carries a diff, not a value: it stays unknown.
type CDCDecoder struct {
	// OrgID is the organization the events come from (source
	// salesforce/cdc/<OrgID>).
	OrgID string
	// OwnClient is the API client id vccsync writes to Salesforce with; a
	// change whose changeOrigin names it (…;client=<OwnClient>) is ignored.
	// Empty: no change is taken for an own change.
	OwnClient string
	// Format of the messages; CDCDetect tells it from each message.
	Format CDCFormat
	// Schema decodes Pub/Sub bitmaps; needed only for them.
	Schema *CDCSchema
}

// Decode decodes one change event message. An error says what is wrong
// with the message, naming its field; the message cannot be used.
func (d *CDCDecoder) Decode(msg []byte) (CDCResult, error) {
	payload, form, meta, err := d.payload(msg)
	if err != nil || meta != "" {
		return CDCResult{Ignored: meta}, err
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(payload, &body); err != nil || body == nil {
		return CDCResult{}, errors.New("payload: not a JSON object")
	}
	rawHeader, ok := body["ChangeEventHeader"]
	if !ok || cdcIsNull(rawHeader) {
		return CDCResult{}, errors.New("payload.ChangeEventHeader: missing")
	}
	h, lists, err := cdcDecodeHeader(rawHeader)
	if err != nil {
		return CDCResult{}, err
	}
	res := CDCResult{Header: h}
	if h.EntityName != "User" {
		return res, fmt.Errorf("ChangeEventHeader.entityName: %q, want \"User\" (subscribe to %s)", h.EntityName, CDCChannel)
	}

	switch h.ChangeType {
	case ChangeDelete:
		res.Ignored = CDCIgnoredDelete
		return res, nil
	case ChangeGapOverflow:
		res.Overflow = true
		return res, nil
	case ChangeGapCreate, ChangeGapUpdate, ChangeGapDelete, ChangeGapUndelete:
		ids, all, err := cdcUserIDs(h.RecordIDs)
		if err != nil {
			return res, err
		}
		if all {
			res.Overflow = true
		} else {
			res.GapIDs = ids
		}
		return res, nil
	case ChangeCreate, ChangeUpdate, ChangeUndelete:
	case "":
		return res, errors.New("ChangeEventHeader.changeType: missing")
	default:
		return res, fmt.Errorf("ChangeEventHeader.changeType: %q is not a change type (want CREATE, UPDATE, DELETE, UNDELETE or GAP_…)", h.ChangeType)
	}

	if d.OwnClient != "" && cdcOriginClient(h.ChangeOrigin) == d.OwnClient {
		res.Ignored = CDCIgnoredOwnChange
		return res, nil
	}
	ids, all, err := cdcUserIDs(h.RecordIDs)
	if err != nil {
		return res, err
	}
	if all {
		res.Overflow = true
		return res, nil
	}
	if h.TransactionKey == "" {
		return res, errors.New("ChangeEventHeader.transactionKey: missing (the event id is derived from it)")
	}
	if strings.ContainsFunc(h.TransactionKey, func(r rune) bool { return r <= ' ' || r == 0x7f }) || len(h.TransactionKey) > 128 {
		return res, fmt.Errorf("ChangeEventHeader.transactionKey: %q is not a transaction key", h.TransactionKey)
	}
	if h.CommitTimestamp <= 0 {
		return res, errors.New("ChangeEventHeader.commitTimestamp: missing")
	}
	if h.CommitTimestamp > cdcMaxCommitTimestamp {
		return res, fmt.Errorf("ChangeEventHeader.commitTimestamp: %d is after year 9999, want epoch milliseconds", h.CommitTimestamp)
	}

	u, err := d.user(form, h, lists, body)
	if err != nil {
		return res, err
	}
	at := time.UnixMilli(h.CommitTimestamp).UTC()
	source := "salesforce/cdc"
	if d.OrgID != "" {
		source += "/" + d.OrgID
	}
	for _, id := range ids {
		u.ID = id
		if err := u.Validate(); err != nil {
			return CDCResult{Header: h}, err
		}
		env, err := events.NewUserChanged(CDCEventID(id, h.TransactionKey, h.SequenceNumber), source, at, u)
		if err != nil {
			return CDCResult{Header: h}, err
		}
		res.Events = append(res.Events, env)
	}
	return res, nil
}

// cdcMaxCommitTimestamp is the last millisecond of year 9999: an event's
// time is written in RFC 3339, whose years have four digits.
var cdcMaxCommitTimestamp = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()

// CDCEventID is the id of the event for user userID (18 characters) of the
// change (transactionKey, sequenceNumber): the same on every replay.
func CDCEventID(userID, transactionKey string, sequenceNumber int64) string {
	return "cdc-" + userID + "-" + transactionKey + "-" + strconv.FormatInt(sequenceNumber, 10)
}

// payload finds the event payload in a message and tells its form,
// checking it against d.Format. A CometD meta message (/meta/…) yields a
// reason to ignore it.
func (d *CDCDecoder) payload(msg []byte) (json.RawMessage, CDCFormat, string, error) {
	msg = bytes.TrimSpace(msg)
	if len(msg) == 0 {
		return nil, "", "", errors.New("message: empty, want a change event JSON object")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(msg, &top); err != nil || top == nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, "", "", fmt.Errorf("message: not valid JSON at byte %d: %v", se.Offset, err)
		}
		return nil, "", "", errors.New("message: not a JSON object")
	}
	var channel string
	if raw, ok := top["channel"]; ok {
		if err := json.Unmarshal(raw, &channel); err != nil {
			return nil, "", "", errors.New("channel: not a string")
		}
		if strings.HasPrefix(channel, "/meta/") {
			return nil, "", "CometD meta message on " + channel, nil
		}
	}

	var form CDCFormat
	var payload json.RawMessage
	switch {
	case cdcHasObject(top, "data"):
		var data map[string]json.RawMessage
		_ = json.Unmarshal(top["data"], &data)
		if !cdcHasObject(data, "payload") {
			return nil, "", "", errors.New("data.payload: missing, want the change event")
		}
		form, payload = CDCStreaming, data["payload"]
	case cdcHasObject(top, "payload") && cdcHasObject(top, "event"):
		form, payload = CDCStreaming, top["payload"]
	case cdcHasObject(top, "ChangeEventHeader"):
		form, payload = CDCPubSub, msg
	case cdcHasObject(top, "payload"):
		form, payload = CDCPubSub, top["payload"]
	default:
		return nil, "", "", errors.New(`message: no change event in it (want {"data":{"payload":{"ChangeEventHeader":…}}} from the Streaming API or {"ChangeEventHeader":…} from the Pub/Sub API)`)
	}
	if d.Format != CDCDetect && d.Format != form {
		switch d.Format {
		case CDCStreaming:
			return nil, "", "", errors.New(`message: a Pub/Sub payload, but the format is streaming (want {"channel":…,"data":{"payload":…}})`)
		default:
			return nil, "", "", errors.New(`message: a Streaming API message, but the format is pubsub (want the decoded payload {"ChangeEventHeader":…})`)
		}
	}
	if channel != "" && channel != CDCChannel && !strings.HasPrefix(channel, "/data/") {
		return nil, "", "", fmt.Errorf("channel: %q is not a change event channel (want %s)", channel, CDCChannel)
	}
	return payload, form, "", nil
}

// cdcLists are the header's field lists with whether each was sent.
type cdcLists struct {
	changed, nulled       []string
	hasChanged, hasNulled bool
}

func cdcDecodeHeader(raw json.RawMessage) (CDCHeader, cdcLists, error) {
	var h CDCHeader
	var lists cdcLists
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return h, lists, errors.New("ChangeEventHeader: not a JSON object")
	}
	str := func(name string, dst *string) error {
		v, ok := m[name]
		if !ok || cdcIsNull(v) {
			return nil
		}
		v = cdcUnwrapAvro(v)
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("ChangeEventHeader.%s: got %s, want a string", name, cdcShow(v))
		}
		return nil
	}
	num := func(name string, dst *int64) error {
		v, ok := m[name]
		if !ok || cdcIsNull(v) {
			return nil
		}
		v = cdcUnwrapAvro(v)
		if err := json.Unmarshal(v, dst); err != nil {
			var s string
			if json.Unmarshal(v, &s) == nil {
				if n, err := strconv.ParseInt(s, 10, 64); err == nil {
					*dst = n
					return nil
				}
			}
			return fmt.Errorf("ChangeEventHeader.%s: got %s, want an integer", name, cdcShow(v))
		}
		return nil
	}
	list := func(name string, dst *[]string) (bool, error) {
		v, ok := m[name]
		if !ok || cdcIsNull(v) {
			return false, nil
		}
		v = cdcUnwrapAvro(v)
		if err := json.Unmarshal(v, dst); err != nil {
			return true, fmt.Errorf("ChangeEventHeader.%s: got %s, want a list of strings", name, cdcShow(v))
		}
		return true, nil
	}
	var err error
	for _, e := range []error{
		str("entityName", &h.EntityName), str("changeType", &h.ChangeType), str("changeOrigin", &h.ChangeOrigin),
		str("transactionKey", &h.TransactionKey), str("commitUser", &h.CommitUser),
		num("sequenceNumber", &h.SequenceNumber), num("commitTimestamp", &h.CommitTimestamp), num("commitNumber", &h.CommitNumber),
	} {
		err = errors.Join(err, e)
	}
	if _, e := list("recordIds", &h.RecordIDs); e != nil {
		err = errors.Join(err, e)
	}
	if _, e := list("diffFields", &h.DiffFields); e != nil {
		err = errors.Join(err, e)
	}
	var e error
	lists.hasChanged, e = list("changedFields", &h.ChangedFields)
	err = errors.Join(err, e)
	lists.hasNulled, e = list("nulledFields", &h.NulledFields)
	err = errors.Join(err, e)
	if err != nil {
		return h, lists, cdcJoined(err)
	}
	return h, lists, nil
}

// cdcJoined turns errors.Join's lines into one line.
func cdcJoined(err error) error {
	return errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
}

// cdcUserIDs returns the 18-character user IDs of recordIds, without
// repeats, or all=true for a wildcard ("005*": every user). Every entry
// must be a user ID or that wildcard.
func cdcUserIDs(ids []string) (out []string, all bool, err error) {
	if len(ids) == 0 {
		return nil, false, errors.New("ChangeEventHeader.recordIds: empty, want the IDs of the changed users")
	}
	for _, id := range ids {
		if id == cdcAllUsers {
			all = true
			continue
		}
		if strings.HasSuffix(id, "*") {
			return nil, false, fmt.Errorf("ChangeEventHeader.recordIds: %q is not the wildcard of every user (%q)", id, cdcAllUsers)
		}
		k, err := events.UserKey(id)
		if err != nil {
			return nil, false, fmt.Errorf("ChangeEventHeader.recordIds: %w", err)
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	if all {
		return nil, true, nil
	}
	return out, false, nil
}

// cdcAllUsers in recordIds stands for every user: the User key prefix
// followed by a wildcard.
const cdcAllUsers = "005*"

// cdcOriginClient is the client id of a changeOrigin such as
// "com/salesforce/api/rest/61.0;client=vccsync", or "" when it names none.
func cdcOriginClient(origin string) string {
	_, after, ok := strings.Cut(origin, ";client=")
	if !ok {
		return ""
	}
	client, _, _ := strings.Cut(after, ";")
	return strings.TrimRight(strings.TrimSpace(client), "/")
}

// cdcField is a User field a change event can carry.
type cdcField struct {
	path string // in the payload: Name.FirstName for a subfield of Name
	set  func(u *events.User, raw json.RawMessage) error
	null func(u *events.User)
}

func cdcString(api string, f func(*events.User) *events.Field[string]) (func(*events.User, json.RawMessage) error, func(*events.User)) {
	return func(u *events.User, raw json.RawMessage) error {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				if api != events.AgentIDField {
					return fmt.Errorf("%s: got %s, want a string", api, cdcShow(raw))
				}
				// A number field in some orgs: keep its digits.
				n := json.Number(bytes.TrimSpace(raw))
				if _, err := n.Int64(); err != nil {
					return fmt.Errorf("%s: got %s, want a string or an integer", api, cdcShow(raw))
				}
				s = n.String()
			}
			*f(u) = events.Val(s)
			return nil
		}, func(u *events.User) {
			*f(u) = events.Null[string]()
		}
}

func cdcTime(api string, f func(*events.User) *events.Field[events.Time]) (func(*events.User, json.RawMessage) error, func(*events.User)) {
	return func(u *events.User, raw json.RawMessage) error {
			var t events.Time
			if err := json.Unmarshal(raw, &t); err != nil {
				return fmt.Errorf("%s: %v", api, err)
			}
			*f(u) = events.Val(t)
			return nil
		}, func(u *events.User) {
			*f(u) = events.Null[events.Time]()
		}
}

func cdcStringField(path string, f func(*events.User) *events.Field[string]) cdcField {
	api := path[strings.LastIndex(path, ".")+1:]
	set, null := cdcString(api, f)
	return cdcField{path: path, set: set, null: null}
}

func cdcTimeField(path string, f func(*events.User) *events.Field[events.Time]) cdcField {
	set, null := cdcTime(path, f)
	return cdcField{path: path, set: set, null: null}
}

// cdcFields are the User fields vccsync reads from change events. Id is
// not among them: it is in recordIds.
var cdcFields = []cdcField{
	cdcStringField("Username", func(u *events.User) *events.Field[string] { return &u.Username }),
	cdcStringField("Alias", func(u *events.User) *events.Field[string] { return &u.Alias }),
	cdcStringField("Email", func(u *events.User) *events.Field[string] { return &u.Email }),
	cdcStringField("Name.FirstName", func(u *events.User) *events.Field[string] { return &u.FirstName }),
	cdcStringField("Name.LastName", func(u *events.User) *events.Field[string] { return &u.LastName }),
	{path: "IsActive", set: func(u *events.User, raw json.RawMessage) error {
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return fmt.Errorf("IsActive: got %s, want true or false", cdcShow(raw))
		}
		u.IsActive = events.Val(b)
		return nil
	}, null: func(u *events.User) { u.IsActive = events.Null[bool]() }},
	cdcStringField("FederationIdentifier", func(u *events.User) *events.Field[string] { return &u.FederationIdentifier }),
	cdcStringField("ProfileId", func(u *events.User) *events.Field[string] { return &u.ProfileID }),
	cdcStringField("CallCenterId", func(u *events.User) *events.Field[string] { return &u.CallCenterID }),
	cdcStringField(events.AgentIDField, func(u *events.User) *events.Field[string] { return &u.AgentID }),
	cdcTimeField("LastModifiedDate", func(u *events.User) *events.Field[events.Time] { return &u.LastModifiedDate }),
	cdcTimeField("SystemModstamp", func(u *events.User) *events.Field[events.Time] { return &u.SystemModstamp }),
}

// user builds the (partial) user snapshot of a CREATE, UPDATE or UNDELETE
// whose payload, body, came in the given form.
func (d *CDCDecoder) user(form CDCFormat, h CDCHeader, lists cdcLists, body map[string]json.RawMessage) (events.User, error) {
	var u events.User
	full := h.ChangeType != ChangeUpdate

	diffNames, err := d.Schema.FieldNames(h.DiffFields)
	if err != nil {
		return u, fmt.Errorf("ChangeEventHeader.diffFields: %w", err)
	}
	diff := newCDCPathSet(diffNames)

	var changed, nulled cdcPathSet
	if !full {
		if form == CDCStreaming {
			for _, l := range [][]string{h.ChangedFields, h.NulledFields} {
				for _, e := range l {
					if k, _, _ := cdcBitmapKind(e); k != cdcNotBitmap {
						return u, fmt.Errorf("ChangeEventHeader: %q is a Pub/Sub bitmap, but the format is streaming", e)
					}
				}
			}
		}
		names, err := d.Schema.FieldNames(h.ChangedFields)
		if err != nil {
			return u, fmt.Errorf("ChangeEventHeader.changedFields: %w", err)
		}
		changed = newCDCPathSet(names)
		names, err = d.Schema.FieldNames(h.NulledFields)
		if err != nil {
			return u, fmt.Errorf("ChangeEventHeader.nulledFields: %w", err)
		}
		nulled = newCDCPathSet(names)
		if !lists.hasChanged {
			// Before API 47.0 the Streaming API sent no changedFields and
			// an UPDATE's body held just the changed fields. They are
			// taken in name order, so that the same message always gives
			// the same ChangedFields.
			for _, k := range slices.Sorted(maps.Keys(body)) {
				if k == "ChangeEventHeader" {
					continue
				}
				if sub, ok := cdcObject(body[k]); ok {
					for _, sk := range slices.Sorted(maps.Keys(sub)) {
						changed.add(k + "." + sk)
					}
					continue
				}
				changed.add(k)
			}
		}
		u.ChangedFields = changed.apiNames(nulled)
	}

	errs := cdcCheckCompound(body)
	for _, f := range cdcFields {
		raw, present := cdcLookup(body, f.path)
		isNull := present && cdcIsNull(raw)
		switch {
		case diff.has(f.path):
			// The value is a diff against the old text, not the text.
			continue
		case full:
			if !present {
				continue
			}
			if isNull {
				f.null(&u)
				continue
			}
		case nulled.has(f.path):
			if present && !isNull {
				errs = append(errs, fmt.Errorf("%s: in nulledFields but the payload gives it a value (%s)", f.path, cdcShow(raw)))
				continue
			}
			f.null(&u)
			continue
		case f.path == "LastModifiedDate" && present && !isNull:
		case !changed.has(f.path):
			continue
		case !present:
			continue
		case isNull:
			if !lists.hasNulled {
				f.null(&u)
			}
			continue
		}
		if err := f.set(&u, raw); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return u, cdcJoined(errors.Join(errs...))
	}
	if !u.LastModifiedDate.Known() {
		u.LastModifiedDate = events.Val(events.Time{Time: time.UnixMilli(h.CommitTimestamp).UTC()})
	}
	return u, nil
}

// cdcPathSet is a set of changed or nulled field paths. A compound field
// named alone ("Name") stands for all its subfields, unless a subfield of
// it is named too.
type cdcPathSet struct {
	order []string
	set   map[string]bool
}

func newCDCPathSet(names []string) cdcPathSet {
	s := cdcPathSet{set: map[string]bool{}}
	for _, n := range names {
		s.add(n)
	}
	return s
}

func (s *cdcPathSet) add(name string) {
	if s.set == nil {
		s.set = map[string]bool{}
	}
	if !s.set[name] {
		s.set[name] = true
		s.order = append(s.order, name)
	}
}

func (s cdcPathSet) has(path string) bool {
	if s.set[path] {
		return true
	}
	parent, _, nested := strings.Cut(path, ".")
	if !nested || !s.set[parent] {
		return false
	}
	for _, n := range s.order {
		if strings.HasPrefix(n, parent+".") {
			return false
		}
	}
	return true
}

// apiNames lists the changed fields (with the nulled ones) by their User
// API names: Name.FirstName is FirstName, Name is FirstName and LastName.
func (s cdcPathSet) apiNames(nulled cdcPathSet) []string {
	var out []string
	add := func(n string) {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	for _, set := range []cdcPathSet{s, nulled} {
		for _, n := range set.order {
			switch {
			case n == "ChangeEventHeader":
			case slices.ContainsFunc(set.order, func(o string) bool { return strings.HasPrefix(o, n+".") }):
				// a compound field whose changed subfields are listed
			case n == "Name":
				add("FirstName")
				add("LastName")
			case strings.Contains(n, "."):
				add(n[strings.LastIndex(n, ".")+1:])
			default:
				add(n)
			}
		}
	}
	return out
}

// cdcCheckCompound reports each compound field of cdcFields (Name) that
// the payload gives a value other than an object or null: its subfields
// cannot be read from it.
func cdcCheckCompound(body map[string]json.RawMessage) []error {
	var errs []error
	var parents []string
	subs := map[string][]string{}
	for _, f := range cdcFields {
		parent, sub, nested := strings.Cut(f.path, ".")
		if !nested {
			continue
		}
		if subs[parent] == nil {
			parents = append(parents, parent)
		}
		subs[parent] = append(subs[parent], sub)
	}
	for _, parent := range parents {
		raw, ok := body[parent]
		if !ok {
			continue
		}
		raw = cdcUnwrapAvro(raw)
		if _, isObj := cdcObject(raw); !isObj && !cdcIsNull(raw) {
			errs = append(errs, fmt.Errorf("%s: got %s, want an object holding %s", parent, cdcShow(raw), strings.Join(subs[parent], " and ")))
		}
	}
	return errs
}

// cdcLookup finds a field of the payload by path (Name.FirstName inside
// Name). A null compound field makes its subfields null.
func cdcLookup(body map[string]json.RawMessage, path string) (json.RawMessage, bool) {
	parent, sub, nested := strings.Cut(path, ".")
	raw, ok := body[parent]
	if !ok {
		return nil, false
	}
	raw = cdcUnwrapAvro(raw)
	if !nested {
		return raw, true
	}
	if cdcIsNull(raw) {
		return raw, true
	}
	obj, isObj := cdcObject(raw)
	if !isObj {
		return nil, false // reported by cdcCheckCompound
	}
	v, ok := obj[sub]
	if !ok {
		return nil, false
	}
	return cdcUnwrapAvro(v), true
}

// cdcUnwrapAvro unwraps a union value in Avro's JSON encoding, such as
// {"string":"jsmith"} or {"com.sforce.eventbus.Switchable_PersonName":{…}}.
func cdcUnwrapAvro(raw json.RawMessage) json.RawMessage {
	obj, ok := cdcObject(raw)
	if !ok || len(obj) != 1 {
		return raw
	}
	for k, v := range obj {
		switch k {
		case "string", "boolean", "long", "int", "double", "float", "bytes", "array":
			return v
		}
		if _, inner := cdcObject(v); inner && (strings.Contains(k, ".") || strings.HasPrefix(k, "Switchable_")) {
			return v
		}
	}
	return raw
}

func cdcObject(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil {
		return nil, false
	}
	return m, true
}

func cdcHasObject(m map[string]json.RawMessage, key string) bool {
	v, ok := m[key]
	if !ok {
		return false
	}
	_, isObj := cdcObject(v)
	return isObj
}

// cdcShow is a JSON value of the message on one line, for an error.
func cdcShow(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return strconv.Quote(string(raw))
	}
	return b.String()
}

func cdcIsNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}
