package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/trove-memory/trove/internal/lock"
)

func checkTombstones(ctx context.Context, s Store, retention time.Duration) Check {
	c := Check{Name: CheckTombstones, Status: OK}
	total, old, err := s.TombstoneCount(ctx, max(retention, 0))
	if err != nil {
		c.Status, c.Detail = Warn, fmt.Sprintf("could not count the tombstones: %v", err)
		return c
	}
	if retention <= 0 {
		old = 0
	}
	c.Figures = map[string]any{"tombstones": total, "past_retention": old, "retention": retention.String()}
	keep := "kept forever (tombstoneRetention 0)"
	if retention > 0 {
		keep = fmt.Sprintf("kept for %s (tombstoneRetention, TROVE_TOMBSTONE_RETENTION)", retention)
	}
	c.Detail = fmt.Sprintf("%s of deleted memories, %s", plural(total, "tombstone"), keep)
	if old > 0 {
		c.repairable = true
		c.Detail += fmt.Sprintf("; %d past the retention", old)
		c.Fix = "trove doctor --repair prunes them in short batches (a running trove serve also prunes them)"
	}
	return c
}

// repairTombstones prunes the tombstones past the retention and says how
// long each batch held the write lock.
func repairTombstones(ctx context.Context, s Store, retention time.Duration) Repair {
	r := Repair{Name: RepairTombstones}
	fs, isFile := s.(FileStore)
	var seen int64
	if isFile {
		seen = fs.Lock().Stats().Acquisitions
	}
	rep, err := s.PruneTombstones(ctx, retention)
	if err != nil {
		r.Status, r.Detail = "failed", fmt.Sprintf("pruned %d tombstones, then: %v", rep.Pruned, err)
		return r
	}
	r.Status = "done"
	if !isFile {
		r.Detail = fmt.Sprintf("pruned %s older than %s in %s, each its own short transaction; no row changed",
			plural(rep.Pruned, "tombstone"), retention, plural(rep.Batches, "batch"))
		return r
	}
	st := fs.Lock().Stats()
	var holds []time.Duration
	if n := int(st.Acquisitions - seen); n > 0 && n <= len(st.Holds) {
		holds = st.Holds[len(st.Holds)-n:] // the ring's newest are last until it wraps
	}
	r.Detail = fmt.Sprintf("pruned %s older than %s in %s, holding the write lock at most %s at a time; no row changed",
		plural(rep.Pruned, "tombstone"), retention, plural(rep.Batches, "batch"), us(lock.Percentile(holds, 100)))
	return r
}

// repairHistory prunes the kept versions beyond history.keep per memory
// or replaced before history.retention, in short batches.
func repairHistory(ctx context.Context, s Store, keep int, retention time.Duration) Repair {
	r := Repair{Name: RepairHistory}
	var before int64
	if retention > 0 {
		before = time.Now().Add(-retention).UnixMilli()
	}
	n, err := s.PruneHistory(ctx, keep, before, 0)
	if err != nil {
		r.Status, r.Detail = "failed", fmt.Sprintf("pruned %d versions, then: %v", n, err)
		return r
	}
	r.Status, r.pruned = "done", n
	r.Detail = fmt.Sprintf("pruned %s past history.keep %d / history.retention %s; no row changed", plural(n, "earlier version"), keep, retention)
	return r
}
