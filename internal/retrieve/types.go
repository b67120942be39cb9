// Package retrieve is trove's recall pipeline: a query becomes vector and
// BM25 candidates (scope-filtered in the store, fetched concurrently), which
// are fused, optionally reranked by a cross-encoder, scored (recency,
// importance, length, decay), filtered (minimum score, noise,
// near-duplicates) and cut to the limit. See DESIGN.md beside this file.
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

// Trace is a candidate's score after each stage (with --debug).
type Trace struct {
	Stages  []Stage `json:"stages"`
	Dropped string  `json:"dropped,omitempty"` // why it was dropped, if it was
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
}
