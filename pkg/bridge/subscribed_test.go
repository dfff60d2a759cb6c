package bridge_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/vccsync/vccsync/pkg/bridge"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/salesforce"
)

func TestSubscribed(t *testing.T) {
	js, _ := jetStream(t, true)
	schema, err := os.ReadFile("../salesforce/testdata/cdc_pubsub_schema.avsc")
	if err != nil {
		t.Fatal(err)
	}
	update, err := os.ReadFile("../salesforce/testdata/cdc_pubsub_update.json")
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	at, _ := events.ParseTime("2026-11-20T10:15:00.000Z")
	users := &fakeUsers{users: []events.User{{ID: olga, Username: events.Val("olga@x.example"), SystemModstamp: events.Val(at)}}}
	s, err := bridge.NewSubscribed(bridge.IngesterConfig{
		Decoder: &salesforce.CDCDecoder{OrgID: testOrg, OwnClient: "vccsync"},
		Users:   users, Publisher: bridge.JetStream(js), Timeout: 5 * time.Second,
	}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)

	// An event is published with the bitmaps read against its schema;
	// the same event again is a duplicate, and both let the subscription
	// move on.
	for range 2 {
		if err := s.Handle(ctx, "schema-1", string(schema), "ev-1", []byte{1}, update); err != nil {
			t.Fatalf("Handle: %v", err)
		}
	}
	stored := streamMessages(t, js, false)
	if len(stored) != 1 || stored[0].Event.User == nil || stored[0].Event.UserKey != key("0055f00000GBZR6") {
		t.Fatalf("stored %+v, want Mei's change once", stored)
	}

	// A poison event is passed over, loudly, with its replay id.
	if err := s.Handle(ctx, "schema-1", string(schema), "ev-2", []byte{0xab}, []byte(`{"ChangeEventHeader":{"entityName":"Account"}}`)); err != nil {
		t.Errorf("Handle of an event that cannot be ingested: %v, want it passed over", err)
	}
	if e := logs.FilterMessageSnippet("rejected").All(); len(e) != 1 || e[0].ContextMap()["replay_id"] != "ab" {
		t.Errorf("rejection logs %+v, want one naming replay id ab", e)
	}
	if err := s.Handle(ctx, "schema-2", "{not a schema", "ev-3", []byte{2}, update); err != nil {
		t.Errorf("Handle with an unreadable schema: %v, want it passed over", err)
	}

	// A failure downstream is an error: the event must come again.
	gap := []byte(`{"ChangeEventHeader":{"entityName":"User","recordIds":["` + olga + `"],"changeType":"GAP_UPDATE","changeOrigin":"","transactionKey":"t","sequenceNumber":1,"commitTimestamp":1714155903000,"commitNumber":1,"commitUser":"0055f000005mc66AAA","changedFields":[],"nulledFields":[],"diffFields":[]}}`)
	users.queryErr = os.ErrDeadlineExceeded
	if err := s.Handle(ctx, "schema-1", string(schema), "ev-4", []byte{3}, gap); err == nil || !strings.Contains(err.Error(), "ev-4") {
		t.Errorf("Handle when reading the gap's users fails: %v, want an error naming the event", err)
	}

	// Resync reads every user and publishes their snapshots.
	if o := s.Resync(ctx); o.Status != bridge.StatusOverflow || o.Read != 1 || o.Published != 1 {
		t.Errorf("Resync = %+v, want one user read and published", o)
	}
}
