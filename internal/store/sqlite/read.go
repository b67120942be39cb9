package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/trove-memory/trove/internal/lazyre"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// filterClause builds the WHERE condition for a filter within acc.
func filterClause(acc memory.Access, f store.Filter) (string, []any) {
	return filterClauseOf("", acc, f)
}

// filterClauseOf is filterClause for a table alias prefix such as "m.".
func filterClauseOf(p string, acc memory.Access, f store.Filter) (string, []any) {
	where, args := scopeClauseOf(p, acc, f.Scopes)
	conds := []string{where}
	if len(f.Categories) > 0 { // the storage vocabulary: the category column
		conds = append(conds, p+"category IN "+inList)
		args = append(args, jsonStrings(f.Categories))
	}
	switch len(f.MemoryCategories) {
	// The six-category vocabulary: smart_category (schema 10) is
	// memory.SmartCategoryOf of the row, kept by every write. One value
	// is an equality, so the planner can read memories_smart in created_at
	// order; an IN list makes it sort every row of the categories.
	case 0:
	case 1:
		conds = append(conds, p+"smart_category = ?")
		args = append(args, string(f.MemoryCategories[0]))
	default:
		conds = append(conds, p+"smart_category IN "+inList)
		args = append(args, jsonStrings(f.MemoryCategories))
	}
	if f.Format != nil {
		conds = append(conds, p+"format = ?")
		args = append(args, int(*f.Format))
	}
	if f.CreatedBefore != 0 {
		conds = append(conds, p+"created_at < ?")
		args = append(args, f.CreatedBefore)
	}
	if f.ActiveAt != 0 {
		active, aargs := activeClause(p, f.ActiveAt)
		conds = append(conds, active)
		args = append(args, aargs...)
	}
	if f.ExpiredBefore != 0 {
		conds = append(conds, p+"valid_until IS NOT NULL AND "+p+"valid_until <= ?")
		args = append(args, f.ExpiredBefore)
	}
	if f.Unarchived {
		conds = append(conds, p+"archived_at IS NULL")
	}
	for _, k := range slices.Sorted(maps.Keys(f.Metadata)) {
		if !metaKey.MatchString(k) {
			// Not a key we can name safely in a JSON path: match nothing.
			conds = append(conds, "1=0")
			continue
		}
		conds = append(conds, "json_extract("+p+"metadata, '$."+k+"') = ?")
		args = append(args, f.Metadata[k])
	}
	return strings.Join(conds, " AND "), args
}

var metaKey = lazyre.New(`^[A-Za-z0-9_]{1,64}$`)

func (s *Store) Get(ctx context.Context, acc memory.Access, id string) (memory.Memory, error) {
	where, args := scopeClause(acc, nil)
	row := s.rdb.QueryRowContext(ctx, "SELECT "+colsVec+" FROM memories WHERE id = ? AND "+where, append([]any{id}, args...)...)
	m, err := scanMemory(row, true)
	if errors.Is(err, sql.ErrNoRows) {
		return m, &memory.NotFoundError{ID: id}
	}
	return m, err
}

func (s *Store) Resolve(ctx context.Context, acc memory.Access, idOrPrefix string) (string, error) {
	// Only the id is read, so a row whose stored vector or metadata is
	// damaged can still be resolved (and then deleted or rewritten).
	where0, args0 := scopeClause(acc, nil)
	var found string
	err := s.rdb.QueryRowContext(ctx, "SELECT id FROM memories WHERE id = ? AND "+where0, append([]any{idOrPrefix}, args0...)...).Scan(&found)
	switch {
	case err == nil:
		return found, nil
	case !errors.Is(err, sql.ErrNoRows):
		return "", fmt.Errorf("resolve id %s: %w", idOrPrefix, err)
	}
	if len(idOrPrefix) < store.MinPrefix {
		return "", &memory.NotFoundError{ID: idOrPrefix}
	}
	where, args := scopeClause(acc, nil)
	// A range on the unique index: ids starting with the prefix.
	hi := idOrPrefix + "\U0010FFFF"
	rows, err := s.rdb.QueryContext(ctx, "SELECT id FROM memories WHERE id >= ? AND id < ? AND "+where+" ORDER BY id",
		append([]any{idOrPrefix, hi}, args...)...)
	if err != nil {
		return "", fmt.Errorf("resolve id %s: %w", idOrPrefix, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", err
		}
		if strings.HasPrefix(id, idOrPrefix) {
			ids = append(ids, id)
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
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
	where, args := filterClause(acc, opts.Filter)
	if opts.Cursor != "" {
		at, id, err := decodeCursor(opts.Cursor)
		if err != nil {
			return store.Page{}, err
		}
		where += " AND (created_at < ? OR (created_at = ? AND id < ?))"
		args = append(args, at, at, id)
	}
	args = append(args, limit+1)
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+selectCols(opts.WithVectors)+" FROM memories WHERE "+where+
		" ORDER BY created_at DESC, id DESC LIMIT ?", args...)
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
// paging, so rows inserted meanwhile never shift later pages.
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
	where, args := filterClause(acc, opts.Filter)
	after := opts.AfterID
	for {
		rows, err := s.rdb.QueryContext(ctx, "SELECT "+selectCols(opts.WithVectors)+" FROM memories WHERE id > ? AND "+where+
			" ORDER BY id LIMIT ?", append(append([]any{after}, args...), size)...)
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
	where, args := filterClause(acc, f)
	var n int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM memories WHERE "+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count memories: %w", err)
	}
	return n, nil
}

func (s *Store) Stats(ctx context.Context, acc memory.Access, f store.Filter) (store.Stats, error) {
	where, args := filterClause(acc, f)
	st := store.Stats{ByScope: map[string]int{}, ByCategory: map[string]int{}, ByTier: map[string]int{}, ByState: map[string]int{}, ByLayer: map[string]int{}}
	// One read transaction so the figures agree with each other.
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return st, err
	}
	defer tx.Rollback()
	var oldest, newest sql.NullInt64
	// Inactive is counted in the same pass: the rows are read anyway.
	active, aargs := activeClause("", s.opts.Clock().UnixMilli())
	err = tx.QueryRowContext(ctx, "SELECT count(*), coalesce(sum(format = 0), 0), coalesce(sum(NOT ("+active+")), 0), min(created_at), max(created_at) FROM memories WHERE "+where,
		append(aargs, args...)...).Scan(&st.Total, &st.Legacy, &st.Inactive, &oldest, &newest)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	st.Smart = st.Total - st.Legacy
	st.Oldest, st.Newest = oldest.Int64, newest.Int64
	for _, g := range []struct {
		col string
		out map[string]int
	}{{"scope", st.ByScope}, {"category", st.ByCategory}, {tierExpr, st.ByTier}, {stateExpr, st.ByState}, {layerExpr, st.ByLayer}} {
		rows, err := tx.QueryContext(ctx, "SELECT "+g.col+", count(*) FROM memories WHERE "+where+" GROUP BY "+g.col, args...)
		if err != nil {
			return st, fmt.Errorf("stats: %w", err)
		}
		for rows.Next() {
			var k string
			var n int
			if err := rows.Scan(&k, &n); err != nil {
				rows.Close()
				return st, err
			}
			g.out[k] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return st, err
		}
	}
	return st, nil
}

// stateExpr is a row's governance state as memory/governance.go reads it:
// archived (its archived_at column, kept from the metadata), pending, else
// confirmed.
const stateExpr = `CASE WHEN archived_at IS NOT NULL THEN 'archived' WHEN json_extract(metadata, '$.state') = 'pending' THEN 'pending' ELSE 'confirmed' END`

// layerExpr is a row's layer: its memory_layer when it is one of the four,
// else memory-lancedb-pro's default (deriveDefaultLayer): reflection for
// rows a reflection wrote (but not reflection-mapped rows), archive for
// archived rows, durable for profile, preferences and events, else working.
const layerExpr = `CASE
	WHEN json_extract(metadata, '$.memory_layer') IN ('durable', 'working', 'reflection', 'archive') THEN json_extract(metadata, '$.memory_layer')
	WHEN json_extract(metadata, '$.source') IN ('reflection', 'dreaming-engine', 'session-summary')
		AND coalesce(json_extract(metadata, '$.type'), '') <> 'memory-reflection-mapped' THEN 'reflection'
	WHEN archived_at IS NOT NULL THEN 'archive'
	WHEN smart_category IN ('profile', 'preferences', 'events') THEN 'durable'
	ELSE 'working' END`
