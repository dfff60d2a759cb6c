package salesforce

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/vccsync/vccsync/pkg/events"
)

// Namespaces of an outbound message. Elements are matched by namespace URI,
// whatever prefix (or default namespace) the sender uses.
const (
	// SOAPEnvelopeNamespace is SOAP 1.1's: Envelope, Header, Body, Fault.
	SOAPEnvelopeNamespace = "http://schemas.xmlsoap.org/soap/envelope/"
	// OutboundNamespace holds notifications, Notification, Id and sObject.
	OutboundNamespace = "http://soap.sforce.com/2005/09/outbound"
	// SObjectNamespace holds the record's fields and its xsi:type.
	SObjectNamespace = "urn:sobject.enterprise.soap.sforce.com"
	// XSINamespace holds the xsi:type and xsi:nil attributes.
	XSINamespace = "http://www.w3.org/2001/XMLSchema-instance"

	omSOAP12Namespace = "http://www.w3.org/2003/05/soap-envelope"
)

// MaxNotifications is the most notifications Salesforce puts in one message.
const MaxNotifications = 100

// OutboundMessage is a decoded Salesforce Outbound Message: the
// notifications element of the SOAP request.
type OutboundMessage struct {
	// OrganizationID is the sending org (00D…, as sent: usually 18
	// characters; compare on the first 15). Always present.
	OrganizationID string
	// ActionID is the outbound message definition (04k…).
	ActionID string
	// SessionID is a session the receiver may call back with; empty when
	// the definition does not send one (xsi:nil). A credential: never log it.
	SessionID string
	// EnterpriseURL and PartnerURL are the org's SOAP API endpoints.
	EnterpriseURL string
	PartnerURL    string
	// Notifications are 1 to MaxNotifications, in the order sent.
	Notifications []Notification
}

// Notification is one record change of an outbound message.
type Notification struct {
	// ID is the notification's ID (04l…): the same for every delivery of
	// the notification, so it is the deduplication key.
	ID string
	// ObjectType is the local name of the sObject's xsi:type, e.g. User.
	ObjectType string
	// User holds the fields the message definition sends: an absent field
	// is not Set, an xsi:nil one is Null. Its ID is a valid user ID unless
	// Deleted.
	User events.User
	// Deleted is true when the sObject carries no data: the record was
	// deleted before the message was delivered.
	Deleted bool
}

// DecodeOutbound reads the SOAP request of an outbound message. It checks
// the structure (a SOAP 1.1 envelope whose Body holds notifications, an
// OrganizationId, 1 to MaxNotifications Notifications each with an Id and a
// User sObject with its Id) and the values it reads (IDs, IsActive as an
// xsd:boolean, datetimes). Fields it does not know are ignored. An error
// names what is wrong and where, e.g.
//
//	Notification[3]: sObject: Id missing
//	malformed XML at line 12, column 9: element <Alias> closed by </Email>
//
// It does not apply the wire contract's rules to the users (lengths and
// the like): events.Decode does that to the events built from them.
func DecodeOutbound(r io.Reader) (*OutboundMessage, error) {
	d := newOMDecoder(r)
	root, err := d.root()
	if err != nil {
		return nil, err
	}
	if root.Name.Local != "Envelope" || root.Name.Space != SOAPEnvelopeNamespace {
		if root.Name.Local == "Envelope" && root.Name.Space == omSOAP12Namespace {
			return nil, fmt.Errorf("not a SOAP envelope: SOAP 1.2 (%s); Salesforce sends SOAP 1.1 (%s)", omSOAP12Namespace, SOAPEnvelopeNamespace)
		}
		return nil, fmt.Errorf("not a SOAP envelope: the root element is %s, want Envelope in %s", omName(root.Name), SOAPEnvelopeNamespace)
	}
	m, err := d.envelope()
	if err != nil {
		return nil, err
	}
	if err := d.trailer(); err != nil {
		return nil, err
	}
	return m, nil
}

// omDecoder reads tokens and keeps the namespace declarations in scope, to
// resolve the prefix of an xsi:type value.
type omDecoder struct {
	d      *xml.Decoder
	in     *omReader
	scopes []map[string]string // declarations of each open element; nil when none
}

// omReader remembers a read error, so that it is not reported as bad XML.
type omReader struct {
	r   io.Reader
	err error
}

func (o *omReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	if err != nil && err != io.EOF {
		o.err = err
	}
	return n, err
}

func newOMDecoder(r io.Reader) *omDecoder {
	in := &omReader{r: r}
	return &omDecoder{d: xml.NewDecoder(in), in: in}
}

// token returns the next token, with names translated to namespace URIs.
// At the end of the input it returns io.EOF; any other error is final and
// says where the input is broken.
func (o *omDecoder) token() (xml.Token, error) {
	tok, err := o.d.Token()
	if err != nil {
		if o.in.err != nil {
			return nil, fmt.Errorf("read: %w", o.in.err)
		}
		if err == io.EOF {
			return nil, io.EOF
		}
		line, col := o.d.InputPos()
		return nil, fmt.Errorf("malformed XML at line %d, column %d: %s", line, col, omSyntaxMessage(err))
	}
	switch t := tok.(type) {
	case xml.StartElement:
		var decl map[string]string
		for _, a := range t.Attr {
			switch {
			case a.Name.Space == "xmlns":
				if decl == nil {
					decl = map[string]string{}
				}
				decl[a.Name.Local] = a.Value
			case a.Name.Space == "" && a.Name.Local == "xmlns":
				if decl == nil {
					decl = map[string]string{}
				}
				decl[""] = a.Value
			}
		}
		o.scopes = append(o.scopes, decl)
	case xml.EndElement:
		o.scopes = o.scopes[:len(o.scopes)-1]
	case xml.Directive:
		line, col := o.d.InputPos()
		return nil, fmt.Errorf("not a SOAP envelope: a document type declaration at line %d, column %d (SOAP forbids them)", line, col)
	}
	return tok, nil
}

func omSyntaxMessage(err error) string {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return se.Msg
	}
	return strings.TrimPrefix(err.Error(), "xml: ")
}

// lookup resolves a namespace prefix ("" for the default namespace).
func (o *omDecoder) lookup(prefix string) (string, bool) {
	if prefix == "xml" {
		return "http://www.w3.org/XML/1998/namespace", true
	}
	for i := len(o.scopes) - 1; i >= 0; i-- {
		if ns, ok := o.scopes[i][prefix]; ok {
			return ns, true
		}
	}
	return "", prefix == ""
}

// root returns the first element, skipping the prolog.
func (o *omDecoder) root() (xml.StartElement, error) {
	for {
		tok, err := o.token()
		if err == io.EOF {
			return xml.StartElement{}, errors.New("not a SOAP envelope: no XML element (empty body)")
		}
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return xml.StartElement{}, errors.New("not a SOAP envelope: text before the root element")
			}
		}
	}
}

// next returns the next child element of the element being read, or ok
// false at its end. Text between child elements is ignored.
func (o *omDecoder) next() (xml.StartElement, bool, error) {
	for {
		tok, err := o.token()
		if err != nil {
			return xml.StartElement{}, false, o.unexpectedEOF(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, true, nil
		case xml.EndElement:
			return xml.StartElement{}, false, nil
		}
	}
}

// unexpectedEOF turns an io.EOF inside an element into an error (the
// decoder reports unclosed elements itself; this is a safety net).
func (o *omDecoder) unexpectedEOF(err error) error {
	if err == io.EOF {
		return errors.New("malformed XML: unexpected end of input")
	}
	return err
}

// skip reads up to the end of the element just started.
func (o *omDecoder) skip() error {
	for depth := 1; depth > 0; {
		tok, err := o.token()
		if err != nil {
			return o.unexpectedEOF(err)
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return nil
}

// text reads the character data of the element just started, up to its
// end; a child element is an error.
func (o *omDecoder) text(path string) (string, error) {
	var b strings.Builder
	for {
		tok, err := o.token()
		if err != nil {
			return "", o.unexpectedEOF(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.StartElement:
			return "", fmt.Errorf("%s: want text, got element %s", path, omName(t.Name))
		case xml.EndElement:
			return b.String(), nil
		}
	}
}

// value reads a simple element: its text, and whether it is xsi:nil. A nil
// element must be empty.
func (o *omDecoder) value(start xml.StartElement, path string) (string, bool, error) {
	null, err := omNil(start, path)
	if err != nil {
		return "", false, err
	}
	s, err := o.text(path)
	if err != nil {
		return "", false, err
	}
	if null && strings.TrimSpace(s) != "" {
		return "", false, fmt.Errorf("%s: xsi:nil=\"true\" but has a value", path)
	}
	return s, null, nil
}

// envelope reads the children of Envelope.
func (o *omDecoder) envelope() (*OutboundMessage, error) {
	var m *OutboundMessage
	for {
		el, ok, err := o.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if el.Name.Space == SOAPEnvelopeNamespace && el.Name.Local == "Body" {
			if m != nil {
				return nil, errors.New("not a SOAP envelope: two Body elements")
			}
			if m, err = o.body(); err != nil {
				return nil, err
			}
			continue
		}
		if err := o.skip(); err != nil { // Header, and extensions after Body
			return nil, err
		}
	}
	if m == nil {
		return nil, errors.New("not a SOAP envelope: no Body")
	}
	return m, nil
}

// body reads the children of Body: exactly one notifications element.
func (o *omDecoder) body() (*OutboundMessage, error) {
	var m *OutboundMessage
	for {
		el, ok, err := o.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		switch {
		case el.Name.Space == OutboundNamespace && el.Name.Local == "notifications":
			if m != nil {
				return nil, errors.New("Body: two notifications elements, want one")
			}
			if m, err = o.notifications(); err != nil {
				return nil, err
			}
		case el.Name.Space == SOAPEnvelopeNamespace && el.Name.Local == "Fault":
			return nil, errors.New("Body: holds a SOAP Fault, not notifications")
		default:
			return nil, fmt.Errorf("Body: unexpected element %s, want notifications in %s", omName(el.Name), OutboundNamespace)
		}
	}
	if m == nil {
		return nil, fmt.Errorf("Body: no notifications element (in %s)", OutboundNamespace)
	}
	return m, nil
}

// notifications reads the message: its header fields and Notifications.
func (o *omDecoder) notifications() (*OutboundMessage, error) {
	m := &OutboundMessage{}
	seen := map[string]bool{}
	count := 0
	for {
		el, ok, err := o.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if el.Name.Space != OutboundNamespace {
			if err := o.skip(); err != nil {
				return nil, err
			}
			continue
		}
		var dst *string
		switch el.Name.Local {
		case "Notification":
			count++
			n, err := o.notification(fmt.Sprintf("Notification[%d]", count))
			if err != nil {
				return nil, err
			}
			if count <= MaxNotifications {
				m.Notifications = append(m.Notifications, n)
			}
			continue
		case "OrganizationId":
			dst = &m.OrganizationID
		case "ActionId":
			dst = &m.ActionID
		case "SessionId":
			dst = &m.SessionID
		case "EnterpriseUrl":
			dst = &m.EnterpriseURL
		case "PartnerUrl":
			dst = &m.PartnerURL
		default:
			if err := o.skip(); err != nil {
				return nil, err
			}
			continue
		}
		name := el.Name.Local
		if seen[name] {
			return nil, fmt.Errorf("%s: appears twice", name)
		}
		seen[name] = true
		v, _, err := o.value(el, name)
		if err != nil {
			return nil, err
		}
		*dst = strings.TrimSpace(v)
	}

	switch {
	case m.OrganizationID == "":
		return nil, errors.New("OrganizationId missing")
	case !omIsID(m.OrganizationID, "00D"):
		return nil, fmt.Errorf("OrganizationId: %q is not a Salesforce organization ID (00D…, 15 or 18 characters)", m.OrganizationID)
	case count == 0:
		return nil, fmt.Errorf("notifications: no Notification, Salesforce sends 1 to %d", MaxNotifications)
	case count > MaxNotifications:
		return nil, fmt.Errorf("notifications: %d notifications, Salesforce sends at most %d", count, MaxNotifications)
	}
	return m, nil
}

// notification reads one Notification: its Id and sObject.
func (o *omDecoder) notification(path string) (Notification, error) {
	var n Notification
	haveID, haveObject := false, false
	misplaced := map[string]string{} // Id or sObject in another namespace
	for {
		el, ok, err := o.next()
		if err != nil {
			return Notification{}, err
		}
		if !ok {
			break
		}
		switch {
		case el.Name.Space == OutboundNamespace && el.Name.Local == "Id":
			if haveID {
				return Notification{}, fmt.Errorf("%s: Id appears twice", path)
			}
			haveID = true
			v, _, err := o.value(el, path+": Id")
			if err != nil {
				return Notification{}, err
			}
			n.ID = strings.TrimSpace(v)
		case el.Name.Space == OutboundNamespace && el.Name.Local == "sObject":
			if haveObject {
				return Notification{}, fmt.Errorf("%s: sObject appears twice", path)
			}
			haveObject = true
			if err := o.sObject(el, path+": sObject", &n); err != nil {
				return Notification{}, err
			}
		default:
			if el.Name.Local == "Id" || el.Name.Local == "sObject" {
				misplaced[el.Name.Local] = el.Name.Space
			}
			if err := o.skip(); err != nil {
				return Notification{}, err
			}
		}
	}
	switch {
	case n.ID == "":
		return Notification{}, fmt.Errorf("%s: Id missing%s", path, omMisplaced(misplaced, "Id", OutboundNamespace))
	case !omIsID(n.ID, "04l"):
		return Notification{}, fmt.Errorf("%s: Id: %q is not an outbound message notification ID (04l…, 15 or 18 characters)", path, n.ID)
	case !haveObject:
		return Notification{}, fmt.Errorf("%s: sObject missing%s", path, omMisplaced(misplaced, "sObject", OutboundNamespace))
	}
	return n, nil
}

// omMisplaced explains a missing element that was found in another
// namespace.
func omMisplaced(misplaced map[string]string, local, want string) string {
	space, ok := misplaced[local]
	if !ok {
		return ""
	}
	return fmt.Sprintf(" (there is a %s, but %s belongs in %s)", omName(xml.Name{Space: space, Local: local}), local, want)
}

// sObject reads the record of a Notification into n.
func (o *omDecoder) sObject(start xml.StartElement, path string, n *Notification) error {
	typ, err := o.objectType(start, path)
	if err != nil {
		return err
	}
	n.ObjectType = typ
	if _, err := omNil(start, path); err != nil {
		return err
	}
	data := false
	seen := map[string]bool{}
	misplaced := map[string]string{}
	for {
		el, ok, err := o.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		data = true
		set, known := omUserFields[el.Name.Local]
		if el.Name.Space != SObjectNamespace || !known {
			if el.Name.Local == "Id" {
				misplaced["Id"] = el.Name.Space
			}
			if err := o.skip(); err != nil {
				return err
			}
			continue
		}
		fpath := path + ": " + el.Name.Local
		if seen[el.Name.Local] {
			return fmt.Errorf("%s: appears twice", fpath)
		}
		seen[el.Name.Local] = true
		v, null, err := o.value(el, fpath)
		if err != nil {
			return err
		}
		if err := set(&n.User, v, null); err != nil {
			return fmt.Errorf("%s: %w", fpath, err)
		}
	}
	if !data {
		n.Deleted = true
		return nil
	}
	if n.User.ID == "" {
		return fmt.Errorf("%s: Id missing%s", path, omMisplaced(misplaced, "Id", SObjectNamespace))
	}
	if _, err := events.UserKey(n.User.ID); err != nil {
		return fmt.Errorf("%s: Id: %w", path, err)
	}
	return nil
}

// objectType resolves the sObject's xsi:type (a QName such as sf:User) and
// checks that it is the enterprise User type. Without xsi:type the sObject
// has its declared type, User.
func (o *omDecoder) objectType(start xml.StartElement, path string) (string, error) {
	raw, ok := omAttr(start, XSINamespace, "type")
	if !ok {
		return "User", nil
	}
	qname := strings.TrimSpace(raw)
	prefix, local, found := strings.Cut(qname, ":")
	if !found {
		prefix, local = "", qname
	}
	if local == "" || strings.Contains(local, ":") {
		return "", fmt.Errorf("%s: xsi:type %q is not a type name", path, raw)
	}
	ns, declared := o.lookup(prefix)
	switch {
	case !declared:
		return "", fmt.Errorf("%s: xsi:type %q: prefix %q is not declared", path, raw, prefix)
	case ns != SObjectNamespace:
		return "", fmt.Errorf("%s: xsi:type %q is %s, want an sObject type in %s (such as User)", path, raw, omName(xml.Name{Space: ns, Local: local}), SObjectNamespace)
	case local != "User":
		return "", fmt.Errorf("%s: object type %s, want User: vccsync takes outbound messages on User only", path, local)
	}
	return local, nil
}

// omAttr returns the value of the attribute {space}local.
func omAttr(el xml.StartElement, space, local string) (string, bool) {
	for _, a := range el.Attr {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// omNil reads xsi:nil, an xsd:boolean.
func omNil(el xml.StartElement, path string) (bool, error) {
	v, ok := omAttr(el, XSINamespace, "nil")
	if !ok {
		return false, nil
	}
	b, err := omParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: xsi:nil: %w", path, err)
	}
	return b, nil
}

// omParseBool parses an xsd:boolean.
func omParseBool(s string) (bool, error) {
	switch strings.TrimSpace(s) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not an xsd:boolean (true, false, 1 or 0)", s)
}

// omIsID reports whether id is a 15- or 18-character Salesforce ID with the
// key prefix.
func omIsID(id, prefix string) bool {
	_, err := events.NormalizeID(id)
	return err == nil && strings.HasPrefix(id, prefix)
}

// omName formats an element name in Clark notation, {namespace}local.
func omName(n xml.Name) string {
	if n.Space == "" {
		return n.Local + " (no namespace)"
	}
	return "{" + n.Space + "}" + n.Local
}

// omSetter stores a field's value (or its nil) in a user.
type omSetter func(u *events.User, v string, null bool) error

// omUserFields are the User fields vccsync reads, by API name; others are
// ignored.
var omUserFields = map[string]omSetter{
	"Id": func(u *events.User, v string, null bool) error {
		if null {
			return errors.New("xsi:nil, want the user ID")
		}
		u.ID = strings.TrimSpace(v)
		return nil
	},
	"Username":             omString(func(u *events.User) *events.Field[string] { return &u.Username }, false),
	"Alias":                omString(func(u *events.User) *events.Field[string] { return &u.Alias }, false),
	"Email":                omString(func(u *events.User) *events.Field[string] { return &u.Email }, false),
	"FirstName":            omString(func(u *events.User) *events.Field[string] { return &u.FirstName }, false),
	"LastName":             omString(func(u *events.User) *events.Field[string] { return &u.LastName }, false),
	"FederationIdentifier": omString(func(u *events.User) *events.Field[string] { return &u.FederationIdentifier }, false),
	"ProfileId":            omString(func(u *events.User) *events.Field[string] { return &u.ProfileID }, true),
	"CallCenterId":         omString(func(u *events.User) *events.Field[string] { return &u.CallCenterID }, true),
	events.AgentIDField:    omString(func(u *events.User) *events.Field[string] { return &u.AgentID }, true),
	"IsActive": func(u *events.User, v string, null bool) error {
		if null {
			u.IsActive = events.Null[bool]()
			return nil
		}
		b, err := omParseBool(v)
		if err != nil {
			return err
		}
		u.IsActive = events.Val(b)
		return nil
	},
	"LastModifiedDate": omTime(func(u *events.User) *events.Field[events.Time] { return &u.LastModifiedDate }),
	"SystemModstamp":   omTime(func(u *events.User) *events.Field[events.Time] { return &u.SystemModstamp }),
}

// omString sets a text field; IDs and numbers (trim) lose surrounding
// whitespace, names and addresses keep their text as sent.
func omString(field func(*events.User) *events.Field[string], trim bool) omSetter {
	return func(u *events.User, v string, null bool) error {
		if null {
			*field(u) = events.Null[string]()
			return nil
		}
		if trim {
			v = strings.TrimSpace(v)
		}
		*field(u) = events.Val(v)
		return nil
	}
}

// omTime sets a datetime field.
func omTime(field func(*events.User) *events.Field[events.Time]) omSetter {
	return func(u *events.User, v string, null bool) error {
		if null {
			*field(u) = events.Null[events.Time]()
			return nil
		}
		t, err := events.ParseTime(strings.TrimSpace(v))
		if err != nil {
			return err
		}
		*field(u) = events.Val(t)
		return nil
	}
}

// trailer checks that nothing but comments, processing instructions and
// white space follows the Envelope.
func (o *omDecoder) trailer() error {
	for {
		tok, err := o.token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return fmt.Errorf("not a SOAP envelope: element %s after the Envelope", omName(t.Name))
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return errors.New("not a SOAP envelope: text after the Envelope")
			}
		}
	}
}
