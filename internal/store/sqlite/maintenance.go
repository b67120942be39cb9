package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/textlang"
)

// FTSReport compares the search index with the rows (a report every
// backend gives the doctor).
type FTSReport = store.FTSReport

// CheckFTS compares the FTS index's documents with the rows, in one read
// transaction. (FTS5's own 'integrity-check' is a write command, so it
// cannot run on the read pool.)
func (s *Store) CheckFTS(ctx context.Context) (FTSReport, error) {
	var r FTSReport
	tx, err := s.rdb.BeginTx(ctx, nil)
	if err != nil {
		return r, err
	}
	defer tx.Rollback()
	err = tx.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM memories),
		(SELECT count(*) FROM memories_fts_docsize),
		(SELECT count(*) FROM memories m WHERE NOT EXISTS (SELECT 1 FROM memories_fts_docsize d WHERE d.id = m.rid)),
		(SELECT count(*) FROM memories_fts_docsize d WHERE NOT EXISTS (SELECT 1 FROM memories m WHERE m.rid = d.id))`).
		Scan(&r.Rows, &r.Indexed, &r.Missing, &r.Extra)
	if err != nil {
		return r, fmt.Errorf("check search index: %w", err)
	}
	return r, nil
}

// RebuildFTS rebuilds the search index from the rows under the write lock,
// then the per-scope text statistics from it, in batches (BuildTextStats).
func (s *Store) RebuildFTS(ctx context.Context) error {
	err := s.Write(ctx, memory.Owner(), func(stx store.Tx) error {
		t := stx.(*tx)
		if _, err := t.tx.ExecContext(t.ctx, "DELETE FROM memories_fts"); err != nil {
			return fmt.Errorf("rebuild search index: %w", err)
		}
		cols := ftsPlainCols
		if t.ftsVer >= ftsStemmed {
			cols = ftsStemCols
		}
		if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO memories_fts(rowid, text, l0, l1, l2)
			SELECT rid, `+cols+` FROM memories`); err != nil {
			return fmt.Errorf("rebuild search index: %w", err)
		}
		// A next index being built is built again from the start.
		if t.nextMark >= 0 {
			for _, q := range []string{"DELETE FROM memories_fts_next", "UPDATE meta SET value = 0 WHERE key = 'fts_next_rid'"} {
				if _, err := t.tx.ExecContext(t.ctx, q); err != nil {
					return fmt.Errorf("rebuild search index: %w", err)
				}
			}
			t.nextMark = 0
		}
		// The statistics are counted again from the new index.
		for _, q := range []string{"DELETE FROM scope_terms", "DELETE FROM scope_sizes",
			"UPDATE meta SET value = 0 WHERE key = 'text_stats_rid'"} {
			if _, err := t.tx.ExecContext(t.ctx, q); err != nil {
				return fmt.Errorf("rebuild search index: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.BuildTextIndex(ctx); err != nil {
		return err
	}
	return s.BuildTextStats(ctx)
}

// IntegrityCheck runs PRAGMA integrity_check and returns its findings
// (nil when the database is sound).
//
// While the old text index of a switch to the stemmed one is being
// dropped (one table per write, dropOldTextIndex), its FTS5 table can be
// left without its data table by a process that stopped between two of
// those writes, and FTS5's own check then reports it corrupt. That table
// is never read again and the next open drops the rest, so findings about
// it are left out while it is pending removal.
func (s *Store) IntegrityCheck(ctx context.Context) ([]string, error) {
	dropping := s.oldTextIndexLeft()
	rows, err := s.rdb.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		if line != "ok" && !(dropping && strings.Contains(line, "memories_fts_old")) {
			out = append(out, line)
		}
	}
	return out, rows.Err()
}

// matchIDs returns the ids whose indexed text matches an FTS5 query; for
// tests of index consistency until retrieval has its own search.
func (s *Store) matchIDs(ctx context.Context, query string) ([]string, error) {
	ver, err := s.textVersion(ctx)
	if err != nil {
		return nil, err
	}
	query = indexText(query, textlang.DocLang(query), ver)
	rows, err := s.rdb.QueryContext(ctx, `SELECT m.id FROM memories_fts f JOIN memories m ON m.rid = f.rowid
		WHERE memories_fts MATCH ? ORDER BY m.id`, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Checkpoint copies the pages committed to the WAL into the store file
// (PRAGMA wal_checkpoint), outside the write lock and on a connection of
// the read pool, so neither other processes' writes nor this store's
// writer wait for it. PASSIVE copies what no reader still needs and never
// waits; truncate waits for readers and writers (busy_timeout) and
// empties the WAL file.
func (s *Store) Checkpoint(ctx context.Context, truncate bool) error {
	mode := "PASSIVE"
	if truncate {
		mode = "TRUNCATE"
	}
	if _, err := s.rdb.ExecContext(ctx, "PRAGMA wal_checkpoint("+mode+")"); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}
