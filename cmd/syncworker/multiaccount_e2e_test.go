package main

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/sandbox"
)

// TestLeaverInSeveralAccounts: Dana belongs to two VCC accounts, and VCC
// archives such a user only with acceptArchiveInMultipleAccounts=true.
// Without --vcc-accept-archive-multiple-accounts her deactivation is
// dead-lettered as permanent with a reason that names the setting, and she
// stays active; with it she is archived.
func TestLeaverInSeveralAccounts(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"refused without the setting", nil},
		{"archived with it", []string{"--vcc-accept-archive-multiple-accounts"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb, url := demoVCC(t)
			w := startWorkerWith(t, t.TempDir(), url, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)), tc.flags, nil)
			key, _ := events.NormalizeID("0055e000001Dana")
			dana := events.User{ID: key, Username: events.Val(sandbox.DemoMultiAccountUsername), Email: events.Val(sandbox.DemoMultiAccountUsername),
				FirstName: events.Val("Dana"), LastName: events.Val("Multi"), IsActive: events.Val(false),
				SystemModstamp: events.Val(events.Time{Time: e2eT0})}
			env, err := events.NewUserChanged("dana-leaves", "salesforce/test", e2eT0, dana)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bus.Publish(context.Background(), w.sys.js, env); err != nil {
				t.Fatal(err)
			}
			o := w.obs.waitEvent(t, "dana-leaves")
			rec, _ := sb.UserByUsername(sandbox.DemoMultiAccountUsername)
			if tc.flags == nil {
				if o.Outcome != "dead_lettered" || o.Class != events.ClassPermanent || o.Err == nil ||
					!strings.Contains(o.Err.Error(), "--vcc-accept-archive-multiple-accounts") {
					t.Fatalf("outcome %q class %q err %v: want dead-lettered as permanent, naming the setting", o.Outcome, o.Class, o.Err)
				}
				if !rec.User.Active {
					t.Error("archived without acceptArchiveInMultipleAccounts")
				}
				return
			}
			// First seen, she is linked to her VCC user, and archived in the
			// same PATCH.
			if o.Err != nil || o.Outcome != handlers.OutcomeLinked || rec.User.Active {
				t.Fatalf("outcome %q err %v, active %v: want linked and archived in every account", o.Outcome, o.Err, rec.User.Active)
			}
		})
	}
}
