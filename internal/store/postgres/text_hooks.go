package postgres

import "github.com/trove-memory/trove/internal/memory"

// Placeholders for the text index hooks (pg-search replaces this file).
//
// indexRow is called after row rid was inserted or updated, with m as
// stored (text, scope, metadata with its L0/L1/L2 fields), inside the
// write's transaction. unindexRow is called before row rid is updated,
// deleted or purged, while it still holds its old content.

func (t *tx) indexRow(rid int64, m *memory.Memory) error { return nil }

func (t *tx) unindexRow(rid int64) error { return nil }
