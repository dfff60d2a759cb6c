package deploytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// dashboardFile is the Grafana dashboard, relative to this package.
var dashboardFile = filepath.Join(deployments, "grafana", "vccsync-dashboard.json")

// dsVar is the datasource every panel and target uses: the dashboard's
// datasource variable.
const dsVar = "${datasource}"

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type dashTarget struct {
	Datasource   *datasourceRef `json:"datasource"`
	Expr         string         `json:"expr"`
	RefID        string         `json:"refId"`
	LegendFormat string         `json:"legendFormat"`
}

type dashPanel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []dashTarget `json:"targets"`
	Panels  []dashPanel  `json:"panels"` // of a collapsed row
}

type dashVariable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *datasourceRef  `json:"datasource"`
}

type dashboard struct {
	UID           string                        `json:"uid"`
	Title         string                        `json:"title"`
	SchemaVersion int                           `json:"schemaVersion"`
	Panels        []dashPanel                   `json:"panels"`
	Templating    struct{ List []dashVariable } `json:"templating"`
}

// query returns a query variable's query: a string, or the "query" of the
// object form Grafana 10 writes.
func (v dashVariable) query() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct{ Query string }
	_ = json.Unmarshal(v.Query, &o)
	return o.Query
}

// panelExpr is one target of one panel.
type panelExpr struct {
	panel, refID, expr string
}

func (p panelExpr) String() string { return fmt.Sprintf("panel %q target %s", p.panel, p.refID) }

// loadDashboard reads and decodes the dashboard, strictly.
func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatalf("%s: not valid JSON", dashboardFile)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// queryPanels returns the panels that query (every panel but rows),
// including those inside collapsed rows.
func (d dashboard) queryPanels() []dashPanel {
	var out []dashPanel
	var walk func([]dashPanel)
	walk = func(ps []dashPanel) {
		for _, p := range ps {
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			out = append(out, p)
		}
	}
	walk(d.Panels)
	return out
}

// exprs returns every target expression of the dashboard.
func (d dashboard) exprs() []panelExpr {
	var out []panelExpr
	for _, p := range d.queryPanels() {
		for _, tg := range p.Targets {
			out = append(out, panelExpr{panel: p.Title, refID: tg.RefID, expr: tg.Expr})
		}
	}
	return out
}

// vccsyncSelector matches a vccsync metric and what follows it.
var vccsyncSelector = regexp.MustCompile(`vccsync_[a-z0-9_]+(.?)`)

// scoped is the selector every vccsync metric of the dashboard starts with,
// so that the job and instance variables apply to every panel.
const scoped = `{job=~"$job",instance=~"$instance"`

func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: both are needed for provisioning and links", d.UID, d.Title)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d: want 36 or later (Grafana 9.4+)", d.SchemaVersion)
	}

	vars := map[string]dashVariable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v, ok := vars["datasource"]; !ok || v.Type != "datasource" || v.query() != "prometheus" {
		t.Errorf("variable datasource: want type datasource with query prometheus, got %+v", v)
	}
	for _, name := range []string{"job", "instance"} {
		v, ok := vars[name]
		switch {
		case !ok:
			t.Errorf("variable %s missing", name)
		case v.Type != "query" || v.Datasource == nil || v.Datasource.UID != dsVar:
			t.Errorf("variable %s: want a query variable on %s, got type %q datasource %+v", name, dsVar, v.Type, v.Datasource)
		case !labelValues.MatchString(v.query()):
			t.Errorf("variable %s: query %q is not label_values(SELECTOR, LABEL)", name, v.query())
		}
	}

	ids := map[int]string{}
	var check func([]dashPanel)
	check = func(ps []dashPanel) {
		for _, p := range ps {
			if prev, dup := ids[p.ID]; dup {
				t.Errorf("panel %q: id %d already used by %q", p.Title, p.ID, prev)
			}
			ids[p.ID] = p.Title
			if p.Title == "" {
				t.Errorf("panel %d: no title", p.ID)
			}
			if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, p.GridPos)
			}
			if p.Type == "row" {
				check(p.Panels)
				continue
			}
			if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != dsVar {
				t.Errorf("panel %q: datasource %+v, want {prometheus %s}", p.Title, p.Datasource, dsVar)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q: no target", p.Title)
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				where := fmt.Sprintf("panel %q target %s", p.Title, tg.RefID)
				if tg.RefID == "" || refs[tg.RefID] {
					t.Errorf("%s: refId empty or repeated", where)
				}
				refs[tg.RefID] = true
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s: no expr", where)
				}
				if tg.Datasource != nil && tg.Datasource.UID != dsVar {
					t.Errorf("%s: datasource %+v, want the panel's %s", where, tg.Datasource, dsVar)
				}
				for _, m := range vccsyncSelector.FindAllStringSubmatchIndex(tg.Expr, -1) {
					if !strings.HasPrefix(tg.Expr[m[2]:], scoped) {
						t.Errorf("%s: %s is not selected with %s…}", where, tg.Expr[m[0]:m[2]], scoped)
					}
				}
				if strings.Count(tg.Expr, "(") != strings.Count(tg.Expr, ")") {
					t.Errorf("%s: unbalanced parentheses in %s", where, tg.Expr)
				}
			}
		}
	}
	check(d.Panels)
}

// labelValues is a Grafana Prometheus variable query: label_values(SELECTOR, LABEL).
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

func TestGrafanaProvisioning(t *testing.T) {
	dir := filepath.Join(deployments, "grafana", "provisioning")

	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
		} `yaml:"datasources"`
	}
	decodeYAMLFile(t, filepath.Join(dir, "datasource.yml"), &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) == 0 {
		t.Errorf("datasource.yml: want apiVersion 1 and a datasource, got %+v", ds)
	}
	for _, d := range ds.Datasources {
		if d.Type != "prometheus" || d.URL == "" || d.Name == "" {
			t.Errorf("datasource.yml: %+v: want a named prometheus datasource with a url", d)
		}
	}

	var dp struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Type, Folder string
			Options            struct{ Path string }
		} `yaml:"providers"`
	}
	decodeYAMLFile(t, filepath.Join(dir, "dashboards.yml"), &dp)
	if dp.APIVersion != 1 || len(dp.Providers) == 0 {
		t.Errorf("dashboards.yml: want apiVersion 1 and a provider, got %+v", dp)
	}
	for _, p := range dp.Providers {
		if p.Type != "file" || p.Options.Path == "" || p.Name == "" {
			t.Errorf("dashboards.yml: %+v: want a named file provider with options.path", p)
		}
	}
}

// decodeYAMLFile decodes the first YAML document of a file into v.
func decodeYAMLFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
