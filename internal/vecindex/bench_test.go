package vecindex

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/viterin/vek/vek32"
)

// benchSet is an index over one generator's vectors, with its queries and
// their exact answers, built once per (generator, n).
type benchSet struct {
	ix      *Index
	queries [][]float32
	exact   [][]Hit
}

var (
	benchMu   sync.Mutex
	benchSets = map[benchKey]*benchSet{}
)

const benchQueries = 300

type benchKey struct {
	gen string
	n   int
}

func loadBenchSet(b *testing.B, g generator, n int) *benchSet {
	benchMu.Lock()
	defer benchMu.Unlock()
	if s := benchSets[benchKey{g.name, n}]; s != nil {
		return s
	}
	clear(benchSets) // one at a time: 100k×1536 is 1 GiB with its codes
	vecs, queries := g.make(42, n, benchQueries)
	s := &benchSet{ix: New(g.dims), queries: queries}
	s.ix.Grow(n)
	for i, v := range vecs {
		if err := s.ix.Upsert(id(i), 0, v); err != nil {
			b.Fatal(err)
		}
	}
	for _, q := range queries {
		hits, err := s.ix.Search(q, SearchOptions{K: 10, AllGroups: true, Exact: true})
		if err != nil {
			b.Fatal(err)
		}
		s.exact = append(s.exact, hits)
	}
	benchSets[benchKey{g.name, n}] = s
	return s
}

// BenchmarkSearch reports per-query latency percentiles, recall@10 against
// the exact scan, and the index's memory, for every generator (see
// generators_test.go) at 10k and 100k rows. One op is one pass over the
// 300 queries. The paths: default (what Search does with no options),
// quantised (the quantised passes forced even where default would scan
// exactly), exact (Exact: true); groups and groups+time are the default
// and quantised paths with the filters recall applies (every vector is in
// the one group named, and in its span: they measure what filtering
// costs, not what it skips). Select with -bench, e.g.
// 'Search/static/n=100000/default'.
//
//	go test -run xxx -bench Search ./internal/vecindex/
func BenchmarkSearch(b *testing.B) {
	for _, g := range generators {
		for _, n := range []int{10_000, 100_000} {
			for _, path := range []string{"default", "quantised", "exact", "groups", "groups+time", "quantised+groups", "quantised+groups+time"} {
				b.Run(fmt.Sprintf("%s/n=%d/%s", g.name, n, path), func(b *testing.B) {
					benchSearch(b, loadBenchSet(b, g, n), path)
				})
			}
		}
	}
}

func benchSearch(b *testing.B, s *benchSet, path string) {
	opts := SearchOptions{K: 10, AllGroups: true, Exact: path == "exact"}
	if strings.Contains(path, "groups") {
		opts.AllGroups, opts.Groups = false, []uint32{0}
	}
	if strings.Contains(path, "time") {
		opts.ActiveAt = 1_700_000_000_000
	}
	if strings.HasPrefix(path, "quantised") {
		s.ix.exactBelow = 0
		defer func() { s.ix.exactBelow = exactBelow }()
	}
	var rec float64
	for i, q := range s.queries {
		hits, _ := s.ix.Search(q, opts)
		rec += recall(hits, s.exact[i])
	}
	var lat []time.Duration
	for b.Loop() {
		for _, q := range s.queries {
			t0 := time.Now()
			if _, err := s.ix.Search(q, opts); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(lat[len(lat)*50/100]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(rec/float64(len(s.queries)), "recall@10")
	b.ReportMetric(float64(s.ix.MemoryBytes())/(1<<20), "MiB")
}

// BenchmarkRowDot compares the per-row kernels on one 384-dim row that
// stays in cache: the 7-bit SWAR dot in plain Go against vek's float32 dot.
func BenchmarkRowDot(b *testing.B) {
	d := newDataset(1, 2, 384, 1, 1, 1)
	stride := codeStride(384)
	ca, cb := make([]byte, stride), make([]byte, stride)
	quantize(ca, d.vecs[0], nil)
	quantize(cb, d.vecs[1], nil)
	qw := packed(cb)
	var sink uint64
	b.Run("codes", func(b *testing.B) {
		for b.Loop() {
			sink += dotCodes(ca, qw)
		}
	})
	b.Run("float32", func(b *testing.B) {
		for b.Loop() {
			sink += uint64(vek32.Dot(d.vecs[0], d.vecs[1]))
		}
	})
	_ = sink
}
