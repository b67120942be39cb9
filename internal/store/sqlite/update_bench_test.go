package sqlite

import (
	"context"
	"fmt"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// BenchmarkSingleUpdate is one update per Write, one caller at a time, over
// 1,000 rows of 384-dim vectors: the cost of an edit, with what it keeps
// (history: one INSERT … SELECT of the old row) and the FTS re-index.
func BenchmarkSingleUpdate(b *testing.B) {
	for _, mode := range []string{"full", "normal"} {
		b.Run("sync="+mode, func(b *testing.B) {
			s := benchStore(b, mode)
			ctx := context.Background()
			const rows = 1000
			err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
				for i := range rows {
					m := memory.Memory{ID: fmt.Sprintf("m%d", i), Text: "a single memory of modest length about preferences", Vector: benchVec(i)}
					if err := tx.Insert(&m); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
					m, err := tx.Get(fmt.Sprintf("m%d", i%rows))
					if err != nil {
						return err
					}
					m.Text = fmt.Sprintf("a single memory of modest length about preferences, edit %d", i)
					return tx.Update(&m)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}

// BenchmarkSupersede is the write a changed fact makes, one per Write
// over 1,000 fact rows: the new value goes in with its fact_key and
// valid_from, and the row it replaces gets invalidated_at and
// superseded_by (an update, so it keeps a version in history). It
// measures what keeping the validity columns and the fact index costs
// where they are most used.
func BenchmarkSupersede(b *testing.B) {
	for _, mode := range []string{"full", "normal"} {
		b.Run("sync="+mode, func(b *testing.B) {
			s := benchStore(b, mode)
			ctx := context.Background()
			const facts = 1000
			heads := make([]string, facts) // each fact's current row
			err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
				for i := range facts {
					m := memory.Memory{ID: fmt.Sprintf("f%d-0", i), Text: fmt.Sprintf("prefers editor %d", i), Category: memory.CategoryPreference,
						Metadata: map[string]any{memory.KeyFactKey: fmt.Sprintf("preferences:editor %d", i), memory.KeyValidFrom: 1_700_000_000_000}, Vector: benchVec(i)}
					if err := tx.Insert(&m); err != nil {
						return err
					}
					heads[i] = m.ID
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f := i % facts
				err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
					old, err := tx.Get(heads[f])
					if err != nil {
						return err
					}
					at := int64(1_700_000_000_000 + i + 1)
					m := memory.Memory{ID: fmt.Sprintf("f%d-%d", f, i+1), Text: fmt.Sprintf("prefers editor %d, version %d", f, i), Category: memory.CategoryPreference,
						Metadata: map[string]any{memory.KeyFactKey: old.Metadata[memory.KeyFactKey], memory.KeyValidFrom: at, memory.KeySupersedes: old.ID}, Vector: benchVec(i)}
					if err := tx.Insert(&m); err != nil {
						return err
					}
					old.Metadata[memory.KeyInvalidatedAt] = at
					old.Metadata[memory.KeySupersededBy] = m.ID
					if err := tx.Update(&old); err != nil {
						return err
					}
					heads[f] = m.ID
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "supersedes/s")
		})
	}
}
