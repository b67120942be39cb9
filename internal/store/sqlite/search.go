package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

var _ store.Searcher = (*Store)(nil)

// SearchText ranks with FTS5's rank (bm25 with the column weights set in
// migration 1: text and L0 count fully, L1 and L2 less, so smart rows are
// not favoured for saying a thing twice). The FTS table is ranked alone,
// then the best rowids are joined with the rows and filtered by scope; if
// the filter leaves fewer than k, the window doubles. Ranking inside FTS5
// first avoids reading a row for every match of a common word.
func (s *Store) SearchText(ctx context.Context, acc memory.Access, f store.Filter, query string, k int) ([]store.TextHit, error) {
	phrases, tokens := ftsTerms(query)
	if k <= 0 || len(phrases)+len(tokens) == 0 {
		return nil, nil
	}
	tokens, allCommon, err := s.pruneCommon(ctx, phrases, tokens)
	if err != nil {
		return nil, err
	}
	q := ftsQuery(phrases, tokens)
	if allCommon && len(tokens) > 1 {
		// Every word is common: rows must have both of the two rarest, or
		// ranking would visit most of the store.
		q = strings.ReplaceAll(q, " OR ", " AND ")
	}
	// "+m." keeps SQLite from scanning by the scope index: the join must
	// start from the few ranked rowids.
	where, args := filterClauseOf("+m.", acc, f)
	window := k
	if where != "1=1" {
		window = 8 * k
	}
	for {
		hits, matched, err := s.searchWindow(ctx, q, where, args, window, k)
		if err != nil {
			return nil, err
		}
		if len(hits) >= k || matched < window {
			return hits, nil
		}
		window *= 4
	}
}

// commonDocs is the document count above which a query word is left out,
// when the query has other terms: such a word is in so many rows that it
// barely changes the ranking (low IDF), yet scoring it means visiting every
// one of those rows. Measured at 10k rows (BenchmarkHybridSearch, BM25
// only): p50 16 ms → 5 ms per query.
const commonDocs = 2000

// pruneCommon drops very common tokens, keeping the two rarest (and
// reporting allCommon) when nothing else would remain.
func (s *Store) pruneCommon(ctx context.Context, phrases, tokens []string) (kept []string, allCommon bool, err error) {
	if len(tokens) < 2 && len(phrases) == 0 {
		return tokens, false, nil
	}
	args := make([]any, len(tokens))
	for i, t := range tokens {
		args[i] = t
	}
	rows, err := s.rdb.QueryContext(ctx, "SELECT term, doc FROM memories_fts_vocab WHERE term IN ("+placeholders(len(tokens))+")", args...)
	if err != nil {
		return nil, false, fmt.Errorf("text search: %w", err)
	}
	defer rows.Close()
	df := map[string]int{}
	for rows.Next() {
		var t string
		var n int
		if err := rows.Scan(&t, &n); err != nil {
			return nil, false, err
		}
		df[t] = n
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	var common []string
	for _, t := range tokens {
		if df[t] > commonDocs {
			common = append(common, t)
		} else {
			kept = append(kept, t)
		}
	}
	if len(kept)+len(phrases) == 0 {
		slices.SortFunc(common, func(a, b string) int { return df[a] - df[b] })
		return common[:min(2, len(common))], true, nil
	}
	return kept, false, nil
}

func (s *Store) searchWindow(ctx context.Context, q, where string, args []any, window, k int) ([]store.TextHit, int, error) {
	rows, err := s.rdb.QueryContext(ctx, `WITH top AS (
			SELECT rowid, rank FROM memories_fts WHERE memories_fts MATCH ? ORDER BY rank LIMIT ?)
		SELECT m.id, -top.rank, (SELECT count(*) FROM top)
		FROM top JOIN memories m ON m.rid = top.rowid
		WHERE `+where+`
		ORDER BY top.rank, m.id LIMIT ?`, append(append([]any{q, window}, args...), k)...)
	if err != nil {
		return nil, 0, fmt.Errorf("text search: %w", err)
	}
	defer rows.Close()
	var hits []store.TextHit
	matched := 0
	for rows.Next() {
		var h store.TextHit
		if err := rows.Scan(&h.ID, &h.Score, &matched); err != nil {
			return nil, 0, err
		}
		hits = append(hits, h)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(hits) == 0 {
		// No row passed the filter: count the window to know whether to widen.
		if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? LIMIT ?)`, q, window).Scan(&matched); err != nil {
			return nil, 0, fmt.Errorf("text search: %w", err)
		}
	}
	return hits, matched, nil
}

func (s *Store) GetMany(ctx context.Context, acc memory.Access, ids []string) ([]memory.Memory, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var out []memory.Memory
	// Explicit placeholders let SQLite use the id index (an IN over
	// json_each scanned the table); chunks stay under its variable limit.
	for lo := 0; lo < len(ids); lo += 500 {
		chunk := ids[lo:min(lo+500, len(ids))]
		where, sargs := scopeClauseOf("+", acc, nil) // "+": look rows up by id, not by scope
		args := make([]any, 0, len(chunk)+len(sargs))
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := s.rdb.QueryContext(ctx, "SELECT "+cols+" FROM memories WHERE id IN ("+placeholders(len(chunk))+") AND "+where, append(args, sargs...)...)
		if err != nil {
			return nil, fmt.Errorf("read memories: %w", err)
		}
		ms, err := scanAll(rows, false)
		if err != nil {
			return nil, fmt.Errorf("read memories: %w", err)
		}
		out = append(out, ms...)
	}
	return out, nil
}

func jsonStrings(ss []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q", s) // Go quoting is valid JSON for valid UTF-8 ids
	}
	b.WriteByte(']')
	return b.String()
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
	rows, err := tx.QueryContext(ctx, "SELECT id, scope, category, vector FROM memories WHERE seq > ? AND seq <= ? AND vector IS NOT NULL", since, ch.Seq)
	if err != nil {
		return ch, fmt.Errorf("read vectors: %w", err)
	}
	for rows.Next() {
		var r store.VectorRow
		var scope, cat string
		var blob []byte
		if err := rows.Scan(&r.ID, &scope, &cat, &blob); err != nil {
			rows.Close()
			return ch, err
		}
		if r.Vector, err = decodeVector(blob); err != nil {
			rows.Close()
			return ch, fmt.Errorf("memory %s: %w", r.ID, err)
		}
		r.Scope, r.Category = memory.Scope(scope), memory.Category(cat)
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
