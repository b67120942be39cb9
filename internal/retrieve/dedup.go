package retrieve

import (
	"fmt"
	"math"

	"github.com/viterin/vek/vek32"
)

// demoteDuplicates keeps near-identical memories from filling the top of
// the results (MMR-style, as memory-lancedb-pro's diversity stage): walking
// the candidates best first, one whose vector has cosine above
// o.DuplicateCosine with a better candidate already kept has its score
// multiplied by o.DuplicatePenalty, and is not itself a reference for
// later ones (so of A ≈ B ≈ C with A !≈ C, only B is demoted). Demoted
// candidates stay: if the pool is small they still fill the results. cs is
// sorted by score (best first) on return. Candidates without a vector are
// neither demoted nor references. Records stage "dedup", or "dedup:
// near-duplicate of <id> (cosine 0.93)".
func demoteDuplicates(cs []*candidate, o Options, debug bool) {
	o = o.withDefaults()
	sortByScore(cs)
	var kept []*candidate
	for _, c := range cs {
		if c.drop != "" {
			continue
		}
		var dup *candidate
		var dupCos float64
		if len(c.vec) > 0 {
			for _, k := range kept {
				if cos, ok := vectorCosine(c.vec, k.vec); ok && cos > o.DuplicateCosine {
					dup, dupCos = k, cos
					break
				}
			}
		}
		if dup == nil {
			if len(c.vec) > 0 {
				kept = append(kept, c)
			}
			c.stage(debug, "dedup")
			continue
		}
		c.score *= o.DuplicatePenalty
		if debug {
			c.stage(debug, fmt.Sprintf("dedup: near-duplicate of %s (cosine %.2f)", dup.mem.ID, dupCos))
		}
	}
	sortByScore(cs)
}

// vectorCosine is the cosine of two vectors of one length (computed in
// full, not assumed unit); false when the lengths differ or one is zero.
func vectorCosine(a, b []float32) (float64, bool) {
	if len(a) != len(b) || len(a) == 0 {
		return 0, false
	}
	// vek's SIMD dot: this runs for every pair of top candidates, so it is
	// on the search path.
	d := float64(vek32.Dot(a, b))
	n1 := float64(vek32.Dot(a, a))
	n2 := float64(vek32.Dot(b, b))
	if n1 == 0 || n2 == 0 {
		return 0, false
	}
	return d / math.Sqrt(n1*n2), true
}
