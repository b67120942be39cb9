package retrieve

import (
	"fmt"
	"math"
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
	// float32 accumulation, 4 lanes: this runs for every pair of top
	// candidates, so it is on the search path.
	var dot, na, nb [4]float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		for j := range 4 {
			x, y := a[i+j], b[i+j]
			dot[j] += x * y
			na[j] += x * x
			nb[j] += y * y
		}
	}
	for ; i < len(a); i++ {
		dot[0] += a[i] * b[i]
		na[0] += a[i] * a[i]
		nb[0] += b[i] * b[i]
	}
	d := float64(dot[0] + dot[1] + dot[2] + dot[3])
	n1 := float64(na[0] + na[1] + na[2] + na[3])
	n2 := float64(nb[0] + nb[1] + nb[2] + nb[3])
	if n1 == 0 || n2 == 0 {
		return 0, false
	}
	return d / math.Sqrt(n1*n2), true
}
