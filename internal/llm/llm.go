// Package llm is trove's contract for chat completions: one system prompt,
// one user message, one reply. trove uses it to enrich memories (upgrade),
// extract them from conversations and decide on duplicates.
//
// A Client returns the assistant's text as is. Asking for JSON (Request.JSON)
// makes a well-behaved model reply with a JSON object, but the text is still
// the caller's to parse and validate: models break the format, and a bad
// reply must fail for that item only.
//
//	reply, err := client.Complete(ctx, llm.Request{
//		System:      "Summarise the memory in one sentence. Reply as JSON {\"l0\": string}.",
//		User:        row.Text,
//		JSON:        true,
//		MaxTokens:   200,
//		Temperature: 0,
//	})
//	if err != nil { ... } // the provider failed: retry later or fall back
//	var out struct{ L0 string `json:"l0"` }
//	if err := json.Unmarshal([]byte(reply), &out); err != nil { ... } // the model failed
package llm

import (
	"context"
	"encoding/json"
)

// Request is one chat completion.
type Request struct {
	System string // system prompt; empty sends none
	User   string // the user message
	// JSON asks the model for a single JSON object as its reply (the
	// OpenAI "json_object" response format). Providers without such a mode
	// ignore it, so prompts should ask for JSON as well.
	JSON bool
	// Schema, when set, asks for a reply that follows a JSON schema (the
	// OpenAI "json_schema" response format, not strict: the caller still
	// validates). It implies JSON. A provider that cannot honour it falls
	// back to plain JSON mode, so the prompt must describe the shape too.
	Schema      *Schema
	MaxTokens   int     // reply length limit; 0 leaves it to the provider
	Temperature float64 // 0 for the most repeatable replies
}

// Schema is a named JSON schema for a reply.
type Schema struct {
	// Name identifies the schema to the provider: letters, digits, '_'
	// and '-', at most 64 (OpenAI's rule).
	Name string
	// JSON is the schema document, a JSON object.
	JSON json.RawMessage
}

// Client completes chat requests. Complete returns the assistant message
// text; an empty reply is an error, not "". Implementations must be safe for
// concurrent use and must not hold anything while waiting on the network
// that other callers need.
type Client interface {
	Complete(ctx context.Context, req Request) (string, error)
}
