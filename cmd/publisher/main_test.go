package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs publisher with args and returns its exit status and output.
func runCLI(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var stdout, stderr bytes.Buffer
	code := run(args, stdin, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	unreadable := filepath.Join(dir, "unreadable.jsonl")
	if err := os.WriteFile(unreadable, []byte("{}\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stdout     []string // each must appear in stdout
		stderr     []string // each must appear in stderr
		skipAsRoot bool
	}{
		{name: "no command", args: nil, code: 2, stderr: []string{"publisher: missing command", "usage: publisher <command>", "publish "}},
		{name: "help", args: []string{"help"}, code: 0, stdout: []string{"usage: publisher <command>", "publish    publish events"}},
		{name: "-h", args: []string{"-h"}, code: 0, stdout: []string{"usage: publisher <command>", "publish "}},
		{name: "--help", args: []string{"--help"}, code: 0, stdout: []string{"usage: publisher <command>"}},
		{name: "help publish", args: []string{"help", "publish"}, code: 0, stdout: []string{"usage: publisher publish [flags] FILE|-", "-msg-id-suffix S", "-nats-url", "-timeout"}},
		{name: "help unknown", args: []string{"help", "frobnicate"}, code: 2, stderr: []string{`publisher: unknown command "frobnicate"`, "usage: publisher <command>"}},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: []string{`publisher: unknown command "frobnicate"`, "usage: publisher <command>"}},
		{name: "publish -h", args: []string{"publish", "-h"}, code: 0, stdout: []string{"usage: publisher publish [flags] FILE|-", "Nats-Msg-Id = id+S", "VCCSYNC_NATS_URL", "VCCSYNC_NATS_CREDS"}},
		{name: "publish without file", args: []string{"publish"}, code: 2, stderr: []string{"publisher publish: missing FILE (or - for stdin)", "usage: publisher publish"}},
		{name: "publish two files", args: []string{"publish", "a.jsonl", "b.jsonl"}, code: 2, stderr: []string{"one FILE expected, got 2 arguments", "usage: publisher publish"}},
		{name: "publish unknown flag", args: []string{"publish", "--frob", "x.jsonl"}, code: 2, stderr: []string{"flag provided but not defined: -frob", "usage: publisher publish"}},
		{name: "publish bad timeout", args: []string{"publish", "--timeout", "0s", "-"}, code: 2, stderr: []string{"--timeout 0s: must be positive"}},
		{name: "publish missing file", args: []string{"publish", filepath.Join(dir, "nope.jsonl")}, code: 2, stderr: []string{"open input: open " + filepath.Join(dir, "nope.jsonl") + ": no such file or directory", "usage: publisher publish"}},
		{name: "publish directory", args: []string{"publish", dir}, code: 2, stderr: []string{"open input: " + dir + " is a directory", "usage: publisher publish"}},
		{name: "publish unreadable file", args: []string{"publish", unreadable}, code: 2, stderr: []string{"permission denied", "usage: publisher publish"}, skipAsRoot: true},
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
		})
	}
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		pos     []string
		timeout string
	}{
		{args: []string{"f.jsonl"}, pos: []string{"f.jsonl"}},
		{args: []string{"--timeout", "3s", "f.jsonl"}, pos: []string{"f.jsonl"}, timeout: "3s"},
		{args: []string{"f.jsonl", "--timeout", "3s"}, pos: []string{"f.jsonl"}, timeout: "3s"},
		{args: []string{"-", "-timeout=3s"}, pos: []string{"-"}, timeout: "3s"},
		{args: []string{"a", "--timeout", "3s", "b"}, pos: []string{"a", "b"}, timeout: "3s"},
		{args: []string{"--", "--timeout", "3s"}, pos: []string{"--timeout", "3s"}},
		{args: []string{"a", "--", "-b"}, pos: []string{"a", "-b"}},
		{args: nil, pos: nil},
	} {
		fs := newFlagSet("test")
		timeout := fs.String("timeout", "", "")
		pos, err := parseArgs(fs, tc.args)
		if err != nil {
			t.Errorf("parseArgs(%q): %v", tc.args, err)
			continue
		}
		if strings.Join(pos, "|") != strings.Join(tc.pos, "|") || len(pos) != len(tc.pos) || *timeout != tc.timeout {
			t.Errorf("parseArgs(%q) = %q, timeout %q; want %q, timeout %q", tc.args, pos, *timeout, tc.pos, tc.timeout)
		}
	}
}

func TestValue(t *testing.T) {
	for in, want := range map[string]string{
		"04l5e00000AbCdEAAV":                  "04l5e00000AbCdEAAV",
		"cdc-0055e000001JaneAAC-0a1b":         "cdc-0055e000001JaneAAC-0a1b",
		"vccsync.user.0055e000001JaneAAC.cmd": "vccsync.user.0055e000001JaneAAC.cmd",
		"":                                    `""`,
		"a b":                                 `"a b"`,
		"a=b":                                 `"a=b"`,
		`a"b`:                                 `"a\"b"`,
		"a\nb":                                `"a\nb"`,
	} {
		if got := value(in); got != want {
			t.Errorf("value(%q) = %s, want %s", in, got, want)
		}
	}
}
