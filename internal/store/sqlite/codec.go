package sqlite

import (
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"github.com/trove-memory/trove/internal/memory"
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
	if withVector && blob != nil {
		v, err := decodeVector(blob)
		if err != nil {
			return m, fmt.Errorf("memory %s: %w", m.ID, err)
		}
		if !zeroVector(v) {
			m.Vector = v
		}
	}
	return m, nil
}

// encodeVector stores float32s little-endian, 4 bytes each. An all-zero
// vector has no direction, so it means nothing to vector search (an
// embedder returns one for a text of only unknown words): it is encoded
// as an empty blob, which the write statements store as no vector (see
// sqlInsert, sqlUpdate), so the row is found by its words alone.
func encodeVector(v []float32) []byte {
	if v == nil {
		return nil
	}
	if zeroVector(v) {
		return []byte{}
	}
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// zeroVector reports whether every component of v is zero (an empty v too).
// Rows stored with one before writes dropped them are read as having no
// vector.
func zeroVector(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

func decodeVector(b []byte) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("stored vector is %d bytes, not a whole number of float32s (run trove doctor)", len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

func encodeMetadata(md map[string]any) (string, error) {
	if md == nil {
		return "{}", nil
	}
	b, err := json.Marshal(md)
	if err != nil {
		return "", memory.Invalidf("metadata cannot be encoded as JSON: %v", err)
	}
	if err := memory.CheckMetadataSize(len(b)); err != nil {
		return "", err
	}
	return string(b), nil
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
