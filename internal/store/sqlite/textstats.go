package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// The text statistics of each scope (scope_sizes, scope_terms: schema 4)
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
// from before schema 4, or after RebuildFTS): BuildTextStats counts them
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
	`CREATE VIRTUAL TABLE IF NOT EXISTS temp.stat_docs USING fts5(text, l0, l1, l2, content = '',
		tokenize = 'unicode61 remove_diacritics 2')`,
	`CREATE VIRTUAL TABLE IF NOT EXISTS temp.stat_vocab USING fts5vocab(temp, stat_docs, 'row')`,
}

const (
	// sqlStatRows reads what the index holds of rows (as sqlFTSAdd gives it).
	sqlStatRows = `SELECT rid, scope, ` + ftsPlainCols + `
		FROM memories WHERE rid IN (SELECT value FROM json_each(?)) AND +rid <= ?`
	sqlStatRows2 = `SELECT rid, scope, ` + ftsStemCols + `
		FROM memories WHERE rid IN (SELECT value FROM json_each(?)) AND +rid <= ?`
	sqlStatMark  = `SELECT value FROM meta WHERE key = 'text_stats_rid'`
	sqlStatDoc   = `INSERT INTO temp.stat_docs(text, l0, l1, l2) VALUES (?, ?, ?, ?)`
	sqlStatVocab = `SELECT term, doc FROM temp.stat_vocab`
	sqlStatSize  = `SELECT count(*), coalesce(sum(trove_doclen(sz)), 0) FROM temp.stat_docs_docsize`
	sqlStatClear = `INSERT INTO temp.stat_docs(stat_docs) VALUES ('delete-all')`
	// A scope's term changes go in as one JSON object, {term: delta}; the
	// sizes as one array, [[scope, rows, tokens], ...].
	sqlStatTerms = `INSERT INTO scope_terms(scope, term, docs) SELECT ?, key, value FROM json_each(?) WHERE value != 0
		ON CONFLICT(scope, term) DO UPDATE SET docs = docs + excluded.docs`
	sqlStatZeros = `DELETE FROM scope_terms WHERE scope = ? AND term IN (SELECT key FROM json_each(?) WHERE value < 0) AND docs = 0`
	sqlStatSizes = `INSERT INTO scope_sizes(scope, rows, tokens)
		SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true
		ON CONFLICT(scope) DO UPDATE SET rows = rows + excluded.rows, tokens = tokens + excluded.tokens`
	sqlStatEmpty = `DELETE FROM scope_sizes WHERE scope IN (SELECT value FROM json_each(?)) AND rows = 0`
)

// statStatements are prepared once per store, after statTemp.
var statStatements = []string{sqlStatRows, sqlStatRows2, sqlStatMark, sqlStatDoc, sqlStatVocab, sqlStatSize, sqlStatClear,
	sqlStatTerms, sqlStatZeros, sqlStatSizes, sqlStatEmpty}

// statDocs is the indexed text of one row (the FTS columns).
type statDocs [4]string

// textStats is what one write function changed in the text statistics:
// rows added (read at the end, once), and the deltas so far.
type textStats struct {
	added   []int64 // rows to read and count in at the end
	pending map[int64]bool
	docs    map[memory.Scope]map[string]int64
	sizes   map[memory.Scope][2]int64      // rows, tokens
	foreign map[memory.Scope][2][]statDocs // rows FTS5 must tokenize: [0] added, [1] gone
}

func (st *textStats) delta(scope memory.Scope) map[string]int64 {
	if st.docs == nil {
		st.docs, st.sizes = map[memory.Scope]map[string]int64{}, map[memory.Scope][2]int64{}
	}
	d := st.docs[scope]
	if d == nil {
		d = map[string]int64{}
		st.docs[scope] = d
	}
	return d
}

// statCount adds (sign 1) or removes (-1) one row's indexed text. Text
// that is all ASCII is tokenized here as unicode61 does (runs of letters
// and digits, lower-cased); other text goes to FTS5's own tokenizer.
func (t *tx) statCount(scope memory.Scope, cols statDocs, sign int64) {
	st := &t.stats
	terms, length, ok := asciiTerms(cols)
	if !ok {
		if st.foreign == nil {
			st.foreign = map[memory.Scope][2][]statDocs{}
		}
		f := st.foreign[scope]
		i := 0
		if sign < 0 {
			i = 1
		}
		f[i] = append(f[i], cols)
		st.foreign[scope] = f
		return
	}
	d := st.delta(scope)
	for _, term := range terms {
		d[term] += sign
	}
	sz := st.sizes[scope]
	st.sizes[scope] = [2]int64{sz[0] + sign, sz[1] + sign*length}
}

// maxASCIIToken bounds the tokens asciiTerms handles; text with a longer
// one goes to FTS5 (which caps what it indexes of a huge token).
const maxASCIIToken = 1000

// asciiTerms returns the distinct terms of a row whose indexed text is
// all ASCII, and its length in tokens; ok is false for other text.
func asciiTerms(cols statDocs) (terms []string, length int64, ok bool) {
	seen := map[string]bool{}
	var buf []byte
	for _, text := range cols {
		for i := 0; i <= len(text); i++ {
			var c byte
			if i < len(text) {
				c = text[i]
				if c >= 0x80 {
					return nil, 0, false
				}
			}
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
				buf = append(buf, c)
				continue
			case 'A' <= c && c <= 'Z':
				buf = append(buf, c+'a'-'A')
				continue
			}
			if len(buf) == 0 {
				continue
			}
			if len(buf) > maxASCIIToken {
				return nil, 0, false
			}
			length++
			if !seen[string(buf)] {
				seen[string(buf)] = true
				terms = append(terms, string(buf))
			}
			buf = buf[:0]
		}
	}
	return terms, length, true
}

// statAdded records that row rid now has text in its scope, to be read
// and counted when the function ends.
func (t *tx) statAdded(rid int64) {
	if t.stats.pending == nil {
		t.stats.pending = map[int64]bool{}
	}
	t.stats.pending[rid] = true
	t.stats.added = append(t.stats.added, rid)
}

// statInserted counts a row just inserted from the values given, when its
// indexed text can be known without reading it back (every field ASCII,
// each metadata field a string or absent: what json_extract returns).
func (t *tx) statInserted(m *memory.Memory, rid int64) {
	if rid > t.statMark {
		return
	}
	cols := statDocs{m.Text}
	for i, k := range []string{"l0_abstract", "l1_overview", "l2_content"} {
		switch v := m.Metadata[k].(type) {
		case nil:
		case string:
			cols[i+1] = v
		default:
			t.statAdded(rid)
			return
		}
	}
	if _, _, ok := asciiTerms(cols); !ok {
		t.statAdded(rid)
		return
	}
	t.statCount(m.Scope, indexCols(cols, t.ftsVer), 1)
}

// statGone counts out row rid before it changes or goes, if it is
// counted. A row already waiting to be read at the end is not: what it
// holds now was never counted in, and the read sees its final state (or
// none, if it goes).
func (t *tx) statGone(rid int64) error {
	if rid > t.statMark || t.stats.pending[rid] {
		return nil
	}
	return t.statRows([]int64{rid}, -1)
}

// statRows counts the indexed text of rows in or out.
func (t *tx) statRows(rids []int64, sign int64) error {
	q := sqlStatRows
	if t.ftsVer >= ftsStemmed {
		q = sqlStatRows2
	}
	st, err := t.prep(q)
	if err != nil {
		return fmt.Errorf("update text statistics: %w", err)
	}
	rows, err := st.QueryContext(t.ctx, jsonInts(rids), t.statMark)
	if err != nil {
		return fmt.Errorf("update text statistics: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rid int64
		var scope string
		var cols statDocs
		if err := rows.Scan(&rid, &scope, &cols[0], &cols[1], &cols[2], &cols[3]); err != nil {
			return fmt.Errorf("update text statistics: %w", err)
		}
		t.statCount(memory.Scope(scope), cols, sign)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("update text statistics: %w", err)
	}
	return nil
}

// syncStats applies what the caller's function changed to scope_sizes and
// scope_terms: rows added are read once here; rows changed or deleted
// were counted out before they changed. Terms whose count reaches zero
// are deleted, as are scopes left with no rows.
func (t *tx) syncStats() error {
	defer func() { t.stats = textStats{} }()
	if len(t.stats.added) > 0 {
		if err := t.statRows(dedupe(t.stats.added), 1); err != nil {
			return err
		}
	}
	if err := t.statForeign(); err != nil {
		return fmt.Errorf("update text statistics: %w", err)
	}
	st := &t.stats
	if len(st.docs) == 0 && len(st.sizes) == 0 {
		return nil
	}
	for sc, d := range st.docs {
		b, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("update text statistics: %w", err)
		}
		if _, err := t.exec(sqlStatTerms, string(sc), string(b)); err != nil {
			return fmt.Errorf("update text statistics: %w", err)
		}
		for _, n := range d {
			if n < 0 {
				if _, err := t.exec(sqlStatZeros, string(sc), string(b)); err != nil {
					return fmt.Errorf("update text statistics: %w", err)
				}
				break
			}
		}
	}
	var sizes [][]any
	var empty []string
	for sc, sz := range st.sizes {
		if sz != [2]int64{} {
			sizes = append(sizes, []any{sc, sz[0], sz[1]})
		}
		if sz[0] < 0 {
			empty = append(empty, string(sc))
		}
	}
	for _, step := range []struct {
		q    string
		list any
		n    int
	}{{sqlStatSizes, sizes, len(sizes)}, {sqlStatEmpty, empty, len(empty)}} {
		if step.n == 0 {
			continue
		}
		b, err := json.Marshal(step.list)
		if err != nil {
			return fmt.Errorf("update text statistics: %w", err)
		}
		if _, err := t.exec(step.q, string(b)); err != nil {
			return fmt.Errorf("update text statistics: %w", err)
		}
	}
	return nil
}

// statForeign counts the rows that are not all ASCII with FTS5's own
// tokenizer: per scope and sign, they are indexed into stat_docs, whose
// vocabulary gives each term's document count and whose docsize their
// length, and which is then emptied.
func (t *tx) statForeign() error {
	st := &t.stats
	if len(st.foreign) == 0 {
		return nil
	}
	for scope, groups := range st.foreign {
		for i, docs := range groups {
			if len(docs) == 0 {
				continue
			}
			sign := int64(1 - 2*i)
			d := st.delta(scope)
			for _, d := range docs {
				if _, err := t.exec(sqlStatDoc, d[0], d[1], d[2], d[3]); err != nil {
					return err
				}
			}
			var n, toks int64
			if err := t.queryRow(sqlStatSize).Scan(&n, &toks); err != nil {
				return err
			}
			sz := st.sizes[scope]
			st.sizes[scope] = [2]int64{sz[0] + sign*n, sz[1] + sign*toks}
			vst, err := t.prep(sqlStatVocab)
			if err != nil {
				return err
			}
			rows, err := vst.QueryContext(t.ctx)
			if err != nil {
				return err
			}
			for rows.Next() {
				var term string
				var c int64
				if err := rows.Scan(&term, &c); err != nil {
					rows.Close()
					return err
				}
				d[term] += sign * c
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if _, err := t.exec(sqlStatClear); err != nil {
				return err
			}
		}
	}
	return nil
}

// BuildTextStats counts the rows not yet in the per-scope text statistics
// (a store from before schema 4, or after RebuildFTS), textStatsBatch rows
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
			rows, err := t.tx.QueryContext(t.ctx, "SELECT rid FROM memories WHERE rid > ? ORDER BY rid LIMIT ?", mark, textStatsBatch)
			if err != nil {
				return fmt.Errorf("build text statistics: %w", err)
			}
			n := 0
			for rows.Next() {
				var rid int64
				if err := rows.Scan(&rid); err != nil {
					rows.Close()
					return err
				}
				t.statAdded(rid)
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
			t.statMark = mark
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
