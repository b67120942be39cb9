package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// BenchmarkSwitchEmbedding measures the switch's lock hold: n rows of 384
// dimensions move to 32-dimension target vectors in one transaction.
//
//	go test -run '^$' -bench SwitchEmbedding -benchtime 1x ./internal/store/sqlite/
func BenchmarkSwitchEmbedding(b *testing.B) {
	for _, n := range []int{2000, 20000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				ctx := context.Background()
				s, err := Open(ctx, filepath.Join(b.TempDir(), "t.db"), Options{Synchronous: "full"})
				if err != nil {
					b.Fatal(err)
				}
				vec := make([]float32, 384)
				vec[0] = 1
				for i := 0; i < n; i += 500 {
					_ = s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
						for k := i; k < min(n, i+500); k++ {
							if err := tx.Insert(&memory.Memory{Text: fmt.Sprint("row ", k), Vector: vec}); err != nil {
								return err
							}
						}
						return nil
					})
				}
				target := store.Space{Model: "new", Dimensions: 32}
				_, _ = s.BeginReembed(ctx, target)
				for {
					rows, _ := s.ReembedTodo(ctx, 0, 1000)
					if len(rows) == 0 {
						break
					}
					for i := range rows {
						rows[i].Vector = make([]float32, 32)
						rows[i].Vector[1] = 1
					}
					_, _ = s.PutShadow(ctx, target, rows)
				}
				res, err := s.SwitchEmbedding(ctx, target, vec[:32], nil, false)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res.HoldMS, "switch-ms")
				s.Close()
			}
		})
	}
}
