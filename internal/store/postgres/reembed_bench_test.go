package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
)

// BenchmarkSwitchEmbedding reports how long the switch's transaction
// holds (switch-ms) over stores of different sizes: its work is the meta
// rows, not the rows, so it stays flat as the store grows.
//
//	go test -run '^$' -bench SwitchEmbedding -benchtime 1x ./internal/store/postgres
func BenchmarkSwitchEmbedding(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			for range b.N {
				b.StopTimer()
				s, err := Open(ctx, pgtest.URL(b), Options{Space: store.Space{Model: "old", Dimensions: 8}})
				if err != nil {
					b.Fatal(err)
				}
				ms := make([]memory.Memory, n)
				for i := range ms {
					ms[i] = memory.Memory{Text: fmt.Sprintf("row %d", i), Vector: []float32{1, float32(i), 0, 0, 0, 0, 0, 1}}
				}
				if _, err := store.PutMany(ctx, s, memory.Owner(), ms); err != nil {
					b.Fatal(err)
				}
				target := store.Space{Model: "new", Dimensions: 8}
				if _, err := s.BeginReembed(ctx, target); err != nil {
					b.Fatal(err)
				}
				for after := int64(0); ; {
					todo, err := s.ReembedTodo(ctx, after, 1000)
					if err != nil {
						b.Fatal(err)
					}
					if len(todo) == 0 {
						break
					}
					if _, err := s.PutShadow(ctx, target, embedAll(todo, 8)); err != nil {
						b.Fatal(err)
					}
					after = todo[len(todo)-1].RID
				}
				b.StartTimer()
				res, err := s.SwitchEmbedding(ctx, target, make([]float32, 8), nil, false)
				b.StopTimer()
				if err != nil || res.Switched != n {
					b.Fatalf("%+v %v", res, err)
				}
				b.ReportMetric(res.HoldMS, "switch-ms")
				s.Close()
			}
		})
	}
}
