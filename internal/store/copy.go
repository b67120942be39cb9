package store

import (
	"context"
	"fmt"
	"slices"
)

// Copier is a store that can be read and written wholesale, table by
// table, so that trove migrate-store can copy a whole store to another
// backend as it is: every row with its id, revision, timestamps, metadata,
// derived columns and both vector slots, history, tombstones, erasures,
// capture buffer and jobs, tier moves and injections. Both backends
// implement it (sqlite/copy.go, postgres/copy.go); nothing else uses it.
//
// Rows are []any in the order of the table's Columns (CopyTables), with
// values of the column's kind: string, int64, float64, bool, []byte
// (vectors: float32 little-endian, as stored), a JSON text (CopyJSON), or
// nil for NULL. Keys (the table's first Key columns) order rows bytewise,
// on both backends alike, so a copy can stop and continue after the last
// row the target holds.
type Copier interface {
	// CopyCount counts the rows of table.
	CopyCount(ctx context.Context, table string) (int64, error)
	// CopyRows returns at most limit rows of table in key order, those
	// whose key is after after's (nil: from the first).
	CopyRows(ctx context.Context, table string, after []any, limit int) ([][]any, error)
	// CopyLast returns the row of table with the greatest key (nil when
	// the table is empty).
	CopyLast(ctx context.Context, table string) ([]any, error)
	// PutCopyRows writes rows into table in one write transaction, as
	// they are. Memories keep every stored column of the source row and
	// get what the store's own insert gives a row (its text index entry
	// and statistics, its change sequence, the fact's lock). A memory
	// whose id exists is memory.ErrExists (any row whose key exists
	// fails the batch) and nothing of the batch is kept.
	PutCopyRows(ctx context.Context, table string, rows [][]any) error
	// CopyMeta returns the store-wide values a copy carries (the
	// embedding identity and its probes, the vector slot, the last
	// maintenance pass), by CopyMetaKeys name, as text (probes: the
	// float32 little-endian bytes, base64); absent keys are left out.
	CopyMeta(ctx context.Context) (map[string]string, error)
	// PutCopyMeta records them (a key absent from meta is removed).
	PutCopyMeta(ctx context.Context, meta map[string]string) error
}

// CopyKind is the kind of a copied column's values.
type CopyKind int

// The kinds of copied columns.
const (
	CopyText CopyKind = iota
	CopyInt
	CopyFloat
	CopyBool
	CopyBytes
	CopyJSON
)

// CopyColumn is a column of a copied table.
type CopyColumn struct {
	Name string
	Kind CopyKind
}

// CopyTable is a table a copy carries: its columns as both backends name
// them, and how many of the first form its key. Whole tables have no key
// (erasures): they are copied in one batch.
type CopyTable struct {
	Name    string
	Columns []CopyColumn
	Key     int
	Whole   bool
}

func cols(spec ...any) []CopyColumn {
	out := make([]CopyColumn, 0, len(spec)/2)
	for i := 0; i < len(spec); i += 2 {
		out = append(out, CopyColumn{Name: spec[i].(string), Kind: spec[i+1].(CopyKind)})
	}
	return out
}

// CopyTables are the tables trove migrate-store copies, in the order it
// copies them. Derived data (the text index and its statistics, the
// change sequence) is rebuilt by the target's writes instead.
var CopyTables = []CopyTable{
	{Name: "memories", Key: 1, Columns: cols(
		"id", CopyText, "text", CopyText, "category", CopyText, "scope", CopyText,
		"importance", CopyFloat, "created_at", CopyInt, "updated_at", CopyInt, "revision", CopyInt,
		"format", CopyInt, "metadata", CopyJSON, "vector", CopyBytes, "vector_b", CopyBytes,
		"fact_key", CopyText, "valid_from", CopyInt, "valid_until", CopyInt, "invalidated_at", CopyInt,
		"archived_at", CopyInt, "smart_category", CopyText)},
	{Name: "history", Key: 1, Columns: cols(
		"hid", CopyInt, "id", CopyText, "revision", CopyInt, "text", CopyText, "category", CopyText,
		"scope", CopyText, "importance", CopyFloat, "format", CopyInt, "metadata", CopyJSON,
		"created_at", CopyInt, "updated_at", CopyInt, "replaced_at", CopyInt, "replaced_by", CopyText,
		"change", CopyText)},
	{Name: "tombstones", Key: 1, Columns: cols("id", CopyText, "deleted_at", CopyInt)},
	{Name: "erasures", Whole: true, Columns: cols(
		"id", CopyText, "erased_at", CopyInt, "erased_by", CopyText, "versions", CopyInt, "had_row", CopyBool)},
	{Name: "capture_buffer", Key: 1, Columns: cols(
		"id", CopyInt, "session", CopyText, "scope", CopyText, "agent", CopyText, "role", CopyText,
		"content", CopyText, "created_at", CopyInt, "consumed_at", CopyInt, "capture_id", CopyText)},
	{Name: "capture_jobs", Key: 1, Columns: cols(
		"id", CopyText, "session", CopyText, "scope", CopyText, "agent", CopyText, "state", CopyText,
		"flush", CopyBool, "result", CopyText, "error", CopyText, "attempts", CopyInt,
		"created_at", CopyInt, "updated_at", CopyInt)},
	{Name: "tier_transitions", Key: 1, Columns: cols(
		"id", CopyInt, "memory_id", CopyText, "from_tier", CopyText, "to_tier", CopyText,
		"reason", CopyText, "at", CopyInt, "revision", CopyInt)},
	{Name: "recall_injections", Key: 3, Columns: cols(
		"session", CopyText, "agent", CopyText, "memory_id", CopyText, "turn", CopyInt, "at", CopyInt)},
}

// CopyMetaKeys are the store-wide values a copy carries (Copier.CopyMeta).
var CopyMetaKeys = []string{
	"embed_model", "embed_dims", "embed_probe",
	"embed_previous_model", "embed_previous_dims", "embed_previous_probe",
	"reembed_target_model", "reembed_target_dims", "reembed_old_kept",
	"embed_slot", "embed_slot_clear", "embed_generation",
	"maintain_last",
}

// CopyTableNamed returns the table of CopyTables called name.
func CopyTableNamed(name string) (CopyTable, bool) {
	for _, t := range CopyTables {
		if t.Name == name {
			return t, true
		}
	}
	return CopyTable{}, false
}

// CopyValue turns a value as a database driver scanned it into the Go
// type of kind (see Copier): integers of any width to int64, 0/1 to bool,
// text read as bytes to string and back. nil stays nil.
func CopyValue(kind CopyKind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch kind {
	case CopyText, CopyJSON:
		switch v := v.(type) {
		case string:
			return v, nil
		case []byte:
			return string(v), nil
		}
	case CopyInt:
		switch v := v.(type) {
		case int64:
			return v, nil
		case int32:
			return int64(v), nil
		case int:
			return int64(v), nil
		case int16:
			return int64(v), nil
		}
	case CopyFloat:
		switch v := v.(type) {
		case float64:
			return v, nil
		case float32:
			return float64(v), nil
		case int64:
			return float64(v), nil
		}
	case CopyBool:
		switch v := v.(type) {
		case bool:
			return v, nil
		case int64:
			return v != 0, nil
		}
	case CopyBytes:
		switch v := v.(type) {
		case []byte:
			return slices.Clone(v), nil
		case string:
			return []byte(v), nil
		}
	}
	return nil, fmt.Errorf("a stored value of type %T where the copy expects kind %d", v, kind)
}
