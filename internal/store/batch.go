package store

import (
	"context"
	"errors"

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
	err := s.Write(ctx, acc, func(tx Tx) error {
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
	err := s.Write(ctx, acc, func(tx Tx) error {
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
	err := s.Write(ctx, acc, func(tx Tx) error {
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
