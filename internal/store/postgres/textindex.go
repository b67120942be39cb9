package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// The text index's check and repair (doctor.Store's CheckFTS, RebuildFTS,
// TextIndex, BuildTextIndex). The index lives in the rows (memories.tokens
// and doc_len, text.go) and in each scope's kept statistics (scope_sizes),
// so "is the index sound" is: does every row hold what this trove's
// tokeniser makes of it now, and do the statistics add up. A row written
// outside trove, by a trove whose tokeniser differed, or edited by hand
// fails that; the repair re-tokenises the rows in batches, each its own
// short write, and recounts the statistics.

// textIndexVersion is the version of the tokeniser (text.go's indexDoc):
// 2, the SQLite store's stemmed index, which the PostgreSQL store has
// always built. A trove that tokenises differently raises it; a store
// records the version its rows were last rebuilt to in meta
// text_index_version (absent: 2, as every write of every trove so far
// indexed with version 2), and while BuildTextIndex rebuilds them, how
// far it has come in meta text_index_built (a rid).
const textIndexVersion = 2

const (
	keyTextVersion = "text_index_version"
	keyTextBuilt   = "text_index_built"
)

// textBatch is how many rows one check or repair statement reads.
const textBatch = 500

// TextIndexLatest is the text index version this trove builds.
func (s *Store) TextIndexLatest() int { return textIndexVersion }

// TextIndex is the version of the store's text index and, while a newer
// one is being built, how many of the rows it has reached.
func (s *Store) TextIndex(ctx context.Context) (store.TextIndexStatus, error) {
	st := store.TextIndexStatus{Version: textIndexVersion}
	var version, built *string
	var rows, reached int64
	err := s.pool.QueryRow(ctx, `SELECT (SELECT value FROM meta WHERE key = $1), (SELECT value FROM meta WHERE key = $2),
			(SELECT count(*) FROM memories), (SELECT count(*) FROM memories WHERE rid <= coalesce((SELECT value::bigint FROM meta WHERE key = $2 AND value ~ '^[0-9]+$'), 0))`,
		keyTextVersion, keyTextBuilt).Scan(&version, &built, &rows, &reached)
	if err != nil {
		return st, fmt.Errorf("read the text index version: %w", s.connErr(err))
	}
	if version != nil {
		v, err := strconv.Atoi(*version)
		if err != nil || v < 1 {
			return st, fmt.Errorf("read the text index version: meta %s is %q, not a version: run trove doctor --repair, which rebuilds the index", keyTextVersion, *version)
		}
		st.Version = v
	}
	if st.Version < textIndexVersion {
		st.Built, st.Rows = reached, rows
	}
	return st, nil
}

// CheckFTS compares every row's text index with what this trove's
// tokeniser makes of the row, and the scopes' statistics with the rows.
// It only reads: a batch of rows at a time, each in a snapshot of its own
// (a row written meanwhile is compared as that write left it).
func (s *Store) CheckFTS(ctx context.Context) (store.FTSReport, error) {
	var r store.FTSReport
	err := s.snapshot(ctx, func(rtx pgx.Tx) error {
		if err := rtx.QueryRow(ctx, "SELECT count(*), count(tokens) FROM memories").Scan(&r.Rows, &r.Indexed); err != nil {
			return err
		}
		r.Missing = r.Rows - r.Indexed
		return rtx.QueryRow(ctx, sqlStatsOff).Scan(&r.Stats)
	})
	if err != nil {
		return r, fmt.Errorf("check the text index: %w", s.connErr(err))
	}
	for after := int64(0); ; {
		var stale, n int
		err := s.snapshot(ctx, func(rtx pgx.Tx) error {
			rows, err := rtx.Query(ctx, `SELECT rid, text, metadata FROM memories WHERE rid > $1 AND tokens IS NOT NULL ORDER BY rid LIMIT $2`, after, textBatch)
			if err != nil {
				return err
			}
			docs, err := indexedRows(rows)
			if err != nil {
				return err
			}
			if n = len(docs.rids); n == 0 {
				return nil
			}
			after = docs.rids[n-1]
			return rtx.QueryRow(ctx, `SELECT count(*) FROM unnest($1::bigint[], $2::text[], $3::int[]) AS u(rid, tsv, len)
				JOIN memories m ON m.rid = u.rid WHERE m.tokens <> u.tsv::tsvector OR m.doc_len <> u.len`,
				docs.rids, docs.tsvs, docs.lens).Scan(&stale)
		})
		if err != nil {
			return r, fmt.Errorf("check the text index: %w", s.connErr(err))
		}
		r.Stale += stale
		if n < textBatch {
			return r, nil
		}
	}
}

// sqlStatsOff counts the scopes whose kept statistics differ from their
// indexed rows (a scope without rows may keep zeros).
const sqlStatsOff = `SELECT count(*) FROM
	(SELECT scope, count(*) AS rows, sum(doc_len) AS tokens FROM memories WHERE tokens IS NOT NULL GROUP BY scope) a
	FULL JOIN scope_sizes k USING (scope)
	WHERE coalesce(a.rows, 0) <> coalesce(k.rows, 0) OR coalesce(a.tokens, 0) <> coalesce(k.tokens, 0)`

// snapshot runs fn in a read-only REPEATABLE READ transaction: its
// statements see one snapshot.
func (s *Store) snapshot(ctx context.Context, fn func(pgx.Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	rtx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer rtx.Rollback(context.WithoutCancel(ctx))
	if err := fn(rtx); err != nil {
		return err
	}
	return rtx.Commit(ctx)
}

// textDocs are rows' text index values as this trove's tokeniser makes
// them, in rid order.
type textDocs struct {
	rids []int64
	tsvs []string
	lens []int32
}

// indexedRows tokenises rows of (rid, text, metadata). A row whose
// metadata is not a JSON object is left out: no write can read it either
// (doctor names it under metadata).
func indexedRows(rows pgx.Rows) (textDocs, error) {
	var d textDocs
	defer rows.Close()
	for rows.Next() {
		var rid int64
		var m memory.Memory
		var md []byte
		if err := rows.Scan(&rid, &m.Text, &md); err != nil {
			return d, err
		}
		var err error
		if m.Metadata, err = decodeMetadata(md); err != nil {
			continue
		}
		doc := indexDoc(rowCols(&m))
		d.rids, d.tsvs, d.lens = append(d.rids, rid), append(d.tsvs, doc.tsv), append(d.lens, int32(doc.length))
	}
	return d, rows.Err()
}

// RebuildFTS makes every row's text index what this trove's tokeniser
// makes of it, in batches (each its own short write, changing only the
// rows whose index differs, never a row's content, revision or seq), then
// recounts the scopes' statistics if they are off.
func (s *Store) RebuildFTS(ctx context.Context) error {
	if _, err := s.reindex(ctx, 0, nil); err != nil {
		return err
	}
	return s.recountStats(ctx)
}

// BuildTextIndex brings a store's text index to this trove's version:
// it re-tokenises the rows from where a previous build stopped (meta
// text_index_built), recording its progress with each batch, so an
// interrupted build resumes; then records the version.
func (s *Store) BuildTextIndex(ctx context.Context) error {
	st, err := s.TextIndex(ctx)
	if err != nil {
		return err
	}
	if st.Version >= textIndexVersion {
		return nil
	}
	var from int64
	err = s.pool.QueryRow(ctx, `SELECT coalesce((SELECT value::bigint FROM meta WHERE key = $1 AND value ~ '^[0-9]+$'), 0)`, keyTextBuilt).Scan(&from)
	if err != nil {
		return fmt.Errorf("read the text index build's progress: %w", s.connErr(err))
	}
	progress := func(t *tx, rid int64) error { return t.setMeta(keyTextBuilt, rid) }
	if _, err := s.reindex(ctx, from, progress); err != nil {
		return err
	}
	if err := s.recountStats(ctx); err != nil {
		return err
	}
	_, err = s.ownerTx(ctx, func(t *tx) error { return t.setMeta(keyTextVersion, textIndexVersion, keyTextBuilt, nil) })
	if err != nil {
		return fmt.Errorf("record the text index version: %w", err)
	}
	return nil
}

// reindex re-tokenises the rows after rid from, textBatch per write, and
// returns how many rows' index it changed. A batch locks its rows FOR
// UPDATE SKIP LOCKED, so it never waits for a writer holding one (and so
// never deadlocks with writers, which lock rows in their own order); the
// rows a writer held are done afterwards one per write, each waiting for
// its writer. progress, if set, runs in each batch's write with the last
// rid it reached.
func (s *Store) reindex(ctx context.Context, from int64, progress func(t *tx, rid int64) error) (int, error) {
	changed := 0
	var skipped []int64
	for after := from; ; {
		var ids []int64
		rows, err := s.pool.Query(ctx, "SELECT rid FROM memories WHERE rid > $1 ORDER BY rid LIMIT $2", after, textBatch)
		if err == nil {
			ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		}
		if err != nil {
			return changed, fmt.Errorf("rebuild the text index: %w", s.connErr(err))
		}
		if len(ids) == 0 {
			break
		}
		after = ids[len(ids)-1]
		var got []int64
		var n int
		_, err = s.ownerTx(ctx, func(t *tx) error {
			var err error
			got, n, err = t.reindexRows(ids, "FOR UPDATE SKIP LOCKED")
			if err == nil && progress != nil {
				err = progress(t, after)
			}
			return err
		})
		if err != nil {
			return changed, fmt.Errorf("rebuild the text index: %w", err)
		}
		changed += n
		for _, id := range ids {
			if !slices.Contains(got, id) {
				skipped = append(skipped, id)
			}
		}
		if len(ids) < textBatch {
			break
		}
	}
	for _, id := range skipped {
		var n int
		_, err := s.ownerTx(ctx, func(t *tx) error {
			var err error
			_, n, err = t.reindexRows([]int64{id}, "FOR UPDATE")
			return err
		})
		if err != nil {
			return changed, fmt.Errorf("rebuild the text index: %w", err)
		}
		changed += n
	}
	return changed, nil
}

// reindexRows locks the rows rids that still exist (lock: the locking
// clause) and writes the text index of those whose index differs from
// what the tokeniser makes of them, moving their scopes' statistics by
// the difference (applied at the commit, as every write's are). It
// returns the rows it locked and how many it changed.
func (t *tx) reindexRows(rids []int64, lock string) (locked []int64, changed int, err error) {
	rows, err := t.tx.Query(t.ctx, `SELECT rid, text, metadata, scope, doc_len, tokens IS NOT NULL FROM memories
		WHERE rid = ANY($1::bigint[]) ORDER BY rid `+lock, rids)
	if err != nil {
		return nil, 0, err
	}
	type old struct {
		scope   memory.Scope
		length  int64
		indexed bool
	}
	var d textDocs
	was := map[int64]old{}
	for rows.Next() {
		var rid int64
		var m memory.Memory
		var md []byte
		var o old
		if err := rows.Scan(&rid, &m.Text, &md, &o.scope, &o.length, &o.indexed); err != nil {
			rows.Close()
			return nil, 0, err
		}
		locked = append(locked, rid)
		if m.Metadata, err = decodeMetadata(md); err != nil {
			continue // doctor names it under metadata; no write can read it
		}
		doc := indexDoc(rowCols(&m))
		d.rids, d.tsvs, d.lens = append(d.rids, rid), append(d.tsvs, doc.tsv), append(d.lens, int32(doc.length))
		was[rid] = o
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(d.rids) == 0 {
		return locked, 0, nil
	}
	upd, err := t.tx.Query(t.ctx, `UPDATE memories m SET tokens = u.tsv::tsvector, doc_len = u.len
		FROM unnest($1::bigint[], $2::text[], $3::int[]) AS u(rid, tsv, len)
		WHERE m.rid = u.rid AND (m.tokens IS NULL OR m.tokens <> u.tsv::tsvector OR m.doc_len <> u.len)
		RETURNING m.rid, m.doc_len`, d.rids, d.tsvs, d.lens)
	if err != nil {
		return nil, 0, err
	}
	for upd.Next() {
		var rid, length int64
		if err := upd.Scan(&rid, &length); err != nil {
			upd.Close()
			return nil, 0, err
		}
		changed++
		o := was[rid]
		if o.indexed {
			t.sizeDelta().add(o.scope, 0, length-o.length)
		} else {
			t.sizeDelta().add(o.scope, 1, length)
		}
	}
	upd.Close()
	return locked, changed, upd.Err()
}

// recountStats sets the scopes' statistics from their rows when they are
// off. It takes the lock every write's commit takes to apply its own
// changes (meta seq), so the count and the writes' deltas do not cross:
// commits wait for the one aggregate over the table.
func (s *Store) recountStats(ctx context.Context) error {
	var off int
	if err := s.pool.QueryRow(ctx, sqlStatsOff).Scan(&off); err != nil {
		return fmt.Errorf("check the text statistics: %w", s.connErr(err))
	}
	if off == 0 {
		return nil
	}
	_, err := s.ownerTx(ctx, func(t *tx) error {
		if _, err := t.exec("SELECT 1 FROM meta WHERE key = 'seq' FOR UPDATE"); err != nil {
			return err
		}
		_, err := t.exec(`WITH a AS (SELECT scope, count(*) AS rows, sum(doc_len) AS tokens FROM memories WHERE tokens IS NOT NULL GROUP BY scope),
			z AS (UPDATE scope_sizes SET rows = 0, tokens = 0 WHERE scope NOT IN (SELECT scope FROM a) AND (rows <> 0 OR tokens <> 0))
			INSERT INTO scope_sizes(scope, rows, tokens) SELECT scope, rows, tokens FROM a
			ON CONFLICT (scope) DO UPDATE SET rows = excluded.rows, tokens = excluded.tokens
			WHERE (scope_sizes.rows, scope_sizes.tokens) IS DISTINCT FROM (excluded.rows, excluded.tokens)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("recount the text statistics: %w", err)
	}
	return nil
}
