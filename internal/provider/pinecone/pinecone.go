// Package pinecone reranks with Pinecone's hosted inference API (POST
// {BaseURL}/rerank). The key goes in an "Api-Key" header, never in
// Authorization, with an "X-Pinecone-API-Version" header; documents are
// records ranked on their "text" field and are not sent back:
//
//	POST {"model", "query", "documents": [{"text"}], "top_n",
//	      "rank_fields": ["text"], "return_documents": false}
//	  -> {"data": [{"index", "score"}]}
//
// Retries, timeouts, reply checks and errors are provider/openaicompat's.
//
//	rr, err := pinecone.NewReranker(pinecone.Config{RerankConfig: openaicompat.RerankConfig{
//		APIKey:  os.Getenv("TROVE_RERANK_API_KEY"),
//		KeyName: "TROVE_RERANK_API_KEY",
//	}})
//	scores, err := rr.Rerank(ctx, "which editor?", []string{"uses vim", "likes tea"})
package pinecone

import (
	"net/http"

	"github.com/trove-memory/trove/internal/provider"
	"github.com/trove-memory/trove/internal/provider/openaicompat"
)

// Defaults applied to zero Config fields.
const (
	DefaultBaseURL     = "https://api.pinecone.io"
	DefaultRerankModel = "bge-reranker-v2-m3"
	DefaultAPIVersion  = "2025-10"
)

// Config configures a Reranker.
type Config struct {
	openaicompat.RerankConfig
	// APIVersion is sent as X-Pinecone-API-Version; "" = DefaultAPIVersion.
	APIVersion string
}

type document struct {
	Text string `json:"text"`
}

type request struct {
	Model           string     `json:"model"`
	Query           string     `json:"query"`
	Documents       []document `json:"documents"`
	TopN            int        `json:"top_n"`
	RankFields      []string   `json:"rank_fields"`
	ReturnDocuments bool       `json:"return_documents"`
}

func newRequest(model, query string, docs []string) any {
	req := request{Model: model, Query: query, Documents: make([]document, len(docs)), TopN: len(docs), RankFields: []string{"text"}}
	for i, d := range docs {
		req.Documents[i].Text = d
	}
	return req
}

// vendor is Pinecone's rerank endpoint for one API version.
func vendor(apiVersion string) openaicompat.RerankVendor {
	if apiVersion == "" {
		apiVersion = DefaultAPIVersion
	}
	return openaicompat.RerankVendor{Provider: provider.Pinecone, BaseURL: DefaultBaseURL,
		Model: DefaultRerankModel, KeyRequired: true, AuthHeader: "Api-Key",
		Header:  http.Header{"X-Pinecone-API-Version": {apiVersion}},
		Request: newRequest, List: "data", Score: "score"}
}

// Validate reports every invalid field, each error naming the field.
func (c Config) Validate() error { return vendor(c.APIVersion).Validate(c.RerankConfig) }

// NewReranker validates cfg and returns Pinecone's reranker. No request is
// made until the first Rerank.
func NewReranker(cfg Config) (*openaicompat.Reranker, error) {
	return openaicompat.NewReranker(cfg.RerankConfig, vendor(cfg.APIVersion))
}
