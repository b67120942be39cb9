package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

var _ store.Searcher = (*Store)(nil)

// bm25Weights weigh the FTS columns text, L0, L1, L2. L0 is a search key
// written for recall, so it counts like the text; L1 and L2 mostly repeat
// the text and count less, so smart rows are not favoured for saying a
// thing twice.
const bm25Weights = "1.0, 1.0, 0.5, 0.25"

func (s *Store) SearchText(ctx context.Context, acc memory.Access, f store.Filter, query string, k int) ([]store.TextHit, error) {
	q := ftsQuery(query)
	if q == "" || k <= 0 {
		return nil, nil
	}
	where, args := filterClauseOf("m.", acc, f)
	rows, err := s.rdb.QueryContext(ctx, `SELECT m.id, -bm25(memories_fts, `+bm25Weights+`) AS score
		FROM memories_fts JOIN memories m ON m.rid = memories_fts.rowid
		WHERE memories_fts MATCH ? AND `+where+`
		ORDER BY score DESC, m.id LIMIT ?`, append(append([]any{q}, args...), k)...)
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
		hits = append(hits, h)
	}
	return hits, rows.Err()
}

func (s *Store) GetMany(ctx context.Context, acc memory.Access, ids []string) ([]memory.Memory, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	where, args := scopeClause(acc, nil)
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+cols+" FROM memories WHERE id IN (SELECT value FROM json_each(?)) AND "+where,
		append([]any{jsonStrings(ids)}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("read memories: %w", err)
	}
	return scanAll(rows, false)
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
