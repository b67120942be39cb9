package archive

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// ExportOptions select what Export writes.
type ExportOptions struct {
	Scopes []memory.Scope // empty: every scope acc reaches
	// MemoryCategories keeps only rows of these six-category
	// memory_categories (store.Filter.MemoryCategories); empty: all.
	MemoryCategories []memory.SmartCategory
	WithVectors      bool // include each row's vector
}

// Export writes every row acc can read (limited to opts.Scopes when given)
// to w as JSON Lines, one memory per line in id order, with no cap: each
// line is a memory.Memory as encoding/json writes it, except that <, > and
// & are not escaped. Without WithVectors the vector field is left out. It
// returns the number of rows written. A requested scope outside acc is an
// error (*memory.ScopeDeniedError) and nothing is written.
//
// Rows committed while the export runs may or may not be included; each
// row that is included is as it was at one commit.
func Export(ctx context.Context, s store.Reader, acc memory.Access, w io.Writer, opts ExportOptions) (int, error) {
	for _, sc := range opts.Scopes {
		if _, err := memory.ParseScope(string(sc)); err != nil {
			return 0, err
		}
		if !acc.Allows(sc) {
			return 0, &memory.ScopeDeniedError{Scope: sc}
		}
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false) // memories often hold code; keep it readable
	n := 0
	err := s.Scan(ctx, acc, store.ScanOptions{
		Filter:      store.Filter{Scopes: opts.Scopes, MemoryCategories: opts.MemoryCategories},
		WithVectors: opts.WithVectors,
	}, func(m memory.Memory) error {
		if !opts.WithVectors {
			m.Vector = nil
		}
		if m.Metadata == nil {
			m.Metadata = map[string]any{}
		}
		if err := enc.Encode(m); err != nil {
			return fmt.Errorf("export memory %s: %w", m.ID, err)
		}
		n++
		return nil
	})
	// Flush what was encoded even after an error: those lines are whole.
	if ferr := bw.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("export: write: %w", ferr)
	}
	return n, err
}
