package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vccsync/vccsync/pkg/handlers"
)

// fileConfig is the configuration file: every flag under its own name, plus
// the mapping (desired state) that has no flag form.
type fileConfig struct {
	Flags   map[string]any    `yaml:",inline"`
	Mapping *handlers.Mapping `yaml:"mapping"`
}

// envName is the environment variable that fills a flag: VCCSYNC_<NAME>.
func envName(flagName string) string {
	return "VCCSYNC_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// loadConfig fills every flag not given on the command line from its
// VCCSYNC_* environment variable, then from the configuration file, and
// returns the file's mapping (nil when absent). Precedence: flag, then
// environment, then file, then default.
func loadConfig(fs *flag.FlagSet, path string) (*handlers.Mapping, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var fc fileConfig
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) { // io.EOF: empty file
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		for k := range fc.Flags {
			if k == "config" || fs.Lookup(k) == nil {
				return nil, fmt.Errorf("config %s: unknown setting %q (settings are the flag names of syncworker -h, and mapping)", path, k)
			}
		}
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == "config" {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", envName(f.Name), err))
			}
			return
		}
		if v, ok := fc.Flags[f.Name]; ok {
			if err := fs.Set(f.Name, fmt.Sprint(v)); err != nil {
				errs = append(errs, fmt.Errorf("config %s: %s: %w", path, f.Name, err))
			}
		}
	})
	return fc.Mapping, errors.Join(errs...)
}

// readSecret reads a secret from a file (trimmed) or, when no file is
// given, from an environment variable. Secrets never come from flags.
func readSecret(file, env string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read secret: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return os.Getenv(env), nil
}

// isSet reports whether a flag was given by any source (flag, environment
// or file).
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
