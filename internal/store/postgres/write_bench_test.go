package postgres

import (
	"context"
	"fmt"
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

// BenchmarkSingleWrite is one row per Write, one caller at a time (the
// SQLite store's BenchmarkSingleWrite): each write is a transaction of a
// few round trips (begin, slot, space, insert, seq stamp, commit).
func BenchmarkSingleWrite(b *testing.B) {
	s := openTemp(b)
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
}

// BenchmarkConcurrentWrites is 16 goroutines each writing single rows:
// they share nothing but the seq stamp at commit.
func BenchmarkConcurrentWrites(b *testing.B) {
	s := openTemp(b)
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
					m := memory.Memory{ID: fmt.Sprintf("g%d-%d", g, i), Text: "concurrent memory", Vector: benchVec(i)}
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
