package jina

import "github.com/trove-memory/trove/internal/provider/openaicompat"

// DefaultRerankModel is Jina's reranker when RerankConfig.Model is empty.
const DefaultRerankModel = "jina-reranker-v3"

// RerankVendor is Jina's rerank endpoint (POST {BaseURL}/rerank). Its
// format is the Cohere-style one openaicompat takes by default, which
// self-hosted gateways (vLLM's /v1/rerank) also speak: a BaseURL of one of
// those needs no key.
var RerankVendor = openaicompat.RerankVendor{Provider: Provider, BaseURL: DefaultBaseURL,
	Model: DefaultRerankModel, KeyRequired: true}

// NewReranker validates cfg and returns Jina's reranker. No request is made
// until the first Rerank.
func NewReranker(cfg openaicompat.RerankConfig) (*openaicompat.Reranker, error) {
	return openaicompat.NewReranker(cfg, RerankVendor)
}
