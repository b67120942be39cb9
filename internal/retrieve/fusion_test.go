package retrieve

import (
	"math"
	"slices"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
)

const eps = 1e-9

// f64p returns a pointer to f (for candidate.cos, .bm25).
func f64p(f float64) *float64 { return &f }

// mkCand builds a candidate with an id, a current score and optional
// vector and BM25 signals (nil: not found by that list).
func mkCand(id string, score float64, cos, bm25 *float64) *candidate {
	return &candidate{mem: memory.Memory{ID: id, Text: "text of " + id}, score: score, cos: cos, bm25: bm25}
}

func near(a, b float64) bool { return math.Abs(a-b) < eps }

func TestVectorScore(t *testing.T) {
	for _, tc := range []struct{ cos, want float64 }{
		{1, 1},
		{0.5, 2.0 / 3},
		{0, 0.5},
		{-1, 1.0 / 3},
		{1.0000001, 1}, // float rounding past 1 is clamped
		{-1.5, 1.0 / 3},
		{math.NaN(), 0},
	} {
		if got := vectorScore(tc.cos); !near(got, tc.want) {
			t.Errorf("vectorScore(%v) = %v, want %v", tc.cos, got, tc.want)
		}
	}
}

func TestBM25Score(t *testing.T) {
	for _, tc := range []struct{ raw, want float64 }{
		{0, 0.5},
		{5 * math.Log(1.5), 0.6},
		{5 * math.Log(3), 0.75}, // the seed's lift threshold in raw -bm25() terms
		{10, 0.8807970779778823},
		{math.NaN(), 0},
	} {
		if got := bm25Score(tc.raw); !near(got, tc.want) {
			t.Errorf("bm25Score(%v) = %v, want %v", tc.raw, got, tc.want)
		}
	}
}

func TestFuseSeed(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cos, bm25 *float64
		want      float64
	}{
		{"vector only, cos 1", f64p(1), nil, 0.7},
		{"vector only, cos 0", f64p(0), nil, 0.35},
		{"vector only, cos -1/3 is MinScore 0.3", f64p(-1.0 / 3), nil, 0.3},
		{"vector only, cos -1", f64p(-1), nil, 0.7 / 3},
		{"b just under 0.75: weighted sum", f64p(0), f64p(0.74), 0.35 + 0.3*0.74},
		{"b exactly 0.75: lifted", f64p(0), f64p(0.75), 0.92 * 0.75},
		{"b just over 0.75: lifted", f64p(0), f64p(0.76), 0.92 * 0.76},
		{"b over 0.75 but the sum is higher", f64p(0.9), f64p(0.8), 0.7/1.1 + 0.3*0.8},
		{"BM25 only scores b", nil, f64p(0.7), 0.7},
		{"BM25 only, strong", nil, f64p(0.8), 0.8},
		{"neither", nil, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mkCand("a", -1, tc.cos, tc.bm25)
			fuseSeed([]*candidate{c}, seedWeights, false)
			if !near(c.score, tc.want) {
				t.Fatalf("score = %v, want %v", c.score, tc.want)
			}
		})
	}
}

func TestFuseSeedSkipsDropped(t *testing.T) {
	c := mkCand("a", 0.42, f64p(1), nil)
	c.drop = "gone"
	fuseSeed([]*candidate{c}, seedWeights, true)
	if c.score != 0.42 || c.trace != nil {
		t.Fatalf("dropped candidate changed: score %v, trace %v", c.score, c.trace)
	}
}

func TestFuseRRF(t *testing.T) {
	mk := func() []*candidate {
		return []*candidate{
			mkCand("a", 0, f64p(0.9), f64p(0.6)), // vector rank 1, BM25 rank 2
			mkCand("b", 0, f64p(0.8), nil),       // vector rank 2 (ties with d, b < d)
			mkCand("c", 0, nil, f64p(0.9)),       // BM25 rank 1
			mkCand("d", 0, f64p(0.8), nil),       // vector rank 3
		}
	}
	const k = 60
	want := map[string]float64{
		"a": (1.0/61 + 1.0/62) / (2.0 / 61),
		"b": (1.0 / 62) / (2.0 / 61),
		"c": 0.5,
		"d": (1.0 / 63) / (2.0 / 61),
	}
	cs := mk()
	fuseRRF(cs, k, equalWeights, false)
	for _, c := range cs {
		if !near(c.score, want[c.mem.ID]) {
			t.Errorf("%s: score %v, want %v", c.mem.ID, c.score, want[c.mem.ID])
		}
	}

	// Input order does not matter.
	rev := mk()
	slices.Reverse(rev)
	fuseRRF(rev, k, equalWeights, false)
	for _, c := range rev {
		if !near(c.score, want[c.mem.ID]) {
			t.Errorf("reversed input, %s: score %v, want %v", c.mem.ID, c.score, want[c.mem.ID])
		}
	}

	// k <= 0 means 60; first in both lists is exactly 1.
	one := []*candidate{mkCand("x", 0, f64p(0.1), f64p(0.5))}
	fuseRRF(one, 0, equalWeights, false)
	if !near(one[0].score, 1) {
		t.Errorf("first in both lists: %v, want 1", one[0].score)
	}
}

func TestFuseTraceOnlyWithDebug(t *testing.T) {
	for _, debug := range []bool{false, true} {
		seed := mkCand("a", 0, f64p(0), nil)
		rrf := mkCand("b", 0, f64p(0), nil)
		fuseSeed([]*candidate{seed}, seedWeights, debug)
		fuseRRF([]*candidate{rrf}, 60, equalWeights, debug)
		if !debug {
			if seed.trace != nil || rrf.trace != nil {
				t.Fatalf("trace recorded without debug: %v %v", seed.trace, rrf.trace)
			}
			continue
		}
		if len(seed.trace) != 1 || seed.trace[0] != (Stage{Name: "fuse", Score: 0.35}) {
			t.Errorf("seed trace = %v", seed.trace)
		}
		// The only list that found anything is the vector list: first in it is 1.
		if len(rrf.trace) != 1 || rrf.trace[0].Name != "fuse-rrf" || !near(rrf.trace[0].Score, 1) {
			t.Errorf("rrf trace = %v", rrf.trace)
		}
	}
}

// A candidate only BM25 found gets its cosine from its vector, scaled for
// a query vector that is not unit length; one the vector search found
// keeps its own; Sources name only the finders.
func TestFillCosines(t *testing.T) {
	found := 0.9
	byVector := &candidate{cos: &found, vec: []float32{1, 0}}
	byText := &candidate{vec: []float32{0.6, 0.8}}
	noVector := &candidate{}
	fillCosines([]*candidate{byVector, byText, noVector}, []float32{2, 0})
	if *byVector.cos != 0.9 || byVector.cosFilled {
		t.Fatalf("found cosine changed: %v", *byVector.cos)
	}
	if byText.cos == nil || math.Abs(*byText.cos-0.6) > 1e-6 || !byText.cosFilled {
		t.Fatalf("filled cosine %v, want 0.6", byText.cos)
	}
	if noVector.cos != nil {
		t.Fatal("a candidate without a vector got a cosine")
	}
	if r := byText.result(false); r.Sources.Vector != nil {
		t.Fatalf("sources of a BM25-only hit name the vector search: %+v", r.Sources)
	}
	fillCosines([]*candidate{{vec: []float32{1, 0}}}, []float32{0, 0}) // a zero query fills nothing, without NaN
}

// The seed's weights, and RRF's unweighted sum.
var (
	seedWeights  = weights{seedVectorWeight, seedBM25Weight}
	equalWeights = weights{1, 1}
)

// Weights count by their ratio (normalised to sum 1), and RRF's scale is
// the lists that found something: with the vector side down, BM25's first
// is 1 whatever its weight, so MinScore does not drop a text-only answer.
func TestFusionWeightsNormalised(t *testing.T) {
	o := Options{VectorWeight: 1, BM25Weight: 1}.withDefaults()
	if !near(o.VectorWeight, 0.5) || !near(o.BM25Weight, 0.5) {
		t.Fatalf("weights 1/1 became %v/%v, want 0.5/0.5", o.VectorWeight, o.BM25Weight)
	}
	o = Options{VectorWeight: 0.1, BM25Weight: 0.1}.withDefaults()
	c := mkCand("a", 0, f64p(0.9), f64p(0.9))
	fuseSeed([]*candidate{c}, weights{vector: o.VectorWeight, bm25: o.BM25Weight}, false)
	if c.score > 1 || c.score < 0.5 {
		t.Fatalf("a row strong on both sides scored %v with weights 0.1/0.1", c.score)
	}
	bm := []*candidate{mkCand("a", 0, nil, f64p(3)), mkCand("b", 0, nil, f64p(2))}
	fuseRRF(bm, 60, weights{vector: 0.7, bm25: 0.3}, false)
	if !near(bm[0].score, 1) || bm[1].score < 0.9 {
		t.Fatalf("BM25-only ranks scored %v, %v; want 1 and just under", bm[0].score, bm[1].score)
	}
}
