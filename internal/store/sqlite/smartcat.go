package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/trove-memory/trove/internal/memory"
)

// smart_category (schema 10) is memory.SmartCategoryOf of the row: the
// six-category memory_category that Filter.MemoryCategories matches. The
// row's format, category, text and metadata are the truth; sqlInsert and
// sqlUpdate write the column from the row they write, and Touch, the only
// other writer of a row, changes recall counters alone, which the mapping
// does not read. Reembed writes vectors only.

// backfillSmartCategory is the Go step of migration 10: it fills
// smart_category for every stored row, deriving it as the writer does
// (memory.SmartCategoryOf), which SQL cannot: the mapping reads the text
// with a regular expression. Metadata is decoded only where the mapping
// reads it (a smart row's memory_category, a decision's type). Metadata
// that is not JSON reads as none, as memory.SmartCategoryOf would read a
// row whose metadata it cannot see; trove doctor reports such rows.
func backfillSmartCategory(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT rid, format, category, text, metadata FROM memories")
	if err != nil {
		return fmt.Errorf("backfill smart_category: %w", err)
	}
	type fill struct {
		rid int64
		cat memory.SmartCategory
	}
	var fills []fill
	for rows.Next() {
		var rid int64
		var format int
		var cat, text, raw string
		if err := rows.Scan(&rid, &format, &cat, &text, &raw); err != nil {
			rows.Close()
			return fmt.Errorf("backfill smart_category: %w", err)
		}
		m := memory.Memory{Format: memory.Format(format), Category: memory.Category(cat), Text: text}
		if m.Format == memory.FormatSmart || m.Category == memory.CategoryDecision {
			_ = json.Unmarshal([]byte(raw), &m.Metadata)
		}
		fills = append(fills, fill{rid, memory.SmartCategoryOf(m)})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("backfill smart_category: %w", err)
	}
	// Read first, then write: one statement at a time on the connection.
	st, err := tx.PrepareContext(ctx, "UPDATE memories SET smart_category = ? WHERE rid = ?")
	if err != nil {
		return fmt.Errorf("backfill smart_category: %w", err)
	}
	defer st.Close()
	for _, f := range fills {
		if _, err := st.ExecContext(ctx, string(f.cat), f.rid); err != nil {
			return fmt.Errorf("backfill smart_category: %w", err)
		}
	}
	return nil
}
