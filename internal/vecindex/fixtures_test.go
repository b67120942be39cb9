package vecindex

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// dataset is synthetic embedding-like data: vectors scattered around random
// centroids, which gives the dense neighbourhoods with close scores that
// make top-k hard for a quantised pass (uniform random vectors would be
// nearly orthogonal to each other and trivially easy).
type dataset struct {
	dims      int
	vecs      [][]float32
	groups    []uint32
	centroids [][]float32
	r         *rand.Rand
	mean      []float32 // set by skew
}

// newDataset draws n vectors around nc centroids. noise is the typical
// length of the noise added to a unit centroid (1 puts a vector at cosine
// ≈ 0.7 from its centroid), scaled per cluster and per vector by factors
// in [0.5, 1.5): with one spread for all, every vector sat on a thin
// shell at cosine ≈ 0.5 from every cluster mate, and a query's neighbours
// were a near-tie of hundreds rather than the graded neighbourhood real
// embeddings have (tight clusters and loose ones, near-duplicates and
// stragglers).
func newDataset(seed uint64, n, dims, nc int, noise float64, ngroups int) *dataset {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	d := &dataset{dims: dims, r: r}
	spread := make([]float64, nc)
	for c := range nc {
		d.centroids = append(d.centroids, d.gauss(nil, 1))
		spread[c] = noise * (0.5 + r.Float64())
	}
	for range n {
		c := r.IntN(nc)
		d.vecs = append(d.vecs, d.gauss(d.centroids[c], spread[c]*(0.5+r.Float64())))
		d.groups = append(d.groups, uint32(r.IntN(max(ngroups, 1))))
	}
	return d
}

// gauss returns unit(base + noise·g) where g is a random unit-ish gaussian.
func (d *dataset) gauss(base []float32, noise float64) []float32 {
	v := make([]float32, d.dims)
	var ss float64
	for i := range v {
		x := d.r.NormFloat64() * noise / math.Sqrt(float64(d.dims))
		if base != nil {
			x += float64(base[i])
		}
		v[i] = float32(x)
		ss += x * x
	}
	inv := 1 / math.Sqrt(ss)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
	return v
}

// skew makes the data anisotropic the way real sentence embeddings are: a
// shared offset with two outlier dimensions and a decaying spectrum. The
// outliers set every vector's quantisation scale, leaving the other
// dimensions few levels, so this is the harder case for the codes.
func (d *dataset) skew() *dataset {
	d.mean = make([]float32, d.dims)
	for i := range d.mean {
		d.mean[i] = float32(d.r.NormFloat64() * 0.03)
	}
	d.mean[7%d.dims], d.mean[200%d.dims] = 0.5, -0.35
	for i := range d.vecs {
		d.vecs[i] = d.warp(d.vecs[i])
	}
	return d
}

func (d *dataset) warp(v []float32) []float32 {
	if d.mean == nil {
		return v
	}
	out := make([]float32, len(v))
	for i := range v {
		out[i] = v[i]*float32(1/math.Sqrt(1+float64(i)/40)) + d.mean[i]
	}
	return out
}

// query returns a vector near a random centroid.
func (d *dataset) query(noise float64) []float32 {
	return d.warp(d.gauss(d.centroids[d.r.IntN(len(d.centroids))], noise))
}

func id(i int) string { return fmt.Sprintf("m%06d", i) }

// index loads the data set. Unlike New, the index takes the quantised
// pass at any size, so that small test indexes exercise it.
func (d *dataset) index(tb testing.TB) *Index {
	tb.Helper()
	ix := New(d.dims)
	ix.exactBelow = 0
	ix.Grow(len(d.vecs))
	for i, v := range d.vecs {
		if err := ix.Upsert(id(i), d.groups[i], v); err != nil {
			tb.Fatal(err)
		}
	}
	return ix
}

// refSet holds vectors normalised in float64 for the brute-force reference.
type refSet map[string][]float64

func (r refSet) add(id string, v []float32) { r[id] = unit64(v) }

// bruteForce is the reference: float64 cosine against every vector in the
// set, best first, ties by ID.
func (r refSet) bruteForce(q []float32, k int) []Hit {
	qn := unit64(q)
	all := make([]Hit, 0, len(r))
	for id, vn := range r {
		var dot float64
		for i := range vn {
			dot += vn[i] * qn[i]
		}
		all = append(all, Hit{ID: id, Score: float32(dot)})
	}
	slices.SortFunc(all, func(a, b Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return all[:min(k, len(all))]
}

func unit64(v []float32) []float64 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x) / math.Sqrt(ss)
	}
	return out
}

// recall is |got ∩ want| / |want| over IDs.
func recall(got, want []Hit) float64 {
	if len(want) == 0 {
		return 1
	}
	in := make(map[string]bool, len(want))
	for _, h := range want {
		in[h.ID] = true
	}
	n := 0
	for _, h := range got {
		if in[h.ID] {
			n++
		}
	}
	return float64(n) / float64(len(want))
}

func ids(hits []Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}
