package dispatch

import (
	"errors"
	"fmt"
)

// Exit codes: 0 success, 1 the command failed, 2 it was called wrongly.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// UsageError is a mistake in how a command was called: a missing argument,
// an unknown flag or subcommand, a malformed value. It exits 2.
type UsageError struct {
	// Path is the command path whose --help explains the fix.
	Path string
	Err  error
}

func (e *UsageError) Error() string { return e.Err.Error() }

func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError for the command being run; Run fills in the
// path when it is empty.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitCode maps an error returned by Run to the process exit code.
func ExitCode(err error) int {
	var u *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &u):
		return ExitUsage
	default:
		return ExitError
	}
}
