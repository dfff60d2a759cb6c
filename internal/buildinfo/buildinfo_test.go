package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-05T21:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	i := fromBuildInfo(bi)
	if got := i.String(); got != "v1.4.0, revision 0123456789ab (modified) of 2026-12-05T21:00:00Z, go1.26.8" {
		t.Errorf("String() = %q", got)
	}
	if i.ServiceVersion() != "1.4.0" {
		t.Errorf("ServiceVersion() = %q", i.ServiceVersion())
	}
	dev := fromBuildInfo(&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}}})
	if dev.ServiceVersion() != "0.0.0+0123456789ab" {
		t.Errorf("devel ServiceVersion() = %q", dev.ServiceVersion())
	}
}

func TestCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(Info{Version: "v1.4.0", Revision: "abc", GoVersion: "go1.26.8"}.Collector("syncworker"))
	want := `
# HELP vccsync_build_info 1, with the running build as labels: binary, version, revision, goversion.
# TYPE vccsync_build_info gauge
vccsync_build_info{binary="syncworker",goversion="go1.26.8",revision="abc",version="v1.4.0"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "vccsync_build_info"); err != nil {
		t.Error(err)
	}
}

// Read works in a test binary too (no VCS data: unknown revision).
func TestRead(t *testing.T) {
	if i := Read(); i.Version == "" || i.Revision == "" || i.GoVersion == "" {
		t.Errorf("Read() = %+v: empty fields", i)
	}
}
