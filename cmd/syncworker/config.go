package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/vccsync/vccsync/internal/config"
	"github.com/vccsync/vccsync/pkg/handlers"
)

// loadConfig fills every flag not given on the command line from its
// VCCSYNC_* environment variable, then from the configuration file (see
// internal/config), and returns the file's mapping (nil when absent).
func loadConfig(fs *flag.FlagSet, path string) (*handlers.Mapping, error) {
	f, err := config.Load(config.FromFlagSet(fs), path, config.Options{Sections: []string{"mapping"}, Skip: []string{"config"}})
	if err != nil {
		return nil, err
	}
	var m handlers.Mapping
	if ok, err := f.Decode("mapping", &m); err != nil || !ok {
		return nil, err
	}
	return &m, nil
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
