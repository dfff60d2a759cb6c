package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// Exit statuses, the same for every vccsync binary.
const (
	ExitOK    = 0 // success
	ExitFail  = 1 // something was rejected, refused or failed, or NATS was unusable
	ExitUsage = 2 // bad command line, configuration or unreadable input
)

// ExitError is an error with the exit status it ends the command with. A
// nil Err means the command has said everything already: nothing more is
// printed.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Usage marks err as a usage error (exit status 2, with the help hint).
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: ExitUsage, Err: err}
}

// Usagef is Usage of a formatted error.
func Usagef(format string, args ...any) error { return Usage(fmt.Errorf(format, args...)) }

// Fail marks err as a failure (exit status 1).
func Fail(err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: ExitFail, Err: err}
}

// Failf is Fail of a formatted error.
func Failf(format string, args ...any) error { return Fail(fmt.Errorf(format, args...)) }

// Exit ends the command with code after it has reported what happened
// itself; code 0 is no error.
func Exit(code int) error {
	if code == ExitOK {
		return nil
	}
	return &ExitError{Code: code}
}

// Problems is a usage error of several problems, one line each.
func Problems(problems []string) error {
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = errors.New(p)
	}
	return Usage(errors.Join(errs...))
}

// Code is the exit status of err: ExitOK for nil, the ExitError's code, or
// ExitFail.
func Code(err error) int {
	var e *ExitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &e):
		return e.Code
	}
	return ExitFail
}

// ExactArgs accepts exactly n positional arguments, what names them in
// the refusal ("one Salesforce user ID").
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return Usagef("%s expected, got %d arguments%s", what, len(args), quoted(args))
		}
		return nil
	}
}

// NoArgs accepts no positional argument.
func NoArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("no arguments expected, got %q", args)
	}
	return nil
}

func quoted(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return fmt.Sprintf(": %q", args)
}
