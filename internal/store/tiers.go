package store

import (
	"context"

	"github.com/trove-memory/trove/internal/memory"
)

// Tier moves are bookkeeping, like recall counters (Tx.Touch): the
// lifecycle moves a memory between tiers (core, working, peripheral) by a
// conditional update of its metadata tier that bumps no revision, changes
// no updated_at or change sequence and keeps no version in history, so a
// client holding the row's revision is never made to conflict by one.
// Each move is logged (TierTransition). Update keeps a tier moved since
// the revision its caller read (see the sqlite store's DESIGN, "Tiers").

// TierMove is one tier move, applied only if the row is still as it was
// read: its tier is From, its revision Revision and its access count
// AccessCount. A row edited or recalled since is left for the next pass,
// which computes from what it is now.
type TierMove struct {
	ID          string
	From, To    string // tiers; a row with no (or an unknown) tier is "working"
	Revision    int64  // the revision read; 0 skips the check
	AccessCount int    // metadata access_count read (a missing count is 0); -1 skips the check
	Reason      string
	At          int64 // unix ms
}

// TierTransition is a logged tier move.
type TierTransition struct {
	Seq      int64  `json:"seq"`
	MemoryID string `json:"memory_id"`
	From     string `json:"from"`
	To       string `json:"to"`
	Reason   string `json:"reason"`
	At       int64  `json:"at"`
	// Revision is the row's revision when it moved (a move bumps none).
	Revision int64 `json:"revision"`
}

// MaintainRun is the record of a maintenance pass (the last one is kept).
type MaintainRun struct {
	StartedAt   int64 `json:"started_at"`  // unix ms
	DurationMS  int64 `json:"duration_ms"` // the whole pass
	Scanned     int   `json:"scanned"`     // rows read
	Transitions int   `json:"transitions"` // moves committed
	Stale       int   `json:"stale"`       // moves not applied: the row changed after it was read
	Batches     int   `json:"batches"`     // writes
	// LockMS is the write lock held by the pass's writes in total;
	// MaxBatchMS the longest single write (both measured around Write,
	// so they include the wait for the lock).
	LockMS     float64 `json:"lock_ms"`
	MaxBatchMS float64 `json:"max_batch_ms"`
	Error      string  `json:"error,omitempty"` // why the pass stopped early
}

// TierTx is what a Write function can do with tiers (the sqlite Tx
// implements it; callers type-assert tx.(store.TierTx)). The caller must
// reach the row's scope.
type TierTx interface {
	// SetTier applies mv if the row is still as mv says (see TierMove)
	// and logs it; moved is false (and nothing is written) when it is
	// not. A missing row, or one outside the Write's access, is
	// *memory.NotFoundError; an unknown tier *memory.InvalidError.
	SetTier(mv TierMove) (moved bool, err error)
	// PutMaintainRun records r as the last maintenance pass.
	PutMaintainRun(r MaintainRun) error
}

// TierReader reads the tier log and the last maintenance pass (a Store
// that has tiers implements it).
type TierReader interface {
	// Transitions returns the logged moves of memory id, newest first, at
	// most limit (0: all); *memory.NotFoundError when the row is absent
	// or outside acc.
	Transitions(ctx context.Context, acc memory.Access, id string, limit int) ([]TierTransition, error)
	// RecentTransitions returns the moves logged at or after since (unix
	// ms), newest first, at most limit (0: all), of rows acc reaches.
	RecentTransitions(ctx context.Context, acc memory.Access, since int64, limit int) ([]TierTransition, error)
	// LastMaintain returns the last recorded maintenance pass; ok is false
	// when none was recorded.
	LastMaintain(ctx context.Context) (r MaintainRun, ok bool, err error)
}
