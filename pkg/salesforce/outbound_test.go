package salesforce

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
)

var omUpdate = flag.Bool("update-outbound", false, "rewrite the outbound_*.golden files in testdata/")

// TestDecodeOutboundGolden decodes every testdata/outbound_*.xml and
// compares the result (the message as JSON, or the error) with its golden
// file.
func TestDecodeOutboundGolden(t *testing.T) {
	fixtures, err := filepath.Glob(filepath.Join("testdata", "outbound_*.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fixtures) < 10 {
		t.Fatalf("found %d outbound fixtures, want at least 10", len(fixtures))
	}
	for _, fixture := range fixtures {
		name := strings.TrimSuffix(filepath.Base(fixture), ".xml")
		t.Run(strings.TrimPrefix(name, "outbound_"), func(t *testing.T) {
			in, err := os.ReadFile(fixture)
			if err != nil {
				t.Fatal(err)
			}
			got := omRender(t, in)
			golden := filepath.Join("testdata", name+".golden")
			if *omUpdate {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestDecodeOutboundGolden -update-outbound to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s decodes to\n%s\nwant (%s)\n%s", fixture, got, golden, want)
			}
		})
	}
}

// omRender is the golden form of a decoding: the message as indented JSON
// (users with their wire-contract encoding: absent fields left out, nulls
// as null), or "error: " and the error.
func omRender(t *testing.T, in []byte) []byte {
	t.Helper()
	m, err := DecodeOutbound(bytes.NewReader(in))
	if err != nil {
		if m != nil {
			t.Errorf("DecodeOutbound returned a message with the error %v", err)
		}
		return []byte("error: " + err.Error() + "\n")
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestDecodeOutboundReference checks the reference message field by field.
func TestDecodeOutboundReference(t *testing.T) {
	m := omDecodeFile(t, "outbound_reference.xml")
	want := &OutboundMessage{
		OrganizationID: "00D5e000000KQ2eEAG",
		ActionID:       "04k5e000000XyZaAAK",
		EnterpriseURL:  "https://acme.my.salesforce.com/services/Soap/c/61.0/00D5e000000KQ2e",
		PartnerURL:     "https://acme.my.salesforce.com/services/Soap/u/61.0/00D5e000000KQ2e",
		Notifications: []Notification{{
			ID:         "04l5e00000AbCdEAAV",
			ObjectType: "User",
			User: events.User{
				ID:                   "0055e000001AbCdAAK",
				Username:             events.Val("jane.smith@acme.example"),
				Alias:                events.Val("jsmith"),
				Email:                events.Val("jane.smith@acme.example"),
				FirstName:            events.Val("Jane"),
				LastName:             events.Val("Smith"),
				IsActive:             events.Val(true),
				FederationIdentifier: events.Val("jsmith"),
				ProfileID:            events.Val("00e5e000000AbCdAAK"),
				LastModifiedDate:     events.Val(events.Time{Time: time.Date(2026, 11, 20, 10, 15, 0, 0, time.UTC)}),
				SystemModstamp:       events.Val(events.Time{Time: time.Date(2026, 11, 20, 10, 15, 0, 0, time.UTC)}),
			},
		}},
	}
	if fmt.Sprintf("%+v", m) != fmt.Sprintf("%+v", want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", m, want)
	}
	u := m.Notifications[0].User
	if u.CallCenterID.Set || u.AgentID.Set {
		t.Errorf("fields the message does not carry are Set: CallCenterId %+v, agent id %+v", u.CallCenterID, u.AgentID)
	}
}

// TestDecodeOutboundNulls checks the three states of a field: absent, nil
// and a value (an empty element is the empty string, not nil).
func TestDecodeOutboundNulls(t *testing.T) {
	m := omDecodeFile(t, "outbound_nulls.xml")
	if m.SessionID != "" {
		t.Errorf("SessionID = %q, want empty for xsi:nil", m.SessionID)
	}
	u := m.Notifications[0].User
	for name, f := range map[string]events.Field[string]{
		"CallCenterId": u.CallCenterID, "FederationIdentifier": u.FederationIdentifier, "agent id": u.AgentID,
	} {
		if !f.Set || !f.Null {
			t.Errorf("%s = %+v, want Set and Null", name, f)
		}
	}
	if !u.LastModifiedDate.Set || !u.LastModifiedDate.Null {
		t.Errorf("LastModifiedDate = %+v, want Set and Null", u.LastModifiedDate)
	}
	if !u.FirstName.Known() || u.FirstName.Value != "" {
		t.Errorf("FirstName = %+v, want the empty string", u.FirstName)
	}
	if !u.IsActive.Known() || !u.IsActive.Value {
		t.Errorf("IsActive = %+v, want true (xsi:nil=\"false\")", u.IsActive)
	}
	for name, f := range map[string]events.Field[string]{"Username": u.Username, "Alias": u.Alias, "Email": u.Email, "LastName": u.LastName, "ProfileId": u.ProfileID} {
		if f.Set {
			t.Errorf("%s = %+v, want absent (not Set)", name, f)
		}
	}
	if u.SystemModstamp.Set {
		t.Errorf("SystemModstamp = %+v, want absent", u.SystemModstamp)
	}
}

// TestDecodeOutboundPrefixes checks that names are matched by namespace
// URI: the same message written with other prefixes and default
// namespaces decodes the same, and look-alikes in other namespaces are not
// taken for the real elements.
func TestDecodeOutboundPrefixes(t *testing.T) {
	ref := omDecodeFile(t, "outbound_reference.xml")
	in, err := os.ReadFile(filepath.Join("testdata", "outbound_reference.xml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*strings.Replacer{
		"renamed prefixes": strings.NewReplacer("soapenv:", "SOAP-ENV:", "xmlns:soapenv", "xmlns:SOAP-ENV",
			"xsi:", "ns9:", "xmlns:xsi", "xmlns:ns9", "sf:", "urn1:", "xmlns:sf", "xmlns:urn1"),
		"prefixed outbound namespace": strings.NewReplacer(`<notifications xmlns="http://soap.sforce.com/2005/09/outbound">`,
			`<o:notifications xmlns:o="http://soap.sforce.com/2005/09/outbound">`, "</notifications>", "</o:notifications>",
			"<OrganizationId>", "<o:OrganizationId>", "</OrganizationId>", "</o:OrganizationId>",
			"<ActionId>", "<o:ActionId>", "</ActionId>", "</o:ActionId>", "<SessionId ", "<o:SessionId ",
			"<EnterpriseUrl>", "<o:EnterpriseUrl>", "</EnterpriseUrl>", "</o:EnterpriseUrl>",
			"<PartnerUrl>", "<o:PartnerUrl>", "</PartnerUrl>", "</o:PartnerUrl>",
			"<Notification>", "<o:Notification>", "</Notification>", "</o:Notification>",
			"<Id>", "<o:Id>", "</Id>", "</o:Id>", "<sObject ", "<o:sObject ", "</sObject>", "</o:sObject>"),
		"default namespace for fields": strings.NewReplacer("<sf:", "<", "</sf:", "</",
			"<sObject ", `<o:sObject xmlns:o="http://soap.sforce.com/2005/09/outbound" `, "</sObject>", "</o:sObject>",
			`xmlns:sf="urn:sobject.enterprise.soap.sforce.com"`, `xmlns="urn:sobject.enterprise.soap.sforce.com" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"`),
		"namespaces declared on the root": strings.NewReplacer(`xmlns:xsd=`, `xmlns:sf="urn:sobject.enterprise.soap.sforce.com" xmlns:xsd=`,
			` xmlns:sf="urn:sobject.enterprise.soap.sforce.com">`, `>`),
	} {
		t.Run(name, func(t *testing.T) {
			variant := r.Replace(string(in))
			if variant == string(in) {
				t.Fatal("the replacer changed nothing")
			}
			m, err := DecodeOutbound(strings.NewReader(variant))
			if err != nil {
				t.Fatalf("DecodeOutbound: %v\n%s", err, variant)
			}
			if fmt.Sprintf("%+v", m) != fmt.Sprintf("%+v", ref) {
				t.Errorf("decoded\n%+v\nwant, as the reference\n%+v", m, ref)
			}
		})
	}
}

// omEnvelope wraps notifications content in a SOAP envelope.
func omEnvelope(inner string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>00D5e000000KQ2eEAG</OrganizationId>` + inner + `</notifications>
</soapenv:Body></soapenv:Envelope>`
}

// omNotification is a Notification with a User sObject holding fields.
func omNotification(id, fields string) string {
	return `<Notification><Id>` + id + `</Id><sObject xsi:type="sf:User" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">` + fields + `</sObject></Notification>`
}

// omNotificationID is the i-th notification ID of a generated message.
func omNotificationID(t testing.TB, i int) string {
	id, err := events.NormalizeID(fmt.Sprintf("04l5e0000%06d", i))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func omJane(fields string) string {
	return omEnvelope(omNotification("04l5e00000AbCdEAAV", `<sf:Id>0055e000001JaneAAC</sf:Id>`+fields))
}

func TestDecodeOutboundErrors(t *testing.T) {
	many := func(n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			b.WriteString(omNotification(omNotificationID(t, i), `<sf:Id>0055e000001JaneAAC</sf:Id>`))
		}
		return omEnvelope(b.String())
	}
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty body", "", "not a SOAP envelope: no XML element (empty body)"},
		{"only a declaration", `<?xml version="1.0"?>` + "\n", "not a SOAP envelope: no XML element (empty body)"},
		{"plain text", "Ack", "not a SOAP envelope: text before the root element"},
		{"JSON", `{"OrganizationId":"00D5e000000KQ2eEAG"}`, "not a SOAP envelope: text before the root element"},
		{"HTML", `<html><body>hi</body></html>`, "not a SOAP envelope: the root element is html (no namespace), want Envelope in http://schemas.xmlsoap.org/soap/envelope/"},
		{"Envelope without namespace", `<Envelope><Body/></Envelope>`, "not a SOAP envelope: the root element is Envelope (no namespace), want Envelope in http://schemas.xmlsoap.org/soap/envelope/"},
		{"SOAP 1.2", `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"/>`, "not a SOAP envelope: SOAP 1.2 (http://www.w3.org/2003/05/soap-envelope); Salesforce sends SOAP 1.1 (http://schemas.xmlsoap.org/soap/envelope/)"},
		{"doctype", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x/>`, "not a SOAP envelope: a document type declaration at line 1, column 55 (SOAP forbids them)"},
		{"no Body", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/></s:Envelope>`, "not a SOAP envelope: no Body"},
		{"two Bodies", strings.Replace(omJane(""), "</soapenv:Body>", "</soapenv:Body><soapenv:Body/>", 1), "not a SOAP envelope: two Body elements"},
		{"empty Body", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body> </s:Body></s:Envelope>`, "Body: no notifications element (in http://soap.sforce.com/2005/09/outbound)"},
		{"Fault", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault/></s:Body></s:Envelope>`, "Body: holds a SOAP Fault, not notifications"},
		{"notifications without namespace", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><notifications/></s:Body></s:Envelope>`, "Body: unexpected element notifications (no namespace), want notifications in http://soap.sforce.com/2005/09/outbound"},
		{"notifications in the 2006 namespace", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><notifications xmlns="http://soap.sforce.com/2006/09/outbound"/></s:Body></s:Envelope>`, "Body: unexpected element {http://soap.sforce.com/2006/09/outbound}notifications, want notifications in http://soap.sforce.com/2005/09/outbound"},
		{"two notifications elements", strings.Replace(omJane(""), "</notifications>", "</notifications><notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\"/>", 1), "Body: two notifications elements, want one"},
		{"OrganizationId missing", strings.Replace(omJane(""), "<OrganizationId>00D5e000000KQ2eEAG</OrganizationId>", "", 1), "OrganizationId missing"},
		{"OrganizationId nil", strings.Replace(omJane(""), "<OrganizationId>00D5e000000KQ2eEAG</OrganizationId>", `<OrganizationId xsi:nil="true"/>`, 1), "OrganizationId missing"},
		{"OrganizationId twice", strings.Replace(omJane(""), "<OrganizationId>", "<OrganizationId>00D5e000000KQ2eEAG</OrganizationId><OrganizationId>", 1), "OrganizationId: appears twice"},
		{"OrganizationId not an org", strings.Replace(omJane(""), "00D5e000000KQ2eEAG", "0055e000001JaneAAC", 1), `OrganizationId: "0055e000001JaneAAC" is not a Salesforce organization ID (00D…, 15 or 18 characters)`},
		{"OrganizationId bad checksum", strings.Replace(omJane(""), "00D5e000000KQ2eEAG", "00D5e000000KQ2eAAA", 1), `OrganizationId: "00D5e000000KQ2eAAA" is not a Salesforce organization ID (00D…, 15 or 18 characters)`},
		{"OrganizationId with a child", strings.Replace(omJane(""), "00D5e000000KQ2eEAG", "<b>00D5e000000KQ2eEAG</b>", 1), "OrganizationId: want text, got element {http://soap.sforce.com/2005/09/outbound}b"},
		{"no notifications", omEnvelope(""), "notifications: no Notification, Salesforce sends 1 to 100"},
		{"101 notifications", many(101), "notifications: 101 notifications, Salesforce sends at most 100"},
		{"Id missing", omEnvelope(`<Notification><sObject/></Notification>`), "Notification[1]: Id missing"},
		{"Id empty", omEnvelope(omNotification("", `<sf:Id>0055e000001JaneAAC</sf:Id>`)), "Notification[1]: Id missing"},
		{"Id not a notification", omEnvelope(omNotification("0055e000001JaneAAC", `<sf:Id>0055e000001JaneAAC</sf:Id>`)), `Notification[1]: Id: "0055e000001JaneAAC" is not an outbound message notification ID (04l…, 15 or 18 characters)`},
		{"Id twice", omEnvelope(strings.Replace(omNotification("04l5e00000AbCdEAAV", `<sf:Id>0055e000001JaneAAC</sf:Id>`), "<Id>", "<Id>04l5e00000AbCdEAAV</Id><Id>", 1)), "Notification[1]: Id appears twice"},
		{"sObject missing", omEnvelope(`<Notification><Id>04l5e00000AbCdEAAV</Id></Notification>`), "Notification[1]: sObject missing"},
		{"sObject twice", omEnvelope(strings.Replace(omNotification("04l5e00000AbCdEAAV", `<sf:Id>0055e000001JaneAAC</sf:Id>`), "</sObject>", `</sObject><sObject/>`, 1)), "Notification[1]: sObject appears twice"},
		{"sObject Id missing in the third", omEnvelope(omNotification(omNotificationID(t, 1), `<sf:Id>0055e000001JaneAAC</sf:Id>`) + omNotification(omNotificationID(t, 2), `<sf:Id>0055e000001JohnAAC</sf:Id>`) + omNotification(omNotificationID(t, 3), `<sf:Alias>x</sf:Alias>`)), "Notification[3]: sObject: Id missing"},
		{"sObject Id in another namespace", omEnvelope(omNotification("04l5e00000AbCdEAAV", `<Id>0055e000001JaneAAC</Id>`)), "Notification[1]: sObject: Id missing (there is a {http://soap.sforce.com/2005/09/outbound}Id, but Id belongs in urn:sobject.enterprise.soap.sforce.com)"},
		{"sObject Id without a namespace", omEnvelope(omNotification("04l5e00000AbCdEAAV", `<Id xmlns="">0055e000001JaneAAC</Id>`)), "Notification[1]: sObject: Id missing (there is a Id (no namespace), but Id belongs in urn:sobject.enterprise.soap.sforce.com)"},
		{"sObject in the record's namespace", omEnvelope(`<Notification><Id>04l5e00000AbCdEAAV</Id><sf:sObject xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>0055e000001JaneAAC</sf:Id></sf:sObject></Notification>`), "Notification[1]: sObject missing (there is a {urn:sobject.enterprise.soap.sforce.com}sObject, but sObject belongs in http://soap.sforce.com/2005/09/outbound)"},
		{"sObject Id nil", omEnvelope(omNotification("04l5e00000AbCdEAAV", `<sf:Id xsi:nil="true"/>`)), "Notification[1]: sObject: Id: xsi:nil, want the user ID"},
		{"sObject Id not a user", omEnvelope(omNotification("04l5e00000AbCdEAAV", `<sf:Id>0015e000001AcmeAAC</sf:Id>`)), `Notification[1]: sObject: Id: not a Salesforce user ID (005…, 15 or 18 characters): "0015e000001AcmeAAC" has key prefix "001"`},
		{"not a User", omEnvelope(strings.Replace(omNotification("04l5e00000AbCdEAAV", `<sf:Id>0035e000001AcmeAAC</sf:Id>`), "sf:User", "sf:Contact", 1)), "Notification[1]: sObject: object type Contact, want User: vccsync takes outbound messages on User only"},
		{"deleted Account", omEnvelope(`<Notification><Id>04l5e00000AbCdEAAV</Id><sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"/></Notification>`), "Notification[1]: sObject: object type Account, want User: vccsync takes outbound messages on User only"},
		{"xsi:type prefix undeclared", omEnvelope(strings.Replace(omNotification("04l5e00000AbCdEAAV", `<sf:Id>0055e000001JaneAAC</sf:Id>`), "sf:User", "ent:User", 1)), `Notification[1]: sObject: xsi:type "ent:User": prefix "ent" is not declared`},
		{"xsi:type partner namespace", omEnvelope(strings.Replace(omNotification("04l5e00000AbCdEAAV", `<sf:Id>0055e000001JaneAAC</sf:Id>`), `xsi:type="sf:User"`, `xsi:type="p:User" xmlns:p="urn:sobject.partner.soap.sforce.com"`, 1)), `Notification[1]: sObject: xsi:type "p:User" is {urn:sobject.partner.soap.sforce.com}User, want an sObject type in urn:sobject.enterprise.soap.sforce.com (such as User)`},
		{"xsi:type unprefixed outside the namespace", omEnvelope(strings.Replace(omNotification("04l5e00000AbCdEAAV", `<sf:Id>0055e000001JaneAAC</sf:Id>`), "sf:User", "User", 1)), `Notification[1]: sObject: xsi:type "User" is {http://soap.sforce.com/2005/09/outbound}User, want an sObject type in urn:sobject.enterprise.soap.sforce.com (such as User)`},
		{"xsi:type empty", omEnvelope(strings.Replace(omNotification("04l5e00000AbCdEAAV", `<sf:Id>0055e000001JaneAAC</sf:Id>`), "sf:User", "sf:", 1)), `Notification[1]: sObject: xsi:type "sf:" is not a type name`},
		{"field twice", omJane(`<sf:Alias>a</sf:Alias><sf:Alias>b</sf:Alias>`), "Notification[1]: sObject: Alias: appears twice"},
		{"field with a child", omJane(`<sf:Alias><b>a</b></sf:Alias>`), "Notification[1]: sObject: Alias: want text, got element {http://soap.sforce.com/2005/09/outbound}b"},
		{"nil field with a value", omJane(`<sf:Alias xsi:nil="true">a</sf:Alias>`), `Notification[1]: sObject: Alias: xsi:nil="true" but has a value`},
		{"bad xsi:nil", omJane(`<sf:Alias xsi:nil="yes"/>`), `Notification[1]: sObject: Alias: xsi:nil: "yes" is not an xsd:boolean (true, false, 1 or 0)`},
		{"IsActive not a boolean", omJane(`<sf:IsActive>TRUE</sf:IsActive>`), `Notification[1]: sObject: IsActive: "TRUE" is not an xsd:boolean (true, false, 1 or 0)`},
		{"IsActive empty", omJane(`<sf:IsActive/>`), `Notification[1]: sObject: IsActive: "" is not an xsd:boolean (true, false, 1 or 0)`},
		{"bad datetime", omJane(`<sf:SystemModstamp>20 Nov 2026</sf:SystemModstamp>`), `Notification[1]: sObject: SystemModstamp: "20 Nov 2026" is not a Salesforce datetime (want e.g. 2026-11-20T10:15:00.000Z)`},
		{"error in the second notification", omEnvelope(omNotification(omNotificationID(t, 1), `<sf:Id>0055e000001JaneAAC</sf:Id>`) + omNotification(omNotificationID(t, 2), `<sf:Id>0055e000001JohnAAC</sf:Id><sf:LastModifiedDate>yesterday</sf:LastModifiedDate>`)), `Notification[2]: sObject: LastModifiedDate: "yesterday" is not a Salesforce datetime (want e.g. 2026-11-20T10:15:00.000Z)`},
		{"element after the Envelope", omJane("") + "<more/>", "not a SOAP envelope: element more (no namespace) after the Envelope"},
		{"text after the Envelope", omJane("") + "Ack", "not a SOAP envelope: text after the Envelope"},
		{"mismatched tags", "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">\n<s:Body>\n</s:Envelope>", "malformed XML at line 3, column 14: element <Body> closed by </Envelope>"},
		{"unclosed", "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">\n<s:Body>", "malformed XML at line 2, column 9: unexpected EOF"},
		{"bad entity", omJane("<sf:Alias>AT&T</sf:Alias>"), "malformed XML at line 3, column 281: invalid character entity &T (no semicolon)"},
		{"not UTF-8", omJane("<sf:LastName>M\xfcller</sf:LastName>"), "malformed XML at line 3, column 286: invalid UTF-8"},
		{"declared Latin-1", strings.Replace(omJane(""), `encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1), `malformed XML at line 1, column 44: encoding "ISO-8859-1" declared but Decoder.CharsetReader is nil`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeOutbound(strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("DecodeOutbound accepted it: %+v\n%s", m, tc.in)
			}
			if m != nil {
				t.Errorf("DecodeOutbound returned a message with its error")
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got %s\nwant %s", err, tc.want)
			}
		})
	}
}

func TestDecodeOutboundLimits(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= MaxNotifications; i++ {
		b.WriteString(omNotification(omNotificationID(t, i), `<sf:Id>0055e000001JaneAAC</sf:Id><sf:IsActive>true</sf:IsActive>`))
	}
	m, err := DecodeOutbound(strings.NewReader(omEnvelope(b.String())))
	if err != nil {
		t.Fatalf("100 notifications: %v", err)
	}
	if len(m.Notifications) != MaxNotifications {
		t.Fatalf("%d notifications, want %d", len(m.Notifications), MaxNotifications)
	}
	for i, n := range m.Notifications {
		if want := omNotificationID(t, i+1); n.ID != want {
			t.Fatalf("notification %d has Id %s, want %s (in the order sent)", i, n.ID, want)
		}
	}
}

func TestDecodeOutboundDeleted(t *testing.T) {
	m := omDecodeFile(t, "outbound_deleted.xml")
	var deleted []string
	for _, n := range m.Notifications {
		if n.ObjectType != "User" {
			t.Errorf("%s: ObjectType %q, want User", n.ID, n.ObjectType)
		}
		if n.Deleted {
			deleted = append(deleted, n.ID)
			if n.User.ID != "" {
				t.Errorf("%s: deleted, but has a user %+v", n.ID, n.User)
			}
		}
	}
	if want := []string{"04l5e00000AbCdEAAV", "04l5e00000AbCdFAAV"}; fmt.Sprint(deleted) != fmt.Sprint(want) {
		t.Errorf("deleted %v, want %v", deleted, want)
	}
}

type omFailingReader struct{}

func (omFailingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestDecodeOutboundReadError(t *testing.T) {
	_, err := DecodeOutbound(omFailingReader{})
	if err == nil || err.Error() != "read: connection reset" {
		t.Errorf("error = %v, want read: connection reset", err)
	}
}

// TestEncodeAck checks the acknowledgement byte for byte against the
// reference, and that it reads back as notificationsResponse/Ack = true.
func TestEncodeAck(t *testing.T) {
	const reference = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
 <soapenv:Body>
  <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>
 </soapenv:Body>
</soapenv:Envelope>
`
	var b bytes.Buffer
	if err := EncodeAck(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() != reference {
		t.Errorf("EncodeAck wrote\n%s\nwant\n%s", b.String(), reference)
	}
	var resp struct {
		XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
		Body    struct {
			Response struct {
				Ack string `xml:"http://soap.sforce.com/2005/09/outbound Ack"`
			} `xml:"http://soap.sforce.com/2005/09/outbound notificationsResponse"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
	}
	if err := xml.Unmarshal(b.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Body.Response.Ack != "true" {
		t.Errorf("Ack = %q, want true", resp.Body.Response.Ack)
	}
}

func TestEncodeFault(t *testing.T) {
	msg := "Notification[2]: sObject: Alias: <b> & \"quotes\"\ncontrol \x01 and invalid \xff"
	var b bytes.Buffer
	if err := EncodeFault(&b, FaultClient, msg); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "outbound_fault.golden")
	if *omUpdate {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("EncodeFault wrote\n%s\nwant (%s)\n%s", b.Bytes(), golden, want)
	}

	for _, code := range []string{FaultClient, FaultServer} {
		b.Reset()
		if err := EncodeFault(&b, code, msg); err != nil {
			t.Fatal(err)
		}
		var f struct {
			XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
			Body    struct {
				Fault struct {
					Code   string `xml:"faultcode"`
					String string `xml:"faultstring"`
				} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
			} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
		}
		if err := xml.Unmarshal(b.Bytes(), &f); err != nil {
			t.Fatalf("%s: the fault does not parse: %v\n%s", code, err, b.Bytes())
		}
		if f.Body.Fault.Code != code {
			t.Errorf("faultcode = %q, want %q", f.Body.Fault.Code, code)
		}
		if want := "Notification[2]: sObject: Alias: <b> & \"quotes\"\ncontrol \uFFFD and invalid \uFFFD"; f.Body.Fault.String != want {
			t.Errorf("faultstring = %q, want %q", f.Body.Fault.String, want)
		}
	}

	b.Reset()
	if err := EncodeFault(&b, "soapenv:MustUnderstand", "x"); err == nil || b.Len() > 0 {
		t.Errorf("EncodeFault with another code: err %v, wrote %q; want an error and nothing written", err, b.String())
	}
}

func omDecodeFile(t *testing.T, name string) *OutboundMessage {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := DecodeOutbound(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}
