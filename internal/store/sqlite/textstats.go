package sqlite

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// The text statistics of each scope (scope_sizes, scope_terms: schema 3)
// are kept by the writer in the same transaction as the FTS index, from
// the terms FTS5's own tokenizer gives: the rows a write function added
// are indexed a second time into a small in-memory FTS5 table on the
// writer connection (temp.stat_docs, the same tokenizer), whose
// vocabulary is each term's document count in them and whose docsize is
// their length; the rows it changed or deleted had their old text
// copied aside first (temp.stat_gone) and count negatively. So a count
// can never disagree with what FTS5 matches: diacritic folding, CJK
// bigrams and all.
//
// Rows with rid above meta.text_stats_rid are not counted yet (a store
// from before schema 3, or after RebuildFTS): BuildTextStats counts them
// in batches, and text search uses the counts only once every row is.

// textStatsDone is meta.text_stats_rid once every row is counted.
const textStatsDone = math.MaxInt64

// textStatsBatch is how many rows one BuildTextStats write counts: about
// 5 ms of lock at 100k rows of short text here.
const textStatsBatch = 300

// The temporary objects of the writer connection, created when the store
// opens (the statements using them are prepared then). They live in
// memory (temp_store) and are empty between write functions.
var statTemp = []string{
	`CREATE TEMP TABLE IF NOT EXISTS stat_gone(scope TEXT NOT NULL, text, l0, l1, l2)`,
	`CREATE VIRTUAL TABLE IF NOT EXISTS temp.stat_docs USING fts5(text, l0, l1, l2, content = '',
		tokenize = 'unicode61 remove_diacritics 2')`,
	`CREATE VIRTUAL TABLE IF NOT EXISTS temp.stat_vocab USING fts5vocab(temp, stat_docs, 'row')`,
}

const (
	// sqlStatGone copies the indexed text of a row about to change or go,
	// if it is counted.
	sqlStatGone = `INSERT INTO temp.stat_gone(scope, text, l0, l1, l2)
		SELECT scope, trove_fts(text),
			trove_fts(coalesce(json_extract(metadata, '$.l0_abstract'), '')),
			trove_fts(coalesce(json_extract(metadata, '$.l1_overview'), '')),
			trove_fts(coalesce(json_extract(metadata, '$.l2_content'), ''))
		FROM memories WHERE rid = ? AND rid <= (SELECT value FROM meta WHERE key = 'text_stats_rid')`
	sqlStatAdd = `INSERT INTO temp.stat_docs(text, l0, l1, l2)
		SELECT trove_fts(text),
			trove_fts(coalesce(json_extract(metadata, '$.l0_abstract'), '')),
			trove_fts(coalesce(json_extract(metadata, '$.l1_overview'), '')),
			trove_fts(coalesce(json_extract(metadata, '$.l2_content'), ''))
		FROM memories WHERE rid IN (SELECT value FROM json_each(?)) AND +scope = ?
			AND rid <= (SELECT value FROM meta WHERE key = 'text_stats_rid')`
	sqlStatGoneDocs = `INSERT INTO temp.stat_docs(text, l0, l1, l2) SELECT text, l0, l1, l2 FROM temp.stat_gone WHERE scope = ?`
	sqlStatSize     = `SELECT count(*), coalesce(sum(trove_doclen(sz)), 0) FROM temp.stat_docs_docsize`
	sqlStatTerms    = `INSERT INTO scope_terms(scope, term, docs) SELECT ?, term, ? * doc FROM temp.stat_vocab WHERE true
		ON CONFLICT(scope, term) DO UPDATE SET docs = docs + excluded.docs`
	sqlStatZeros = `DELETE FROM scope_terms WHERE scope = ? AND term IN (SELECT term FROM temp.stat_vocab) AND docs = 0`
	sqlStatClear = `INSERT INTO temp.stat_docs(stat_docs) VALUES ('delete-all')`
	sqlStatSizes = `INSERT INTO scope_sizes(scope, rows, tokens) VALUES (?, ?, ?)
		ON CONFLICT(scope) DO UPDATE SET rows = rows + excluded.rows, tokens = tokens + excluded.tokens`
	sqlStatEmpty    = `DELETE FROM scope_sizes WHERE scope = ? AND rows = 0`
	sqlStatGoneDone = `DELETE FROM temp.stat_gone`
)

// statStatements are prepared once per store, after statTemp.
var statStatements = []string{sqlStatGone, sqlStatAdd, sqlStatGoneDocs, sqlStatSize, sqlStatTerms, sqlStatZeros,
	sqlStatClear, sqlStatSizes, sqlStatEmpty, sqlStatGoneDone}

// statChange is what one write function changed in one scope's text:
// rows added (their rids) and whether rows left it (copied to stat_gone).
type statChange struct {
	added []int64
	gone  bool
}

func (t *tx) statChange(scope memory.Scope) *statChange {
	if t.stats == nil {
		t.stats = map[memory.Scope]*statChange{}
	}
	c := t.stats[scope]
	if c == nil {
		c = &statChange{}
		t.stats[scope] = c
	}
	return c
}

// statAdded records that row rid now has text in scope.
func (t *tx) statAdded(scope memory.Scope, rid int64) {
	c := t.statChange(scope)
	c.added = append(c.added, rid)
}

// statGone copies the indexed text of row rid, in scope, before it changes.
func (t *tx) statGone(scope memory.Scope, rid int64) error {
	if _, err := t.exec(sqlStatGone, rid); err != nil {
		return fmt.Errorf("update text statistics: %w", err)
	}
	t.statChange(scope).gone = true
	return nil
}

// syncStats applies the recorded changes to scope_sizes and scope_terms:
// per scope, the added rows are tokenized into stat_docs and their
// document counts added, then the rows that left are, and subtracted
// (so a term an update keeps never drops to zero on the way), and terms
// whose count reached zero are deleted.
func (t *tx) syncStats() error {
	if len(t.stats) == 0 {
		return nil
	}
	defer clear(t.stats)
	scopes := make([]memory.Scope, 0, len(t.stats))
	for sc := range t.stats {
		scopes = append(scopes, sc)
	}
	slices.Sort(scopes)
	// apply adds (sign 1) or subtracts (-1) what stat_docs holds, and
	// empties it.
	apply := func(scope memory.Scope, sign int64, rows, tokens *int64) error {
		var n, toks int64
		if err := t.queryRow(sqlStatSize).Scan(&n, &toks); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		*rows += sign * n
		*tokens += sign * toks
		if _, err := t.exec(sqlStatTerms, string(scope), sign); err != nil {
			return err
		}
		if sign < 0 {
			if _, err := t.exec(sqlStatZeros, string(scope)); err != nil {
				return err
			}
		}
		_, err := t.exec(sqlStatClear)
		return err
	}
	anyGone := false
	for _, sc := range scopes {
		c := t.stats[sc]
		var rows, tokens int64
		if len(c.added) > 0 {
			if _, err := t.exec(sqlStatAdd, jsonInts(dedupe(c.added)), string(sc)); err != nil {
				return fmt.Errorf("update text statistics: %w", err)
			}
			if err := apply(sc, 1, &rows, &tokens); err != nil {
				return fmt.Errorf("update text statistics: %w", err)
			}
		}
		if c.gone {
			anyGone = true
			if _, err := t.exec(sqlStatGoneDocs, string(sc)); err != nil {
				return fmt.Errorf("update text statistics: %w", err)
			}
			if err := apply(sc, -1, &rows, &tokens); err != nil {
				return fmt.Errorf("update text statistics: %w", err)
			}
		}
		if rows == 0 && tokens == 0 {
			continue
		}
		if _, err := t.exec(sqlStatSizes, string(sc), rows, tokens); err != nil {
			return fmt.Errorf("update text statistics: %w", err)
		}
		if rows < 0 {
			if _, err := t.exec(sqlStatEmpty, string(sc)); err != nil {
				return fmt.Errorf("update text statistics: %w", err)
			}
		}
	}
	if anyGone {
		if _, err := t.exec(sqlStatGoneDone); err != nil {
			return fmt.Errorf("update text statistics: %w", err)
		}
	}
	return nil
}

// BuildTextStats counts the rows not yet in the per-scope text statistics
// (a store from before schema 3, or after RebuildFTS), textStatsBatch rows
// per write so that each holds the lock a few milliseconds and live
// writers interleave. Until it is done, text search for a caller limited
// to some scopes counts within its scopes at query time, as before. Open
// runs it in the background; running it twice, or in several processes
// at once, is harmless: each batch re-reads where the last one stopped.
func (s *Store) BuildTextStats(ctx context.Context) error {
	for {
		done := false
		err := s.Write(ctx, memory.Owner(), func(stx store.Tx) error {
			t := stx.(*tx)
			var mark int64
			if err := t.tx.QueryRowContext(t.ctx, "SELECT value FROM meta WHERE key = 'text_stats_rid'").Scan(&mark); err != nil {
				return fmt.Errorf("build text statistics: %w", err)
			}
			if mark == textStatsDone {
				done = true
				return nil
			}
			rows, err := t.tx.QueryContext(t.ctx, "SELECT rid, scope FROM memories WHERE rid > ? ORDER BY rid LIMIT ?", mark, textStatsBatch)
			if err != nil {
				return fmt.Errorf("build text statistics: %w", err)
			}
			n := 0
			for rows.Next() {
				var rid int64
				var scope string
				if err := rows.Scan(&rid, &scope); err != nil {
					rows.Close()
					return err
				}
				t.statAdded(memory.Scope(scope), rid)
				mark, n = rid, n+1
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("build text statistics: %w", err)
			}
			if n < textStatsBatch {
				mark, done = textStatsDone, true
			}
			// Raised before the rows are added: syncStats counts only rows
			// at or below it.
			if _, err := t.tx.ExecContext(t.ctx, "UPDATE meta SET value = ? WHERE key = 'text_stats_rid'", mark); err != nil {
				return fmt.Errorf("build text statistics: %w", err)
			}
			return nil
		})
		if err != nil || done {
			return err
		}
	}
}

// TextStatsReport compares the per-scope text statistics with a recount.
type TextStatsReport struct {
	Complete bool `json:"complete"` // every row is counted (see BuildTextStats)
	Scopes   int  `json:"scopes"`
	Terms    int  `json:"terms"`
	// Wrong counts the scope sizes and term counts that differ from the
	// recount (missing or extra entries included).
	Wrong int `json:"wrong"`
}

// CheckTextStats recounts the per-scope statistics from the FTS index in
// one read transaction and compares them with the kept ones: it reads
// every occurrence of every term (seconds at 100k rows), so it is for
// doctor and tests, not for the request path.
func (s *Store) CheckTextStats(ctx context.Context) (TextStatsReport, error) {
	var r TextStatsReport
	tx, err := s.rdb.BeginTx(ctx, nil)
	if err != nil {
		return r, err
	}
	defer tx.Rollback()
	var mark int64
	if err := tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'text_stats_rid'").Scan(&mark); err != nil {
		return r, fmt.Errorf("check text statistics: %w", err)
	}
	r.Complete = mark == textStatsDone
	const recountSizes = `SELECT m.scope, count(*) AS rows, sum(trove_doclen(d.sz)) AS tokens
		FROM memories m JOIN memories_fts_docsize d ON d.id = m.rid WHERE m.rid <= ?1 GROUP BY m.scope`
	const recountTerms = `SELECT m.scope, i.term, count(DISTINCT i.doc) AS docs
		FROM memories_fts_instance i JOIN memories m ON m.rid = i.doc WHERE m.rid <= ?1 GROUP BY m.scope, i.term`
	for _, q := range []string{
		`SELECT count(*) FROM (SELECT scope, rows, tokens FROM scope_sizes EXCEPT ` + recountSizes + `)`,
		`SELECT count(*) FROM (` + recountSizes + ` EXCEPT SELECT scope, rows, tokens FROM scope_sizes)`,
		`SELECT count(*) FROM (SELECT scope, term, docs FROM scope_terms EXCEPT ` + recountTerms + `)`,
		`SELECT count(*) FROM (` + recountTerms + ` EXCEPT SELECT scope, term, docs FROM scope_terms)`,
	} {
		var n int
		if err := tx.QueryRowContext(ctx, q, mark).Scan(&n); err != nil {
			return r, fmt.Errorf("check text statistics: %w", err)
		}
		r.Wrong += n
	}
	if err := tx.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM scope_sizes), (SELECT count(*) FROM scope_terms)").Scan(&r.Scopes, &r.Terms); err != nil {
		return r, fmt.Errorf("check text statistics: %w", err)
	}
	return r, nil
}
