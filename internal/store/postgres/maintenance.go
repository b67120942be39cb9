package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// Pruning the change feed's deletions. Each batch is one statement (its
// own transaction) that takes its tombstones FOR UPDATE SKIP LOCKED, so
// pruners on two hosts share the work instead of waiting on each other,
// and raises the horizon in the same statement.

// pruneBatch is how many tombstones one statement deletes.
const pruneBatch = 200

// PruneReport says what PruneTombstones did.
type PruneReport = store.PruneReport

// sqlPruneTombstones deletes up to $2 tombstones deleted before $1 and
// raises meta tombstone_horizon to the highest seq among them, at once:
// a reader sees both or neither.
const sqlPruneTombstones = `WITH d AS (
		DELETE FROM tombstones WHERE id IN
			(SELECT id FROM tombstones WHERE deleted_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING seq),
	h AS (
		INSERT INTO meta(key, value) SELECT 'tombstone_horizon', max(seq)::text FROM d HAVING count(*) > 0
		ON CONFLICT (key) DO UPDATE SET value = greatest(meta.value::bigint, excluded.value::bigint)::text
		RETURNING value::bigint AS horizon)
	SELECT (SELECT count(*) FROM d), coalesce((SELECT horizon FROM h), 0)`

// PruneTombstones deletes the tombstones of rows deleted more than
// retention ago, pruneBatch per statement. It may be stopped (ctx) and
// re-run at any point: each batch commits on its own and records the
// horizon with it.
//
// Tombstones are the deletions of the change feed (VectorChanges). A
// reader whose position is below the horizon may have missed pruned
// deletions, so it must reload in full (see TombstoneHorizon). Rows are
// never touched.
func (s *Store) PruneTombstones(ctx context.Context, retention time.Duration) (PruneReport, error) {
	var rep PruneReport
	if retention <= 0 {
		return rep, fmt.Errorf("%w: tombstone retention %s: use a positive duration such as 720h", memory.ErrInvalid, retention)
	}
	cutoff := s.opts.Clock().Add(-retention).UnixMilli()
	for {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		var n int
		var h int64
		if err := s.pool.QueryRow(ctx, sqlPruneTombstones, cutoff, pruneBatch).Scan(&n, &h); err != nil {
			return rep, fmt.Errorf("prune tombstones: %w", s.connErr(err))
		}
		if n > 0 {
			rep.Batches++
			rep.Pruned += n
			rep.Horizon = max(rep.Horizon, h)
		}
		if n < pruneBatch {
			h, err := s.TombstoneHorizon(ctx)
			rep.Horizon = max(rep.Horizon, h)
			return rep, err
		}
	}
}

// TombstoneHorizon is the change sequence at or below which deletions may
// have been pruned (0: none ever were). A change-feed reader at position p
// has seen every deletion after p only while p >= the horizon; read it
// after VectorChanges (the horizon only grows), and if p is below it,
// reload from 0.
func (s *Store) TombstoneHorizon(ctx context.Context) (int64, error) {
	var v string
	err := s.pool.QueryRow(ctx, "SELECT value FROM meta WHERE key = 'tombstone_horizon'").Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read tombstone horizon: %w", s.connErr(err))
	}
	h, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read tombstone horizon: meta tombstone_horizon %q is not a number (run trove doctor)", v)
	}
	return h, nil
}

// TombstoneCount counts the tombstones, and those deleted before
// retention ago (what PruneTombstones would remove).
func (s *Store) TombstoneCount(ctx context.Context, retention time.Duration) (total, old int, err error) {
	cutoff := s.opts.Clock().Add(-retention).UnixMilli()
	err = s.pool.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE deleted_at < $1) FROM tombstones", cutoff).Scan(&total, &old)
	if err != nil {
		return 0, 0, fmt.Errorf("count tombstones: %w", s.connErr(err))
	}
	return total, old, nil
}

// pruneBatches runs a DELETE of at most batch rows ($1 olderThan, $2
// batch), each its own transaction, until one deletes fewer than batch
// (rows another pruner holds are skipped: it deletes them).
func (s *Store) pruneBatches(ctx context.Context, q string, olderThan int64, batch int) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		tag, err := s.pool.Exec(ctx, q, olderThan, batch)
		if err != nil {
			return total, s.connErr(err)
		}
		n := int(tag.RowsAffected())
		total += n
		if n < batch {
			return total, nil
		}
	}
}

// connErr is ErrClosed for a query on a store closed meanwhile.
func (s *Store) connErr(err error) error {
	if err != nil && strings.Contains(err.Error(), "closed pool") {
		return ErrClosed
	}
	return err
}
