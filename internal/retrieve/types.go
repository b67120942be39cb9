// Package retrieve is trove's recall pipeline: a query becomes vector and
// BM25 candidates (scope-filtered in the store, fetched concurrently; BM25
// optionally expanded by pseudo-relevance feedback), which are fused,
// checked for relevance, optionally reranked by a cross-encoder, scored
// (recency, importance, length, decay), filtered (minimum score, noise,
// near-duplicates) and cut to the limit. With Request.Debug the response
// explains every stage. See DESIGN.md beside this file.
//
//	r := retrieve.New(st, emb, retrieve.Options{})
//	resp, err := r.Search(ctx, memory.AgentAccess("bot"), retrieve.Request{Query: "which editor?"})
package retrieve

import (
	"time"

	"github.com/trove-memory/trove/internal/memory"
)

// Request is one recall.
type Request struct {
	Query  string         `json:"query"`
	Scopes []memory.Scope `json:"scopes,omitempty"` // narrow within the caller's access; empty: all accessible
	// Categories narrows to these storage categories (preference, fact,
	// ...); MemoryCategories to these six-category memory_categories
	// (profile, preferences, ...; store.Filter.MemoryCategories). Empty: all.
	Categories       []memory.Category      `json:"categories,omitempty"`
	MemoryCategories []memory.SmartCategory `json:"memory_categories,omitempty"`
	Limit            int                    `json:"limit,omitempty"` // default 5
	// MinScore, when set, replaces Options.MinScore for this request: a
	// score in [0, 1] that a result needs before lifecycle decay.
	MinScore *float64 `json:"min_score,omitempty"`
	Debug    bool     `json:"debug,omitempty"` // keep every candidate's per-stage scores
	// AsOf (unix ms) recalls what was active then (memory.ActiveAt): a
	// fact's value at that time, not its newest. 0: now, by Options.Now.
	AsOf int64 `json:"as_of,omitempty"`
	// IncludeHistory recalls rows whatever their validity: superseded,
	// expired and not yet valid ones too. AsOf is then ignored.
	IncludeHistory bool `json:"include_history,omitempty"`
	// Vector, when set, is the query's vector: a caller that embedded the
	// text already (capture's and memory_store's duplicate search) is not
	// made to pay for a second embedding.
	Vector []float32 `json:"-"`
	// RerankTimeout, when shorter than Options.RerankTimeout, bounds this
	// request's cross-encoder call: a caller with a time budget
	// (recall-context) keeps time for the rest, and past it the order
	// falls back to the blend with cosine.
	RerankTimeout time.Duration `json:"-"`
}

// Result is one recalled memory.
type Result struct {
	Memory  memory.Memory `json:"memory"`
	Score   float64       `json:"score"`
	Sources Sources       `json:"sources"`
	Trace   *Trace        `json:"trace,omitempty"`
}

// Sources says which signals found a memory and with what raw score.
type Sources struct {
	Vector *float64 `json:"vector,omitempty"` // cosine similarity
	BM25   *float64 `json:"bm25,omitempty"`   // normalised BM25 in [0,1]
	Rerank *float64 `json:"rerank,omitempty"` // cross-encoder relevance
}

// Trace is a candidate's score after each stage (with --debug), and what
// the score was made of.
type Trace struct {
	Stages     []Stage    `json:"stages"`
	Components Components `json:"components"`
	Dropped    string     `json:"dropped,omitempty"` // why it was dropped, if it was
}

// Components are the signals behind a candidate's score, each as it
// entered the pipeline (nil: that signal did not score it).
type Components struct {
	// Lexical is the normalised BM25 score in [0.5, 1) (interpolated with
	// the expansion query's when expansion is on).
	Lexical *float64 `json:"lexical,omitempty"`
	// Expanded: BM25 found it only through the expansion terms.
	Expanded bool `json:"expanded,omitempty"`
	// Vector is its cosine to the query, found by the vector search or
	// read from the index for a BM25 hit (VectorFromIndex).
	Vector          *float64 `json:"vector,omitempty"`
	VectorFromIndex bool     `json:"vector_from_index,omitempty"`
	// Fused is the score fusion gave it.
	Fused float64 `json:"fused"`
	// Rerank is the cross-encoder's relevance, when it was reranked.
	Rerank *float64 `json:"rerank,omitempty"`
	// Lifecycle is the decay multiplier (recency, use, tier), when decay
	// ran on it.
	Lifecycle *float64 `json:"lifecycle,omitempty"`
}

// Explain is a ranking's account (with Debug): how the sides were fused,
// the expansion terms, and each stage's counts, time and scores. Why each
// dropped candidate was dropped is in Response.Dropped.
type Explain struct {
	Fusion    string        `json:"fusion"`              // e.g. "seed: 0.70·vector + 0.30·bm25"
	Expansion []string      `json:"expansion,omitempty"` // terms the expansion query added
	Stages    []StageReport `json:"stages"`
}

// StageReport is one stage of a recall: lexical, vector (the candidate
// lists: in is the list length asked for), fusion (in: hits of both
// lists, out: distinct memories), floor, rerank, score (recency,
// importance, length, minimum), decay, noise, dedup, limit.
type StageReport struct {
	Name string  `json:"name"`
	In   int     `json:"in"`
	Out  int     `json:"out"`
	Ms   float64 `json:"ms"`
	// Min and Max are the scores of what the stage let through: cosines
	// for vector, normalised BM25 for lexical, the running score after.
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	Note string  `json:"note,omitempty"` // e.g. why a stage did not run
}

// Stage is one step of scoring.
type Stage struct {
	Name  string  `json:"name"`
	Score float64 `json:"score"`
}

// Response is the outcome of a recall.
type Response struct {
	Results       []Result       `json:"results"`
	Warnings      []string       `json:"warnings,omitempty"`       // degraded paths (embedder or BM25 down, rerank fallback)
	IgnoredScopes []memory.Scope `json:"ignored_scopes,omitempty"` // requested scopes the caller may not read
	Dropped       []Result       `json:"dropped,omitempty"`        // with Debug: candidates that did not make it, and why
	Explain       *Explain       `json:"explain,omitempty"`        // with Debug: the stages
}
