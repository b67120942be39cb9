package rerank

import (
	"context"
	"encoding/json"
)

// Jina's format, which SiliconFlow (and Cohere-style gateways such as
// vLLM's /v1/rerank) also speak:
//
//	POST {"model", "query", "documents": ["..."], "top_n"}
//	  -> {"results": [{"index", "relevance_score"}]}

type jinaRequest struct {
	Model     string   `json:"model"`
	Query     string   `json:"query"`
	Documents []string `json:"documents"`
	TopN      int      `json:"top_n"`
}

func jinaRerank(ctx context.Context, r *reranker, query string, docs []string, want int) ([]Result, error) {
	var reply struct {
		Results []item          `json:"results"`
		Error   json.RawMessage `json:"error"`
	}
	if err := r.ep.Do(ctx, jinaRequest{Model: r.model, Query: query, Documents: docs, TopN: want}, &reply); err != nil {
		return nil, err
	}
	return r.results(reply.Results, "results", "relevance_score", reply.Error)
}
