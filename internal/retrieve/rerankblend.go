package retrieve

import "math"

// Rerank blending (memory-lancedb-pro's numbers).
//
// A cross-encoder reads query and memory together and orders a short list
// better than either similarity, but it under-scores symbolic queries
// (identifiers, env vars, error codes, mixed languages). So its score is
// blended with the fused one, and a strong lexical hit keeps a floor:
//
//	blended = 0.6·rerank + 0.4·fused          rerank clamped to [0, 1]
//	floor   = 0.95·fused   if b ≥ 0.75        (raw -bm25 ≥ 5.49)
//	          0.90·fused   if b ≥ 0.6         (raw ≥ 2.03)
//	          0.50·fused   otherwise
//	final   = max(blended, floor)
//
// A candidate that was sent but the reranker did not return (it may return
// fewer than asked) gets the seed's "unreturned" treatment: max(0.8·fused,
// floor'), where floor' is 1.0/0.95/0.8·fused by the same BM25 steps; so it
// loses a little to the candidates the reranker vouched for, and a strong
// lexical hit loses nothing.
const (
	rerankWeight     = 0.6
	rerankFusedShare = 0.4
	unreturnedFactor = 0.8
)

// rerankFloor is the lowest score rerank blending may give a candidate whose
// score before blending was fused.
func rerankFloor(c *candidate, fused float64, returned bool) float64 {
	var b float64
	if c.bm25 != nil {
		b = *c.bm25
	}
	switch {
	case b >= 0.75 && returned:
		return 0.95 * fused
	case b >= 0.75:
		return fused
	case b >= 0.6 && returned:
		return 0.90 * fused
	case b >= 0.6:
		return 0.95 * fused
	case returned:
		return 0.5 * fused
	default:
		return unreturnedFactor * fused
	}
}

// blendRerank blends cross-encoder relevance into the fused scores of cs
// (the candidates sent to the reranker), by the rule above. scores holds the
// reranker's score for each candidate it returned; those candidates also get
// c.rerank set. Records stage "rerank", or "rerank (not returned)".
func blendRerank(cs []*candidate, scores map[*candidate]float64, debug bool) {
	for _, c := range cs {
		if c.drop != "" {
			continue
		}
		fused := c.score
		r, ok := scores[c]
		if !ok || math.IsNaN(r) {
			c.score = max(unreturnedFactor*fused, rerankFloor(c, fused, false))
			c.stage(debug, "rerank (not returned)")
			continue
		}
		rr := r
		c.rerank = &rr
		blended := rerankWeight*min(1, max(0, r)) + rerankFusedShare*fused
		c.score = max(blended, rerankFloor(c, fused, true))
		c.stage(debug, "rerank")
	}
}

// blendFallback stands in for the reranker when it failed or timed out:
// the cosine to the query, the one similarity computed from the full
// texts, plays the cross-encoder's part,
//
//	0.6·clamp(cos, 0, 1) + 0.4·fused     for a candidate with a cosine
//	fused                                for one without (no vector, or the
//	                                     vector side failed)
//
// with the same lexical floors as blendRerank (0.95/0.90/0.50·fused): a
// strong BM25 hit with a weak cosine (an identifier the embedding does not
// understand) would otherwise lose up to 60% of its score to a signal that
// fusion already weighed. (The seed's fallback, in the version read, was
// 0.7·fused + 0.3·cos without floors; the 0.6/0.4 split here mirrors the
// cross-encoder blend so that a failed rerank moves scores the same way a
// working one would.) Records stage "rerank-fallback".
func blendFallback(cs []*candidate, debug bool) {
	for _, c := range cs {
		if c.drop != "" {
			continue
		}
		if c.cos != nil && !math.IsNaN(*c.cos) {
			fused := c.score
			blended := rerankWeight*min(1, max(0, *c.cos)) + rerankFusedShare*fused
			c.score = max(blended, rerankFloor(c, fused, true))
		}
		c.stage(debug, "rerank-fallback")
	}
}
