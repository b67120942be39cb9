package vecindex

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/viterin/vek/vek32"
)

// benchSet is an index over skewed clustered data (see dataset.skew) with
// its queries and their exact answers, built once per size.
type benchSet struct {
	ix      *Index
	queries [][]float32
	exact   [][]Hit
}

var (
	benchMu   sync.Mutex
	benchSets = map[int]*benchSet{}
)

const benchQueries = 300

func loadBenchSet(b *testing.B, n int) *benchSet {
	benchMu.Lock()
	defer benchMu.Unlock()
	if s := benchSets[n]; s != nil {
		return s
	}
	d := newDataset(42, n, 384, 200, 1, 1).skew()
	s := &benchSet{ix: d.index(b)}
	d.vecs = nil // the index has its own copy
	for range benchQueries {
		q := d.query(0.5)
		hits, err := s.ix.Search(q, SearchOptions{K: 10, AllGroups: true, Exact: true})
		if err != nil {
			b.Fatal(err)
		}
		s.queries = append(s.queries, q)
		s.exact = append(s.exact, hits)
	}
	benchSets[n] = s
	return s
}

// BenchmarkSearch reports per-query latency percentiles, recall@10 against
// the exact scan, and the index's memory. One op is one query.
//
//	go test -run xxx -bench Search ./internal/vecindex/
func BenchmarkSearch(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, exact := range []bool{false, true} {
			name := "quantised"
			if exact {
				name = "exact"
			}
			b.Run(fmt.Sprintf("n=%d/%s", n, name), func(b *testing.B) {
				s := loadBenchSet(b, n)
				opts := SearchOptions{K: 10, AllGroups: true, Exact: exact}
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
				var sum time.Duration
				for _, d := range lat {
					sum += d
				}
				ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
				b.ReportMetric(float64(sum)/float64(len(lat)), "ns/op")
				b.ReportMetric(ms(lat[len(lat)*50/100]), "p50-ms")
				b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
				b.ReportMetric(rec/float64(len(s.queries)), "recall@10")
				b.ReportMetric(float64(s.ix.MemoryBytes())/(1<<20), "MiB")
			})
		}
	}
}

// BenchmarkRowDot compares the per-row kernels on one 384-dim row that
// stays in cache: the 7-bit SWAR dot in plain Go against vek's float32 dot.
func BenchmarkRowDot(b *testing.B) {
	d := newDataset(1, 2, 384, 1, 1, 1)
	stride := codeStride(384)
	ca, cb := make([]byte, stride), make([]byte, stride)
	quantize(ca, d.vecs[0])
	quantize(cb, d.vecs[1])
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
