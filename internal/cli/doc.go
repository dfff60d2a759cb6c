// Package cli is what vccsync's command-line binaries share — publisher
// (the bridge) and vccctl (the operator CLI) — so that they behave alike:
//
//   - [App] builds a cobra root command: --version (internal/buildinfo),
//     the persistent NATS flags (--nats-url, --nats-creds, --nats-ca,
//     --nats-cert, --nats-key) and --config, accepted before or after the
//     subcommand; shell completion (cobra's `completion bash|zsh|fish`);
//     and [App.Execute], which prints an error as ONE line
//     "<binary> <command>: <error>" (one line per problem), followed by
//     "Run '<binary> <command> --help' for usage." for a usage error,
//     never the whole usage, and returns the exit status.
//   - Exit statuses: [ExitOK] 0, [ExitFail] 1 (something failed or was
//     refused, or NATS was unusable), [ExitUsage] 2 (bad command line or
//     configuration). A command returns a [*ExitError] to choose one.
//   - Settings: a flag marked with [MarkSettings] is filled, when not given
//     on the command line, from its VCCSYNC_* environment variable, else
//     from the configuration file (--config, or VCCSYNC_CONFIG), else it
//     keeps its default — through internal/config, the one loader of every
//     binary. The file is syncworker's: keys that are no setting of the
//     command are ignored, and its nats-listen gives --nats-url when nothing
//     else does (the embedded server's address).
//   - [NATS] connects (pkg/bus) and checks the VCCSYNC stream is there;
//     [Value] quotes a value of a key=value output line; [LockedWriter]
//     serialises output written from NATS callbacks.
//
// Caveats: settings are read once, before the command runs, and only for
// the command that runs. Flags written the Go flag package's way with one
// dash (-nats-url) are still understood: [App.Execute] rewrites a
// single-dash word that names a long flag of the command tree.
package cli
