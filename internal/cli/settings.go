package cli

import (
	"github.com/spf13/pflag"

	"github.com/vccsync/vccsync/internal/config"
)

// settingKey is the pflag annotation that marks a flag as a setting; its
// value is the environment variable when it is not the rule's.
const settingKey = "vccsync_setting"

// MarkSettings marks flags of fs as settings: filled from VCCSYNC_<NAME>
// and the configuration file when not given on the command line. A flag
// that is not one (an argument of one run: --user, --yes, --dry-run) is
// read from the command line only.
func MarkSettings(fs *pflag.FlagSet, names ...string) {
	for _, n := range names {
		if err := fs.SetAnnotation(n, settingKey, nil); err != nil {
			panic(err) // a flag the binary does not register: a programming error
		}
	}
}

// MarkSettingEnv marks a flag as a setting read from the environment
// variable env (a name kept for compatibility) instead of VCCSYNC_<NAME>.
func MarkSettingEnv(fs *pflag.FlagSet, name, env string) {
	if err := fs.SetAnnotation(name, settingKey, []string{env}); err != nil {
		panic(err)
	}
}

// settingsOf returns the settings among the flags of fs, for
// config.Load. A value the loader sets marks the flag changed, whatever
// its source.
func settingsOf(fs *pflag.FlagSet) []config.Setting {
	var out []config.Setting
	fs.VisitAll(func(f *pflag.Flag) {
		ann, ok := f.Annotations[settingKey]
		if !ok {
			return
		}
		s := config.Setting{Name: f.Name, Type: f.Value.Type(), Given: f.Changed, Set: func(v string) error {
			if err := f.Value.Set(v); err != nil {
				return err
			}
			f.Changed = true
			return nil
		}}
		if len(ann) > 0 {
			s.Env = ann[0]
		}
		out = append(out, s)
	})
	return out
}
