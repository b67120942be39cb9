package postgres

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"weak"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/textquery"
)

var _ store.Searcher = (*Store)(nil)

// SearchText ranks the rows matching any query term by FTS5's bm25 with
// the SQLite store's column weights, computed here from the statistics of
// the scopes acc may read (every scope of its Access, not of the filter,
// so narrowing a request does not change its scores; the owner's are the
// whole store's), so that a row added to a scope the caller cannot read
// changes nothing it sees. The query is planned as the SQLite store plans
// it (planText): words in too many rows are left out while rarer ones
// remain, and a query of only common words matches rows having the rarest
// of them, newest first, with one score.
//
// Everything is read in one snapshot (REPEATABLE READ, read only): the
// statistics, the matching rows and their occurrences agree.
func (s *Store) SearchText(ctx context.Context, acc memory.Access, f store.Filter, query string, k int) ([]store.TextHit, error) {
	if k <= 0 {
		return nil, nil
	}
	phrases, groups := textquery.StemmedGroups(query)
	if len(phrases)+len(groups) == 0 {
		return nil, nil
	}
	var hits []store.TextHit
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(rtx pgx.Tx) error {
		terms := slices.Clone(phrases)
		for _, g := range groups {
			terms = append(terms, g...)
		}
		st, err := s.textStats(ctx, rtx, acc, terms)
		if err != nil {
			return err
		}
		plan := planText(st, phrases, groups)
		if plan.ranked {
			hits, err = rankedSearch(ctx, rtx, acc, f, plan, st, k)
		} else {
			hits, err = unrankedSearch(ctx, rtx, acc, f, plan, k)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("text search: %w", err)
	}
	return hits, nil
}

// commonDocs, rankBudget and andMinRows plan a query as the SQLite store
// does (its search.go has the measurements behind them).
const (
	commonDocs = 2000
	rankBudget = 600
	andMinRows = 1000
)

// textPlan is how one text query runs: ranked by bm25 over terms, or
// (unranked) rows having every group of and, newest first, all scored
// score.
type textPlan struct {
	terms  []string // ranked: the phrases and words scored
	ranked bool
	and    [][]string // unranked: each group's alternatives
	score  float64
}

// planText is the SQLite store's planText on this store's statistics.
func planText(st termStats, phrases []string, groups [][]string) textPlan {
	groups = slices.Clone(groups)
	for i, g := range groups {
		if slices.ContainsFunc(g, func(t string) bool { return st.df[t] > commonDocs }) {
			groups[i] = slices.DeleteFunc(slices.Clone(g), func(t string) bool { return st.df[t] == 0 })
		}
	}
	var tokens []string
	for _, g := range groups {
		tokens = append(tokens, g...)
	}
	byDocs := slices.Clone(tokens)
	slices.SortStableFunc(byDocs, func(a, b string) int { return st.df[a] - st.df[b] })
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
		kept = slices.DeleteFunc(slices.Clone(tokens), func(t string) bool { return !slices.Contains(kept, t) })
		return textPlan{terms: append(slices.Clone(phrases), kept...), ranked: true}
	}
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
	var plan textPlan
	for _, w := range andWords(words, wst) {
		plan.score += bm25IDF(wst.rows, wst.df[w])
		plan.and = append(plan.and, group[w])
	}
	return plan
}

// andWords picks the words an unranked plan requires, rarest first (the
// SQLite store's andWords).
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

// termStats are the statistics of the scopes one Access reaches: rows,
// their total length in tokens, and each term's document count.
type termStats struct {
	rows   int
	tokens int
	df     map[string]int
}

func (st termStats) avgLen() float64 {
	if st.rows == 0 {
		return 1
	}
	return float64(st.tokens) / float64(st.rows)
}

// The scopes' sizes (rows, tokens) are kept by the writes (scope_sizes,
// text.go). A term's document count in the caller's scopes is counted at
// query time (a GIN lookup) and cached: a count stays in use for dfMaxAge
// commits, or until the store has grown by more than dfMaxGrowth rows or
// a sixteenth, as the SQLite store's counts do. Writes keep no count per
// term: one per word of every row would have each commit update dozens of
// shared rows under the lock that orders commits.
const (
	dfMaxAge     = 8
	dfMaxGrowth  = 256
	dfMaxEntries = 100_000
)

type dfEntry struct {
	n   int
	seq int64
	rid int64
}

// statCache holds counts by scope set and term.
type statCache struct {
	mu sync.Mutex
	m  map[string]dfEntry
}

// statCaches are the stores' caches, by a weak pointer to the store (the
// Store struct is another file's), dropped when the store is collected.
var statCaches sync.Map // weak.Pointer[Store] → *statCache

func (s *Store) statCache() *statCache {
	return perStore(&statCaches, s, func() *statCache { return &statCache{m: map[string]dfEntry{}} })
}

// perStore returns s's value in m, making it with mk the first time; the
// entry goes when s is garbage.
func perStore[V any](m *sync.Map, s *Store, mk func() *V) *V {
	key := weak.Make(s)
	if v, ok := m.Load(key); ok {
		return v.(*V)
	}
	v, loaded := m.LoadOrStore(key, mk())
	if !loaded {
		runtime.AddCleanup(s, func(k weak.Pointer[Store]) { m.Delete(k) }, key)
	}
	return v.(*V)
}

// textStats reads the statistics of acc's scopes for terms, within rtx.
func (s *Store) textStats(ctx context.Context, rtx pgx.Tx, acc memory.Access, terms []string) (termStats, error) {
	var a args
	scope := "true"
	key := "\x00all\x00"
	if !acc.All() {
		list := strs(acc.List())
		scope = "scope = ANY(" + a.add(list) + "::text[])"
		key = "\x00" + strings.Join(list, "\x00") + "\x00"
	}
	// The sizes are kept by the writes (scope_sizes): read always, with
	// what the cached counts are checked against.
	st := termStats{df: make(map[string]int, len(terms))}
	var seq, rid int64
	q := `SELECT (SELECT value::bigint FROM meta WHERE key = 'seq'), (SELECT coalesce(max(rid), 0) FROM memories),
		coalesce(sum(rows), 0), coalesce(sum(tokens), 0) FROM scope_sizes WHERE ` + scope
	if err := rtx.QueryRow(ctx, q, a...).Scan(&seq, &rid, &st.rows, &st.tokens); err != nil {
		return termStats{}, err
	}
	fresh := func(e dfEntry) bool {
		return seq >= e.seq && seq-e.seq <= dfMaxAge && rid >= e.rid && rid-e.rid <= max(dfMaxGrowth, e.rid/16)
	}
	c := s.statCache()
	var missing []string
	c.mu.Lock()
	for _, t := range terms {
		if e, ok := c.m[key+t]; ok && fresh(e) {
			st.df[t] = e.n
		} else if !slices.Contains(missing, t) {
			missing = append(missing, t)
		}
	}
	c.mu.Unlock()
	counted := map[string]int{}
	if len(missing) > 0 {
		qs := make([]string, len(missing))
		for i, t := range missing {
			qs[i] = termQuery(t)
		}
		b := slices.Clone(a)
		p := b.add(qs)
		q := `SELECT x.i, (SELECT count(*) FROM memories WHERE tokens @@ x.q::tsquery AND ` + scope + `)
			FROM unnest(` + p + `::text[]) WITH ORDINALITY AS x(q, i) WHERE x.q <> ''`
		rows, err := rtx.Query(ctx, q, b...)
		if err != nil {
			return termStats{}, err
		}
		for rows.Next() {
			var i int64
			var n int
			if err := rows.Scan(&i, &n); err != nil {
				rows.Close()
				return termStats{}, err
			}
			counted[missing[i-1]] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return termStats{}, err
		}
		for _, t := range missing {
			st.df[t] = counted[t]
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > dfMaxEntries {
		c.m = map[string]dfEntry{}
	}
	for _, t := range missing {
		c.m[key+t] = dfEntry{counted[t], seq, rid}
	}
	return st, nil
}

// custom runs a statement with its parameters planned each time (an
// unnamed statement): a cached generic plan cannot tell a tsquery of a
// rare word from one of a common word, and scans the whole table for both.
func custom(a args) []any { return append([]any{pgx.QueryExecModeExec}, a...) }

// sqlOccurrences reads, for each row matching a tsquery (and a filter),
// where the query's lexemes occur in it: positions and their column
// labels.
const sqlOccurrences = `SELECT m.rid, m.id, m.doc_len, u.lexeme, u.positions, u.weights
	FROM memories m CROSS JOIN LATERAL unnest(m.tokens) u
	WHERE m.tokens @@ %s::tsquery AND u.lexeme = ANY(%s::text[]) AND %s`

// rankedSearch scores every row matching a ranked plan (within the
// filter) with bm25 and returns the k best, ties by row order.
func rankedSearch(ctx context.Context, rtx pgx.Tx, acc memory.Access, f store.Filter, plan textPlan, st termStats, k int) ([]store.TextHit, error) {
	match := orQuery(plan.terms)
	if match == "" {
		return nil, nil
	}
	termToks := make([][]string, len(plan.terms))
	var lexemes []string
	for i, t := range plan.terms {
		termToks[i] = termTokens(t)
		for _, l := range termToks[i] {
			if !slices.Contains(lexemes, l) {
				lexemes = append(lexemes, l)
			}
		}
	}
	var a args
	pm, pl := a.add(match), a.add(lexemes)
	where := filterClause("m.", acc, f, &a)
	rows, err := rtx.Query(ctx, fmt.Sprintf(sqlOccurrences, pm, pl, where), custom(a)...)
	if err != nil {
		return nil, err
	}
	type doc struct {
		id     string
		length int
		occ    map[string]occurrences
	}
	docs := map[int64]*doc{}
	for rows.Next() {
		var rid int64
		var id, lex string
		var length int
		var o occurrences
		if err := rows.Scan(&rid, &id, &length, &lex, &o.pos, &o.weights); err != nil {
			rows.Close()
			return nil, err
		}
		d := docs[rid]
		if d == nil {
			d = &doc{id: id, length: length, occ: map[string]occurrences{}}
			docs[rid] = d
		}
		d.occ[lex] = o
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	idf := make([]float64, len(plan.terms))
	for i, t := range plan.terms {
		idf[i] = bm25IDF(st.rows, st.df[t])
	}
	avg := st.avgLen()
	type cand struct {
		rid   int64
		id    string
		score float64
	}
	cands := make([]cand, 0, len(docs))
	for rid, d := range docs {
		norm := bm25K1 * (1 - bm25B + bm25B*float64(d.length)/avg)
		var score float64
		for i, toks := range termToks {
			if freq := termFreq(toks, d.occ); freq > 0 {
				score += idf[i] * freq * (bm25K1 + 1) / (freq + norm)
			}
		}
		cands = append(cands, cand{rid, d.id, score})
	}
	slices.SortFunc(cands, func(a, b cand) int {
		return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.rid, b.rid))
	})
	hits := make([]store.TextHit, 0, min(k, len(cands)))
	for _, c := range cands[:min(k, len(cands))] {
		hits = append(hits, store.TextHit{ID: c.id, Score: c.score})
	}
	return hits, nil
}

// occurrences are where one lexeme occurs in a row: positions, and the
// column label ('A' to 'D') of each.
type occurrences struct {
	pos     []int16
	weights []string
}

// termFreq is a term's bm25 frequency in a row: its occurrences, each
// weighted by its column's weight. A phrase occurs where its first token
// does and each next token is one position further.
func termFreq(toks []string, occ map[string]occurrences) float64 {
	if len(toks) == 0 {
		return 0
	}
	first, ok := occ[toks[0]]
	if !ok {
		return 0
	}
	var freq float64
	for i, p := range first.pos {
		found := true
		for j := 1; j < len(toks) && found; j++ {
			next, ok := occ[toks[j]]
			found = ok && slices.Contains(next.pos, p+int16(j))
		}
		if found && i < len(first.weights) {
			freq += labelWeight(first.weights[i])
		}
	}
	return freq
}

// labelWeight is the bm25 weight of a tsvector position label.
func labelWeight(label string) float64 {
	if i := strings.Index(weightLabels, label); len(label) == 1 && i >= 0 {
		return columnWeights[i]
	}
	return columnWeights[3] // PostgreSQL's default label is D
}

// unrankedSearch returns the newest rows having every group of an
// unranked plan (within the filter), all with the plan's score.
func unrankedSearch(ctx context.Context, rtx pgx.Tx, acc memory.Access, f store.Filter, plan textPlan, k int) ([]store.TextHit, error) {
	var parts []string
	for _, g := range plan.and {
		if q := orQuery(g); q != "" {
			parts = append(parts, "("+q+")")
		}
	}
	if len(parts) == 0 {
		return nil, nil
	}
	var a args
	pm := a.add(strings.Join(parts, " & "))
	where := filterClause("m.", acc, f, &a)
	rows, err := rtx.Query(ctx, "SELECT m.id FROM memories m WHERE m.tokens @@ "+pm+"::tsquery AND "+where+
		" ORDER BY m.rid DESC LIMIT "+strconv.Itoa(k), custom(a)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var hits []store.TextHit
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		hits = append(hits, store.TextHit{ID: id, Score: plan.score})
	}
	return hits, rows.Err()
}

func (s *Store) GetMany(ctx context.Context, acc memory.Access, ids []string) ([]memory.Memory, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var a args
	q := "SELECT " + cols + " FROM memories WHERE id = ANY(" + a.add(ids) + "::text[]) AND " + scopeClause("", acc, nil, &a)
	rows, err := s.pool.Query(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("read memories: %w", err)
	}
	ms, err := scanAll(rows, false)
	if err != nil {
		return nil, fmt.Errorf("read memories: %w", err)
	}
	return ms, nil
}

func (s *Store) ChangeSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.pool.QueryRow(ctx, "SELECT value::bigint FROM meta WHERE key = 'seq'").Scan(&seq); err != nil {
		return 0, fmt.Errorf("read change sequence: %w", err)
	}
	return seq, nil
}
