package archtest

import (
	"bufio"
	"errors"
	"fmt"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// moduleRoot is the module's root directory, relative to this package.
const moduleRoot = "../.."

// A rule says what a package may import.
type rule struct {
	allow      []string // packages of this module it may import, module-relative
	stdlibOnly bool     // nothing from outside the standard library (besides allow)
	anything   bool     // no restriction
	optional   bool     // the package need not exist yet
}

// rules is the dependency rule of DESIGN.md, "Layout and the dependency
// rule": arrows point toward pkg/events. Keys are module-relative package
// paths; "dir/..." stands for every package under dir. Every package under
// pkg/ must have a row.
var rules = map[string]rule{
	"cmd/...": {anything: true}, // the commands: the only place that knows every part

	"pkg/events":     {stdlibOnly: true},                                           // the wire contract
	"pkg/handlers":   {allow: []string{"pkg/events", "pkg/vcc", "pkg/salesforce"}}, // the domain; vcc and salesforce for their data types
	"pkg/worker":     {allow: []string{"pkg/events", "pkg/metrics"}},               // handler and store only through its own interfaces
	"pkg/bus":        {allow: []string{"pkg/events"}},                              // NATS
	"pkg/store":      {allow: []string{"pkg/events"}},                              // bbolt
	"pkg/vcc":        {},                                                           // VCC User Admin API client
	"pkg/salesforce": {allow: []string{"pkg/events"}, optional: true},              // Salesforce codecs and client
	"pkg/sandbox":    {allow: []string{"pkg/pubsub/eventbus"}},                     // VCC and Salesforce stand-ins; the Pub/Sub API's stubs for its gRPC server
	"pkg/metrics":    {},                                                           // metric definitions and /metrics handler
	"pkg/ratelimit":  {},                                                           // adaptive (AIMD) rate limiter for the VCC client; only its tests import vcc, sandbox
	"pkg/preflight":  {allow: []string{"pkg/vcc"}},                                 // start-up checks, over small ports

	// The VCC contract suite: runs against any *vcc.Client (its own tests
	// also use the sandbox, which this table does not check).
	"pkg/vcc/vcctest": {allow: []string{"pkg/vcc"}},

	// Tests' embedded JetStream: the one place tests get NATS from.
	"pkg/bus/bustest": {allow: []string{"pkg/bus"}},

	// Reconcile: classify, plan and publish; the desired state comes from
	// the handlers, so the worker and reconcile never disagree.
	"pkg/reconcile": {allow: []string{"pkg/events", "pkg/handlers", "pkg/vcc", "pkg/salesforce"}},

	"pkg/opsapi": {allow: []string{"pkg/events", "pkg/handlers", "pkg/vcc"}}, // status / history / plan service and its client; vcc for the dry ports' data types

	"pkg/bridge": {allow: []string{"pkg/events", "pkg/bus", "pkg/salesforce", "pkg/metrics"}}, // outbound-message handler, change-event ingester, their inputs and server

	// The composition: the worker's, handlers' and operators' ports backed
	// by the store and the domain handlers.
	"pkg/engine": {allow: []string{"pkg/events", "pkg/handlers", "pkg/worker", "pkg/store", "pkg/opsapi"}},

	// Salesforce's Pub/Sub API: the generated stubs (the wire contract),
	// and the subscriber over them.
	"pkg/pubsub/eventbus": {},
	"pkg/pubsub":          {allow: []string{"pkg/pubsub/eventbus", "pkg/metrics"}},

	"pkg/dlq": {allow: []string{"pkg/events"}}, // the dead-letter format, list / show / replay / purge of VCCSYNC_DLQ; not an adapter: reads through a JetStream interface it declares
}

// adapters are the packages that talk to one external system each; they
// never import one another.
var adapters = []string{"pkg/bus", "pkg/pubsub", "pkg/salesforce", "pkg/sandbox", "pkg/store", "pkg/vcc"}

// eventsTestRule is the rule for the test files of pkg/events.
const eventsTestRule = "the test files of pkg/events import only the standard library (and pkg/events itself)"

// adapterRule is the rule reported when an adapter imports another.
var adapterRule = "adapters (" + strings.Join(trimPkg(adapters), ", ") + ") never import each other"

// pkgImports is one package of the import graph.
type pkgImports struct {
	path        string   // module-relative, e.g. "pkg/store"
	imports     []string // full import paths of the non-test files
	testImports []string // full import paths of the test files (package and external tests)
}

// A violation is one forbidden import, or a package the table does not cover.
type violation struct {
	pkg      string // importing package, module-relative
	imported string // the forbidden import: module-relative when in this module; "" for a missing row
	rule     string
}

func (v violation) String() string {
	if v.imported == "" {
		return fmt.Sprintf("%s: %s", v.pkg, v.rule)
	}
	return fmt.Sprintf("%s imports %s: forbidden by the rule %q", v.pkg, v.imported, v.rule)
}

// lookup returns the rule for a module-relative package path.
func lookup(rules map[string]rule, pkg string) (rule, bool) {
	if r, ok := rules[pkg]; ok {
		return r, true
	}
	for key, r := range rules {
		if dir, ok := strings.CutSuffix(key, "/..."); ok && strings.HasPrefix(pkg, dir+"/") {
			return r, true
		}
	}
	return rule{}, false
}

// isStdlib reports whether an import path is in the standard library: its
// first element has no dot (the go command's own test). "C" (cgo) is not.
func isStdlib(importPath string) bool {
	if importPath == "C" {
		return false
	}
	first, _, _ := strings.Cut(importPath, "/")
	return !strings.Contains(first, ".")
}

// check applies the rules to an import graph of the module with the given
// path and returns every violation, sorted.
func check(module string, rules map[string]rule, graph []pkgImports) []violation {
	local := func(imp string) (string, bool) {
		if imp == module {
			return ".", true
		}
		rel, ok := strings.CutPrefix(imp, module+"/")
		return rel, ok
	}
	var out []violation
	for _, p := range graph {
		r, ok := lookup(rules, p.path)
		if !ok {
			out = append(out, violation{pkg: p.path, rule: "not in the dependency table: add a row for it to rules in internal/archtest/deps_test.go " +
				"saying what it may import (DESIGN.md, \"Layout and the dependency rule\")"})
			continue
		}
		if r.anything {
			continue
		}
		for _, imp := range p.imports {
			rel, isLocal := local(imp)
			switch {
			case isLocal && rel == p.path:
				// A package does not import itself; nothing to check.
			case isLocal && slices.Contains(adapters, p.path) && slices.Contains(adapters, rel):
				out = append(out, violation{pkg: p.path, imported: rel, rule: adapterRule})
			case isLocal && !slices.Contains(r.allow, rel):
				out = append(out, violation{pkg: p.path, imported: rel, rule: describe(p.path, r)})
			case !isLocal && r.stdlibOnly && !isStdlib(imp):
				out = append(out, violation{pkg: p.path, imported: imp, rule: describe(p.path, r)})
			}
		}
		if p.path == "pkg/events" {
			for _, imp := range p.testImports {
				if rel, isLocal := local(imp); (isLocal && rel != p.path) || (!isLocal && !isStdlib(imp)) {
					if isLocal {
						imp = rel
					}
					out = append(out, violation{pkg: p.path + " (test files)", imported: imp, rule: eventsTestRule})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// describe states a package's rule in words.
func describe(pkg string, r rule) string {
	var s string
	if len(r.allow) == 0 {
		s = pkg + " imports nothing from this module"
	} else {
		s = pkg + " imports from this module only " + strings.Join(r.allow, ", ")
	}
	if r.stdlibOnly {
		s += ", and nothing from outside the standard library"
	}
	return s
}

// staleRules returns the exact (not "dir/...") rows of the table that name no
// existing package, except optional ones.
func staleRules(rules map[string]rule, graph []pkgImports) []string {
	var out []string
	for key, r := range rules {
		if r.optional || strings.HasSuffix(key, "/...") {
			continue
		}
		if !slices.ContainsFunc(graph, func(p pkgImports) bool { return p.path == key }) {
			out = append(out, key)
		}
	}
	sort.Strings(out)
	return out
}

// contexts are the build contexts whose file selections are checked: the
// union of their imports is what a package may import somewhere.
func contexts() []build.Context {
	var out []build.Context
	for _, goos := range []string{"linux", "darwin", "windows"} {
		c := build.Default
		c.GOOS = goos
		c.CgoEnabled = true
		out = append(out, c)
	}
	return out
}

// loadGraph lists, with go/build, every package under pkg/ and cmd/ of the
// module rooted at root, with its imports.
func loadGraph(root string) ([]pkgImports, error) {
	var graph []pkgImports
	for _, top := range []string{"pkg", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(dir string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				return nil
			}
			if name := d.Name(); name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			rel, err := filepath.Rel(root, dir)
			if err != nil {
				return err
			}
			p := pkgImports{path: filepath.ToSlash(rel)}
			found := false
			for _, ctxt := range contexts() {
				bp, err := ctxt.ImportDir(dir, 0)
				var noGo *build.NoGoError
				if errors.As(err, &noGo) {
					continue
				}
				if err != nil {
					return fmt.Errorf("%s (GOOS=%s): %w", p.path, ctxt.GOOS, err)
				}
				found = true
				p.imports = union(p.imports, bp.Imports) // GoFiles + CgoFiles
				p.testImports = union(p.testImports, bp.TestImports, bp.XTestImports)
			}
			if found {
				graph = append(graph, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return graph, nil
}

// modulePath reads the module path from go.mod in root.
func modulePath(root string) (string, error) {
	f, err := os.Open(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("go.mod: no module line")
}

func union(a []string, bs ...[]string) []string {
	for _, b := range bs {
		for _, s := range b {
			if !slices.Contains(a, s) {
				a = append(a, s)
			}
		}
	}
	sort.Strings(a)
	return a
}

func trimPkg(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = strings.TrimPrefix(p, "pkg/")
	}
	return out
}

// TestDependencyRule checks the module's packages against the table.
func TestDependencyRule(t *testing.T) {
	module, err := modulePath(moduleRoot)
	if err != nil {
		t.Fatalf("module root %s: %v", moduleRoot, err)
	}
	graph, err := loadGraph(moduleRoot)
	if err != nil {
		t.Fatalf("list packages: %v", err)
	}
	if !slices.ContainsFunc(graph, func(p pkgImports) bool { return p.path == "pkg/events" }) {
		t.Fatalf("pkg/events not found under %s: is the module root right?", moduleRoot)
	}
	for _, v := range check(module, rules, graph) {
		t.Error(v)
	}
	for _, key := range staleRules(rules, graph) {
		t.Errorf("the dependency table names %s, which is not a package: rename or remove its row (and update DESIGN.md)", key)
	}
	if testing.Verbose() {
		for _, p := range graph {
			var locals []string
			for _, imp := range p.imports {
				if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
					locals = append(locals, rel)
				}
			}
			t.Logf("%-16s -> %s", p.path, strings.Join(locals, " "))
		}
	}
}

// TestCheck shows that check reports violations: each case is a fake import
// graph and the violations it must produce, exactly.
func TestCheck(t *testing.T) {
	const mod = "example.com/m"
	m := func(rel string) string { return mod + "/" + rel }
	tests := []struct {
		name  string
		graph []pkgImports
		want  []string
	}{
		{
			name: "clean graph",
			graph: []pkgImports{
				{path: "pkg/events", imports: []string{"encoding/json", "time"}, testImports: []string{"testing", m("pkg/events")}},
				{path: "pkg/handlers", imports: []string{m("pkg/events"), m("pkg/vcc"), m("pkg/salesforce"), "context"}},
				{path: "pkg/worker", imports: []string{m("pkg/events"), m("pkg/metrics"), "github.com/nats-io/nats.go"}},
				{path: "pkg/store", imports: []string{m("pkg/events"), "go.etcd.io/bbolt"}},
				{path: "pkg/sandbox", imports: []string{"net/http"}},
				{path: "cmd/syncworker", imports: []string{m("pkg/store"), m("pkg/vcc"), m("pkg/sandbox"), m("pkg/worker"), "go.uber.org/zap"}},
			},
		},
		{
			name:  "adapter imports adapter",
			graph: []pkgImports{{path: "pkg/store", imports: []string{m("pkg/events"), m("pkg/vcc")}}},
			want:  []string{`pkg/store imports pkg/vcc: forbidden by the rule "adapters (bus, pubsub, salesforce, sandbox, store, vcc) never import each other"`},
		},
		{
			name:  "sandbox imports the client it checks",
			graph: []pkgImports{{path: "pkg/sandbox", imports: []string{m("pkg/vcc")}}},
			want:  []string{`pkg/sandbox imports pkg/vcc: forbidden by the rule "adapters (bus, pubsub, salesforce, sandbox, store, vcc) never import each other"`},
		},
		{
			name:  "events imports a third-party package",
			graph: []pkgImports{{path: "pkg/events", imports: []string{"fmt", "github.com/google/uuid"}}},
			want:  []string{`pkg/events imports github.com/google/uuid: forbidden by the rule "pkg/events imports nothing from this module, and nothing from outside the standard library"`},
		},
		{
			name:  "events imports cgo",
			graph: []pkgImports{{path: "pkg/events", imports: []string{"C"}}},
			want:  []string{`pkg/events imports C: forbidden by the rule "pkg/events imports nothing from this module, and nothing from outside the standard library"`},
		},
		{
			name:  "events imports the module",
			graph: []pkgImports{{path: "pkg/events", imports: []string{m("pkg/metrics")}}},
			want:  []string{`pkg/events imports pkg/metrics: forbidden by the rule "pkg/events imports nothing from this module, and nothing from outside the standard library"`},
		},
		{
			name:  "events tests import a third-party package",
			graph: []pkgImports{{path: "pkg/events", testImports: []string{"testing", "github.com/stretchr/testify/require", m("pkg/sandbox")}}},
			want: []string{
				`pkg/events (test files) imports github.com/stretchr/testify/require: forbidden by the rule "` + eventsTestRule + `"`,
				`pkg/events (test files) imports pkg/sandbox: forbidden by the rule "` + eventsTestRule + `"`,
			},
		},
		{
			name:  "other packages' tests are not checked",
			graph: []pkgImports{{path: "pkg/handlers", imports: []string{m("pkg/events")}, testImports: []string{m("pkg/sandbox"), m("pkg/store")}}},
		},
		{
			name:  "domain imports an adapter it may not",
			graph: []pkgImports{{path: "pkg/handlers", imports: []string{m("pkg/events"), m("pkg/store")}}},
			want:  []string{`pkg/handlers imports pkg/store: forbidden by the rule "pkg/handlers imports from this module only pkg/events, pkg/vcc, pkg/salesforce"`},
		},
		{
			name:  "worker imports the domain",
			graph: []pkgImports{{path: "pkg/worker", imports: []string{m("pkg/handlers"), m("pkg/metrics")}}},
			want:  []string{`pkg/worker imports pkg/handlers: forbidden by the rule "pkg/worker imports from this module only pkg/events, pkg/metrics"`},
		},
		{
			name:  "leaf imports the wire contract",
			graph: []pkgImports{{path: "pkg/metrics", imports: []string{m("pkg/events")}}},
			want:  []string{`pkg/metrics imports pkg/events: forbidden by the rule "pkg/metrics imports nothing from this module"`},
		},
		{
			name:  "adapter imports an internal package",
			graph: []pkgImports{{path: "pkg/bus", imports: []string{m("internal/x")}}},
			want:  []string{`pkg/bus imports internal/x: forbidden by the rule "pkg/bus imports from this module only pkg/events"`},
		},
		{
			name:  "package not in the table",
			graph: []pkgImports{{path: "pkg/cache", imports: []string{"sync"}}, {path: "pkg/vcc/internal/wire"}},
			want: []string{
				`pkg/cache: not in the dependency table: add a row for it to rules in internal/archtest/deps_test.go saying what it may import (DESIGN.md, "Layout and the dependency rule")`,
				`pkg/vcc/internal/wire: not in the dependency table: add a row for it to rules in internal/archtest/deps_test.go saying what it may import (DESIGN.md, "Layout and the dependency rule")`,
			},
		},
		{
			name:  "commands import anything",
			graph: []pkgImports{{path: "cmd/publisher/internal/soap", imports: []string{m("pkg/vcc")}}, {path: "cmd/publisher", imports: []string{m("pkg/bus"), m("pkg/salesforce"), m("internal/x"), "github.com/nats-io/nats.go"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, v := range check(mod, rules, tt.graph) {
				got = append(got, v.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("check() reported\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

// TestStaleRules shows that a row naming no package is reported, unless it
// is optional or a pattern.
func TestStaleRules(t *testing.T) {
	graph := []pkgImports{{path: "pkg/events"}, {path: "cmd/x"}}
	r := map[string]rule{
		"pkg/events":     {stdlibOnly: true},
		"pkg/gone":       {},
		"pkg/salesforce": {optional: true},
		"cmd/...":        {anything: true},
	}
	if got, want := staleRules(r, graph), []string{"pkg/gone"}; !slices.Equal(got, want) {
		t.Errorf("staleRules() = %v, want %v", got, want)
	}
}

// TestIsStdlib pins the standard-library test.
func TestIsStdlib(t *testing.T) {
	for imp, want := range map[string]bool{
		"fmt": true, "net/http": true, "encoding/json": true,
		"C": false, "go.etcd.io/bbolt": false, "github.com/vccsync/vccsync/pkg/events": false, "golang.org/x/time/rate": false,
	} {
		if got := isStdlib(imp); got != want {
			t.Errorf("isStdlib(%q) = %v, want %v", imp, got, want)
		}
	}
}

// TestLoadGraph checks that go/build lists a small module on disk as
// expected, including a package whose imports depend on GOOS, and that the
// whole chain reports its violation.
func TestLoadGraph(t *testing.T) {
	root := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/m\n\ngo 1.26\n")
	write("pkg/events/events.go", "package events\n\nimport _ \"time\"\n")
	write("pkg/events/events_test.go", "package events\n\nimport _ \"testing\"\n")
	write("pkg/vcc/vcc.go", "package vcc\n")
	write("pkg/store/store.go", "package store\n\nimport _ \"example.com/m/pkg/events\"\n")
	write("pkg/store/store_windows.go", "package store\n\nimport _ \"example.com/m/pkg/vcc\"\n")
	write("pkg/store/testdata/x.go", "package broken\n\nimport _ \"example.com/m/pkg/vcc\"\n")
	write("cmd/tool/main.go", "package main\n\nimport _ \"example.com/m/pkg/store\"\n\nfunc main() {}\n")

	module, err := modulePath(root)
	if err != nil || module != "example.com/m" {
		t.Fatalf("modulePath() = %q, %v", module, err)
	}
	graph, err := loadGraph(root)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, p := range graph {
		paths = append(paths, p.path)
	}
	if want := []string{"pkg/events", "pkg/store", "pkg/vcc", "cmd/tool"}; !slices.Equal(paths, want) {
		t.Errorf("packages = %v, want %v", paths, want)
	}
	var got []string
	for _, v := range check(module, rules, graph) {
		got = append(got, v.String())
	}
	want := []string{`pkg/store imports pkg/vcc: forbidden by the rule "` + adapterRule + `"`}
	if !slices.Equal(got, want) {
		t.Errorf("check() = %q, want %q", got, want)
	}
}
