package memory

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors callers branch on with errors.Is.
var (
	ErrNotFound    = errors.New("memory not found")
	ErrConflict    = errors.New("revision conflict")
	ErrScopeDenied = errors.New("scope access denied")
	ErrInvalid     = errors.New("invalid input")
	ErrLocked      = errors.New("write lock not acquired")
	ErrExists      = errors.New("memory id already exists")
	ErrAmbiguous   = errors.New("ambiguous id prefix")
	ErrStoreNewer  = errors.New("store was written by a newer trove")
	ErrDimensions  = errors.New("vector dimensions do not match the store")
	ErrUnavailable = errors.New("provider unavailable")
)

// ConflictError reports a write computed from a stale revision.
type ConflictError struct {
	ID       string
	Expected int64
	Actual   int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("memory %s changed since it was read (revision %d, now %d): read it again and retry", e.ID, e.Expected, e.Actual)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// NotFoundError names the missing id.
type NotFoundError struct{ ID string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("memory %s not found (or not in a scope you can reach)", e.ID)
}

func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// ScopeDeniedError names the scope a caller may not write.
type ScopeDeniedError struct{ Scope Scope }

func (e *ScopeDeniedError) Error() string {
	return fmt.Sprintf("scope %s is not accessible to this caller: write to a scope you can reach (by default global, agent:<id> and reflection:agent:<id>; else your agentAccess list), or ask the owner to grant it", e.Scope)
}

func (e *ScopeDeniedError) Unwrap() error { return ErrScopeDenied }

// AmbiguousError lists the ids a prefix matches.
type AmbiguousError struct {
	Prefix     string
	Candidates []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("id prefix %q matches %d memories (%s): give more characters", e.Prefix, len(e.Candidates), strings.Join(e.Candidates, ", "))
}

func (e *AmbiguousError) Unwrap() error { return ErrAmbiguous }

// InvalidError is input that cannot be accepted. Msg says what is wrong
// and what to do; front ends print it as it is, under their own code for
// "invalid" (invalid_argument, HTTP 400, exit code 2).
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }
func (e *InvalidError) Unwrap() error { return ErrInvalid }
