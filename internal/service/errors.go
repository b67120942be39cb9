package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
)

// Code classifies an error for a remote caller. MCP tool errors and REST
// error bodies carry it as {"error":{"code":..., "message":...}}.
type Code string

const (
	CodeNotFound     Code = "not_found"
	CodeInvalid      Code = "invalid_argument"
	CodeScopeDenied  Code = "scope_access_denied"
	CodeConflict     Code = "conflict"
	CodeUnavailable  Code = "unavailable"
	CodeUnauthorized Code = "unauthorized" // HTTP only: a missing or wrong token
	CodeInternal     Code = "internal"
)

// Error is an operation's failure as a remote caller sees it: a code to
// branch on and a message that says what happened and what to do.
type Error struct {
	Code    Code
	Message string
	Err     error // the cause, for errors.Is; never shown beyond Message
	// Hint is what the store's owner can do about it (a setting to
	// check). The CLI, run by the owner, prints it as "try: ..."; remote
	// callers, who cannot change the server's settings, do not get it.
	Hint string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Body is the JSON shape of an error on every surface.
type Body struct {
	Error BodyError `json:"error"`
}

// BodyError is the inside of Body.
type BodyError struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// Body returns e in its JSON shape.
func (e *Error) Body() Body { return Body{Error: BodyError{Code: e.Code, Message: e.Message}} }

// Invalid returns an invalid_argument error naming what is wrong.
func Invalid(format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Message: fmt.Sprintf(format, args...), Err: memory.ErrInvalid}
}

// Unavailable returns an unavailable error.
func Unavailable(format string, args ...any) *Error {
	return &Error{Code: CodeUnavailable, Message: fmt.Sprintf(format, args...), Err: memory.ErrUnavailable}
}

// ErrorOf classifies any error an operation met into an *Error. The
// messages come from the domain errors, which already say what to do; a
// hint is added where they do not.
func ErrorOf(err error) *Error {
	if err == nil {
		return nil
	}
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	msg := err.Error()
	var ve *embedding.VectorError
	var ns *NoStoreError
	switch {
	case errors.As(err, &ns):
		return &Error{Code: CodeNotFound, Err: err, Message: msg}
	case errors.Is(err, memory.ErrNotFound):
		return &Error{Code: CodeNotFound, Err: err, Message: msg +
			": check the id (a unique prefix of at least 8 characters works), or find it by listing or recalling memories"}
	case errors.Is(err, memory.ErrAmbiguous):
		return &Error{Code: CodeInvalid, Err: err, Message: msg}
	case errors.Is(err, memory.ErrScopeDenied):
		return &Error{Code: CodeScopeDenied, Err: err, Message: msg}
	case errors.Is(err, memory.ErrConflict):
		return &Error{Code: CodeConflict, Err: err, Message: msg}
	case errors.Is(err, memory.ErrExists):
		return &Error{Code: CodeConflict, Err: err, Message: msg + ": choose another id, or update the existing memory"}
	case errors.Is(err, memory.ErrInvalid):
		return &Error{Code: CodeInvalid, Err: err, Message: msg}
	case errors.Is(err, memory.ErrLocked):
		return &Error{Code: CodeUnavailable, Err: err, Message: "the store is busy: " + msg}
	case errors.Is(err, memory.ErrDimensions), errors.Is(err, memory.ErrStoreNewer):
		return &Error{Code: CodeUnavailable, Err: err, Message: msg + " (a server setting, not something the caller can fix: tell the store's owner)"}
	case errors.Is(err, memory.ErrUnavailable), errors.As(err, &ve):
		return &Error{Code: CodeUnavailable, Err: err, Message: msg + ": retry later"}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeUnavailable, Err: err, Message: "the operation timed out: retry later"}
	case errors.Is(err, context.Canceled):
		return &Error{Code: CodeUnavailable, Err: err, Message: "the operation was cancelled (the client went away or the server is stopping): retry"}
	}
	return &Error{Code: CodeInternal, Err: err, Message: msg}
}
