package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/trove-memory/trove/internal/memory"
)

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

// usageError is a mistake in the command line itself (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// printError writes "error: ..." and, where there is one, "try: ...".
func printError(w io.Writer, err error) {
	fmt.Fprintf(w, "error: %s\n", strings.TrimSpace(err.Error()))
	var he *hintError
	switch {
	case errors.As(err, &he):
		fmt.Fprintf(w, "try: %s\n", he.hint)
	case errors.Is(err, memory.ErrNotFound):
		fmt.Fprintln(w, "try: trove list (ids may be given as a unique prefix of at least 8 characters)")
	case isCobraUsage(err):
		fmt.Fprintln(w, "try: trove --help, or trove <command> --help")
	}
}
