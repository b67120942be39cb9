package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store/rowcodec"
)

// Columns read for a memory, without and with the vector (of the active
// slot, read in the same statement: see vecActive).
const (
	cols    = "id, text, category, scope, importance, created_at, updated_at, revision, format, metadata"
	colsVec = cols + ", " + vecActive
)

func selectCols(withVectors bool) string {
	if withVectors {
		return colsVec
	}
	return cols
}

type rowScanner interface{ Scan(dest ...any) error }

func scanMemory(r rowScanner, withVector bool) (memory.Memory, error) {
	var m memory.Memory
	var cat, scope, md string
	var blob []byte
	dest := []any{&m.ID, &m.Text, &cat, &scope, &m.Importance, &m.CreatedAt, &m.UpdatedAt, &m.Revision, &m.Format, &md}
	if withVector {
		dest = append(dest, &blob)
	}
	if err := r.Scan(dest...); err != nil {
		return m, err
	}
	m.Category, m.Scope = memory.Category(cat), memory.Scope(scope)
	if err := json.Unmarshal([]byte(md), &m.Metadata); err != nil {
		return m, fmt.Errorf("memory %s: stored metadata is not valid JSON: %w (run trove doctor)", m.ID, err)
	}
	if m.Metadata == nil {
		m.Metadata = map[string]any{}
	}
	if withVector {
		v, err := rowcodec.RowVector(blob)
		if err != nil {
			return m, fmt.Errorf("memory %s: %w", m.ID, err)
		}
		m.Vector = v
	}
	return m, nil
}

// scopeClause returns the SQL condition limiting rows to what acc may
// reach, intersected with the requested scopes.
func scopeClause(acc memory.Access, requested []memory.Scope) (string, []any) {
	return scopeClauseOf("", acc, requested)
}

// scopeClauseOf is scopeClause for a table alias prefix such as "m.".
func scopeClauseOf(prefix string, acc memory.Access, requested []memory.Scope) (string, []any) {
	var scopes []memory.Scope
	switch {
	case acc.All() && len(requested) == 0:
		return "1=1", nil
	case acc.All():
		scopes = requested
	default:
		eff, _ := acc.Narrow(requested)
		scopes = eff.List()
	}
	if len(scopes) == 0 {
		return "1=0", nil
	}
	return prefix + "scope IN " + inList, []any{jsonStrings(scopes)}
}

// inList is the right-hand side of an IN over a list passed as one JSON
// array parameter: a statement's parameter count never grows with its
// input, so no list (40,000 scopes, say) can exceed SQLite's variable
// limit, and one prepared statement serves every length.
const inList = "(SELECT value FROM json_each(?))"

// jsonStrings encodes a list of strings (or string kinds) as a JSON array.
func jsonStrings[S ~string](xs []S) string {
	b := make([]byte, 0, 2+16*len(xs))
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		q, _ := json.Marshal(string(x)) // a string always encodes
		b = append(b, q...)
	}
	return string(append(b, ']'))
}

// scanAll collects rows.
func scanAll(rows *sql.Rows, withVector bool) ([]memory.Memory, error) {
	defer rows.Close()
	var out []memory.Memory
	for rows.Next() {
		m, err := scanMemory(rows, withVector)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
