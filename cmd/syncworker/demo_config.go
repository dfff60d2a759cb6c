package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"

	"github.com/vccsync/vccsync/pkg/handlers"
)

// demoEndpoints prints where the demo's parts listen and writes
// <data-dir>/demo.yaml, the settings of this run (NATS, the sandboxes, their
// demo credentials in files beside it, the mapping), so that operator
// commands and a second syncworker work against it as written.
func demoEndpoints(w io.Writer, o *options, sys *system) error {
	path, err := writeDemoConfig(o.dataDir, sys.natsURL, sys.targets)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "vccsync demo — endpoints (Ctrl-C stops them all)")
	fmt.Fprintf(tw, "  NATS JetStream\t%s\n", sys.natsURL)
	fmt.Fprintf(tw, "  worker\thttp://%s\t/metrics /readyz /v1/users/{id}/status\n", sys.httpLn.Addr())
	if v := sys.targets.vccSandbox; v != nil {
		fmt.Fprintf(tw, "  VCC sandbox\t%s/useradmin\tclient %s, secret %s\n", v.url, v.clientID, v.secret)
	}
	if s := sys.targets.sfSandbox; s != nil {
		fmt.Fprintf(tw, "  Salesforce sandbox\t%s\tclient %s, secret %s\n", s.url, s.clientID, s.secret)
	}
	fmt.Fprintf(tw, "  settings\t%s\tfor the operator commands' --config\n", path)
	return tw.Flush()
}

// writeDemoConfig writes dir/demo.yaml, and the sandboxes' secrets beside
// it, and returns its path.
func writeDemoConfig(dir, natsURL string, t *targets) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("demo settings: %w", err)
	}
	settings := map[string]any{"nats-url": natsURL}
	secret := func(name, value string) (string, error) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("demo settings: %w", err)
		}
		return p, nil
	}
	if v := t.vccSandbox; v != nil {
		file, err := secret("vcc-client-secret", v.secret)
		if err != nil {
			return "", err
		}
		settings["vcc-url"], settings["vcc-token-url"] = v.url+"/useradmin", v.url+"/Auth/connect/token"
		settings["vcc-client-id"], settings["vcc-client-secret-file"] = v.clientID, file
	}
	if s := t.sfSandbox; s != nil {
		file, err := secret("sf-client-secret", s.secret)
		if err != nil {
			return "", err
		}
		settings["sf-url"], settings["sf-client-id"], settings["sf-client-secret-file"] = s.url, s.clientID, file
	}
	doc := struct {
		Settings map[string]any   `yaml:",inline"`
		Mapping  handlers.Mapping `yaml:"mapping"`
	}{settings, t.mapping}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("demo settings: %w", err)
	}
	head := "# The settings of a syncworker --demo run: the embedded NATS server, the\n# sandboxes, their demo credentials and the demo mapping. Gone with the run.\n"
	path := filepath.Join(dir, "demo.yaml")
	if err := os.WriteFile(path, append([]byte(head), b...), 0o600); err != nil {
		return "", fmt.Errorf("demo settings: %w", err)
	}
	return path, nil
}
