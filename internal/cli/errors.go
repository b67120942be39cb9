package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
)

// Exit codes: one table for every command, so a script can tell a missing
// memory or a stale revision from a broken store. README documents it.
const (
	ExitOK          = 0 // success
	ExitFailure     = 1 // anything else: the store, a provider, a file, partial failure of a batch
	ExitUsage       = 2 // a mistake in the command line or its values (invalid_argument)
	ExitNotFound    = 3 // no such memory, or no store at the path (not_found)
	ExitConflict    = 4 // the memory changed since it was read, or the id exists (conflict)
	ExitDenied      = 5 // a scope this caller may not write (scope_access_denied)
	ExitUnavailable = 6 // busy or down: the write lock, a provider; retrying later may work (unavailable)
)

// ExitCode maps an error to the exit code table above.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ue *usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return ExitUsage
	}
	var ns *service.NoStoreError
	var oe *openError
	switch {
	case errors.As(err, &ns):
		return ExitNotFound
	case errors.As(err, &oe), storeProblem(err):
		// The store itself is unusable (not a trove store, written by a
		// newer trove, unreadable): not a mistake in the request, and
		// retrying will not help.
		return ExitFailure
	}
	switch service.ErrorOf(err).Code {
	case service.CodeInvalid:
		return ExitUsage
	case service.CodeNotFound:
		return ExitNotFound
	case service.CodeConflict:
		return ExitConflict
	case service.CodeScopeDenied:
		return ExitDenied
	case service.CodeUnavailable:
		return ExitUnavailable
	}
	return ExitFailure
}

// storeProblem is a failure of the store as a whole, which its owner (the
// CLI's user) must fix: the service's message to remote callers says to
// tell the owner, the CLI says what is wrong.
func storeProblem(err error) bool {
	return errors.Is(err, memory.ErrStoreNewer) || errors.Is(err, memory.ErrDimensions)
}

// hintError carries a "try:" line for the user.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

func withHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &hintError{err: err, hint: hint}
}

// openError is a failure to open the store or set up a provider.
type openError struct{ err error }

func (e *openError) Error() string { return e.err.Error() }
func (e *openError) Unwrap() error { return e.err }

// usageError is a mistake in the command line itself (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// printError writes "error: ..." and, where there is one, "try: ...". The
// message is the service's: the same words REST and MCP send.
func printError(w io.Writer, err error) {
	msg := err.Error()
	var he *hintError
	var ue *usageError
	var oe *openError
	if !errors.As(err, &he) && !errors.As(err, &ue) && !errors.As(err, &oe) && !storeProblem(err) && !isCobraUsage(err) {
		msg = service.ErrorOf(err).Message
	}
	fmt.Fprintf(w, "error: %s\n", strings.TrimSpace(msg))
	switch se := service.ErrorOf(err); {
	case he != nil:
		fmt.Fprintf(w, "try: %s\n", he.hint)
	case se.Hint != "":
		fmt.Fprintf(w, "try: %s\n", se.Hint)
	case isCobraUsage(err):
		fmt.Fprintln(w, "try: trove --help, or trove <command> --help")
	}
}

func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "invalid argument", "flag needs an argument", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
