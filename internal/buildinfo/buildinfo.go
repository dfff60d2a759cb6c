// Package buildinfo says which build of vccsync is running: the module
// version and the VCS revision the Go toolchain stamped into the binary
// (debug.ReadBuildInfo), for --version, the vccsync_build_info metric and
// the NATS micro service's version.
//
// Caveats: a binary built with `go run` or from a tree without VCS data has
// no revision ("unknown"), and the module version of a build from a
// checkout is "(devel)" unless Go stamps a pseudo-version.
package buildinfo

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Info identifies a build.
type Info struct {
	Version   string // module version, e.g. v1.2.3 or (devel)
	Revision  string // VCS revision, "unknown" when not stamped
	Time      string // VCS commit time (RFC 3339), "" when not stamped
	Modified  bool   // the tree had uncommitted changes
	GoVersion string
}

// Read returns the running binary's build information.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "(devel)", Revision: "unknown"}
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) Info {
	i := Info{Version: bi.Main.Version, Revision: "unknown", GoVersion: bi.GoVersion}
	if i.Version == "" {
		i.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Revision = s.Value
		case "vcs.time":
			i.Time = s.Value
		case "vcs.modified":
			i.Modified = s.Value == "true"
		}
	}
	return i
}

// ServiceVersion is the version for a NATS micro service, which must be
// semantic: the module version when it is one, else 0.0.0 with the
// revision as build metadata.
func (i Info) ServiceVersion() string {
	if v, ok := strings.CutPrefix(i.Version, "v"); ok && v != "" {
		return v
	}
	rev := i.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return "0.0.0+" + rev
}

// String is the --version line: binary, version, revision, Go version.
func (i Info) String() string {
	rev := i.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if i.Modified {
		rev += " (modified)"
	}
	s := fmt.Sprintf("%s, revision %s", i.Version, rev)
	if i.Time != "" {
		s += " of " + i.Time
	}
	return s + ", " + i.GoVersion
}

// Collector is the vccsync_build_info gauge, always 1, with the build as
// labels (binary, version, revision, goversion).
func (i Info) Collector(binary string) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "vccsync_build_info",
		Help:        "1, with the running build as labels: binary, version, revision, goversion.",
		ConstLabels: prometheus.Labels{"binary": binary, "version": i.Version, "revision": i.Revision, "goversion": i.GoVersion},
	})
	g.Set(1)
	return g
}
