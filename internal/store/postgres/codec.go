package postgres

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store/rowcodec"
)

// Columns read for a memory, without and with the vector (of the active
// slot, read in the same statement: see vecActive).
const (
	cols    = "id, text, category, scope, importance, created_at, updated_at, revision, format, metadata"
	colsVec = cols + ", " + vecActive
)

// The vector slots (SQLite schema 12): meta embed_slot names the active
// one, 0 (vector) or 1 (vector_b). Every read of a vector goes through the
// active slot in the same statement, so it sees one model's vectors
// whatever switch commits meanwhile.
const (
	slotSQL   = "(SELECT value FROM meta WHERE key = 'embed_slot')"
	vecActive = "CASE WHEN " + slotSQL + " = '1' THEN vector_b ELSE vector END"
)

// slotCols are the active and other slot's columns of slot n.
func slotCols(n int) (active, other string) {
	if n == 1 {
		return "vector_b", "vector"
	}
	return "vector", "vector_b"
}

func selectCols(withVectors bool) string {
	if withVectors {
		return colsVec
	}
	return cols
}

// scanMemory reads one row of cols (or colsVec).
func scanMemory(r pgx.Row, withVector bool) (memory.Memory, error) {
	var m memory.Memory
	var cat, scope string
	var format int32
	var md, blob []byte
	dest := []any{&m.ID, &m.Text, &cat, &scope, &m.Importance, &m.CreatedAt, &m.UpdatedAt, &m.Revision, &format, &md}
	if withVector {
		dest = append(dest, &blob)
	}
	if err := r.Scan(dest...); err != nil {
		return m, err
	}
	m.Category, m.Scope, m.Format = memory.Category(cat), memory.Scope(scope), memory.Format(format)
	var err error
	if m.Metadata, err = decodeMetadata(md); err != nil {
		return m, fmt.Errorf("memory %s: %w", m.ID, err)
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

// scanAll collects rows of cols (or colsVec) and closes them.
func scanAll(rows pgx.Rows, withVector bool) ([]memory.Memory, error) {
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

func decodeMetadata(md []byte) (map[string]any, error) {
	var out map[string]any
	if len(md) > 0 {
		if err := json.Unmarshal(md, &out); err != nil {
			return nil, fmt.Errorf("stored metadata is not valid JSON: %w (run trove doctor)", err)
		}
	}
	if out == nil {
		out = map[string]any{}
	}
	return out, nil
}

// encodeMetadata is md as JSON text, for a $n::jsonb parameter: jsonb
// cannot hold U+0000, so metadata escaping one is refused.
func encodeMetadata(md map[string]any) (string, error) {
	return rowcodec.EncodeMetadata(md, rejectNUL)
}

func rejectNUL(b []byte) error {
	if hasNUL(b) {
		return memory.Invalidf("metadata holds a NUL character (U+0000), which PostgreSQL cannot store in jsonb: remove it from the metadata's keys and values")
	}
	return nil
}

// hasNUL reports whether JSON text b escapes U+0000 (\u0000 that is not
// an escaped backslash followed by "u0000").
func hasNUL(b []byte) bool {
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte(`\u0000`))
		if j < 0 {
			return false
		}
		j += i
		n := 0 // backslashes in the run ending at j
		for k := j; k >= 0 && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 1 {
			return true
		}
		i = j + 1
	}
}

// unstorable reports whether s cannot be a PostgreSQL text value (it
// holds U+0000 or is not UTF-8): no stored id, scope or key equals it, so
// a lookup by it finds nothing (as in the SQLite store) instead of
// failing on the server.
func unstorable(s string) bool {
	return strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)
}

// args collects a statement's parameters; add returns the placeholder of
// the one it adds.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// scopeClause returns the SQL condition limiting rows (columns prefixed
// with p) to what acc may reach, intersected with the requested scopes.
// The scopes are one array parameter, whatever their number.
func scopeClause(p string, acc memory.Access, requested []memory.Scope, a *args) string {
	var scopes []memory.Scope
	switch {
	case acc.All() && len(requested) == 0:
		return "true"
	case acc.All():
		scopes = requested
	default:
		eff, _ := acc.Narrow(requested)
		scopes = eff.List()
	}
	if len(scopes) == 0 {
		return "false"
	}
	return p + "scope = ANY(" + a.add(strs(scopes)) + "::text[])"
}

// strs converts a list of string kinds to []string.
func strs[S ~string](xs []S) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// tierExpr is a row's tier as the lifecycle reads it (lifecycle.ParseTier):
// core or peripheral when the metadata says so, else working.
const tierExpr = `CASE metadata->>'tier' WHEN 'core' THEN 'core' WHEN 'peripheral' THEN 'peripheral' ELSE 'working' END`

// normTier is tierExpr in Go.
func normTier(v any) string {
	if s, _ := v.(string); s == "core" || s == "peripheral" {
		return s
	}
	return "working"
}

// stateExpr is a row's governance state as memory/governance.go reads it:
// archived (its archived_at column, kept from the metadata), pending, else
// confirmed.
const stateExpr = `CASE WHEN archived_at IS NOT NULL THEN 'archived' WHEN metadata->>'state' = 'pending' AND jsonb_typeof(metadata->'state') = 'string' THEN 'pending' ELSE 'confirmed' END`

// layerExpr is a row's layer: its memory_layer when it is one of the four,
// else memory-lancedb-pro's default (deriveDefaultLayer): reflection for
// rows a reflection wrote (but not reflection-mapped rows), archive for
// archived rows, durable for profile, preferences and events, else working.
const layerExpr = `CASE
	WHEN jsonb_typeof(metadata->'memory_layer') = 'string' AND metadata->>'memory_layer' IN ('durable', 'working', 'reflection', 'archive') THEN metadata->>'memory_layer'
	WHEN jsonb_typeof(metadata->'source') = 'string' AND metadata->>'source' IN ('reflection', 'dreaming-engine', 'session-summary')
		AND coalesce(metadata->>'type', '') <> 'memory-reflection-mapped' THEN 'reflection'
	WHEN archived_at IS NOT NULL THEN 'archive'
	WHEN smart_category IN ('profile', 'preferences', 'events') THEN 'durable'
	ELSE 'working' END`
