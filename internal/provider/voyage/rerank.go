package voyage

import "github.com/trove-memory/trove/internal/provider/openaicompat"

// DefaultRerankModel is Voyage's reranker when RerankConfig.Model is empty.
const DefaultRerankModel = "rerank-2.5"

// Voyage's rerank format is Jina's, but the limit is "top_k" and the list
// is "data":
//
//	POST {"model", "query", "documents": ["..."], "top_k"}
//	  -> {"data": [{"index", "relevance_score"}]}
type rerankRequest struct {
	Model     string   `json:"model"`
	Query     string   `json:"query"`
	Documents []string `json:"documents"`
	TopK      int      `json:"top_k"`
}

// RerankVendor is Voyage's rerank endpoint (POST {BaseURL}/rerank).
var RerankVendor = openaicompat.RerankVendor{Provider: Provider, BaseURL: DefaultBaseURL,
	Model: DefaultRerankModel, KeyRequired: true, List: "data",
	Request: func(model, query string, docs []string) any {
		return rerankRequest{Model: model, Query: query, Documents: docs, TopK: len(docs)}
	}}

// NewReranker validates cfg and returns Voyage's reranker. No request is
// made until the first Rerank.
func NewReranker(cfg openaicompat.RerankConfig) (*openaicompat.Reranker, error) {
	return openaicompat.NewReranker(cfg, RerankVendor)
}
