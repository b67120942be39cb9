// Package siliconflow reranks with SiliconFlow's hosted rerank API (POST
// {BaseURL}/rerank), which speaks Jina's Cohere-style format. Retries,
// timeouts, reply checks and errors are provider/openaicompat's.
//
//	rr, err := siliconflow.NewReranker(openaicompat.RerankConfig{
//		APIKey:  os.Getenv("TROVE_RERANK_API_KEY"),
//		KeyName: "TROVE_RERANK_API_KEY",
//	})
//	scores, err := rr.Rerank(ctx, "which editor?", []string{"uses vim", "likes tea"})
//	// scores[0] > scores[1]: one score per document, in document order
package siliconflow

import (
	"github.com/trove-memory/trove/internal/provider"
	"github.com/trove-memory/trove/internal/provider/openaicompat"
)

// Defaults applied to zero RerankConfig fields.
const (
	DefaultBaseURL     = "https://api.siliconflow.cn/v1"
	DefaultRerankModel = "BAAI/bge-reranker-v2-m3"
)

// RerankVendor is SiliconFlow's rerank endpoint.
var RerankVendor = openaicompat.RerankVendor{Provider: provider.SiliconFlow, BaseURL: DefaultBaseURL,
	Model: DefaultRerankModel, KeyRequired: true}

// NewReranker validates cfg and returns SiliconFlow's reranker. No request
// is made until the first Rerank.
func NewReranker(cfg openaicompat.RerankConfig) (*openaicompat.Reranker, error) {
	return openaicompat.NewReranker(cfg, RerankVendor)
}
