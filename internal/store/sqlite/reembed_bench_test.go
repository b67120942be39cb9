package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// BenchmarkSwitchEmbedding measures the switch's lock hold: n rows of 384
// dimensions move to 32-dimension target vectors, and the switch flips
// the vector slot in one transaction. It also reports the clear of the
// old model's vectors that follows (short writes outside the switch):
// its longest write and its total time.
//
//	go test -run '^$' -bench SwitchEmbedding -benchtime 1x -count 3 ./internal/store/sqlite/
func BenchmarkSwitchEmbedding(b *testing.B) {
	for _, n := range []int{2000, 20000, 100000} {
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
				var after int64
				for {
					rows, _ := s.ReembedTodo(ctx, after, 1000)
					if len(rows) == 0 {
						break
					}
					after = rows[len(rows)-1].RID
					for i := range rows {
						rows[i].Vector = make([]float32, 32)
						rows[i].Vector[1] = 1
					}
					_, _ = s.PutShadow(ctx, target, rows)
				}
				final, _ := s.ReembedTodo(ctx, 0, 256)
				res, err := s.SwitchEmbedding(ctx, target, vec[:32], final, false)
				if err != nil {
					b.Fatal(err)
				}
				if res.Switched != n {
					b.Fatalf("%d rows switched, want %d", res.Switched, n)
				}
				start := time.Now()
				var longest float64
				writes := 0
				if _, err := s.ClearOtherSlot(ctx, clearBatch, func(_ int, hold float64) {
					writes++
					longest = max(longest, hold)
				}); err != nil {
					b.Fatal(err)
				}
				clearS := time.Since(start).Seconds()
				b.ReportMetric(res.HoldMS, "switch-ms")
				b.ReportMetric(longest, "clear-max-batch-ms")
				b.ReportMetric(clearS, "clear-s")
				fmt.Printf("switch of %d rows: lock held %.2f ms; clear of the old vectors: %d writes of %d rows, longest lock hold %.1f ms, %.1f s in all\n",
					n, res.HoldMS, writes, clearBatch, longest, clearS)
				s.Close()
			}
		})
	}
}
