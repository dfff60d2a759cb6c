package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vccsync/vccsync/internal/buildinfo"
	"github.com/vccsync/vccsync/internal/config"
)

func init() {
	// Commands are listed in the order the binary adds them: the most
	// used first, and cmd's actions in the contract's order.
	cobra.EnableCommandSorting = false
}

// App is one run of a binary: its name, its input and output, its
// environment, and the global flags and settings its commands share.
type App struct {
	Name   string // the binary: publisher, vccctl
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// LookupEnv reads the environment; nil: os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Sections are the sections of the configuration file the commands
	// decode themselves (mapping).
	Sections []string

	// NATS are the global connection flags.
	NATS NATS
	// Config is --config; ConfigPath the file read (--config, else
	// VCCSYNC_CONFIG; "" for none) and File that file, once the settings
	// are loaded.
	Config     string
	ConfigPath string
	File       *config.File

	args    []string // the command line, as Execute got it
	started bool     // the settings were loaded: the command itself runs
}

// Args is the command line Execute runs (without the binary's name).
func (a *App) Args() []string { return a.args }

// Getenv reads an environment variable ("" when unset).
func (a *App) Getenv(name string) string {
	v, _ := a.lookupEnv(name)
	return v
}

func (a *App) lookupEnv(name string) (string, bool) {
	if a.LookupEnv != nil {
		return a.LookupEnv(name)
	}
	return os.LookupEnv(name)
}

// Root returns the binary's root command: --version, the global flags,
// the settings loader, one-line errors and a help command that refuses
// unknown topics. The caller adds the subcommands.
func (a *App) Root(short, long string) *cobra.Command {
	if a.Stdin == nil {
		a.Stdin = os.Stdin
	}
	if _, ok := a.Stdout.(*LockedWriter); !ok {
		a.Stdout = &LockedWriter{W: a.Stdout}
	}
	if _, ok := a.Stderr.(*LockedWriter); !ok {
		a.Stderr = &LockedWriter{W: a.Stderr}
	}
	if a.NATS.Name == "" {
		a.NATS.Name = "vccsync-" + a.Name
	}
	root := &cobra.Command{
		Use:               a.Name,
		Short:             short,
		Long:              long,
		Version:           buildinfo.Read().String(),
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: a.load,
	}
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.SetUsageTemplate(usageTemplate)
	root.SetIn(a.Stdin)
	root.SetOut(a.Stdout)
	root.SetErr(a.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return Usage(err) })
	root.SetHelpCommand(helpCommand())
	RequireSubcommand(root, "command")
	pf := root.PersistentFlags()
	a.NATS.Register(pf)
	pf.StringVar(&a.Config, "config", "", "syncworker's YAML configuration `file`: the settings by flag name, and the mapping (env VCCSYNC_CONFIG)")
	return root
}

// load fills the settings of the command about to run from the
// environment and the configuration file (internal/config).
func (a *App) load(c *cobra.Command, _ []string) error {
	a.started = true
	if noSettings(c) {
		return nil
	}
	path := a.Config
	if !c.Flags().Changed("config") {
		path = a.Getenv("VCCSYNC_CONFIG")
	}
	fs := c.Flags()
	file, err := config.Load(settingsOf(fs), path, config.Options{Sections: a.Sections, IgnoreUnknown: true, LookupEnv: a.lookupEnv})
	if err != nil {
		return Usage(err)
	}
	a.ConfigPath, a.File = path, file
	// syncworker's embedded server listens on nats-listen: the address to
	// connect to when nothing else names one.
	if f := fs.Lookup("nats-url"); f != nil && !f.Changed && file != nil {
		var listen string
		if ok, err := file.Decode("nats-listen", &listen); err != nil {
			return Usage(err)
		} else if ok && listen != "" {
			if err := fs.Set("nats-url", "nats://"+listen); err != nil {
				return Usage(err)
			}
		}
	}
	return nil
}

// noSettings reports whether c runs without settings: help and shell
// completion.
func noSettings(c *cobra.Command) bool {
	for p := c; p != nil; p = p.Parent() {
		switch p.Name() {
		case "help", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
			return true
		}
	}
	return false
}

// Execute runs the command line args (without the binary's name) and
// returns the exit status. An error is printed as one line per line of
// the error, each "<command path>: <line>", and, for a usage error, a
// hint: "Run '<command path> --help' for usage."
func (a *App) Execute(ctx context.Context, root *cobra.Command, args []string) int {
	a.args = singleDash(root, args)
	root.SetArgs(a.args)
	c, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	code := Code(err)
	var e *ExitError
	isExit := errors.As(err, &e)
	switch {
	case isExit && e.Err == nil:
		return e.Code
	case !isExit && !a.started:
		code = ExitUsage // cobra's own: an unknown command, wrong arguments
	}
	path := a.Name
	if c != nil {
		path = c.CommandPath()
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if strings.TrimSpace(line) != "" {
			fmt.Fprintf(a.Stderr, "%s: %s\n", path, line)
		}
	}
	if code == ExitUsage {
		fmt.Fprintf(a.Stderr, "Run '%s --help' for usage.\n", path)
	}
	return code
}

// RequireSubcommand makes a command that only groups subcommands refuse
// to run without one, or with an unknown one, as a usage error (cobra
// would print the help and exit 0). noun names them in the message.
func RequireSubcommand(c *cobra.Command, noun string) {
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2
	}
	c.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return Usagef("unknown %s %q%s; %ss: %s", noun, args[0], suggest(c, args[0]), noun, subcommands(c))
		}
		return nil
	}
	c.RunE = func(c *cobra.Command, _ []string) error {
		return Usagef("missing %s; %ss: %s", noun, noun, subcommands(c))
	}
}

// suggest is " (did you mean X?)" for a mistyped subcommand, or "".
func suggest(c *cobra.Command, arg string) string {
	if s := c.SuggestionsFor(arg); len(s) > 0 {
		return " (did you mean " + strings.Join(s, " or ") + "?)"
	}
	return ""
}

// subcommands lists the names of c's subcommands, help excepted.
func subcommands(c *cobra.Command) string {
	var names []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() && s.Name() != "help" {
			names = append(names, s.Name())
		}
	}
	return strings.Join(names, ", ")
}

// helpCommand is `help [command]`: the help of a command; an unknown one
// is a usage error.
func helpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help prints the help of any command: what it does, its flags and its exit statuses.",
		ValidArgsFunction: func(c *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			cmd, _, err := c.Root().Find(args)
			if err != nil || cmd == nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []cobra.Completion
			for _, s := range cmd.Commands() {
				if s.IsAvailableCommand() {
					names = append(names, cobra.CompletionWithDesc(s.Name(), s.Short))
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || cmd == nil || len(rest) > 0 {
				return Usagef("unknown help topic %q", strings.Join(args, " "))
			}
			cmd.InitDefaultHelpFlag()
			cmd.InitDefaultVersionFlag()
			return cmd.Help()
		},
	}
}

// singleDash rewrites -name and -name=value, where name is a long flag of
// the command tree, into --name: the Go flag package accepts one dash, and
// scripts written for it keep working. The value of a flag is left alone,
// and so is everything after "--".
func singleDash(root *cobra.Command, args []string) []string {
	takesValue := map[string]bool{"help": false, "version": false}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) { takesValue[f.Name] = takesValue[f.Name] || f.NoOptDefVal == "" })
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	out := make([]string, 0, len(args))
	value := false // the previous word was a flag that takes this one as its value
	for i, arg := range args {
		if arg == "--" && !value {
			return append(out, args[i:]...)
		}
		if value {
			value = false
			out = append(out, arg)
			continue
		}
		name, dashes := "", 0
		switch {
		case strings.HasPrefix(arg, "--"):
			name, dashes = arg[2:], 2
		case strings.HasPrefix(arg, "-") && len(arg) > 2:
			name, dashes = arg[1:], 1
		}
		name, _, hasValue := strings.Cut(name, "=")
		if takes, ok := takesValue[name]; ok && name != "" {
			if dashes == 1 {
				arg = "-" + arg
			}
			value = takes && !hasValue
		}
		out = append(out, arg)
	}
	return out
}

// usageTemplate is cobra's, except that a command that only groups
// subcommands shows "<path> <command>" alone as its usage line.
const usageTemplate = `Usage:{{if and .Runnable (not .HasAvailableSubCommands)}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} <command> [flags]{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}

Commands:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasHelpSubCommands}}

Additional help topics:{{range .Commands}}{{if .IsAdditionalHelpTopicCommand}}
  {{rpad .CommandPath .CommandPathPadding}} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} <command> --help" for more information about a command.{{end}}
`
