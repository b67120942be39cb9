// Package capture decides what in a conversation turn is worth keeping as a
// memory. An [Extractor] turns messages into candidate memories and says why
// it skipped the rest; [Explicit] is the rule-based one trove ships now: it
// keeps the user's explicit statements ("remember that…", "I prefer…",
// "always/never…", "my … is …" and their Chinese forms) and drops noise
// (questions, greetings, denials, secrets, recalled-memory blocks). An LLM
// extractor can implement the same interface later.
//
// Deduplication against what is already stored is the caller's job (it
// needs the store and the embedder); this package supplies the decision,
// [IsDuplicate]: vector similarity first, then a text comparison, so only
// near-identical statements are merged.
//
//	var x capture.Explicit
//	cands, skipped, err := x.Extract(ctx, []capture.Message{{Role: "user", Content: "Remember that I deploy on Fridays."}})
//	// cands[0].Text == "I deploy on Fridays."
package capture

import (
	"context"

	"github.com/trove-memory/trove/internal/memory"
)

// Message is one message of a conversation turn.
type Message struct {
	Role    string `json:"role" jsonschema:"who said it: user, assistant, system or tool"`
	Content string `json:"content" jsonschema:"the message text"`
}

// Candidate is a statement worth storing.
type Candidate struct {
	Text       string
	Category   memory.Category
	Importance float64
	// Rule names what made it a candidate (kept in the memory's metadata).
	Rule string
}

// Skip is a piece of the conversation that was not stored, and why.
type Skip struct {
	Text        string `json:"text"`
	Reason      string `json:"reason"`
	DuplicateOf string `json:"duplicate_of,omitempty" jsonschema:"id of the stored memory this one repeats"`
}

// Extractor turns a conversation turn into candidate memories. It does no
// I/O on the store: the caller embeds, deduplicates and writes.
type Extractor interface {
	Extract(ctx context.Context, msgs []Message) (cands []Candidate, skipped []Skip, err error)
}

// Limits of what an explicit statement may be.
const (
	MaxStatementRunes = 500
	minRunes          = 8 // Latin-script text
	minRunesCJK       = 4 // CJK carries more per character
)

// excerpt shortens s for a Skip entry.
func excerpt(s string) string {
	r := []rune(s)
	if len(r) > 120 {
		return string(r[:119]) + "…"
	}
	return s
}
