package salesforce

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vccsync/vccsync/pkg/events"
)

// FuzzDecodeOutbound feeds DecodeOutbound arbitrary bytes, starting from
// every testdata/outbound_*.xml: it must never panic, and whatever it
// accepts must keep its promises.
func FuzzDecodeOutbound(f *testing.F) {
	fixtures, err := filepath.Glob(filepath.Join("testdata", "outbound_*.xml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range fixtures {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(omJane(`<sf:IsActive>1</sf:IsActive><sf:Alias xsi:nil="true"/>`)))
	f.Add([]byte(omEnvelope(`<Notification><Id>04l5e00000AbCdEAAV</Id><sObject xsi:type="sf:User" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"/></Notification>`)))
	f.Add([]byte(strings.Repeat("<a>", 1000)))
	f.Add([]byte(""))

	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := DecodeOutbound(bytes.NewReader(in))
		if err != nil {
			if m != nil {
				t.Fatalf("a message with the error %v", err)
			}
			if err.Error() == "" {
				t.Fatal("an empty error message")
			}
			return
		}
		if n := len(m.Notifications); n < 1 || n > MaxNotifications {
			t.Fatalf("accepted %d notifications", n)
		}
		if !omIsID(m.OrganizationID, "00D") {
			t.Fatalf("accepted OrganizationId %q", m.OrganizationID)
		}
		for i, n := range m.Notifications {
			if !omIsID(n.ID, "04l") {
				t.Fatalf("notification %d: accepted Id %q", i, n.ID)
			}
			if n.ObjectType != "User" {
				t.Fatalf("notification %d: accepted object type %q", i, n.ObjectType)
			}
			if n.Deleted {
				if n.User.ID != "" {
					t.Fatalf("notification %d: deleted with user %q", i, n.User.ID)
				}
				continue
			}
			if _, err := events.UserKey(n.User.ID); err != nil {
				t.Fatalf("notification %d: accepted user Id: %v", i, err)
			}
			if _, err := events.NewUserChanged(n.ID, "salesforce/outbound-message/x", m.Notifications[0].User.Modstamp(), n.User); err != nil {
				t.Fatalf("notification %d: the user does not encode: %v", i, err)
			}
		}
		again, err := DecodeOutbound(bytes.NewReader(in))
		if err != nil || len(again.Notifications) != len(m.Notifications) {
			t.Fatalf("a second decoding differs: %v", err)
		}
	})
}
