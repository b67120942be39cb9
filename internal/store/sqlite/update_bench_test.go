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
