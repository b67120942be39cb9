package retrieve

import (
	"time"

	"github.com/trove-memory/trove/internal/lifecycle"
)

// Fusion names how vector and BM25 scores combine.
type Fusion string

const (
	// FusionSeed is memory-lancedb-pro's: the vector score is the base and
	// a strong BM25 hit lifts it.
	FusionSeed Fusion = "seed"
	// FusionRRF is reciprocal rank fusion.
	FusionRRF Fusion = "rrf"
)

// Options configure every stage; the zero value of a field means its default.
type Options struct {
	VectorK int    // vector candidates (default: 20, or twice the limit if more; see Search)
	BM25K   int    // BM25 candidates (likewise)
	Fusion  Fusion // default FusionSeed
	RRFK    float64
	// VectorWeight and BM25Weight weigh the two sides in fusion, in both
	// modes; only their ratio counts (they are normalised to sum 1).
	// Both 0: the seed's 0.7 and 0.3 for FusionSeed, equal for FusionRRF
	// (plain RRF). DESIGN.md, "Fusion weights", has what other
	// weights measured: with the hash embedder too the vector side earns
	// its 0.7.
	VectorWeight float64
	BM25Weight   float64

	// Expansion adds pseudo-relevance feedback (RM3) to the BM25 side:
	// terms drawn from the best BM25 hits make a second BM25 query, whose
	// scores are interpolated with the original's. See prf.go.
	Expansion Expansion

	// Rerank: blend 0.6·cross-encoder + 0.4·fused, with lexical floors.
	RerankTopN    int           // candidates sent to the reranker (default 20)
	RerankTimeout time.Duration // default 5 s
	// QueryEmbedTimeout bounds the query's embedding: past it, recall
	// answers from BM25 with a warning rather than wait on a provider's
	// own timeout and retries (default 5 s).
	QueryEmbedTimeout time.Duration

	// Scoring.
	RecencyHalfLife  time.Duration // recency boost half-life (default 14 days); 0 with DisableRecency
	RecencyWeight    float64       // max boost (default 0.1)
	ImportanceWeight float64       // default 0.3: score·(1 - w + w·importance)
	LengthAnchor     int           // default 500 characters
	// Lifecycle ages memories (recency, use, tier): recall multiplies each
	// score by its SearchMultiplier. Nil: lifecycle.Defaults().
	Lifecycle *lifecycle.Config
	MinScore  float64 // hard minimum after scoring (default 0.3); Request.MinScore overrides it
	// MinCosine is the relevance floor's semantic threshold: a candidate
	// with no query word in its text is kept only if its cosine to the
	// query reaches it. 0: DefaultMinCosine of the embedder's Info (the
	// hash embedder, or one without Info: CosineNever). See relevance.go.
	MinCosine         float64
	DisableFloor      bool    // keep candidates without lexical or semantic support (the behaviour before the floor)
	DuplicateCosine   float64 // near-duplicate threshold (default 0.85)
	DuplicatePenalty  float64 // multiplier for a near-duplicate of a higher result (default 0.5)
	DisableVector     bool    // BM25 only
	DisableBM25       bool    // vector only
	DisableRecency    bool
	DisableImportance bool
	DisableLength     bool
	DisableDecay      bool
	DisableNoise      bool
	DisableDedup      bool

	Now func() time.Time // clock seam (default time.Now)

	// NoIndexFile neither reads nor writes the store's vector index file
	// (indexfile.go): every process reads every vector at its first search.
	NoIndexFile bool
	// NoServerVectors keeps the vector index in this process even when
	// the store can search its vectors on its server (PostgreSQL with
	// pgvector, store.VectorSearcher), which is used by default.
	NoServerVectors bool
	// IndexFileError hears of an index file that could not be written
	// (written in the background: no search waits for it or sees the
	// error). nil: ignored; the next process then reads every vector.
	IndexFileError func(error)

	minScoreSet bool // MinScore came from a request: 0 means no minimum, not the default
}

func (o Options) withDefaults() Options {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	deff := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	defd := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	def(&o.RerankTopN, 20)
	def(&o.LengthAnchor, 500)
	if o.Fusion == "" {
		o.Fusion = FusionSeed
	}
	deff(&o.RRFK, 60)
	switch {
	case o.VectorWeight > 0 || o.BM25Weight > 0:
		// Only their ratio counts: normalised to sum 1, so the seed's
		// fused score stays in [0, 1] and MinScore keeps its meaning
		// whatever weights were configured (1 and 1 are 0.5 and 0.5).
		sum := o.VectorWeight + o.BM25Weight
		o.VectorWeight, o.BM25Weight = o.VectorWeight/sum, o.BM25Weight/sum
	case o.Fusion == FusionRRF:
		o.VectorWeight, o.BM25Weight = 0.5, 0.5 // plain RRF
	default:
		o.VectorWeight, o.BM25Weight = seedVectorWeight, seedBM25Weight
	}
	defd(&o.RerankTimeout, 5*time.Second)
	defd(&o.QueryEmbedTimeout, 5*time.Second)
	defd(&o.RecencyHalfLife, 14*24*time.Hour)
	deff(&o.RecencyWeight, 0.1)
	deff(&o.ImportanceWeight, 0.3)
	if o.Lifecycle == nil {
		lc := lifecycle.Defaults()
		o.Lifecycle = &lc
	}
	if !o.minScoreSet {
		deff(&o.MinScore, 0.3)
	}
	deff(&o.DuplicateCosine, 0.85)
	deff(&o.DuplicatePenalty, 0.5)
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
