package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/preflight"
)

// checkCommand is `vccctl check`: syncworker's start-up checks
// (preflight.Startup, as syncworker --check runs them) from the same
// configuration file.
func checkCommand(a *cli.App) *cobra.Command {
	var (
		v       vccSettings
		sf      cli.Salesforce
		timeout time.Duration
	)
	c := &cobra.Command{
		Use:   "check --config FILE [flags]",
		Short: "run syncworker's start-up checks: VCC access, template users, regions, Salesforce",
		Long: `Runs the start-up checks syncworker runs before it reports ready (and
syncworker --check runs), with the mapping of the configuration file
(--config) and its VCC and Salesforce settings (read as reconcile reads
them: flag, VCCSYNC_* variable, then the file), one line per check:
  vcc-access     VCC grants the token and answers a read of the user list
  vcc-templates  every template user of the mapping exists and can be read
                 with its skills, groups, callback numbers and permissions
  vcc-regions    the mapping's telephony-region GUIDs are ones VCC users carry
                 (one that no user carries yet is a warning)
  salesforce     Salesforce grants the token and shows every User field
                 vccsync reads (when Salesforce is configured)
Nothing is written.

Exit status: 0 every check passed, 1 a check failed, 2 usage or
configuration error.`,
		Args: cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			m, err := loadMapping(a)
			if err != nil {
				return cli.Usage(err)
			}
			vc, err := v.client(a.Getenv)
			if err != nil {
				return cli.Usage(err)
			}
			var sfc preflight.Salesforce
			switch {
			case sf.Configured():
				client, err := sf.Client(a.Getenv, a.Stderr)
				if err != nil {
					return cli.Usage(err)
				}
				sfc = client
			case m.ManagesContactCenters():
				return cli.Usagef("the mapping names contact centers, which live in Salesforce: give --sf-url, --sf-client-id and the secret (or --config with them)")
			}
			suite := preflight.Startup(timeout, vc, m.TemplateUsernames(), m.TelephonyRegions, sfc)
			if !preflight.Print(a.Stdout, suite.Run(c.Context())) {
				return cli.Exit(cli.ExitFail)
			}
			return nil
		},
	}
	fs := c.Flags()
	v.register(fs)
	sf.Register(fs, "")
	sf.RegisterJWT(fs)
	fs.DurationVar(&timeout, "timeout", 30*time.Second, "how long each check may take")
	return c
}
