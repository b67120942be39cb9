package service

import (
	"github.com/trove-memory/trove/internal/archive"
	"github.com/trove-memory/trove/internal/memory"
)

// Every bound on caller input, for every front end (CLI, REST, MCP, the
// OpenClaw plugin): one table, so the same request gets the same answer
// wherever it comes from. README and docs quote these numbers.
const (
	// A memory.
	MaxTextBytes      = memory.MaxTextBytes     // text of one memory
	MaxIDBytes        = memory.MaxIDBytes       // a memory id
	MaxMetadataBytes  = memory.MaxMetadataBytes // metadata, encoded as JSON
	DefaultImportance = 0.7

	// Filters: how many scope or category names one request may give. A
	// request never grows a statement's parameter count past this.
	MaxScopes     = 256
	MaxCategories = 16

	// list
	DefaultListLimit = 20
	MaxListLimit     = 200
	MaxListOffset    = 10000 // rows a list may skip (read and dropped: O(offset))

	// compact: newest active rows one compaction may scan (0: every row)
	MaxCompactLimit = 100000

	// history: versions listed per call (the store keeps more: see
	// config history.keep and history.retention)
	DefaultHistoryLimit = 20
	MaxHistoryLimit     = 200

	// recall
	DefaultRecall = 5
	MaxRecall     = 50
	MaxQueryBytes = 4096

	// min_score (recall, recall-context) lies in [0, 1]; see MinScoreHelp.

	// recall-context
	DefaultContextItems = 3
	MaxContextItems     = 20
	DefaultContextChars = 600
	MaxContextChars     = 20000
	// An item's own share (memory-lancedb-pro's autoRecallPerItemMaxChars);
	// in full mode the default is 3 times this, at most fullItemChars.
	DefaultContextItemChars = 180
	MaxContextItemChars     = 5000
	fullItemChars           = 1000
	// maxPromptQuery is how much of a prompt becomes the recall query: a
	// host may send a whole pasted document as the prompt.
	maxPromptQuery = 2000

	// import-markdown: bullets shorter than this are skipped; the
	// importance of what it imports.
	DefaultMarkdownMinText    = archive.DefaultMarkdownMinText
	DefaultMarkdownImportance = archive.DefaultMarkdownImportance

	// capture
	MaxCaptureMessages = 100
	MaxMessageBytes    = 64 * 1024

	// Batch jobs: rows per write transaction. Each bound keeps one batch's
	// lock hold to milliseconds, so live writers interleave.
	DefaultImportBatch  = 500
	MaxImportBatch      = 5000
	DefaultDeleteBatch  = 500
	DefaultUpgradeBatch = 10
	MaxUpgradeBatch     = 1000
	// LLM calls in flight at once during upgrade.
	DefaultUpgradeConcurrency = 4
	MaxUpgradeConcurrency     = 64
	// reembed: texts per embedding call and commit, calls in flight (the
	// defaults are internal/reembed's).
	MaxReembedBatch       = 2048
	MaxReembedConcurrency = 64
)

// MinScoreHelp says what a min_score means, for flag, tool and API
// descriptions. A score is the relevance of a memory to the query before
// lifecycle decay, from 0 to 1 (a very recent memory can pass 1 a little).
// Below min_score a memory is not returned. Independently of it, a memory
// with no word of the query in it and no calibrated semantic similarity is
// never returned.
const MinScoreHelp = "minimum relevance from 0 to 1, overriding retrieval.minScore (default 0.3). " +
	"0.3 keeps every memory that shares a word, or with a semantic model a meaning, with the query; " +
	"0.5 keeps clear matches (with the offline embedder most right answers score 0.5 to 0.65, most wrong ones under 0.45); " +
	"0.8 keeps only near-certain matches, which take a semantic model or a reranker"

// checkMinScore checks a requested min_score.
func checkMinScore(v *float64) error {
	if v == nil {
		return nil
	}
	if !(*v >= 0 && *v <= 1) {
		return Invalid("min_score %v is outside [0, 1]: use 0.3 (the default), 0.5 for clear matches or 0.8 for strong ones", *v)
	}
	return nil
}
