// Package extract is trove's smart capture: a conversation becomes
// candidate memories (an LLM, or the rule-based extractor when none is
// configured), each candidate is compared with what is stored and decided
// (create, merge, skip, supersede, support, contextualize, contradict), and
// every decision of one capture commits in one write.
//
// The package holds the whole contract with the model in one place: the
// prompts (prompts.go), the JSON replies they ask for and how a reply is
// read (parse.go), and memory-lancedb-pro's category rules (rules.go). The
// JSON contract is documented in docs/EXTRACTION.md.
//
// No LLM or embedding call runs under the store's write lock: candidates
// are extracted, embedded, matched and decided first; the commit re-checks
// each decision against the rows as they are then (their revisions, and
// rows with the same text or fact key committed meanwhile), and a decision
// that no longer holds is made again outside the lock.
package extract

import (
	"github.com/trove-memory/trove/internal/memory"
)

// Candidate is one memory proposed by the extractor, in
// memory-lancedb-pro's three levels.
type Candidate struct {
	Category memory.SmartCategory `json:"category"`
	Abstract string               `json:"abstract"` // L0: one line, the search key
	Overview string               `json:"overview"` // L1: markdown bullets
	Content  string               `json:"content"`  // L2: the full statement
	// Rule is what produced the candidate: "llm", or the name of the
	// rule-based extractor's rule.
	Rule string `json:"rule,omitempty"`
}

// Rejected is a candidate (or a piece of the conversation) that was not
// kept, and why.
type Rejected struct {
	Text   string `json:"text"`
	Reason string `json:"reason"`
}

// Kind is a dedup decision.
type Kind string

// The decisions, as memory-lancedb-pro names them.
const (
	Create        Kind = "create"
	Merge         Kind = "merge"
	Skip          Kind = "skip"
	Supersede     Kind = "supersede"
	Support       Kind = "support"
	Contextualize Kind = "contextualize"
	Contradict    Kind = "contradict"
)

// Kinds lists the decisions.
var Kinds = []Kind{Create, Merge, Skip, Supersede, Support, Contextualize, Contradict}

// Decision is what to do with one candidate given the stored rows it was
// compared with.
type Decision struct {
	Kind Kind `json:"decision"`
	// Match is the 0-based index, into the matches offered, of the row the
	// decision is about; -1 for create (and for a skip that repeats
	// another candidate of the same batch).
	Match        int    `json:"match"`
	Reason       string `json:"reason,omitempty"`
	ContextLabel string `json:"context_label,omitempty"`
}

// Merged is the LLM's combination of a stored row and a candidate.
type Merged struct {
	Abstract string `json:"abstract"`
	Overview string `json:"overview"`
	Content  string `json:"content"`
}

// MaxCandidates bounds the memories taken from one extraction.
const MaxCandidates = 5

// MaxMatches is how many stored rows one decision is asked about.
const MaxMatches = 3
