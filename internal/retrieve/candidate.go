package retrieve

import (
	"github.com/trove-memory/trove/internal/memory"
)

// candidate is one memory moving through the pipeline.
type candidate struct {
	mem       memory.Memory
	vec       []float32 // unit vector, for near-duplicate demotion
	cos       *float64  // cosine to the query, when the vector search found it or fillCosines added it
	cosFilled bool      // cos came from fillCosines: the vector search did not find it
	bm25      *float64  // BM25 normalised to [0,1] (sigmoid(raw/5)), when BM25 found it
	rerank    *float64  // cross-encoder relevance, when reranked
	expanded  bool      // BM25 found it only through the expansion terms
	fused     float64   // the score fusion gave it
	lifecycle *float64  // the decay multiplier, when decay ran
	score     float64   // current score
	trace     []Stage   // with Debug: score after each stage
	drop      string    // why it was dropped ("" = kept)

	noiseChecked bool // dropNoise looked at it
}

func (c *candidate) stage(debug bool, name string) {
	if debug {
		c.trace = append(c.trace, Stage{Name: name, Score: c.score})
	}
}
