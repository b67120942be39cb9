package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// A caller limited to some scopes must not learn anything about the rows
// of others, and FTS5's bm25() takes its statistics (row count, average
// length, each word's document count) from the whole index: a word added
// to a hidden scope would lower the caller's scores for it. So for such a
// caller the text search plans with, and scores by, statistics of the
// scopes it may read (every scope of its Access, not of the filter, so
// narrowing a request does not change the scale of its scores):
//
//   - the row count and total length (FTS5's per-row token counts, from
//     its docsize table) of those scopes;
//   - each query term's document count in those scopes (the FTS match
//     joined to the rows and filtered by scope).
//
// These are cached like the store-wide counts (see docFreqs): a count
// stays in use for dfMaxAge commits or until the store grew by a
// sixteenth. Reading them costs a visit of every row of the scopes (the
// length) and of every row that has the word (its count) once per cache
// period; the owner, whose scopes are the whole store, keeps FTS5's bm25.
//
// Rows matching the planned query are then scored here with FTS5's
// formula and column weights: the term's frequency in each column comes
// from tokenizing the row's indexed text as the index does (lower case,
// CJK bigrams, runs of letters and digits), its length from FTS5's
// docsize. unicode61's diacritic folding is not repeated, so a row that
// matched only through it ("cafe" for "café") scores that term as zero.

// bm25K1 and bm25B are FTS5's bm25 constants.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// columnWeights are the bm25 weights of the FTS columns text, l0, l1, l2:
// the rank set by migration 1.
var columnWeights = [4]float64{1.0, 1.0, 0.5, 0.25}

// scopedStats is termStats over the scopes one Access reaches, with their
// total length in tokens.
type scopedStats struct {
	termStats
	tokens int
}

func (st scopedStats) avgLen() float64 {
	if st.rows == 0 {
		return 1
	}
	return float64(st.tokens) / float64(st.rows)
}

// simpleTerm reports whether a query term is one token the index holds
// exactly as it is: ASCII letters and digits (query terms are lower
// case), which unicode61 neither splits, folds nor strips. Such a term's
// count in each scope is kept by the writer (scope_terms) and its
// occurrences are read from the index; others (phrases, words in other
// scripts, whose indexed form FTS5 decides) are counted and scored from
// the matching rows.
func simpleTerm(t string) bool {
	for i := 0; i < len(t); i++ {
		if c := t[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return t != ""
}

// scopeStats returns the row count and length of acc's scopes and the
// document count of each term (a word or a phrase) in them: from the
// statistics the writer keeps per scope (read in one transaction, so they
// agree with each other), and for a term they do not hold, or while a
// store's statistics are still being built, by counting at query time.
func (s *Store) scopeStats(ctx context.Context, acc memory.Access, terms []string) (scopedStats, error) {
	scopes := jsonStrings(acc.List())
	st := scopedStats{termStats: termStats{df: make(map[string]int, len(terms))}}
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return st, fmt.Errorf("text search: %w", err)
	}
	defer tx.Rollback()
	var mark int64
	err = tx.QueryRowContext(ctx, `SELECT (SELECT value FROM meta WHERE key = 'text_stats_rid'),
		coalesce(sum(rows), 0), coalesce(sum(tokens), 0) FROM json_each(?) j CROSS JOIN scope_sizes z ON z.scope = j.value`,
		scopes).Scan(&mark, &st.rows, &st.tokens)
	if err != nil {
		return st, fmt.Errorf("text search: %w", err)
	}
	if mark != textStatsDone {
		// Release the read connection first: countScopeStats takes its
		// own, and with every connection held by a search waiting for a
		// second one, searches would wait on each other for ever.
		_ = tx.Rollback()
		return s.countScopeStats(ctx, acc, terms)
	}
	var simple, other []string
	for _, t := range terms {
		if simpleTerm(t) {
			simple = append(simple, t)
			st.df[t] = 0
		} else {
			other = append(other, t)
		}
	}
	if len(simple) > 0 {
		rows, err := tx.QueryContext(ctx, `SELECT t.term, sum(t.docs) FROM json_each(?) j CROSS JOIN json_each(?) w
			CROSS JOIN scope_terms t ON t.scope = j.value AND t.term = w.value GROUP BY t.term`, scopes, jsonStrings(simple))
		if err != nil {
			return st, fmt.Errorf("text search: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var t string
			var n int
			if err := rows.Scan(&t, &n); err != nil {
				return st, fmt.Errorf("text search: %w", err)
			}
			st.df[t] = n
		}
		if err := rows.Err(); err != nil {
			return st, fmt.Errorf("text search: %w", err)
		}
	}
	// As above: countScopeStats takes its own read connection.
	_ = tx.Rollback()
	if len(other) > 0 {
		counted, err := s.countScopeStats(ctx, acc, other)
		if err != nil {
			return st, err
		}
		for _, t := range other {
			st.df[t] = counted.df[t]
		}
	}
	return st, nil
}

// countScopeStats counts the statistics of acc's scopes at query time,
// matching each term within them. The counts are cached like the
// store-wide ones (see docFreqs): a count stays in use for dfMaxAge
// commits or until the store grew by a sixteenth.
func (s *Store) countScopeStats(ctx context.Context, acc memory.Access, terms []string) (scopedStats, error) {
	var seq, rid int64
	if err := s.rdb.QueryRowContext(ctx, "SELECT (SELECT value FROM meta WHERE key = 'seq'), (SELECT coalesce(max(rid), 0) FROM memories)").Scan(&seq, &rid); err != nil {
		return scopedStats{}, fmt.Errorf("text search: %w", err)
	}
	fresh := func(e dfEntry) bool {
		return seq >= e.seq && seq-e.seq <= dfMaxAge && rid >= e.rid && rid-e.rid <= max(dfMaxGrowth, e.rid/16)
	}
	scopes := jsonStrings(acc.List())
	// The entries share the store-wide cache under keys no word can have.
	key := "\x00" + scopes + "\x00"
	st := scopedStats{termStats: termStats{df: make(map[string]int, len(terms))}}
	cached := func(k string) (int, bool) {
		s.dfMu.Lock()
		defer s.dfMu.Unlock()
		e, ok := s.dfCache[k]
		return e.docs, ok && fresh(e)
	}
	keep := func(k string, n int) {
		s.dfMu.Lock()
		defer s.dfMu.Unlock()
		if s.dfCache == nil || len(s.dfCache) > dfMaxEntries {
			s.dfCache = map[string]dfEntry{}
		}
		s.dfCache[k] = dfEntry{docs: n, seq: seq, rid: rid}
	}
	rows, ok1 := cached(key + "rows")
	tokens, ok2 := cached(key + "tokens")
	if !ok1 || !ok2 {
		err := s.rdb.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(trove_doclen(d.sz)), 0)
			FROM memories m JOIN memories_fts_docsize d ON d.id = m.rid WHERE m.scope IN `+inList, scopes).Scan(&rows, &tokens)
		if err != nil {
			return scopedStats{}, fmt.Errorf("text search: %w", err)
		}
		keep(key+"rows", rows)
		keep(key+"tokens", tokens)
	}
	st.rows, st.tokens = rows, tokens
	for _, t := range terms {
		if n, ok := cached(key + t); ok {
			st.df[t] = n
			continue
		}
		var n int
		err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM memories_fts f CROSS JOIN memories m ON m.rid = f.rowid
			WHERE f.memories_fts MATCH ? AND +m.scope IN `+inList, ftsQuery(nil, []string{t}), scopes).Scan(&n)
		if err != nil {
			return scopedStats{}, fmt.Errorf("text search: %w", err)
		}
		keep(key+t, n)
		st.df[t] = n
	}
	return st, nil
}

// searchScoped runs a ranked plan for a caller limited to some scopes.
// Every row matching the plan is scored with the scopes' statistics,
// from the index alone: a simple word's frequency in each row from its
// occurrences (memories_fts_instance), the row's length from FTS5's
// docsize; only the rows matching a phrase or another word are read, to
// count it in their text. The rows are then read best first, filtered by
// scope and the request's filter, until k pass: reading a row costs
// about ten times reading an occurrence, and most of the matches are
// never needed.
func (s *Store) searchScoped(ctx context.Context, acc memory.Access, f store.Filter, plan textPlan, k int) ([]store.TextHit, error) {
	st, err := s.planStats(ctx, acc, plan)
	if err != nil {
		return nil, err
	}
	n := len(plan.terms)
	freqs := map[int64][]float64{}
	at := func(rid int64) []float64 {
		fr := freqs[rid]
		if fr == nil {
			fr = make([]float64, n)
			freqs[rid] = fr
		}
		return fr
	}
	var others []int
	for i, t := range plan.terms {
		if !simpleTerm(t) {
			others = append(others, i)
			continue
		}
		if err := s.occurrences(ctx, t, func(doc int64, col int) { at(doc)[i] += columnWeights[col] }); err != nil {
			return nil, err
		}
	}
	if len(others) > 0 {
		words := make([]string, len(others))
		for j, i := range others {
			words[j] = plan.terms[i]
		}
		if err := s.countInText(ctx, plan.ver, ftsQuery(words, nil), func(rid int64, toks *[4][]string) {
			fr := at(rid)
			for _, i := range others {
				t := strings.Fields(plan.terms[i])
				for c := range toks {
					fr[i] += columnWeights[c] * float64(occurrences(toks[c], t))
				}
			}
		}); err != nil {
			return nil, err
		}
	}
	idf := make([]float64, n)
	for i, t := range plan.terms {
		idf[i] = bm25IDF(st.rows, st.df[t])
	}
	known, err := s.knownLengths(ctx, plan.ver, freqs)
	if err != nil {
		return nil, err
	}
	rk := newBM25Ranker(freqs, idf, st.avgLen(), known, func(rids []int64) (map[int64]int, error) { return s.readLengths(ctx, plan.ver, rids) })
	// Read rows best first until k pass the filter and the next is worse
	// than the k-th (rows of equal score are ordered by rid, as elsewhere).
	where, args := filterClauseOf("+m.", acc, f)
	q := "SELECT j.key, m.id FROM json_each(?) j CROSS JOIN memories m ON m.rid = j.value WHERE " + where
	var hits []store.TextHit
	for chunk := 2*k + 16; ; chunk *= 2 {
		part, err := rk.next(chunk)
		if err != nil {
			return nil, err
		}
		if len(part) == 0 || len(hits) >= k && part[0].score < hits[k-1].Score {
			break
		}
		rids := make([]int64, len(part))
		for i, c := range part {
			rids[i] = c.rid
		}
		rows, err := s.rdb.QueryContext(ctx, q, append([]any{jsonInts(rids)}, args...)...)
		if err != nil {
			return nil, fmt.Errorf("text search: %w", err)
		}
		for rows.Next() {
			var i int
			var id string
			if err := rows.Scan(&i, &id); err != nil {
				rows.Close()
				return nil, err
			}
			hits = append(hits, store.TextHit{ID: id, Score: part[i].score})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("text search: %w", err)
		}
	}
	slices.SortFunc(hits, func(a, b store.TextHit) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), strings.Compare(a.ID, b.ID))
	})
	return hits[:min(k, len(hits))], nil
}

// planStats returns the statistics of the plan's terms: those planning
// read, and the phrases' counts.
func (s *Store) planStats(ctx context.Context, acc memory.Access, plan textPlan) (scopedStats, error) {
	if plan.scoped == nil {
		return s.scopeStats(ctx, acc, plan.terms)
	}
	st := *plan.scoped
	var missing []string
	for _, t := range plan.terms {
		if _, ok := st.df[t]; !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return st, nil
	}
	more, err := s.scopeStats(ctx, acc, missing)
	if err != nil {
		return st, err
	}
	for _, t := range missing {
		st.df[t] = more.df[t]
	}
	return st, nil
}

// ftsColumns are the FTS columns in the order of columnWeights.
var ftsColumns = map[string]int{"text": 0, "l0": 1, "l1": 2, "l2": 3}

// occurrences calls fn for each occurrence of an indexed term.
func (s *Store) occurrences(ctx context.Context, term string, fn func(doc int64, col int)) error {
	rows, err := s.rdb.QueryContext(ctx, "SELECT doc, col FROM memories_fts_instance WHERE term = ?", term)
	if err != nil {
		return fmt.Errorf("text search: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var doc int64
		var col string
		if err := rows.Scan(&doc, &col); err != nil {
			return fmt.Errorf("text search: %w", err)
		}
		fn(doc, ftsColumns[col])
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("text search: %w", err)
	}
	return nil
}

// countInText calls fn with the tokens index version ver holds of each
// row matching an FTS query.
func (s *Store) countInText(ctx context.Context, ver int, match string, fn func(rid int64, toks *[4][]string)) error {
	rows, err := s.rdb.QueryContext(ctx, `SELECT m.rid, m.text,
			coalesce(json_extract(m.metadata, '$.l0_abstract'), ''),
			coalesce(json_extract(m.metadata, '$.l1_overview'), ''),
			coalesce(json_extract(m.metadata, '$.l2_content'), '')
		FROM memories_fts f CROSS JOIN memories m ON m.rid = f.rowid WHERE f.memories_fts MATCH ?`, match)
	if err != nil {
		return fmt.Errorf("text search: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rid int64
		var cols statDocs
		if err := rows.Scan(&rid, &cols[0], &cols[1], &cols[2], &cols[3]); err != nil {
			return fmt.Errorf("text search: %w", err)
		}
		var toks [4][]string
		for c, text := range indexCols(cols, ver) {
			toks[c] = indexTokens(text)
		}
		fn(rid, &toks)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("text search: %w", err)
	}
	return nil
}

// docLengths reads the length in tokens of each row in rids from FTS5's
// docsize, and the change sequence those lengths are current to; a row
// missing there (deleted) is left out.
func (s *Store) docLengths(ctx context.Context, list []int64) (map[int64]int, int64, error) {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("text search: %w", err)
	}
	defer tx.Rollback()
	var seq int64
	if err := tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'seq'").Scan(&seq); err != nil {
		return nil, 0, fmt.Errorf("text search: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT d.id, d.sz FROM json_each(?) j
		CROSS JOIN memories_fts_docsize d ON d.id = j.value`, jsonInts(list))
	if err != nil {
		return nil, 0, fmt.Errorf("text search: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]int, len(list))
	for rows.Next() {
		var rid int64
		var sz sql.RawBytes
		if err := rows.Scan(&rid, &sz); err != nil {
			return nil, 0, fmt.Errorf("text search: %w", err)
		}
		out[rid] = int(docLen(sz))
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("text search: %w", err)
	}
	return out, seq, nil
}

// indexTokens splits indexed text (indexText) into its tokens.
func indexTokens(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	})
}

// occurrences counts where phrase (one or more tokens) appears in toks.
func occurrences(toks, phrase []string) int {
	n := 0
	for i := 0; i+len(phrase) <= len(toks); i++ {
		if slices.Equal(toks[i:i+len(phrase)], phrase) {
			n++
		}
	}
	return n
}

// docLen sums the per-column token counts of an FTS5 docsize record (one
// SQLite varint per column).
func docLen(sz []byte) int64 {
	var total int64
	for len(sz) > 0 {
		v, n := fts5Varint(sz)
		if n == 0 {
			break
		}
		total += int64(v)
		sz = sz[n:]
	}
	return total
}

// fts5Varint decodes SQLite's varint: big-endian 7-bit groups with the
// high bit set on all but the last, the ninth byte taking all 8 bits.
// It returns the bytes read, 0 for a truncated record.
func fts5Varint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b); i++ {
		if i == 8 {
			return v<<8 | uint64(b[i]), 9
		}
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}
