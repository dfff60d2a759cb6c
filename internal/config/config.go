package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Setting is one flag of a binary, as the loader sees it.
type Setting struct {
	Name string
	// Type is the value's type for messages: "string", "int", "bool",
	// "duration", "float64", ...
	Type string
	// Given reports whether the command line set it.
	Given bool
	// Set parses and stores a value.
	Set func(string) error
	// Env is the setting's environment variable when it is not the rule's
	// EnvName(prefix, Name) (a name kept for compatibility, e.g.
	// VCCSYNC_SF_ORG_ID for org-id).
	Env string
}

// FromFlagSet returns the settings of a standard library FlagSet, after
// Parse. A value the loader sets goes through fs.Set, so fs.Visit then
// counts the setting as given, whatever its source.
func FromFlagSet(fs *flag.FlagSet) []Setting {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var out []Setting
	fs.VisitAll(func(f *flag.Flag) {
		name := f.Name
		out = append(out, Setting{Name: name, Type: typeOf(f.Value), Given: given[name], Set: func(v string) error { return fs.Set(name, v) }})
	})
	return out
}

// typeOf names the type of a flag.Value for messages.
func typeOf(v flag.Value) string {
	if t, ok := v.(interface{ Type() string }); ok {
		return t.Type()
	}
	g, ok := v.(flag.Getter)
	if !ok {
		return "value"
	}
	switch g.Get().(type) {
	case time.Duration:
		return "duration"
	case nil:
		return "value"
	}
	return reflect.TypeOf(g.Get()).String()
}

// Options are what a binary tells Load.
type Options struct {
	// EnvPrefix prefixes environment variables; default "VCCSYNC_".
	EnvPrefix string
	// Sections are top-level keys of the file that are not flags (e.g.
	// "mapping"); File.Decode reads them.
	Sections []string
	// Skip are settings never filled from the environment or the file
	// (e.g. "config" itself).
	Skip []string
	// IgnoreUnknown accepts keys of the file that are neither flags nor
	// sections: the file belongs to another binary too.
	IgnoreUnknown bool
	// LookupEnv reads the environment; default os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// EnvName is the environment variable of a setting: prefix + NAME with -
// as _.
func EnvName(prefix, name string) string {
	if prefix == "" {
		prefix = "VCCSYNC_"
	}
	return prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// File is a loaded configuration file.
type File struct {
	Path string
	keys map[string]*yaml.Node // top-level key → value node
	line map[string]int        // top-level key → line of the key
}

// Decode decodes a section of the file into out; out is left as it is
// when the file has no such section. Errors carry the file and line.
func (f *File) Decode(section string, out any) (bool, error) {
	if f == nil {
		return false, nil
	}
	n, ok := f.keys[section]
	if !ok || n.Tag == "!!null" {
		return false, nil
	}
	if err := n.Decode(out); err != nil {
		return true, fmt.Errorf("config %s: %s: %w", f.Path, section, err)
	}
	return true, nil
}

// Has reports whether the file has the top-level key.
func (f *File) Has(key string) bool {
	if f == nil {
		return false
	}
	_, ok := f.keys[key]
	return ok
}

// Load fills every setting not given on the command line from its
// environment variable, else from the file at path ("" for none), and
// returns the file (nil when path is ""). All errors are returned
// together.
func Load(settings []Setting, path string, o Options) (*File, error) {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	var file *File
	if path != "" {
		var err error
		if file, err = readFile(path); err != nil {
			return nil, err
		}
	}
	byName := map[string]Setting{}
	for _, s := range settings {
		byName[s.Name] = s
	}
	var errs []error
	if file != nil && !o.IgnoreUnknown {
		for k := range file.keys {
			_, isFlag := byName[k]
			if (!isFlag || contains(o.Skip, k)) && !contains(o.Sections, k) {
				errs = append(errs, fmt.Errorf("config %s:%d: unknown setting %q (settings are the flag names of -h%s)", path, file.line[k], k, sectionsHint(o.Sections)))
			}
		}
	}
	for _, s := range settings {
		if s.Given || contains(o.Skip, s.Name) {
			continue
		}
		env := s.Env
		if env == "" {
			env = EnvName(o.EnvPrefix, s.Name)
		}
		if v, ok := o.LookupEnv(env); ok {
			if err := s.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %s: %s", env, v, s.Name, want(s.Type, err)))
			}
			continue
		}
		if file == nil {
			continue
		}
		n, ok := file.keys[s.Name]
		if !ok || n.Tag == "!!null" {
			continue
		}
		if n.Kind != yaml.ScalarNode {
			errs = append(errs, fmt.Errorf("config %s:%d: %s: want a single %s, not a list or mapping", path, n.Line, s.Name, s.Type))
			continue
		}
		if err := s.Set(n.Value); err != nil {
			errs = append(errs, fmt.Errorf("config %s:%d: %s: %q: %s", path, n.Line, s.Name, n.Value, want(s.Type, err)))
		}
	}
	return file, errors.Join(errs...)
}

func readFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	f := &File{Path: path, keys: map[string]*yaml.Node{}, line: map[string]int{}}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // an empty file
			return f, nil
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return f, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config %s:%d: want a mapping of settings (key: value), not a %s", path, root.Line, kindName(root.Kind))
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if _, dup := f.keys[k.Value]; dup {
			return nil, fmt.Errorf("config %s:%d: %q is set twice (first at line %d)", path, k.Line, k.Value, f.line[k.Value])
		}
		f.keys[k.Value], f.line[k.Value] = v, k.Line
	}
	return f, nil
}

// want says what a setting of type typ expects, after err from its Set.
func want(typ string, err error) string {
	switch typ {
	case "int", "int64", "uint", "uint64":
		return "want a whole number"
	case "float64":
		return "want a number"
	case "bool":
		return "want true or false"
	case "duration":
		return "want a duration such as 30s, 5m or 1h30m"
	}
	return err.Error()
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "single value"
	}
	return "document"
}

func sectionsHint(sections []string) string {
	if len(sections) == 0 {
		return ""
	}
	return ", and " + strings.Join(sections, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
