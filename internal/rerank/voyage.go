package rerank

import (
	"context"
	"encoding/json"
)

// Voyage's format: like Jina's, but the limit is "top_k" and the list is
// "data".
//
//	POST {"model", "query", "documents": ["..."], "top_k"}
//	  -> {"data": [{"index", "relevance_score"}]}

type voyageRequest struct {
	Model     string   `json:"model"`
	Query     string   `json:"query"`
	Documents []string `json:"documents"`
	TopK      int      `json:"top_k"`
}

func voyageRerank(ctx context.Context, r *reranker, query string, docs []string, want int) ([]Result, error) {
	var reply struct {
		Data  []item          `json:"data"`
		Error json.RawMessage `json:"error"`
	}
	if err := r.ep.Do(ctx, voyageRequest{Model: r.model, Query: query, Documents: docs, TopK: want}, &reply); err != nil {
		return nil, err
	}
	return r.results(reply.Data, "data", "relevance_score", reply.Error)
}
