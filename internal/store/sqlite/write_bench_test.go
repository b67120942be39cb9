package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

func benchVec(i int) []float32 {
	v := make([]float32, 384)
	v[i%384] = 1
	return v
}

func benchStore(b *testing.B, sync string) *Store {
	b.Helper()
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), Options{Synchronous: sync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkSingleWrite is one row per Write, one caller at a time: every
// write pays a lock acquisition and a commit.
func BenchmarkSingleWrite(b *testing.B) {
	for _, mode := range []string{"full", "normal"} {
		b.Run("sync="+mode, func(b *testing.B) {
			s := benchStore(b, mode)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
					m := memory.Memory{ID: fmt.Sprintf("m%d", i), Text: "a single memory of modest length about preferences", Vector: benchVec(i)}
					return tx.Insert(&m)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}

// BenchmarkConcurrentWrites is 16 goroutines each writing single rows: the
// group commit shares transactions between them.
func BenchmarkConcurrentWrites(b *testing.B) {
	s := benchStore(b, "full")
	ctx := context.Background()
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/16 + 1
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
					m := memory.Memory{ID: fmt.Sprintf("g%d-%d", g, i), Text: "a concurrent memory", Vector: benchVec(i)}
					return tx.Insert(&m)
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(16*per)/b.Elapsed().Seconds(), "writes/s")
}

// BenchmarkBatchedWrite is 500 rows per Write (what import does).
func BenchmarkBatchedWrite(b *testing.B) {
	s := benchStore(b, "full")
	ctx := context.Background()
	const batch = 500
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		ms := make([]memory.Memory, batch)
		for j := range ms {
			ms[j] = memory.Memory{ID: fmt.Sprintf("b%d", n), Text: "a batched memory of modest length about some decision", Vector: benchVec(n)}
			n++
		}
		if _, err := store.PutMany(ctx, s, memory.Owner(), ms); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}
