package bridge_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vccsync/vccsync/pkg/bridge"
)

func TestNewMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := bridge.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
		if !strings.HasPrefix(mf.GetName(), "vccsync_") {
			t.Errorf("%s: want the vccsync_ prefix", mf.GetName())
		}
	}
	// Every series with a known label value is there from the start.
	want := []string{bridge.PublishDurationName, bridge.CDCEventsName, bridge.CDCMessagesName, bridge.CDCUsersReadName,
		bridge.OutboundNotificationsName, bridge.OutboundRequestsName}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("gathered %v, want %v", names, want)
	}

	_, err = bridge.NewMetrics(reg)
	if err == nil || !strings.Contains(err.Error(), "bridge: register "+bridge.OutboundRequestsName+": already registered") {
		t.Errorf("a second NewMetrics on one registry: %v", err)
	}
	if again, _ := reg.Gather(); len(again) != len(mfs) {
		t.Errorf("the failed registration left %d metric families, want %d", len(again), len(mfs))
	}
	if m, err := bridge.NewMetrics(nil); err != nil || m.CDCUsersRead == nil {
		t.Errorf("NewMetrics(nil) = %v, %v", m, err)
	}
}
