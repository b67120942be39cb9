package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/trove-memory/trove/internal/memory"
)

// ItemResult is the outcome of one row of a bulk call.
type ItemResult struct {
	ID  string
	Err error // nil: applied
}

// PutMany inserts rows in one Write. A row that fails (scope denied, id
// exists, dimensions) is reported in its result; the others still go in.
func PutMany(ctx context.Context, s Store, acc memory.Access, ms []memory.Memory) ([]ItemResult, error) {
	res := make([]ItemResult, len(ms))
	err := writeAgain(ctx, s, acc, func(tx Tx) error {
		for i := range ms {
			err := tx.Insert(&ms[i])
			if err != nil && !IsItemError(err) {
				return err
			}
			res[i] = ItemResult{ID: ms[i].ID, Err: err}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Patch is a change to one row computed from a read at ExpectedRevision.
// Apply mutates the fresh row; it runs inside the transaction, so it must be
// pure (no I/O).
type Patch struct {
	ID               string
	ExpectedRevision int64 // 0: no check
	Apply            func(m *memory.Memory) error
}

// PatchMany applies patches in one Write. A stale revision is reported as a
// *memory.ConflictError for that row and never applied.
func PatchMany(ctx context.Context, s Store, acc memory.Access, ps []Patch) ([]ItemResult, error) {
	res := make([]ItemResult, len(ps))
	err := writeAgain(ctx, s, acc, func(tx Tx) error {
		for i, p := range ps {
			res[i] = ItemResult{ID: p.ID, Err: patchOne(tx, p)}
			if res[i].Err != nil && !IsItemError(res[i].Err) {
				return res[i].Err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func patchOne(tx Tx, p Patch) error {
	m, err := tx.Get(p.ID)
	if err != nil {
		return err
	}
	if p.ExpectedRevision != 0 && m.Revision != p.ExpectedRevision {
		return &memory.ConflictError{ID: p.ID, Expected: p.ExpectedRevision, Actual: m.Revision}
	}
	if err := p.Apply(&m); err != nil {
		return err
	}
	return tx.Update(&m)
}

// Deletion names a row to delete and the revision it was read at (0: any).
type Deletion struct {
	ID               string
	ExpectedRevision int64
}

// DeleteMany deletes rows in one Write, reporting each row's outcome.
func DeleteMany(ctx context.Context, s Store, acc memory.Access, ds []Deletion) ([]ItemResult, error) {
	res := make([]ItemResult, len(ds))
	err := writeAgain(ctx, s, acc, func(tx Tx) error {
		for i, d := range ds {
			err := tx.Delete(d.ID, d.ExpectedRevision)
			if err != nil && !IsItemError(err) {
				return err
			}
			res[i] = ItemResult{ID: d.ID, Err: err}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Transient is implemented by the error of a write that ended because of
// concurrent writes and saved nothing (PostgreSQL: a deadlock between two
// hosts' transactions, or a serialization failure): the same write, run
// again, may succeed. Store.Write never re-runs fn itself.
type Transient interface{ Transient() bool }

// IsTransient reports whether err says so (see Transient).
func IsTransient(err error) bool {
	var t Transient
	return errors.As(err, &t) && t.Transient()
}

// writeAgainTries bounds how many times WriteAgain runs a write that ends
// with a transient error.
const writeAgainTries = 8

// WriteAgain is Write for a caller whose fn may run more than once: a
// write that ended with a transient error (two hosts' transactions locked
// the same rows in opposite orders, and the server ended one of them
// having saved nothing) runs again, up to writeAgainTries times, after a
// short random pause. fn must then start from scratch on each run: reset
// every result it reports and decide only from what it reads with tx (or
// from values computed before the write that stay true whatever other
// writers did). Store.Write never re-runs fn itself; this is the one place
// that does. The bulk helpers and the service's writes use it.
func WriteAgain(ctx context.Context, s Writer, acc memory.Access, fn func(Tx) error) error {
	return writeAgain(ctx, s, acc, fn)
}

// Writer is the write side of a Store (what WriteAgain needs).
type Writer interface {
	Write(ctx context.Context, acc memory.Access, fn func(Tx) error) error
}

func writeAgain(ctx context.Context, s Writer, acc memory.Access, fn func(Tx) error) error {
	for try := 1; ; try++ {
		err := s.Write(ctx, acc, fn)
		if err == nil || try == writeAgainTries || !IsTransient(err) || ctx.Err() != nil {
			return err
		}
		// A short random pause, so the writes that collided do not start
		// again in step.
		select {
		case <-time.After(time.Duration(rand.Int64N(int64(try) * int64(20*time.Millisecond)))):
		case <-ctx.Done():
			return err
		}
	}
}

// IsItemError reports errors that concern one row and leave the
// transaction usable; anything else aborts the whole Write.
func IsItemError(err error) bool {
	for _, target := range []error{memory.ErrNotFound, memory.ErrConflict, memory.ErrScopeDenied,
		memory.ErrInvalid, memory.ErrExists, memory.ErrDimensions} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

var errPageFull = errors.New("page full")

// ScanPage returns up to n rows after opts.AfterID in id order: one page of
// a keyset walk. An empty result means the walk is over.
func ScanPage(ctx context.Context, r Reader, acc memory.Access, opts ScanOptions, n int) ([]memory.Memory, error) {
	opts.PageSize = n
	var out []memory.Memory
	err := r.Scan(ctx, acc, opts, func(m memory.Memory) error {
		out = append(out, m)
		if len(out) == n {
			return errPageFull
		}
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return nil, err
	}
	return out, nil
}
