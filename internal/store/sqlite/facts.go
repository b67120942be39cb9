package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// The validity columns (schema 6) index what a row's metadata says about
// the fact it states: fact_key, valid_from, valid_until, invalidated_at.
// The metadata is the truth. Every statement that writes metadata also
// writes these columns from it (sqlInsert, sqlUpdate with validityArgs);
// Touch, the only other writer of metadata, changes only recall counters.
// A column is NULL where the metadata does not say: valid_from NULL means
// created_at, valid_until and invalidated_at NULL mean never.

// validFromExpr is a row's memory.ValidFrom in SQL.
const validFromExpr = "coalesce(valid_from, created_at)"

// validityArgs are the values of fact_key, valid_from, valid_until,
// invalidated_at and archived_at (schema 9) for metadata md, read exactly
// as memory.ActiveAt reads them (memory.MetaString, MetaMillis,
// ArchivedAt), so that the SQL predicate and the Go one agree on every
// row.
func validityArgs(md map[string]any) (factKey, from, until, invalidated, archived any) {
	if k := memory.MetaString(md, memory.KeyFactKey); k != "" {
		factKey = k
	}
	// Not memory.ValidFrom: it falls back to created_at, which the column
	// leaves to validFromExpr (an update does not carry created_at).
	if f, ok := memory.MetaMillis(md, memory.KeyValidFrom); ok {
		from = int64(f)
	}
	m := memory.Memory{Metadata: md}
	if u := memory.ValidUntil(m); u != 0 {
		until = u
	}
	if i := memory.InvalidatedAt(m); i != 0 {
		invalidated = i
	}
	if a := memory.ArchivedAt(m); a != 0 {
		archived = a
	}
	return factKey, from, until, invalidated, archived
}

// activeClause is memory.ActiveAt(row, at) in SQL, for columns prefixed
// with p (a table alias, or "+m." to keep SQLite from choosing an index
// by them).
func activeClause(p string, at int64) (string, []any) {
	return "coalesce(" + p + "valid_from, " + p + "created_at) <= ? AND (" + p + "invalidated_at IS NULL OR " + p + "invalidated_at > ?) AND (" +
		p + "valid_until IS NULL OR " + p + "valid_until > ?) AND (" + p + "archived_at IS NULL OR " + p + "archived_at > ?)", []any{at, at, at, at}
}

// Facts returns the rows of one fact within acc: see store.Reader. The
// lookup is by memories_fact (fact_key, scope), so its cost is the
// fact's rows, whatever the store's size; they are sorted by valid_from
// after (a fact has few values).
func (s *Store) Facts(ctx context.Context, acc memory.Access, q store.FactQuery) ([]memory.Memory, error) {
	if q.FactKey == "" {
		return nil, memory.Invalidf("fact query without a fact key: name the fact (fact_key, e.g. preferences:editor)")
	}
	limit := q.Limit
	switch {
	case limit < 0:
		return nil, memory.Invalidf("fact query limit %d is negative", limit)
	case limit == 0:
		limit = store.DefaultFactLimit
	}
	where, args := scopeClause(acc, q.Scopes)
	rows, err := s.rdb.QueryContext(ctx, factsQuery(where), append(append([]any{q.FactKey}, args...), limit)...)
	if err != nil {
		return nil, fmt.Errorf("read fact %s: %w", q.FactKey, err)
	}
	ms, err := scanAll(rows, false)
	if err != nil {
		return nil, fmt.Errorf("read fact %s: %w", q.FactKey, err)
	}
	if ms == nil {
		ms = []memory.Memory{}
	}
	return ms, nil
}

// factsQuery is the SQL of Facts for a scope condition.
func factsQuery(where string) string {
	return "SELECT " + cols + " FROM memories WHERE fact_key = ? AND " + where +
		" ORDER BY " + validFromExpr + " DESC, id DESC LIMIT ?"
}

// sqlFactRows is Tx.FactRows: one scope, every row of the fact.
const sqlFactRows = "SELECT " + cols + " FROM memories WHERE fact_key = ? AND scope = ? ORDER BY " + validFromExpr + " DESC, id DESC"

// FactRows reads the rows of a fact in one scope inside the write
// transaction: see store.Tx.
func (t *tx) FactRows(scope memory.Scope, factKey string) ([]memory.Memory, error) {
	if factKey == "" {
		return nil, memory.Invalidf("fact rows without a fact key: name the fact (fact_key)")
	}
	if !t.acc.Allows(scope) {
		return nil, &memory.ScopeDeniedError{Scope: scope}
	}
	st, err := t.prep(sqlFactRows)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(t.ctx, factKey, string(scope))
	if err != nil {
		return nil, fmt.Errorf("read fact %s in %s: %w", factKey, scope, err)
	}
	ms, err := scanAll(rows, false)
	if err != nil {
		return nil, fmt.Errorf("read fact %s in %s: %w", factKey, scope, err)
	}
	return ms, nil
}

// backfillFacts is the Go step of migration 6: it fills the validity
// columns of the rows whose metadata names a validity key, parsing it as
// the writer does (validityArgs; RFC 3339 times, numeric strings), which
// SQL's JSON functions would not match exactly. Rows that cannot name one
// (no key appears in their JSON text, and no escape sequence that could
// spell one) are not decoded: on most stores that is nearly all of them.
// Metadata that is not JSON is left to trove doctor; the columns stay
// NULL until the row is written again.
func backfillFacts(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT rid, metadata FROM memories
		WHERE instr(metadata, 'fact_key') OR instr(metadata, 'valid_') OR instr(metadata, 'invalidated_at') OR instr(metadata, '\u')`)
	if err != nil {
		return fmt.Errorf("backfill fact columns: %w", err)
	}
	type fill struct {
		rid  int64
		args [4]any
	}
	var fills []fill
	for rows.Next() {
		var rid int64
		var raw string
		if err := rows.Scan(&rid, &raw); err != nil {
			rows.Close()
			return fmt.Errorf("backfill fact columns: %w", err)
		}
		var md map[string]any
		if json.Unmarshal([]byte(raw), &md) != nil {
			continue
		}
		k, f, u, i, _ := validityArgs(md)
		if k != nil || f != nil || u != nil || i != nil {
			fills = append(fills, fill{rid, [4]any{k, f, u, i}})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("backfill fact columns: %w", err)
	}
	// Read first, then write: one statement at a time on the connection.
	st, err := tx.PrepareContext(ctx, "UPDATE memories SET fact_key = ?, valid_from = ?, valid_until = ?, invalidated_at = ? WHERE rid = ?")
	if err != nil {
		return fmt.Errorf("backfill fact columns: %w", err)
	}
	defer st.Close()
	for _, f := range fills {
		if _, err := st.ExecContext(ctx, f.args[0], f.args[1], f.args[2], f.args[3], f.rid); err != nil {
			return fmt.Errorf("backfill fact columns: %w", err)
		}
	}
	return nil
}

// backfillArchive is the Go step of migration 9: it fills archived_at for
// the rows whose metadata says they are archived, read as the writer reads
// it (validityArgs). Only rows whose JSON text could say so are decoded.
func backfillArchive(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT rid, metadata FROM memories WHERE instr(metadata, 'archived') OR instr(metadata, '\u')`)
	if err != nil {
		return fmt.Errorf("backfill archived_at: %w", err)
	}
	type fill struct{ rid, at int64 }
	var fills []fill
	for rows.Next() {
		var rid int64
		var raw string
		if err := rows.Scan(&rid, &raw); err != nil {
			rows.Close()
			return fmt.Errorf("backfill archived_at: %w", err)
		}
		var md map[string]any
		if json.Unmarshal([]byte(raw), &md) != nil {
			continue
		}
		if a := memory.ArchivedAt(memory.Memory{Metadata: md}); a != 0 {
			fills = append(fills, fill{rid, a})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("backfill archived_at: %w", err)
	}
	for _, f := range fills {
		if _, err := tx.ExecContext(ctx, "UPDATE memories SET archived_at = ? WHERE rid = ?", f.at, f.rid); err != nil {
			return fmt.Errorf("backfill archived_at: %w", err)
		}
	}
	return nil
}
