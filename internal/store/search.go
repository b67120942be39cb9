package store

import (
	"context"

	"github.com/trove-memory/trove/internal/memory"
)

// Searcher is the read side retrieval needs beyond Reader: BM25 over the
// FTS index and a change feed of vectors to keep an in-memory index
// coherent with writes from every process.
type Searcher interface {
	Reader
	// SearchText returns the k best BM25 matches for free text (escaped:
	// FTS syntax in it is treated as words), best first.
	SearchText(ctx context.Context, acc memory.Access, f Filter, query string, k int) ([]TextHit, error)
	// GetMany returns the rows with these ids that acc reaches (any order).
	GetMany(ctx context.Context, acc memory.Access, ids []string) ([]memory.Memory, error)
	// ChangeSeq is the sequence number of the last committed write.
	ChangeSeq(ctx context.Context) (int64, error)
	// VectorChanges returns what changed after seq, as of one snapshot.
	VectorChanges(ctx context.Context, since int64) (VectorChanges, error)
}

// TextHit is a BM25 match: Score is FTS5's -bm25() (higher is better, ≥ 0).
type TextHit struct {
	ID    string
	Score float64
}

// VectorRow is a row's vector with what retrieval filters on: its scope,
// category and validity (memory.ValidFrom, ValidUntil and InvalidatedAt
// of its metadata; 0 for none of the last two), so that a vector index
// applies Filter.ActiveAt while it scans, as it applies scopes.
type VectorRow struct {
	ID       string
	Scope    memory.Scope
	Category memory.Category
	// SmartCategory is the row's memory_category (memory.SmartCategoryOf),
	// so that an index applies Filter.MemoryCategories while it scans.
	SmartCategory memory.SmartCategory
	Vector        []float32
	ValidFrom     int64
	ValidUntil    int64
	InvalidatedAt int64
	ArchivedAt    int64 // memory.ArchivedAt: 0 when not archived
}

// VectorChanges lists rows written and ids deleted after a sequence
// number, up to Seq. Apply Deleted first, then Upserts. Deleted also
// names rows written without a vector (or with an all-zero one, which
// means nothing): they must leave a vector index. Upserts never carry
// an all-zero vector.
type VectorChanges struct {
	Seq     int64
	Upserts []VectorRow
	Deleted []string
}

// VectorSearcher is a store that searches its vectors on its server
// (PostgreSQL with pgvector), so a retriever keeps no index of its own.
type VectorSearcher interface {
	// ServerVectors reports whether VectorSearch can be used, and if not,
	// why. It may create what the search needs (the extension).
	ServerVectors(ctx context.Context) (ok bool, why string, err error)
	// VectorSearch returns the k rows within acc and f whose vectors are
	// nearest to vec by cosine, best first (approximate, as the server's
	// index is).
	VectorSearch(ctx context.Context, acc memory.Access, f Filter, vec []float32, k int) ([]VectorHit, error)
	// Vectors returns the vectors of the rows of ids that acc reaches
	// (those without one left out), for scoring candidates found by text.
	Vectors(ctx context.Context, acc memory.Access, ids []string) (map[string][]float32, error)
}

// VectorHit is a nearest neighbour of VectorSearcher: Score is the
// cosine similarity.
type VectorHit struct {
	ID    string
	Score float64
}
