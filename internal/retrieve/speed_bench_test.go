package retrieve

import (
	"context"
	"fmt"
	mrand "math/rand"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
	"github.com/trove-memory/trove/internal/vecindex"
)

// overlap is the share of want's ids that got has.
func overlap(got, want []vecindex.Hit) float64 {
	if len(want) == 0 {
		return 1
	}
	n := 0
	for _, w := range want {
		if slices.ContainsFunc(got, func(g vecindex.Hit) bool { return g.ID == w.ID }) {
			n++
		}
	}
	return float64(n) / float64(len(want))
}

// precomputed answers query embeddings from a table, so the benchmark
// measures search, not the embedding call.
type precomputed map[string][]float32

func (p precomputed) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = p[t]
	}
	return out, nil
}

var words = strings.Fields(`deploy database postgres redis kafka queue worker cron backup restore token auth session
	cookie header proxy nginx gateway timeout retry latency cache index shard replica migration schema column table
	editor vim emacs vscode theme dark light font keyboard layout coffee tea lunch meeting standup review release branch
	merge rebase commit tag version build test lint format docker image registry cluster node pod secret config yaml
	json parser error panic trace log metric alert dashboard budget invoice customer ticket sprint roadmap design api`)

// vocab is the benchmark's vocabulary: the domain words above first (the
// most frequent), then 5,000 rarer made-up words. Words are drawn with a
// Zipf distribution, as in real text: a few words are everywhere, most are
// rare, so BM25 work per query looks like it does on real memories.
var vocab = func() []string {
	v := append([]string(nil), words...)
	for i := range 5000 {
		v = append(v, fmt.Sprintf("term%04dx", i))
	}
	return v
}()

type wordSource struct{ z *mrand.Zipf }

func newWordSource(seed uint64) wordSource {
	return wordSource{mrand.NewZipf(mrand.New(mrand.NewSource(int64(seed))), 1.07, 2, uint64(len(vocab)-1))}
}

func (ws wordSource) sentence(n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = vocab[ws.z.Uint64()]
	}
	return strings.Join(w, " ")
}

// BenchmarkHybridSearch measures the full hybrid search (vector + BM25,
// fusion, scoring, filters) at 10k and 100k memories of 384 dimensions,
// excluding the query embedding call. It reports p50/p95/p99 latency and
// the memory the process holds, and the latency with query expansion on.
// HYBRID_BENCH_DIMS sets the vectors' dimensions (default 384; 1536 is
// an API model's size).
//
//	go test -run '^$' -bench HybridSearch -benchtime 1x -timeout 30m ./internal/retrieve/
func BenchmarkHybridSearch(b *testing.B) {
	dims := 384
	if v := os.Getenv("HYBRID_BENCH_DIMS"); v != "" {
		var err error
		if dims, err = strconv.Atoi(v); err != nil || dims < 8 {
			b.Fatalf("HYBRID_BENCH_DIMS=%q: want a number of dimensions, at least 8", v)
		}
	}
	sizes := []int{10_000, 100_000}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			ws := newWordSource(uint64(n))
			st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "s.db"), sqlite.Options{Synchronous: "normal"})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			hash := embedding.NewHash(dims)
			for lo := 0; lo < n; lo += 2000 {
				ms := make([]memory.Memory, min(2000, n-lo))
				texts := make([]string, len(ms))
				for i := range ms {
					texts[i] = ws.sentence(8 + rng.IntN(20))
				}
				vecs, _ := hash.Embed(ctx, texts)
				for i := range ms {
					ms[i] = memory.Memory{ID: fmt.Sprintf("m%07d", lo+i), Text: texts[i], Category: memory.Categories[rng.IntN(6)],
						Scope: []memory.Scope{"global", "agent:a", "agent:b", "user:u"}[rng.IntN(4)], Importance: rng.Float64(), Vector: vecs[i]}
				}
				if _, err := store.PutMany(ctx, st, memory.Owner(), ms); err != nil {
					b.Fatal(err)
				}
			}
			queries := make([]string, 300)
			pre := precomputed{}
			for i := range queries {
				queries[i] = ws.sentence(3 + rng.IntN(5))
				v, _ := hash.Embed(ctx, queries[i:i+1])
				pre[queries[i]] = v[0]
			}
			acc := memory.AgentAccess("a")
			measure := func(r *Retriever) (p50, p95, p99 float64) {
				lat := make([]time.Duration, 0, len(queries))
				for _, q := range queries {
					start := time.Now()
					if _, err := r.Search(ctx, acc, Request{Query: q, Limit: 10}); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
				}
				slices.Sort(lat)
				at := func(q int) float64 { return float64(lat[len(lat)*q/100].Microseconds()) / 1000 }
				return at(50), at(95), at(99)
			}
			r := New(st, pre, nil, Options{})
			if _, err := r.Search(ctx, acc, Request{Query: queries[0]}); err != nil { // loads the index
				b.Fatal(err)
			}
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ResetTimer()
			p50, p95, p99 := measure(r)
			b.StopTimer()
			b.ReportMetric(p50, "p50-ms")
			b.ReportMetric(p95, "p95-ms")
			b.ReportMetric(p99, "p99-ms")
			b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MB")
			b.ReportMetric(float64(r.ix.MemoryBytes())/(1<<20), "index-MB")
			// The vector index alone, and how often its quantised passes
			// find the exact top 10.
			groups := r.groupsFor(acc, nil, nil)
			var rec float64
			var ixLat []time.Duration
			for _, q := range queries {
				start := time.Now()
				got, err := r.ix.Search(pre[q], vecindex.SearchOptions{K: 10, Groups: groups})
				ixLat = append(ixLat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				want, _ := r.ix.Search(pre[q], vecindex.SearchOptions{K: 10, Groups: groups, Exact: true})
				rec += overlap(got, want)
			}
			slices.Sort(ixLat)
			b.ReportMetric(float64(ixLat[len(ixLat)/2].Microseconds())/1000, "index-p50-ms")
			b.ReportMetric(rec/float64(len(queries)), "index-recall@10")
			// The two candidate sources alone, to see where the time goes.
			vr := New(st, pre, nil, Options{DisableBM25: true})
			vr.Search(ctx, acc, Request{Query: queries[0]})
			p50, _, _ = measure(vr)
			b.ReportMetric(p50, "vector-only-p50-ms")
			p50, _, _ = measure(New(st, pre, nil, Options{DisableVector: true}))
			b.ReportMetric(p50, "bm25-only-p50-ms")
			p50, p95, _ = measure(New(st, pre, nil, Options{Expansion: Expansion{Enabled: true}}))
			b.ReportMetric(p50, "prf-p50-ms")
			b.ReportMetric(p95, "prf-p95-ms")
		})
	}
}
