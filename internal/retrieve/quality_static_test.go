package retrieve

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/embedding/static"
	"github.com/trove-memory/trove/internal/vecindex"
)

// BenchmarkRecallQualityStatic is BenchmarkRecallQuality with a real
// model2vec model (e.g. potion-base-8M) in place of the hash embedder:
// recall@5, recall@10 and MRR of vector-only, BM25-only and hybrid recall
// on the labelled set. Then the vector index's own promise with that
// model's vectors: the set's queries against 100k zipfian distractor
// texts embedded with it, recall@10 of the default (quantised) search
// against the exact scan, beside its p50 latency. It skips, saying so,
// without a model.
//
//	TROVE_BENCH_STATIC_MODEL=/path/to/potion-base-8M go test -run '^$' -bench RecallQualityStatic -benchtime 1x -timeout 30m ./internal/retrieve/
func BenchmarkRecallQualityStatic(b *testing.B) {
	dir := os.Getenv("TROVE_BENCH_STATIC_MODEL")
	if dir == "" {
		b.Skip("skipped: set TROVE_BENCH_STATIC_MODEL to a model2vec model directory (e.g. potion-base-8M) to measure recall with a real static model")
	}
	emb, err := static.Load(dir)
	if err != nil {
		b.Fatalf("TROVE_BENCH_STATIC_MODEL=%s: %v", dir, err)
	}
	defer emb.Close()
	b.Logf("model %+v", emb.Info())
	st, _, qs, now := qualityFixtureWith(b, emb)
	for _, mode := range []string{"vector", "bm25", "hybrid"} {
		b.Run(mode, func(b *testing.B) {
			s := evaluate(b, New(st, emb, nil, modes(now)[mode]), qs, "", "")
			b.ReportMetric(s.recall1, "recall@1")
			b.ReportMetric(s.recall5, "recall@5")
			b.ReportMetric(s.recall10, "recall@10")
			b.ReportMetric(s.mrr, "MRR")
			b.ReportMetric(float64(s.n), "queries")
		})
	}
	b.Run("index/n=100000", func(b *testing.B) {
		ctx := context.Background()
		const n = 100_000
		ws := newWordSource(n)
		rng := rand.New(rand.NewPCG(7, n))
		texts := make([]string, n)
		for i := range texts {
			texts[i] = ws.sentence(8 + rng.IntN(20))
		}
		vecs, err := emb.Embed(ctx, texts)
		if err != nil {
			b.Fatal(err)
		}
		ix := vecindex.New(emb.Info().Dimensions)
		ix.Grow(n)
		items := make([]vecindex.Item, n)
		for i, v := range vecs {
			items[i] = vecindex.Item{ID: fmt.Sprintf("d%07d", i), Vec: v}
		}
		if err := ix.UpsertMany(items); err != nil {
			b.Fatal(err)
		}
		var queries []string
		for _, q := range qs.Queries {
			queries = append(queries, q.Query)
		}
		qv, err := emb.Embed(ctx, queries)
		if err != nil {
			b.Fatal(err)
		}
		var rec float64
		var lat []time.Duration
		for _, q := range qv {
			start := time.Now()
			got, err := ix.Search(q, vecindex.SearchOptions{K: 10, AllGroups: true})
			lat = append(lat, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
			want, _ := ix.Search(q, vecindex.SearchOptions{K: 10, AllGroups: true, Exact: true})
			rec += overlap(got, want)
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(rec/float64(len(qv)), "recall@10")
	})
}
