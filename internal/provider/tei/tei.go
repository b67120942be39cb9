// Package tei reranks with Hugging Face text-embeddings-inference (POST
// {BaseURL}/rerank), usually self-hosted. The server runs one model, so
// the request names none, and it scores every text:
//
//	POST {"query", "texts": ["..."]}
//	  -> [{"index", "score"}]
//
// A key, when the server was started with --api-key, is a Bearer token.
// Retries, timeouts, reply checks and errors are provider/openaicompat's.
//
//	rr, err := tei.NewReranker(openaicompat.RerankConfig{BaseURL: "http://localhost:8080"})
//	scores, err := rr.Rerank(ctx, "which editor?", []string{"uses vim", "likes tea"})
package tei

import (
	"github.com/trove-memory/trove/internal/provider"
	"github.com/trove-memory/trove/internal/provider/openaicompat"
)

// DefaultBaseURL is where text-embeddings-inference listens by default.
const DefaultBaseURL = "http://localhost:8080"

type request struct {
	Query string   `json:"query"`
	Texts []string `json:"texts"`
}

// RerankVendor is text-embeddings-inference's rerank endpoint.
var RerankVendor = openaicompat.RerankVendor{Provider: provider.TEI, BaseURL: DefaultBaseURL,
	Score: "score",
	Request: func(_, query string, docs []string) any {
		return request{Query: query, Texts: docs}
	}}

// NewReranker validates cfg and returns the reranker. No request is made
// until the first Rerank.
func NewReranker(cfg openaicompat.RerankConfig) (*openaicompat.Reranker, error) {
	return openaicompat.NewReranker(cfg, RerankVendor)
}
