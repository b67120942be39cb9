package service

import (
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

	// recall
	DefaultRecall = 5
	MaxRecall     = 50
	MaxQueryBytes = 4096

	// recall-context
	DefaultContextItems = 3
	MaxContextItems     = 20
	DefaultContextChars = 600
	MaxContextChars     = 20000
	// maxPromptQuery is how much of a prompt becomes the recall query: a
	// host may send a whole pasted document as the prompt.
	maxPromptQuery = 2000

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
