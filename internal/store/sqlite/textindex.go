package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// A store from before schema 11 has a text index of the words as written
// (version 1). Its stemmed successor (version 2) is built beside it, as
// memories_fts_next, textIndexBatch rows per write, so each write holds
// the lock a few milliseconds and live writers interleave. Meanwhile
// search answers from the old index, and every write keeps both in step:
// the next index for the rows up to meta.fts_next_rid (syncFTS); a row
// above the mark is built from what it holds when the build reaches it.
// When no row is left above the mark, one write renames the next index
// into place, sets meta.fts_version to 2 and starts the per-scope
// statistics afresh (they count the stems now: BuildTextStats); a later
// write drops the old index. The marks live in the store, so a build
// killed at any point resumes where its last write left it.

// TextIndexVersion is the text index version this binary builds and
// searches: 2, Snowball stems.
const TextIndexVersion = ftsStemmed

// textIndexBatch is how many rows one BuildTextIndex write adds to the
// next index.
const textIndexBatch = 200

// textMarks are the marks of the text index and its statistics that a
// write transaction reads when it begins (checkSchema).
type textMarks struct {
	stats  int64 // meta.text_stats_rid
	ftsVer int   // meta.fts_version
	next   int64 // meta.fts_next_rid, -1 when no next index is being built
}

// sqlTextMarks reads the textMarks (a store from before schema 11 has
// index version 1 and no next index).
const sqlTextMarks = `coalesce((SELECT value FROM meta WHERE key = 'text_stats_rid'), 0),
	coalesce((SELECT value FROM meta WHERE key = 'fts_version'), 1),
	coalesce((SELECT value FROM meta WHERE key = 'fts_next_rid'), -1)`

// switchEmptyIndex is migration 11's Go step: a store with no rows has
// nothing to build, so it takes the stemmed index at once.
func switchEmptyIndex(ctx context.Context, tx *sql.Tx) error {
	var any bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM memories)").Scan(&any); err != nil {
		return err
	}
	if any {
		return nil
	}
	for _, q := range []string{
		"DROP TABLE memories_fts",
		"ALTER TABLE memories_fts_next RENAME TO memories_fts",
		"UPDATE meta SET value = 2 WHERE key = 'fts_version'",
		"DELETE FROM meta WHERE key = 'fts_next_rid'",
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("switch the empty text index: %w", err)
		}
	}
	return nil
}

// BuildTextIndex builds the stemmed text index of a store from before
// schema 11 and switches to it, then drops the old one; it returns at
// once when there is nothing to do. Open runs it in the background (Close
// stops it); `trove doctor --repair` runs it to the end. Running it in
// several processes at once is harmless: each write re-reads the mark.
func (s *Store) BuildTextIndex(ctx context.Context) error {
	for {
		var done bool
		err := s.Write(ctx, memory.Owner(), func(stx store.Tx) error {
			t := stx.(*tx)
			if t.ftsVer >= ftsStemmed || t.nextMark < 0 {
				done = true
				return nil
			}
			return t.buildTextIndexBatch()
		})
		if err != nil {
			return fmt.Errorf("build the stemmed text index: %w", err)
		}
		if done {
			break
		}
	}
	return s.dropOldTextIndex(ctx)
}

// buildTextIndexBatch adds the next textIndexBatch rows to the next
// index, or switches to it when none is left.
func (t *tx) buildTextIndexBatch() error {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT rid FROM memories WHERE rid > ? ORDER BY rid LIMIT ?", t.nextMark, textIndexBatch)
	if err != nil {
		return err
	}
	var rids []int64
	for rows.Next() {
		var rid int64
		if err := rows.Scan(&rid); err != nil {
			rows.Close()
			return err
		}
		rids = append(rids, rid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(rids) == 0 {
		return t.switchTextIndex()
	}
	mark := rids[len(rids)-1]
	if _, err := t.exec(sqlNextAdd, jsonInts(rids), mark); err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(t.ctx, "UPDATE meta SET value = ? WHERE key = 'fts_next_rid'", mark); err != nil {
		return err
	}
	t.nextMark = mark
	return nil
}

// switchTextIndex puts the next index in place of the old one, which is
// kept as memories_fts_old until dropOldTextIndex, and starts the
// statistics afresh: scope_terms counted the old index's words.
func (t *tx) switchTextIndex() error {
	var any bool
	if err := t.tx.QueryRowContext(t.ctx, "SELECT EXISTS (SELECT 1 FROM memories)").Scan(&any); err != nil {
		return err
	}
	statMark := int64(0)
	if !any {
		statMark = textStatsDone
	}
	for _, q := range []string{
		"ALTER TABLE memories_fts RENAME TO memories_fts_old",
		"ALTER TABLE memories_fts_next RENAME TO memories_fts",
		"ALTER TABLE scope_terms RENAME TO scope_terms_old",
		`CREATE TABLE scope_terms (
			scope TEXT    NOT NULL,
			term  TEXT    NOT NULL,
			docs  INTEGER NOT NULL,
			PRIMARY KEY (scope, term)
		) WITHOUT ROWID`,
		"DELETE FROM scope_sizes",
		fmt.Sprintf("UPDATE meta SET value = %d WHERE key = 'text_stats_rid'", statMark),
		fmt.Sprintf("UPDATE meta SET value = %d WHERE key = 'fts_version'", ftsStemmed),
		"DELETE FROM meta WHERE key = 'fts_next_rid'",
	} {
		if _, err := t.tx.ExecContext(t.ctx, q); err != nil {
			return fmt.Errorf("switch to the stemmed index: %w", err)
		}
	}
	t.ftsVer, t.nextMark, t.statMark = ftsStemmed, -1, statMark
	return nil
}

// dropOldTextIndex drops what the switch left behind, after it, so the
// switch stays short, one table per write: the old index's pages first
// (memories_fts_old_data, most of it), then the rest of it, then the old
// term counts. A DROP frees pages without writing them, which deleting
// rows in batches would (measured: 16× the time), but it visits every
// page of the table under the lock: see BenchmarkTextIndexBuild.
func (s *Store) dropOldTextIndex(ctx context.Context) error {
	for {
		done, err := s.dropOldTextIndexStep(ctx)
		if err != nil || done {
			return err
		}
	}
}

// oldTextTables are dropped in this order, one per write.
var oldTextTables = []string{"memories_fts_old_data", "memories_fts_old", "scope_terms_old"}

// dropOldTextIndexStep is one write of dropOldTextIndex; done when
// nothing is left.
func (s *Store) dropOldTextIndexStep(ctx context.Context) (done bool, err error) {
	if !s.oldTextIndexLeft() {
		return true, nil
	}
	err = s.Write(ctx, memory.Owner(), func(stx store.Tx) error {
		t := stx.(*tx)
		for _, table := range oldTextTables {
			var exists bool
			if err := t.tx.QueryRowContext(t.ctx, "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = ?)", table).Scan(&exists); err != nil {
				return err
			}
			if exists {
				_, err := t.tx.ExecContext(t.ctx, "DROP TABLE "+table)
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("drop the old text index: %w", err)
	}
	return false, nil
}

// TextIndexStatus says which text index search uses and how far the
// build of the stemmed one has come (Version 1: Built of Rows).
type TextIndexStatus = store.TextIndexStatus

// TextIndex reports the text index's version and build progress.
func (s *Store) TextIndex(ctx context.Context) (TextIndexStatus, error) {
	var st TextIndexStatus
	var stats, next int64
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return st, err
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, "SELECT "+sqlTextMarks).Scan(&stats, &st.Version, &next); err != nil {
		return st, fmt.Errorf("read the text index version: %w", err)
	}
	if st.Version < ftsStemmed {
		err = tx.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM memories WHERE rid <= ?), (SELECT count(*) FROM memories)", next).
			Scan(&st.Built, &st.Rows)
		if err != nil {
			return st, fmt.Errorf("read the text index build: %w", err)
		}
	}
	return st, nil
}

// textVersion is the version of the index a search runs on. Once it is
// the newest it cannot change; before that it is read for each search
// (one indexed read), so a search after the switch queries in stems.
// When it moves, the cached document counts, which counted the old
// index's words, are dropped.
func (s *Store) textVersion(ctx context.Context) (int, error) {
	if v := int(s.ftsVer.Load()); v >= ftsStemmed {
		return v, nil
	}
	var v int
	if err := s.rdb.QueryRowContext(ctx, "SELECT coalesce((SELECT value FROM meta WHERE key = 'fts_version'), 1)").Scan(&v); err != nil {
		return 0, fmt.Errorf("text search: %w", err)
	}
	if old := s.ftsVer.Swap(int64(v)); old != int64(v) {
		s.dfMu.Lock()
		s.dfCache, s.dfRows = nil, nil
		s.dfMu.Unlock()
	}
	return v, nil
}
