package config_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vccsync/vccsync/internal/config"
)

type opts struct {
	rate  int
	wait  time.Duration
	name  string
	debug bool
}

func flags(t *testing.T, args ...string) (*flag.FlagSet, *opts) {
	t.Helper()
	var o opts
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.IntVar(&o.rate, "vcc-rate", 160, "")
	fs.DurationVar(&o.wait, "ack-wait", 30*time.Second, "")
	fs.StringVar(&o.name, "name", "default", "")
	fs.BoolVar(&o.debug, "debug", false, "")
	fs.String("config", "", "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs, &o
}

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vccsync.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func TestPrecedence(t *testing.T) {
	path := write(t, "vcc-rate: 600\nack-wait: 1m\nname: from-file\nmapping:\n  defaultTemplate: t@x\n")
	fs, o := flags(t, "--name", "from-flag")
	f, err := config.Load(config.FromFlagSet(fs), path, config.Options{Sections: []string{"mapping"}, Skip: []string{"config"},
		LookupEnv: env(map[string]string{"VCCSYNC_ACK_WAIT": "2m", "VCCSYNC_NAME": "from-env"})})
	if err != nil {
		t.Fatal(err)
	}
	if o.name != "from-flag" || o.wait != 2*time.Minute || o.rate != 600 || o.debug {
		t.Errorf("got %+v: want the flag's name, the environment's ack-wait, the file's rate, the default debug", *o)
	}
	var m struct {
		DefaultTemplate string `yaml:"defaultTemplate"`
	}
	if ok, err := f.Decode("mapping", &m); !ok || err != nil || m.DefaultTemplate != "t@x" {
		t.Errorf("mapping %+v %v %v", m, ok, err)
	}
}

func TestErrorsNameSettingValueTypeAndLine(t *testing.T) {
	path := write(t, "# a comment\nvcc-rate: fast\nack-wait: 30\nnmae: x\ndebug: [1]\n")
	fs, _ := flags(t)
	_, err := config.Load(config.FromFlagSet(fs), path, config.Options{Skip: []string{"config"},
		LookupEnv: env(map[string]string{"VCCSYNC_DEBUG": "maybe"})})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		path + `:2: vcc-rate: "fast": want a whole number`,
		path + `:3: ack-wait: "30": want a duration such as 30s`,
		path + `:4: unknown setting "nmae"`,
		`VCCSYNC_DEBUG="maybe": debug: want true or false`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestSectionErrorsCarryTheLine(t *testing.T) {
	path := write(t, "mapping:\n  agentIdStart: many\n")
	fs, _ := flags(t)
	f, err := config.Load(config.FromFlagSet(fs), path, config.Options{Sections: []string{"mapping"}, Skip: []string{"config"}, LookupEnv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		AgentIDStart int `yaml:"agentIdStart"`
	}
	_, err = f.Decode("mapping", &m)
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "many") {
		t.Errorf("error %v: want line 2 and the value", err)
	}
}

func TestIgnoreUnknownAndEmptyFile(t *testing.T) {
	fs, o := flags(t)
	if _, err := config.Load(config.FromFlagSet(fs), write(t, "other-binary-setting: 1\nvcc-rate: 42\n"), config.Options{IgnoreUnknown: true, LookupEnv: env(nil)}); err != nil || o.rate != 42 {
		t.Errorf("rate %d err %v", o.rate, err)
	}
	fs, o = flags(t)
	if _, err := config.Load(config.FromFlagSet(fs), write(t, ""), config.Options{LookupEnv: env(nil)}); err != nil || o.rate != 160 {
		t.Errorf("empty file: rate %d err %v", o.rate, err)
	}
	fs, _ = flags(t)
	if _, err := config.Load(config.FromFlagSet(fs), write(t, "- a\n- b\n"), config.Options{LookupEnv: env(nil)}); err == nil || !strings.Contains(err.Error(), "not a list") {
		t.Errorf("a list as the file: %v", err)
	}
}

// TestSettingEnv: a setting with an environment variable of its own is
// read from it, not from the rule's name.
func TestSettingEnv(t *testing.T) {
	fs, o := flags(t)
	settings := config.FromFlagSet(fs)
	for i := range settings {
		if settings[i].Name == "name" {
			settings[i].Env = "VCCSYNC_SF_ORG_ID"
		}
	}
	if _, err := config.Load(settings, "", config.Options{LookupEnv: env(map[string]string{"VCCSYNC_NAME": "rule", "VCCSYNC_SF_ORG_ID": "own"})}); err != nil || o.name != "own" {
		t.Errorf("name %q, %v; want own (VCCSYNC_SF_ORG_ID)", o.name, err)
	}
	_, err := config.Load(settings, "", config.Options{LookupEnv: env(map[string]string{"VCCSYNC_SF_ORG_ID": "x", "VCCSYNC_VCC_RATE": "fast"})})
	if err == nil || err.Error() != `VCCSYNC_VCC_RATE="fast": vcc-rate: want a whole number` {
		t.Errorf("error %v", err)
	}
}
