package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// filterClause builds the WHERE condition for a filter within acc, for
// columns prefixed with p (a table alias such as "m.", or "").
func filterClause(p string, acc memory.Access, f store.Filter, a *args) string {
	conds := []string{scopeClause(p, acc, f.Scopes, a)}
	if len(f.Categories) > 0 {
		conds = append(conds, p+"category = ANY("+a.add(strs(f.Categories))+"::text[])")
	}
	switch len(f.MemoryCategories) {
	case 0:
	case 1: // an equality, so memories_smart serves the page's order
		conds = append(conds, p+"smart_category = "+a.add(string(f.MemoryCategories[0])))
	default:
		conds = append(conds, p+"smart_category = ANY("+a.add(strs(f.MemoryCategories))+"::text[])")
	}
	if f.Format != nil {
		conds = append(conds, p+"format = "+a.add(int32(*f.Format)))
	}
	if f.CreatedBefore != 0 {
		conds = append(conds, p+"created_at < "+a.add(f.CreatedBefore))
	}
	if f.ActiveAt != 0 {
		conds = append(conds, activeClause(p, f.ActiveAt, a))
	}
	if f.ExpiredBefore != 0 {
		conds = append(conds, p+"valid_until IS NOT NULL AND "+p+"valid_until <= "+a.add(f.ExpiredBefore))
	}
	if f.Unarchived {
		conds = append(conds, p+"archived_at IS NULL")
	}
	if len(f.Metadata) > 0 {
		want := map[string]string{}
		for _, k := range slices.Sorted(maps.Keys(f.Metadata)) {
			if !metaKey.MatchString(k) {
				// Not a key the SQLite store can name in a JSON path: match
				// nothing, as it does.
				return "false"
			}
			if unstorable(f.Metadata[k]) {
				return "false" // no stored value holds it
			}
			want[k] = f.Metadata[k]
		}
		b, _ := json.Marshal(want) // strings always encode
		// Containment of top-level string values: exactly "has these keys
		// with these string values".
		conds = append(conds, p+"metadata @> "+a.add(string(b))+"::jsonb")
	}
	return strings.Join(conds, " AND ")
}

func (s *Store) Get(ctx context.Context, acc memory.Access, id string) (memory.Memory, error) {
	if unstorable(id) {
		return memory.Memory{}, &memory.NotFoundError{ID: id}
	}
	var a args
	q := "SELECT " + colsVec + " FROM memories WHERE id = " + a.add(id) + " AND " + scopeClause("", acc, nil, &a)
	m, err := scanMemory(s.pool.QueryRow(ctx, q, a...), true)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, &memory.NotFoundError{ID: id}
	}
	if err != nil {
		return m, fmt.Errorf("read memory %s: %w", id, err)
	}
	return m, nil
}

func (s *Store) Resolve(ctx context.Context, acc memory.Access, idOrPrefix string) (string, error) {
	// Only the id is read, so a row whose stored vector or metadata is
	// damaged can still be resolved (and then deleted or rewritten).
	if unstorable(idOrPrefix) {
		return "", &memory.NotFoundError{ID: idOrPrefix}
	}
	var a args
	var found string
	err := s.pool.QueryRow(ctx, "SELECT id FROM memories WHERE id = "+a.add(idOrPrefix)+" AND "+scopeClause("", acc, nil, &a), a...).Scan(&found)
	switch {
	case err == nil:
		return found, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return "", fmt.Errorf("resolve id %s: %w", idOrPrefix, err)
	}
	if len(idOrPrefix) < store.MinPrefix {
		return "", &memory.NotFoundError{ID: idOrPrefix}
	}
	// A range on the unique index (ids sort bytewise: COLLATE "C").
	a = nil
	q := "SELECT id FROM memories WHERE id >= " + a.add(idOrPrefix) + " AND id < " + a.add(idOrPrefix+"\U0010FFFF") +
		" AND " + scopeClause("", acc, nil, &a) + " ORDER BY id"
	rows, err := s.pool.Query(ctx, q, a...)
	if err != nil {
		return "", fmt.Errorf("resolve id %s: %w", idOrPrefix, err)
	}
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("resolve id %s: %w", idOrPrefix, err)
	}
	var ids []string
	for _, id := range all {
		if strings.HasPrefix(id, idOrPrefix) {
			ids = append(ids, id)
		}
	}
	switch len(ids) {
	case 0:
		return "", &memory.NotFoundError{ID: idOrPrefix}
	case 1:
		return ids[0], nil
	default:
		return "", &memory.AmbiguousError{Prefix: idOrPrefix, Candidates: ids}
	}
}

func (s *Store) List(ctx context.Context, acc memory.Access, opts store.ListOptions) (store.Page, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = 20
	}
	var a args
	where := filterClause("", acc, opts.Filter, &a)
	if opts.Cursor != "" {
		at, id, err := decodeCursor(opts.Cursor)
		if err != nil {
			return store.Page{}, err
		}
		where += " AND (created_at, id) < (" + a.add(at) + "::bigint, " + a.add(id) + "::text COLLATE \"C\")"
	}
	rows, err := s.pool.Query(ctx, "SELECT "+selectCols(opts.WithVectors)+" FROM memories WHERE "+where+
		" ORDER BY created_at DESC, id DESC LIMIT "+a.add(limit+1), a...)
	if err != nil {
		return store.Page{}, fmt.Errorf("list memories: %w", err)
	}
	ms, err := scanAll(rows, opts.WithVectors)
	if err != nil {
		return store.Page{}, fmt.Errorf("list memories: %w", err)
	}
	page := store.Page{Memories: ms}
	if len(ms) > limit {
		page.Memories = ms[:limit]
		last := ms[limit-1]
		page.NextCursor = encodeCursor(last.CreatedAt, last.ID)
	}
	if page.Memories == nil {
		page.Memories = []memory.Memory{}
	}
	return page, nil
}

// A cursor is the (created_at, id) of the last row of a page: keyset
// paging, so rows inserted meanwhile never shift later pages. The same
// encoding as the SQLite store's.
func encodeCursor(at int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at, 10) + ":" + id))
}

func decodeCursor(c string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		at, id, ok := strings.Cut(string(b), ":")
		if n, perr := strconv.ParseInt(at, 10, 64); ok && perr == nil {
			return n, id, nil
		}
	}
	return 0, "", memory.Invalidf("cursor %q is not one this store returned: start again without a cursor", c)
}

func (s *Store) Scan(ctx context.Context, acc memory.Access, opts store.ScanOptions, fn func(memory.Memory) error) error {
	size := opts.PageSize
	if size <= 0 {
		size = 500
	}
	after := opts.AfterID
	for {
		var a args
		q := "SELECT " + selectCols(opts.WithVectors) + " FROM memories WHERE id > " + a.add(after) + " AND " +
			filterClause("", acc, opts.Filter, &a) + " ORDER BY id LIMIT " + a.add(size)
		rows, err := s.pool.Query(ctx, q, a...)
		if err != nil {
			return fmt.Errorf("scan memories: %w", err)
		}
		ms, err := scanAll(rows, opts.WithVectors)
		if err != nil {
			return fmt.Errorf("scan memories: %w", err)
		}
		for _, m := range ms {
			if err := fn(m); err != nil {
				return err
			}
		}
		if len(ms) < size {
			return nil
		}
		after = ms[len(ms)-1].ID
	}
}

func (s *Store) Count(ctx context.Context, acc memory.Access, f store.Filter) (int, error) {
	var a args
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM memories WHERE "+filterClause("", acc, f, &a), a...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count memories: %w", err)
	}
	return n, nil
}

func (s *Store) Stats(ctx context.Context, acc memory.Access, f store.Filter) (store.Stats, error) {
	st := store.Stats{ByScope: map[string]int{}, ByCategory: map[string]int{}, ByTier: map[string]int{}, ByState: map[string]int{}, ByLayer: map[string]int{}}
	// One snapshot so the figures agree with each other.
	rtx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	defer rtx.Rollback(context.WithoutCancel(ctx))
	var a args
	where := filterClause("", acc, f, &a)
	var oldest, newest *int64
	// Inactive is counted in the same pass: the rows are read anyway.
	aa := append(args{}, a...)
	active := activeClause("", s.opts.Clock().UnixMilli(), &aa)
	err = rtx.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE format = 0), count(*) FILTER (WHERE NOT ("+active+")), min(created_at), max(created_at) FROM memories WHERE "+where,
		aa...).Scan(&st.Total, &st.Legacy, &st.Inactive, &oldest, &newest)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	st.Smart = st.Total - st.Legacy
	if oldest != nil {
		st.Oldest, st.Newest = *oldest, *newest
	}
	for _, g := range []struct {
		col string
		out map[string]int
	}{{"scope", st.ByScope}, {"category", st.ByCategory}, {tierExpr, st.ByTier}, {stateExpr, st.ByState}, {layerExpr, st.ByLayer}} {
		rows, err := rtx.Query(ctx, "SELECT "+g.col+" AS k, count(*) FROM memories WHERE "+where+" GROUP BY k", a...)
		if err != nil {
			return st, fmt.Errorf("stats: %w", err)
		}
		for rows.Next() {
			var k string
			var n int
			if err := rows.Scan(&k, &n); err != nil {
				rows.Close()
				return st, fmt.Errorf("stats: %w", err)
			}
			g.out[k] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return st, fmt.Errorf("stats: %w", err)
		}
	}
	return st, nil
}
