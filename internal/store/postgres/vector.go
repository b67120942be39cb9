package postgres

import (
	"context"
	"fmt"
	"hash/crc32"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/rowcodec"
)

// VectorChanges reads what changed after seq as of one snapshot
// (REPEATABLE READ): the change sequence, and the rows and tombstones
// stamped after since and up to it. The write that stamps seq S holds the
// seq row's lock to its commit (store.go: stamp), so every change up to
// S is committed, and visible, once S is. Rows are read in the active
// vector slot, as the SQLite store reads them.
func (s *Store) VectorChanges(ctx context.Context, since int64) (store.VectorChanges, error) {
	var ch store.VectorChanges
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(rtx pgx.Tx) error {
		ch = store.VectorChanges{}
		if err := rtx.QueryRow(ctx, "SELECT value::bigint FROM meta WHERE key = 'seq'").Scan(&ch.Seq); err != nil {
			return fmt.Errorf("read change sequence: %w", err)
		}
		if ch.Seq <= since {
			return nil
		}
		q := "SELECT id, scope, category, smart_category, " + vecActive + ", " + validFromExpr +
			", coalesce(valid_until, 0), coalesce(invalidated_at, 0), coalesce(archived_at, 0) FROM memories WHERE seq > $1 AND seq <= $2"
		if since == 0 {
			q += " AND " + vecActive + " IS NOT NULL"
		}
		rows, err := rtx.Query(ctx, q, since, ch.Seq)
		if err != nil {
			return fmt.Errorf("read vectors: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var r store.VectorRow
			var scope, cat, smart string
			var blob []byte
			if err := rows.Scan(&r.ID, &scope, &cat, &smart, &blob, &r.ValidFrom, &r.ValidUntil, &r.InvalidatedAt, &r.ArchivedAt); err != nil {
				return err
			}
			if r.Vector, err = rowcodec.DecodeVector(blob); err != nil {
				return fmt.Errorf("memory %s: %w", r.ID, err)
			}
			if rowcodec.ZeroVector(r.Vector) {
				if since > 0 {
					ch.Deleted = append(ch.Deleted, r.ID)
				}
				continue
			}
			r.Scope, r.Category, r.SmartCategory = memory.Scope(scope), memory.Category(cat), memory.SmartCategory(smart)
			ch.Upserts = append(ch.Upserts, r)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read vectors: %w", err)
		}
		if since == 0 {
			return nil // a full load: nothing to delete
		}
		drows, err := rtx.Query(ctx, "SELECT id FROM tombstones WHERE seq > $1 AND seq <= $2", since, ch.Seq)
		if err != nil {
			return fmt.Errorf("read deletions: %w", err)
		}
		ids, err := pgx.CollectRows(drows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("read deletions: %w", err)
		}
		ch.Deleted = append(ch.Deleted, ids...)
		return nil
	})
	return ch, err
}

// VectorState says which state of the store an in-memory vector index is
// of. The store keeps no index file (File is ""): every process builds its
// index from VectorChanges. Key changes when the embedding model does
// (the SQLite store's key: model, dimensions, probe, previous model and
// slot generation from meta), so a retriever drops an index of another
// model's vectors.
func (s *Store) VectorState(ctx context.Context) (store.VectorState, error) {
	return readVectorState(ctx, s.pool)
}

func readVectorState(ctx context.Context, q querier) (store.VectorState, error) {
	var st store.VectorState
	var model, dims, probe, prev, gen *string
	err := q.QueryRow(ctx, `SELECT
		(SELECT value::bigint FROM meta WHERE key = 'seq'),
		(SELECT value FROM meta WHERE key = 'embed_model'),
		(SELECT value FROM meta WHERE key = 'embed_dims'),
		(SELECT value FROM meta WHERE key = 'embed_probe'),
		(SELECT value FROM meta WHERE key = 'embed_previous_model'),
		(SELECT value FROM meta WHERE key = 'embed_generation')`).Scan(&st.Seq, &model, &dims, &probe, &prev, &gen)
	if err != nil {
		return st, fmt.Errorf("read vector state: %w", err)
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	st.Key = fmt.Sprintf("%q %s %08x %q %s", str(model), str(dims), crc32.ChecksumIEEE([]byte(str(probe))), str(prev), str(gen))
	return st, nil
}

// VectorSamples returns the stored vector (active slot) and seq of each
// of ids that has one.
func (s *Store) VectorSamples(ctx context.Context, ids []string) ([]store.VectorSample, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, "SELECT id, seq, "+vecActive+" FROM memories WHERE id = ANY($1::text[]) AND "+vecActive+" IS NOT NULL", ids)
	if err != nil {
		return nil, fmt.Errorf("read vectors: %w", err)
	}
	defer rows.Close()
	var out []store.VectorSample
	for rows.Next() {
		var smp store.VectorSample
		var blob []byte
		if err := rows.Scan(&smp.ID, &smp.Seq, &blob); err != nil {
			return nil, err
		}
		if smp.Vector, err = rowcodec.DecodeVector(blob); err != nil {
			return nil, fmt.Errorf("memory %s: %w", smp.ID, err)
		}
		out = append(out, smp)
	}
	return out, rows.Err()
}
