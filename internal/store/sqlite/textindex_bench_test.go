package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// BenchmarkTextIndexBuild builds the stemmed index of a store from before
// it (10k and 100k rows of Zipf text with vectors; 10k with -short), one
// batch per write as the background build does, and reports how long
// each write takes (the lock is held for about that long): batches p50,
// p99 and max, the switch, the drop of the old index (all its writes, and
// the longest), and the whole build.
//
//	go test -run '^$' -bench TextIndexBuild -benchtime 1x ./internal/store/sqlite/
func BenchmarkTextIndexBuild(b *testing.B) {
	sizes := []int{10_000, 100_000}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			ctx := context.Background()
			backgroundBuilds = false
			defer func() { backgroundBuilds = true }()
			path := filepath.Join(b.TempDir(), "build.db")
			s, err := Open(ctx, path, Options{Synchronous: "normal"})
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			ws := newBenchWords(int64(n))
			for lo := 0; lo < n; lo += 2000 {
				ms := make([]memory.Memory, min(2000, n-lo))
				for i := range ms {
					ms[i] = memory.Memory{ID: fmt.Sprintf("m%07d", lo+i), Text: ws.sentence(8 + rng.IntN(20)),
						Scope: []memory.Scope{"global", "agent:a", "agent:b", "user:u"}[rng.IntN(4)], Vector: benchVec(lo + i)}
				}
				if _, err := store.PutMany(ctx, s, memory.Owner(), ms); err != nil {
					b.Fatal(err)
				}
			}
			s.Close()
			downgradeToPlain(b, path)
			s, err = Open(ctx, path, Options{Synchronous: "normal"})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ResetTimer()
			start := time.Now()
			var batches []time.Duration
			var switched time.Duration
			for {
				var ver int
				t0 := time.Now()
				err := s.Write(ctx, memory.Owner(), func(stx store.Tx) error {
					t := stx.(*tx)
					err := t.buildTextIndexBatch()
					ver = t.ftsVer
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				if ver >= ftsStemmed {
					switched = time.Since(t0)
					break
				}
				batches = append(batches, time.Since(t0))
			}
			var drop, dropMax time.Duration
			for {
				t0 := time.Now()
				done, err := s.dropOldTextIndexStep(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if done {
					break
				}
				d := time.Since(t0)
				drop += d
				dropMax = max(dropMax, d)
			}
			total := time.Since(start)
			slices.Sort(batches)
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(ms(batches[len(batches)/2]), "batch-p50-ms")
			b.ReportMetric(ms(batches[len(batches)*99/100]), "batch-p99-ms")
			b.ReportMetric(ms(batches[len(batches)-1]), "batch-max-ms")
			b.ReportMetric(ms(switched), "switch-ms")
			b.ReportMetric(ms(drop), "drop-ms")
			b.ReportMetric(ms(dropMax), "drop-max-write-ms")
			b.ReportMetric(total.Seconds(), "build-s")
			b.ReportMetric(float64(n)/total.Seconds(), "rows/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
