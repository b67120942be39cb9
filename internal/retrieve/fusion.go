package retrieve

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Score spaces.
//
// The two candidate lists speak different languages. Vector search gives a
// cosine in [-1, 1]; FTS5 gives -bm25() in [0, ∞), unbounded and dependent
// on the corpus. Fusion first maps both into (0, 1], the way
// memory-lancedb-pro (the seed) did, so that one MinScore threshold and the
// rerank floors mean the same thing whichever list found a memory:
//
//	v = vectorScore(cos) = 1/(2 − cos)     cos 1 → 1, 0.5 → 0.667, 0 → 0.5, −1 → 0.333
//	b = bm25Score(raw)   = sigmoid(raw/5)  raw 0 → 0.5, 2.03 → 0.6, 5.49 → 0.75, 10 → 0.881
//
// FusionSeed then scores a candidate as
//
//	with a cosine:     max(0.7·v + 0.3·b, b ≥ 0.75 ? 0.92·b : 0)   (b = 0 if BM25 missed it)
//	without one:       b
//
// A candidate has a cosine when the vector search found it, and also when
// only BM25 did but its vector is in the index (fillCosines: trove holds
// every vector, so the base of the formula need not be missing). The
// second line is the seed's, which scored a BM25-only hit by its BM25
// score alone; here it is for when the query embedding fails (every
// candidate BM25-only: with 0.3·b those would all fall under the default
// MinScore 0.3 unless b ≥ 0.75) or a row has no vector.
//
// In cosine terms, for a hit found by vector search only (s = 0.7·v, so
// cos = 2 − 0.7/s):
//
//	fused s   cosine     note
//	0.700     1.000      the ceiling of a vector-only hit
//	0.600     0.833
//	0.500     0.600      every BM25-only hit scores at least this (b ≥ 0.5)
//	0.400     0.250
//	0.350     0.000
//	0.300    −0.333      the default MinScore: it keeps vector-only hits with cos ≥ −1/3
//	0.233    −1.000      the floor of a vector-only hit
//
// So MinScore 0.3 hardly filters fused scores on its own; it bites after
// scoring, which multiplies by importance (×0.7–1.0) and length (≤ 1). For
// example a vector-only hit of importance 0 needs 0.7·v·0.7 ≥ 0.3, i.e.
// cos ≥ 2 − 0.49/0.3 = 0.367.
//
// BM25 lifts a hit when b ≥ 0.75, i.e. raw ≥ 5·ln 3 ≈ 5.493 (a rare term
// matched, an identifier or error code); the lift 0.92·b wins over
// 0.7·v + 0.3·b when v < (0.62/0.7)·b, which at b = 0.75 means cos < 0.495.
// The rerank floors use b ≥ 0.75 and b ≥ 0.6 (raw ≥ 5·ln 1.5 ≈ 2.027).
//
// FusionRRF scores are on another scale (see fuseRRF): with k = 60 a
// candidate found by one list only keeps MinScore 0.3 down to rank 41.

// vectorScore maps a cosine to the seed's vector score 1/(2 − cos) in
// [1/3, 1]. A cosine outside [−1, 1] (float rounding) is clamped; NaN is 0.
func vectorScore(cos float64) float64 {
	if math.IsNaN(cos) {
		return 0
	}
	return 1 / (2 - min(1, max(-1, cos)))
}

// bm25Score maps FTS5's -bm25() (higher is better, ≥ 0) to sigmoid(raw/5)
// in [0.5, 1). NaN is 0.
func bm25Score(raw float64) float64 {
	if math.IsNaN(raw) {
		return 0
	}
	return 1 / (1 + math.Exp(-raw/5))
}

// Seed fusion constants (memory-lancedb-pro's defaults).
const (
	seedVectorWeight = 0.7
	seedBM25Weight   = 0.3
	seedLiftAt       = 0.75 // b at which a BM25 hit lifts the fused score
	seedLiftFactor   = 0.92
)

// weights are the two sides' weights in fusion (Options.VectorWeight and
// BM25Weight; the seed's 0.7 and 0.3 by default).
type weights struct{ vector, bm25 float64 }

// fuseSeed scores each candidate by the seed's formula with the sides
// weighted by w (see Score spaces above; the seed's weights are 0.7 and
// 0.3) and records stage "fuse".
func fuseSeed(cs []*candidate, w weights, debug bool) {
	for _, c := range cs {
		if c.drop != "" {
			continue
		}
		var v, b float64
		if c.bm25 != nil {
			b = *c.bm25
		}
		switch {
		case c.cos != nil:
			v = vectorScore(*c.cos)
			c.score = w.vector*v + w.bm25*b
			if b >= seedLiftAt {
				c.score = max(c.score, seedLiftFactor*b)
			}
		default:
			c.score = b // no cosine: the vector side failed or the row has no vector
		}
		c.fused = c.score
		if debug && c.cosFilled {
			// Sources do not list the vector side, so say where v came from.
			c.stage(debug, fmt.Sprintf("fuse (cosine %.2f from the index)", *c.cos))
			continue
		}
		c.stage(debug, "fuse")
	}
}

// fuseRRF scores candidates by reciprocal rank fusion: Σ w/(k + rank) over
// the vector list (ranked by cosine, weight w.vector) and the BM25 list
// (ranked by BM25 score, weight w.bm25), ranks from 1, among the candidates
// each list found. The sum is divided by its maximum, Σ w/(k + 1) over the
// lists that found anything (first in each), so that scores lie in (0, 1]
// and MinScore keeps a meaning: with equal weights first in one list only
// is ≈ 0.5, and with k = 60 a one-list hit stays above 0.3 down to rank
// 41; when one side found nothing (the vector side failed), the other's
// first is 1, not its weight's share.
// Equal scores rank by memory id, so the result does not depend on input
// order. k ≤ 0 means 60. Records stage "fuse-rrf".
func fuseRRF(cs []*candidate, k float64, w weights, debug bool) {
	if k <= 0 {
		k = 60
	}
	live := make([]*candidate, 0, len(cs))
	for _, c := range cs {
		if c.drop == "" {
			live = append(live, c)
		}
	}
	sum := make(map[*candidate]float64, len(live))
	best := 0.0 // the most a candidate can get: first in every list that found something
	addRanks := func(weight float64, get func(*candidate) *float64) {
		var list []*candidate
		for _, c := range live {
			if p := get(c); p != nil && !math.IsNaN(*p) {
				list = append(list, c)
			}
		}
		slices.SortStableFunc(list, func(a, b *candidate) int {
			if o := cmp.Compare(*get(b), *get(a)); o != 0 {
				return o
			}
			return strings.Compare(a.mem.ID, b.mem.ID)
		})
		for i, c := range list {
			sum[c] += weight / (k + float64(i+1))
		}
		if len(list) > 0 {
			best += weight / (k + 1)
		}
	}
	addRanks(w.vector, func(c *candidate) *float64 { // ranks in the vector list: only what it found
		if c.cosFilled {
			return nil
		}
		return c.cos
	})
	addRanks(w.bm25, func(c *candidate) *float64 { return c.bm25 })
	for _, c := range live {
		c.score = 0
		if best > 0 {
			c.score = sum[c] / best
		}
		c.fused = c.score
		c.stage(debug, "fuse-rrf")
	}
}
