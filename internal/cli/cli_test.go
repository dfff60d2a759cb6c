package cli_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/vccsync/vccsync/internal/cli"
)

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
		if got := cli.Value(in); got != want {
			t.Errorf("Value(%q) = %s, want %s", in, got, want)
		}
	}
}

// testApp is a binary "tool" with a command "run" whose RunE is fn, its
// flags --name (a setting) and --note (not one), and --org (a setting
// read from VCCSYNC_ORG_LEGACY).
type testApp struct {
	app            *cli.App
	root           *cobra.Command
	stdout, stderr bytes.Buffer
	name, note     string
	org            string
	ran            bool
}

func newTestApp(env map[string]string, fn func() error) *testApp {
	ta := &testApp{}
	ta.app = &cli.App{Name: "tool", Stdin: strings.NewReader(""), Stdout: &ta.stdout, Stderr: &ta.stderr,
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	ta.root = ta.app.Root("a tool", "A tool for tests.")
	run := &cobra.Command{Use: "run [flags] [ARG]", Short: "run it", Args: cli.ExactArgs(1, "one ARG"),
		RunE: func(*cobra.Command, []string) error { ta.ran = true; return fn() }}
	run.Flags().StringVar(&ta.name, "name", "default", "a setting")
	run.Flags().StringVar(&ta.note, "note", "", "an argument")
	run.Flags().StringVar(&ta.org, "org", "", "a setting with an old variable")
	run.Flags().Bool("loud", false, "a switch")
	cli.MarkSettings(run.Flags(), "name")
	cli.MarkSettingEnv(run.Flags(), "org", "VCCSYNC_ORG_LEGACY")
	ta.root.AddCommand(run)
	return ta
}

func (ta *testApp) exec(args ...string) int {
	return ta.app.Execute(context.Background(), ta.root, args)
}

func TestExecuteReportsOneLineAndAHint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		err    error
		code   int
		stderr string
	}{
		{"success", []string{"run", "x"}, nil, 0, ""},
		{"usage error", []string{"run", "x"}, cli.Usagef("--note: too long"), 2, "tool run: --note: too long\nRun 'tool run --help' for usage.\n"},
		{"failure", []string{"run", "x"}, cli.Failf("nats: no servers"), 1, "tool run: nats: no servers\n"},
		{"a plain error is a failure", []string{"run", "x"}, errors.New("boom"), 1, "tool run: boom\n"},
		{"reported already", []string{"run", "x"}, cli.Exit(cli.ExitFail), 1, ""},
		{"several problems", []string{"run", "x"}, cli.Problems([]string{"--a: bad", "--b: worse"}), 2, "tool run: --a: bad\ntool run: --b: worse\nRun 'tool run --help' for usage.\n"},
		{"wrong arguments", []string{"run"}, nil, 2, "tool run: one ARG expected, got 0 arguments\nRun 'tool run --help' for usage.\n"},
		{"unknown flag", []string{"run", "--frob", "x"}, nil, 2, "tool run: unknown flag: --frob\nRun 'tool run --help' for usage.\n"},
		{"bad flag value", []string{"run", "--loud=maybe", "x"}, nil, 2, "tool run: invalid argument \"maybe\" for \"--loud\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax\nRun 'tool run --help' for usage.\n"},
		{"unknown command", []string{"walk"}, nil, 2, "tool: unknown command \"walk\"; commands: run, completion\nRun 'tool --help' for usage.\n"},
		{"a typo", []string{"rum"}, nil, 2, "tool: unknown command \"rum\" (did you mean run?); commands: run, completion\nRun 'tool --help' for usage.\n"},
		{"no command", nil, nil, 2, "tool: missing command; commands: run, completion\nRun 'tool --help' for usage.\n"},
		{"unknown help topic", []string{"help", "walk"}, nil, 2, "tool help: unknown help topic \"walk\"\nRun 'tool help --help' for usage.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ta := newTestApp(nil, func() error { return tc.err })
			if code := ta.exec(tc.args...); code != tc.code || ta.stderr.String() != tc.stderr {
				t.Errorf("exit %d, stderr %q; want %d, %q", code, ta.stderr.String(), tc.code, tc.stderr)
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	ta := newTestApp(nil, nil)
	if code := ta.exec("--version"); code != 0 || !strings.HasPrefix(ta.stdout.String(), "tool ") || !strings.Contains(ta.stdout.String(), "revision") {
		t.Errorf("--version: exit %d, %q", code, ta.stdout.String())
	}
	ta = newTestApp(nil, nil)
	if code := ta.exec("help", "run"); code != 0 || !strings.Contains(ta.stdout.String(), "tool run [flags] [ARG]") || !strings.Contains(ta.stdout.String(), "-h, --help") {
		t.Errorf("help run: exit %d:\n%s", code, ta.stdout.String())
	}
}

func TestGlobalFlagsBeforeOrAfter(t *testing.T) {
	for _, args := range [][]string{
		{"--nats-url", "nats://a:1", "run", "x"},
		{"run", "x", "--nats-url", "nats://a:1"},
		{"run", "--nats-url=nats://a:1", "x"},
		{"-nats-url", "nats://a:1", "run", "x"},
		{"run", "-nats-url=nats://a:1", "x"},
	} {
		ta := newTestApp(nil, func() error { return nil })
		if code := ta.exec(args...); code != 0 || ta.app.NATS.URL != "nats://a:1" {
			t.Errorf("%q: exit %d, --nats-url %q, stderr %s", args, code, ta.app.NATS.URL, ta.stderr.String())
		}
	}
}

func TestSingleDashLeavesValuesAlone(t *testing.T) {
	ta := newTestApp(nil, func() error { return nil })
	if code := ta.exec("run", "-note", "-name", "x", "--", "-loud"); code != 2 {
		t.Fatalf("exit %d, want 2 (two arguments after --)", code)
	}
	ta = newTestApp(nil, func() error { return nil })
	if code := ta.exec("run", "-note", "-name", "-loud", "x"); code != 0 || ta.note != "-name" || ta.name != "default" {
		t.Errorf("exit %d, --note %q, --name %q; want the value -name kept as is\n%s", code, ta.note, ta.name, ta.stderr.String())
	}
}

// TestSettings: flag, then VCCSYNC_* variable, then the configuration file,
// then the default; flags that are no setting come from the command line
// only; nats-listen of the file gives --nats-url.
func TestSettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "worker.yaml")
	if err := os.WriteFile(file, []byte("data-dir: /var/lib/vccsync\nname: from-file\nnote: from-file\norg: 00D-file\nnats-listen: 127.0.0.1:4333\nmapping:\n  defaultTemplate: t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                 string
		env                  map[string]string
		args                 []string
		wantName, wantNote   string
		wantOrg, wantNATSURL string
	}{
		{"defaults", nil, nil, "default", "", "", "nats://127.0.0.1:4222"},
		{"file", nil, []string{"--config", file}, "from-file", "", "00D-file", "nats://127.0.0.1:4333"},
		{"file from VCCSYNC_CONFIG", map[string]string{"VCCSYNC_CONFIG": file}, nil, "from-file", "", "00D-file", "nats://127.0.0.1:4333"},
		{"environment over file", map[string]string{"VCCSYNC_NAME": "from-env", "VCCSYNC_NOTE": "ignored", "VCCSYNC_ORG_LEGACY": "00D-env", "VCCSYNC_ORG": "ignored", "VCCSYNC_NATS_URL": "nats://env:1"},
			[]string{"--config", file}, "from-env", "", "00D-env", "nats://env:1"},
		{"flag over environment", map[string]string{"VCCSYNC_NAME": "from-env", "VCCSYNC_NATS_URL": "nats://env:1"},
			[]string{"--config", file, "--name", "from-flag", "--nats-url", "nats://flag:1"}, "from-flag", "", "00D-file", "nats://flag:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ta := newTestApp(tc.env, func() error { return nil })
			if code := ta.exec(append([]string{"run", "x"}, tc.args...)...); code != 0 {
				t.Fatalf("exit %d: %s", code, ta.stderr.String())
			}
			if ta.name != tc.wantName || ta.note != tc.wantNote || ta.org != tc.wantOrg || ta.app.NATS.URL != tc.wantNATSURL {
				t.Errorf("name %q note %q org %q nats-url %q; want %q %q %q %q", ta.name, ta.note, ta.org, ta.app.NATS.URL, tc.wantName, tc.wantNote, tc.wantOrg, tc.wantNATSURL)
			}
		})
	}

	ta := newTestApp(map[string]string{"VCCSYNC_NAME": ""}, func() error { return nil })
	if code := ta.exec("run", "x", "--config", filepath.Join(dir, "nope.yaml")); code != 2 || !strings.Contains(ta.stderr.String(), "tool run: config: open ") || ta.ran {
		t.Errorf("a missing file: exit %d, ran %v, %s", code, ta.ran, ta.stderr.String())
	}
}
