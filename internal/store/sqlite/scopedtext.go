package sqlite

import (
	"cmp"
	"context"
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

// scopeStats returns the row count and length of acc's scopes and the
// document count of each term (a word or a phrase) in them.
func (s *Store) scopeStats(ctx context.Context, acc memory.Access, terms []string) (scopedStats, error) {
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

// searchScoped runs a ranked plan for a caller limited to some scopes:
// every row matching the plan within the filter is scored with the
// scopes' statistics, and the k best are returned.
func (s *Store) searchScoped(ctx context.Context, acc memory.Access, f store.Filter, plan textPlan, k int) ([]store.TextHit, error) {
	st, err := s.scopeStats(ctx, acc, plan.terms)
	if err != nil {
		return nil, err
	}
	where, args := filterClauseOf("+m.", acc, f)
	rows, err := s.rdb.QueryContext(ctx, `SELECT m.id, trove_doclen(d.sz), m.text,
			coalesce(json_extract(m.metadata, '$.l0_abstract'), ''),
			coalesce(json_extract(m.metadata, '$.l1_overview'), ''),
			coalesce(json_extract(m.metadata, '$.l2_content'), '')
		FROM memories_fts f CROSS JOIN memories m ON m.rid = f.rowid JOIN memories_fts_docsize d ON d.id = f.rowid
		WHERE f.memories_fts MATCH ? AND `+where, append([]any{plan.match}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("text search: %w", err)
	}
	defer rows.Close()
	terms := make([][]string, len(plan.terms))
	idf := make([]float64, len(plan.terms))
	for i, t := range plan.terms {
		terms[i] = strings.Fields(t)
		idf[i] = bm25IDF(st.rows, st.df[t])
	}
	avg := st.avgLen()
	var hits []store.TextHit
	for rows.Next() {
		var id string
		var length int
		var cols [4]string
		if err := rows.Scan(&id, &length, &cols[0], &cols[1], &cols[2], &cols[3]); err != nil {
			return nil, err
		}
		var toks [4][]string
		for c, text := range cols {
			toks[c] = indexTokens(text)
		}
		var score float64
		norm := bm25K1 * (1 - bm25B + bm25B*float64(length)/avg)
		for i, t := range terms {
			var freq float64
			for c := range toks {
				freq += columnWeights[c] * float64(occurrences(toks[c], t))
			}
			score += idf[i] * freq * (bm25K1 + 1) / (freq + norm)
		}
		hits = append(hits, store.TextHit{ID: id, Score: score})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("text search: %w", err)
	}
	slices.SortFunc(hits, func(a, b store.TextHit) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), strings.Compare(a.ID, b.ID))
	})
	return hits[:min(k, len(hits))], nil
}

// indexTokens splits text into the tokens the FTS index holds for it.
func indexTokens(text string) []string {
	return strings.FieldsFunc(strings.ToLower(ftsText(text)), func(r rune) bool {
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
