package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	unreadable := filepath.Join(dir, "unreadable.jsonl")
	if err := os.WriteFile(unreadable, []byte("{}\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	const hint = "Run 'publisher publish --help' for usage.\n"
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stdout     []string // each must appear in stdout
		stderr     []string // each must appear in stderr
		skipAsRoot bool
	}{
		{name: "no command", args: nil, code: 2, stderr: []string{"publisher: missing command; commands: publish, cdc, serve", "Run 'publisher --help' for usage."}},
		{name: "help", args: []string{"help"}, code: 0, stdout: []string{"publisher is the bridge of vccsync", "  publish     publish events"}},
		{name: "-h", args: []string{"-h"}, code: 0, stdout: []string{"publisher is the bridge", "Exit status:"}},
		{name: "--help", args: []string{"--help"}, code: 0, stdout: []string{"publisher is the bridge"}},
		{name: "--version", args: []string{"--version"}, code: 0, stdout: []string{"publisher ", "revision"}},
		{name: "help publish", args: []string{"help", "publish"}, code: 0, stdout: []string{"publisher publish [flags] FILE|-", "--msg-id-suffix S", "--nats-url", "--timeout"}},
		{name: "help unknown", args: []string{"help", "frobnicate"}, code: 2, stderr: []string{`publisher help: unknown help topic "frobnicate"`}},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: []string{`publisher: unknown command "frobnicate"; commands: publish, cdc, serve`, "Run 'publisher --help' for usage."}},
		{name: "an operator command", args: []string{"dlq", "list"}, code: 2, stderr: []string{`publisher: "dlq" is an operator command, vccctl's: vccctl dlq list`}},
		{name: "publish -h", args: []string{"publish", "-h"}, code: 0, stdout: []string{"publisher publish [flags] FILE|-", "Nats-Msg-Id = id+S", "VCCSYNC_NATS_URL", "VCCSYNC_NATS_CREDS"}},
		{name: "publish without file", args: []string{"publish"}, code: 2, stderr: []string{"publisher publish: missing FILE (or - for stdin)\n" + hint}},
		{name: "publish two files", args: []string{"publish", "a.jsonl", "b.jsonl"}, code: 2, stderr: []string{"one FILE expected, got 2 arguments", hint}},
		{name: "publish unknown flag", args: []string{"publish", "--frob", "x.jsonl"}, code: 2, stderr: []string{"publisher publish: unknown flag: --frob\n" + hint}},
		{name: "publish bad timeout", args: []string{"publish", "--timeout", "0s", "-"}, code: 2, stderr: []string{"--timeout 0s: must be positive"}},
		{name: "publish missing file", args: []string{"publish", filepath.Join(dir, "nope.jsonl")}, code: 2, stderr: []string{"open input: open " + filepath.Join(dir, "nope.jsonl") + ": no such file or directory", hint}},
		{name: "publish directory", args: []string{"publish", dir}, code: 2, stderr: []string{"open input: " + dir + " is a directory", hint}},
		{name: "publish unreadable file", args: []string{"publish", unreadable}, code: 2, stderr: []string{"permission denied", hint}, skipAsRoot: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skipAsRoot && os.Geteuid() == 0 {
				t.Skip("root can read any file")
			}
			code, stdout, stderr := runCLI(t, nil, tc.args...)
			if code != tc.code {
				t.Errorf("exit status = %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout does not contain %q:\n%s", want, stdout)
				}
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not contain %q:\n%s", want, stderr)
				}
			}
			if tc.code == 0 && stderr != "" {
				t.Errorf("stderr = %q, want nothing", stderr)
			}
			if tc.code != 0 && stdout != "" {
				t.Errorf("stdout = %q, want nothing on a usage error", stdout)
			}
			if tc.code == 2 && strings.Count(stderr, "\n") > 3 {
				t.Errorf("stderr has %d lines, want the error and a hint, not the usage:\n%s", strings.Count(stderr, "\n"), stderr)
			}
		})
	}
}
