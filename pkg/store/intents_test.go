package store

import (
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
)

func TestIntentOpenUntilSettled(t *testing.T) {
	db := mustOpen(t)
	const key = "0055e000001JaneAAC"
	if _, open, err := db.OpenedIntent(key); err != nil || open {
		t.Fatalf("new store: intent open %v %v", open, err)
	}
	if err := db.OpenIntent(key, Intent{EventID: "e1"}); err != nil {
		t.Fatal(err)
	}
	if err := db.OpenIntent(key, Intent{EventID: "e2"}); err != nil {
		t.Fatal(err)
	}
	in, open, err := db.OpenedIntent(key)
	if err != nil || !open || in.EventID != "e1" || in.At.IsZero() {
		t.Fatalf("intent %+v %v %v: want the first one, e1, kept", in, open, err)
	}
	// A commit that does not settle the user keeps it; one that does closes it.
	if err := db.Commit(Batch{Ledger: []LedgerEntry{{EventID: "e1", UserKey: key}}}); err != nil {
		t.Fatal(err)
	}
	if _, open, _ := db.OpenedIntent(key); !open {
		t.Fatal("closed by a commit that did not settle the user")
	}
	if err := db.Commit(Batch{Settled: []string{key}}); err != nil {
		t.Fatal(err)
	}
	if _, open, _ := db.OpenedIntent(key); open {
		t.Fatal("still open after the commit that settled the user")
	}
	// It survives a reopen.
	if err := db.OpenIntent(key, Intent{EventID: "e3"}); err != nil {
		t.Fatal(err)
	}
	path := db.Path()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = mustOpenAt(t, path, Options{})
	if in, open, _ := db.OpenedIntent(key); !open || in.EventID != "e3" {
		t.Fatalf("after reopen: %+v %v", in, open)
	}
}

func TestLinkUser(t *testing.T) {
	db := mustOpen(t)
	const key = "0055e000001JaneAAC"
	if err := db.LinkUser(key, "vcc-1"); err != nil {
		t.Fatal(err)
	}
	u, ok, err := db.User(key)
	if err != nil || !ok || u.VCCUserID != "vcc-1" {
		t.Fatalf("user %+v %v %v: want a state holding the link", u, ok, err)
	}
	if by, ok, _ := db.UserByVCCID("vcc-1"); !ok || by.Key != key {
		t.Fatalf("by VCC id: %+v %v", by, ok)
	}
	// The rest of a state is kept.
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	if err := db.Commit(Batch{Users: []UserState{{Key: key, VCCUserID: "vcc-1", Checkpoint: at, Snapshot: events.User{ID: key, Email: events.Val("jane@acme.example")}}}}); err != nil {
		t.Fatal(err)
	}
	if err := db.LinkUser(key, "vcc-2"); err != nil {
		t.Fatal(err)
	}
	u, _, _ = db.User(key)
	if u.VCCUserID != "vcc-2" || !u.Checkpoint.Equal(at) || u.Snapshot.Email.Get() != "jane@acme.example" {
		t.Errorf("after relinking: %+v", u)
	}
	if _, ok, _ := db.UserByVCCID("vcc-1"); ok {
		t.Error("the old link is still indexed")
	}
}
