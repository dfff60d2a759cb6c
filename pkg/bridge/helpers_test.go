package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vccsync/vccsync/pkg/bridge"
	"github.com/vccsync/vccsync/pkg/bus/bustest"
	"github.com/vccsync/vccsync/pkg/events"
)

const testOrg = "00D5e000000KQ2eEAG"

// key is the 18-character form of a 15-character ID.
func key(id15 string) string {
	k, err := events.NormalizeID(id15)
	if err != nil {
		panic(err)
	}
	return k
}

// jetStream starts an embedded JetStream server (bustest.Start).
var jetStream = bustest.Start

func testContext(t *testing.T) context.Context { return bustest.Context(t) }

// stored is one message of VCCSYNC as syncworker decodes it.
type stored struct {
	Subject string
	MsgID   string
	Event   *events.Event
}

// streamMessages reads every message of VCCSYNC by sequence, without a
// consumer (the stream has work-queue retention), and decodes each as
// syncworker would unless raw.
func streamMessages(t *testing.T, js jetstream.JetStream, raw bool) []stored {
	t.Helper()
	ctx := testContext(t)
	s, err := js.Stream(ctx, events.Stream)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	var out []stored
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		st := stored{Subject: m.Subject, MsgID: m.Header.Get(jetstream.MsgIDHeader)}
		if !raw {
			ev, err := events.Decode(m.Subject, m.Data)
			if err != nil {
				t.Fatalf("message %d on %s does not decode as syncworker would: %v", seq, m.Subject, err)
			}
			st.Event = ev
		}
		out = append(out, st)
	}
	return out
}

// msgIDs lists the Nats-Msg-Id of every message of VCCSYNC, in order.
func msgIDs(t *testing.T, js jetstream.JetStream) string {
	t.Helper()
	var ids []string
	for _, m := range streamMessages(t, js, true) {
		ids = append(ids, m.MsgID)
	}
	return strings.Join(ids, ",")
}

// newMetrics registers the bridge's metrics on a registry of their own.
func newMetrics(t *testing.T) (*bridge.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := bridge.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// checkCounters compares counters, by "vec{label}", with want.
func checkCounters(t *testing.T, vec *prometheus.CounterVec, want map[string]float64) {
	t.Helper()
	for label, w := range want {
		if got := testutil.ToFloat64(vec.WithLabelValues(label)); got != w {
			t.Errorf("%s = %v, want %v", label, got, w)
		}
	}
}

// publishCount is the number of publishes timed under source.
func publishCount(t *testing.T, reg *prometheus.Registry, source string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != bridge.PublishDurationName {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "source" && l.GetValue() == source {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	t.Fatalf("no %s{source=%q}", bridge.PublishDurationName, source)
	return 0
}

// must marshals v to JSON.
func must(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cdcID is the id the decoder derives for a change.
func cdcID(user, tx string, seq int) string { return fmt.Sprintf("cdc-%s-%s-%d", user, tx, seq) }

// testutilCounter is vccsync_cdc_users_read_total.
func testutilCounter(m *bridge.Metrics) float64 { return testutil.ToFloat64(m.CDCUsersRead) }
