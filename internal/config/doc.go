// Package config fills a binary's settings from, in order of precedence,
// the command line, the environment (VCCSYNC_<NAME>, the flag name in
// upper case with - as _), the YAML configuration file (keys are the flag
// names), and the flag's default. Every vccsync binary loads its settings
// through it, so the rule is the same everywhere.
//
// Errors name the setting, the value, the expected type and where the
// value came from — the environment variable, or the file and its line:
//
//	config /etc/vccsync/vccsync.yaml:12: vcc-rate: "fast" is not an integer
//	VCCSYNC_ACK_WAIT="30": ack-wait: want a duration such as 30s or 5m
//
// A file may hold sections that are not flags (the mapping): the caller
// names them and decodes them with File.Decode, whose errors carry the
// line too. A key that is neither a flag nor a named section is an error
// (a misspelt setting must not be ignored silently), unless the caller
// reads another binary's file (IgnoreUnknown).
//
// Caveats: secrets never come from the file or a flag's default here; the
// binaries read them from files or the environment themselves. Only
// scalar settings (strings, numbers, booleans, durations) are filled from
// the file; a list or mapping under a flag's name is an error.
package config
