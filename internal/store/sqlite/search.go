package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/rowcodec"
)

var _ store.Searcher = (*Store)(nil)

// SearchText ranks with FTS5's rank (bm25 with the column weights set in
// migration 1: text and L0 count fully, L1 and L2 less, so smart rows are
// not favoured for saying a thing twice). FTS5 ranks its matches once, and
// the rows are read in that order, filtered by scope, until k pass: SQLite
// runs the join with the FTS table outside (CROSS JOIN fixes the order)
// and hands "ORDER BY rank" to FTS5, so no row is read for a match that is
// not needed, and a narrow scope never makes it rank twice.
//
// FTS5 scores every row that matches any query term (a few µs each here),
// so the query is planned first: see planText.
func (s *Store) SearchText(ctx context.Context, acc memory.Access, f store.Filter, query string, k int) ([]store.TextHit, error) {
	if k <= 0 {
		return nil, nil
	}
	ver, err := s.textVersion(ctx)
	if err != nil {
		return nil, err
	}
	phrases, groups := ftsTermGroups(query, ver)
	if len(phrases)+len(groups) == 0 {
		return nil, nil
	}
	plan, err := s.planText(ctx, acc, phrases, groups)
	if err != nil {
		return nil, err
	}
	plan.ver = ver
	if plan.ranked && !acc.All() {
		return s.searchScoped(ctx, acc, f, plan, k)
	}
	// "+m." keeps SQLite from driving the join by the scope index.
	where, args := filterClauseOf("+m.", acc, f)
	rows, err := s.rdb.QueryContext(ctx, textQuery(plan.ranked, where), append(append([]any{plan.match}, args...), k)...)
	if err != nil {
		return nil, fmt.Errorf("text search: %w", err)
	}
	defer rows.Close()
	var hits []store.TextHit
	for rows.Next() {
		var h store.TextHit
		if err := rows.Scan(&h.ID, &h.Score); err != nil {
			return nil, err
		}
		if !plan.ranked {
			h.Score = plan.score
		}
		hits = append(hits, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("text search: %w", err)
	}
	return hits, nil
}

// textQuery is the SQL of a text search: ranked by bm25, or newest first
// without touching rank (reading it runs bm25, whose first call reads the
// whole posting list of every word).
func textQuery(ranked bool, where string) string {
	score, order := "-f.rank", "f.rank"
	if !ranked {
		score, order = "0", "f.rowid DESC"
	}
	return `SELECT m.id, ` + score + ` FROM memories_fts f CROSS JOIN memories m ON m.rid = f.rowid
		WHERE f.memories_fts MATCH ? AND ` + where + ` ORDER BY ` + order + ` LIMIT ?`
}

// commonDocs is the document count above which a query word is left out
// when the query has rarer terms: such a word barely changes the ranking
// (low IDF), yet scoring it means visiting every one of its rows.
// rankBudget bounds the rows a ranked query visits: words are taken
// rarest first while their document counts add up to no more than it
// (the rarest is always taken). Measured at 100k rows (zipfian words):
// FTS5 ranks 3-5 µs a row, and a budget of 1,500 rows left a p99 of
// 7.6 ms for the text half alone.
const (
	commonDocs = 2000
	rankBudget = 600
)

// textPlan is how one text query runs: an FTS5 expression, ranked by bm25
// or (when every word is common) matched newest first with one score.
type textPlan struct {
	match  string
	terms  []string // the phrases and words in match
	ranked bool
	ver    int     // the text index version the terms are in
	score  float64 // for unranked plans: the score every hit gets
	// For a caller limited to some scopes: the statistics planning read
	// (the words' counts), which scoring reuses.
	scoped *scopedStats
}

// planText leaves out the words that would cost the most and rank the
// least. Phrases (the tokens of one identifier such as ERR_CONN_RESET)
// are always kept: they are what exact-identifier queries are about.
//
// When every word is common (each in more than commonDocs rows), bm25
// would have to visit most of the store and would tell its rows apart
// by little (FTS5's IDF of a word in half the rows is zero). Then rows
// must contain the rarest words (see andWords), newest first, and all get
// the score bm25 gives a row with each of those words once at average
// length.
//
// The counts are those of the scopes acc reaches (see scopeStats), so
// what is searched, like how it scores, depends on no other scope.
//
// groups are the query's words, each as its alternative stems (see
// ftsTermGroups): a ranked plan treats every alternative as a word of its
// own, an unranked one requires a word as any of its alternatives.
func (s *Store) planText(ctx context.Context, acc memory.Access, phrases []string, groups [][]string) (textPlan, error) {
	var tokens []string
	for _, g := range groups {
		tokens = append(tokens, g...)
	}
	var st termStats
	var scoped *scopedStats
	switch {
	case !acc.All():
		ss, err := s.scopeStats(ctx, acc, tokens)
		if err != nil {
			return textPlan{}, err
		}
		st, scoped = ss.termStats, &ss
	case len(tokens) < 2 && len(phrases) == 0:
		return textPlan{match: ftsQuery(phrases, tokens), terms: tokens, ranked: true}, nil
	default:
		var err error
		if st, err = s.docFreqs(ctx, tokens); err != nil {
			return textPlan{}, err
		}
	}
	// An alternative in no row must not stand in for its word when another
	// is common: "running" is searched as "run" and German "running", and
	// with "run" left out as common, the plan would search "running" alone
	// and find nothing, where the word's rows should be matched unranked.
	groups = slices.Clone(groups)
	for i, g := range groups {
		if slices.ContainsFunc(g, func(t string) bool { return st.df[t] > commonDocs }) {
			groups[i] = slices.DeleteFunc(slices.Clone(g), func(t string) bool { return st.df[t] == 0 })
		}
	}
	tokens = tokens[:0]
	for _, g := range groups {
		tokens = append(tokens, g...)
	}
	byDocs := slices.Clone(tokens)
	slices.SortStableFunc(byDocs, func(a, b string) int { return st.df[a] - st.df[b] })
	// A word in no row costs nothing and must not take the "rarest" place
	// (a typo would otherwise leave the real words out and find nothing).
	var kept []string
	visited, found := 0, 0
	for _, t := range byDocs {
		d := st.df[t]
		if d > commonDocs || (found > 0 && visited+d > rankBudget) {
			break
		}
		kept = append(kept, t)
		visited += d
		if d > 0 {
			found++
		}
	}
	if len(kept)+len(phrases) > 0 {
		// Keep the query's word order: it is what a reader of --debug sees.
		kept = slices.DeleteFunc(slices.Clone(tokens), func(t string) bool { return !slices.Contains(kept, t) })
		return textPlan{match: ftsQuery(phrases, kept), terms: append(slices.Clone(phrases), kept...), ranked: true, scoped: scoped}, nil
	}
	// A word's alternatives are rows of one word: its count is theirs
	// added up (a row rarely holds two of them).
	words := make([]string, len(groups))
	group := make(map[string][]string, len(groups))
	wst := termStats{df: make(map[string]int, len(groups)), rows: st.rows}
	for i, g := range groups {
		words[i] = strings.Join(g, " ")
		group[words[i]] = g
		for _, t := range g {
			wst.df[words[i]] += st.df[t]
		}
	}
	slices.SortStableFunc(words, func(a, b string) int { return wst.df[a] - wst.df[b] })
	var score float64
	var all, match []string
	for _, w := range andWords(words, wst) {
		g := group[w]
		score += bm25IDF(wst.rows, wst.df[w])
		all = append(all, g...)
		if q := ftsQuery(nil, g); len(g) > 1 {
			match = append(match, "("+q+")")
		} else {
			match = append(match, q)
		}
	}
	return textPlan{match: strings.Join(match, " AND "), terms: all, score: score, scoped: scoped}, nil
}

// andWords picks the words an unranked plan requires, rarest first: the
// two rarest, then each next one while the rows expected to have them all
// (assuming words occur independently) stay over andMinRows. More words
// make the hits better, but too sparse a match means reading most of the
// posting lists to find k rows.
func andWords(byDocs []string, st termStats) []string {
	n := min(2, len(byDocs))
	rows := float64(max(st.rows, 1))
	expect := rows
	for _, t := range byDocs[:n] {
		expect *= float64(st.df[t]) / rows
	}
	for ; n < len(byDocs); n++ {
		next := expect * float64(st.df[byDocs[n]]) / rows
		if next < andMinRows {
			break
		}
		expect = next
	}
	return byDocs[:n]
}

// andMinRows is how many rows an unranked plan's words should still have
// together (expected), so that the newest k are found early in the
// posting lists.
const andMinRows = 1000

// bm25IDF is FTS5's IDF of a word in docs of rows rows (floored at 1e-6,
// as FTS5 does, so a word in most rows still counts a little).
// The row count may be a few commits older than docs, so it is raised to
// docs rather than let the logarithm go negative or NaN.
func bm25IDF(rows, docs int) float64 {
	rows = max(rows, docs)
	return max(math.Log((float64(rows)-float64(docs)+0.5)/(float64(docs)+0.5)), 1e-6)
}

// dfMaxAge is how many commits a cached document frequency stays in use.
// Counting a word's rows reads its whole posting list (milliseconds for a
// word in half of 100k rows, the most expensive part of a query before the
// cache); the counts only steer which words are left out, so a count a few
// commits old does as well as a fresh one.
// A count is also read again once the store has grown by more than
// dfMaxGrowth rows or a sixteenth, whichever is more: one commit (an
// import batch) can add many rows.
const (
	dfMaxAge     = 8
	dfMaxGrowth  = 256
	dfMaxEntries = 100_000
)

type dfEntry struct {
	docs int
	seq  int64 // meta.seq when read
	rid  int64 // the highest row id when read
}

// termStats is what planning needs: document counts and the row count.
type termStats struct {
	df   map[string]int
	rows int
}

// docFreqs returns how many rows contain each token, and how many rows
// there are, from the cache where the count is recent enough, from the FTS
// vocabulary (and a count of rows) otherwise.
func (s *Store) docFreqs(ctx context.Context, tokens []string) (termStats, error) {
	// One commit can insert any number of rows, so the highest rid (an
	// index lookup) bounds how much the store grew since a count was read.
	var seq, rid int64
	if err := s.rdb.QueryRowContext(ctx, "SELECT (SELECT value FROM meta WHERE key = 'seq'), (SELECT coalesce(max(rid), 0) FROM memories)").Scan(&seq, &rid); err != nil {
		return termStats{}, fmt.Errorf("text search: %w", err)
	}
	fresh := func(e dfEntry) bool {
		return seq >= e.seq && seq-e.seq <= dfMaxAge && rid >= e.rid && rid-e.rid <= max(dfMaxGrowth, e.rid/16)
	}
	st := termStats{df: make(map[string]int, len(tokens))}
	var missing []string
	s.dfMu.Lock()
	rowsKnown := s.dfRows != nil && fresh(*s.dfRows)
	if rowsKnown {
		st.rows = s.dfRows.docs
	}
	for _, t := range tokens {
		if e, ok := s.dfCache[t]; ok && fresh(e) {
			st.df[t] = e.docs
		} else {
			missing = append(missing, t)
		}
	}
	s.dfMu.Unlock()
	if len(missing) == 0 && rowsKnown {
		return st, nil
	}
	if !rowsKnown {
		if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM memories").Scan(&st.rows); err != nil {
			return termStats{}, fmt.Errorf("text search: %w", err)
		}
	}
	if len(missing) > 0 {
		// The join looks each term up (fts5vocab answers "term = ?"
		// without reading the whole vocabulary).
		rows, err := s.rdb.QueryContext(ctx, "SELECT v.term, v.doc FROM json_each(?) j CROSS JOIN memories_fts_vocab v ON v.term = j.value", jsonStrings(missing))
		if err != nil {
			return termStats{}, fmt.Errorf("text search: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var t string
			var n int
			if err := rows.Scan(&t, &n); err != nil {
				return termStats{}, err
			}
			st.df[t] = n
		}
		if err := rows.Err(); err != nil {
			return termStats{}, err
		}
	}
	s.dfMu.Lock()
	defer s.dfMu.Unlock()
	if s.dfCache == nil || len(s.dfCache) > dfMaxEntries {
		s.dfCache = map[string]dfEntry{}
	}
	for _, t := range missing {
		s.dfCache[t] = dfEntry{docs: st.df[t], seq: seq, rid: rid}
	}
	if !rowsKnown {
		s.dfRows = &dfEntry{docs: st.rows, seq: seq, rid: rid}
	}
	return st, nil
}

func (s *Store) GetMany(ctx context.Context, acc memory.Access, ids []string) ([]memory.Memory, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	// json_each drives the join so each id is an index lookup, whatever
	// the number of ids; "+" keeps SQLite from looking rows up by scope.
	where, args := scopeClauseOf("+m.", acc, nil)
	q := "SELECT " + prefixed("m.", cols) + " FROM json_each(?) j CROSS JOIN memories m ON m.id = j.value WHERE " + where
	rows, err := s.rdb.QueryContext(ctx, q, append([]any{jsonStrings(ids)}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("read memories: %w", err)
	}
	ms, err := scanAll(rows, false)
	if err != nil {
		return nil, fmt.Errorf("read memories: %w", err)
	}
	return dedupeByID(ms), nil
}

// prefixed qualifies each column of a column list with a table alias.
func prefixed(alias, list string) string {
	return alias + strings.ReplaceAll(list, ", ", ", "+alias)
}

// dedupeByID drops rows read twice (an id given twice), keeping order.
func dedupeByID(ms []memory.Memory) []memory.Memory {
	seen := make(map[string]bool, len(ms))
	return slices.DeleteFunc(ms, func(m memory.Memory) bool {
		dup := seen[m.ID]
		seen[m.ID] = true
		return dup
	})
}

func (s *Store) ChangeSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.rdb.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'seq'").Scan(&seq); err != nil {
		return 0, fmt.Errorf("read change sequence: %w", err)
	}
	return seq, nil
}

func (s *Store) VectorChanges(ctx context.Context, since int64) (store.VectorChanges, error) {
	var ch store.VectorChanges
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return ch, err
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'seq'").Scan(&ch.Seq); err != nil {
		return ch, fmt.Errorf("read change sequence: %w", err)
	}
	if ch.Seq <= since {
		return ch, nil
	}
	// A full load reads only rows with a vector; catching up also reads
	// rows now without one, which leave the index (Deleted).
	// The vectors are the active slot's, read in the same snapshot as seq.
	q := "SELECT id, scope, category, smart_category, " + vecActive + ", " + validFromExpr + ", coalesce(valid_until, 0), coalesce(invalidated_at, 0), coalesce(archived_at, 0) FROM memories WHERE seq > ? AND seq <= ?"
	if since == 0 {
		q += " AND " + vecActive + " IS NOT NULL"
	}
	rows, err := tx.QueryContext(ctx, q, since, ch.Seq)
	if err != nil {
		return ch, fmt.Errorf("read vectors: %w", err)
	}
	for rows.Next() {
		var r store.VectorRow
		var scope, cat, smart string
		var blob []byte
		if err := rows.Scan(&r.ID, &scope, &cat, &smart, &blob, &r.ValidFrom, &r.ValidUntil, &r.InvalidatedAt, &r.ArchivedAt); err != nil {
			rows.Close()
			return ch, err
		}
		if r.Vector, err = rowcodec.DecodeVector(blob); err != nil {
			rows.Close()
			return ch, fmt.Errorf("memory %s: %w", r.ID, err)
		}
		if rowcodec.ZeroVector(r.Vector) { // no vector, or a zero one stored before writes dropped them
			if since > 0 {
				ch.Deleted = append(ch.Deleted, r.ID)
			}
			continue
		}
		r.Scope, r.Category, r.SmartCategory = memory.Scope(scope), memory.Category(cat), memory.SmartCategory(smart)
		ch.Upserts = append(ch.Upserts, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return ch, err
	}
	if since == 0 {
		return ch, nil // a full load: nothing to delete
	}
	drows, err := tx.QueryContext(ctx, "SELECT id FROM tombstones WHERE seq > ? AND seq <= ?", since, ch.Seq)
	if err != nil {
		return ch, fmt.Errorf("read deletions: %w", err)
	}
	defer drows.Close()
	for drows.Next() {
		var id string
		if err := drows.Scan(&id); err != nil {
			return ch, err
		}
		ch.Deleted = append(ch.Deleted, id)
	}
	if err := drows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return ch, err
	}
	return ch, nil
}
