package rerank

import (
	"context"
	"encoding/json"
)

// Pinecone's format (the key goes in "Api-Key", with an
// "X-Pinecone-API-Version" header): documents are records, ranked on their
// "text" field, and the documents are not sent back.
//
//	POST {"model", "query", "documents": [{"text"}], "top_n",
//	      "rank_fields": ["text"], "return_documents": false}
//	  -> {"data": [{"index", "score"}]}

type pineconeDocument struct {
	Text string `json:"text"`
}

type pineconeRequest struct {
	Model           string             `json:"model"`
	Query           string             `json:"query"`
	Documents       []pineconeDocument `json:"documents"`
	TopN            int                `json:"top_n"`
	RankFields      []string           `json:"rank_fields"`
	ReturnDocuments bool               `json:"return_documents"`
}

func pineconeRerank(ctx context.Context, r *reranker, query string, docs []string, want int) ([]Result, error) {
	req := pineconeRequest{
		Model:      r.model,
		Query:      query,
		Documents:  make([]pineconeDocument, len(docs)),
		TopN:       want,
		RankFields: []string{"text"},
	}
	for i, d := range docs {
		req.Documents[i].Text = d
	}
	var reply struct {
		Data  []item          `json:"data"`
		Error json.RawMessage `json:"error"`
	}
	if err := r.ep.Do(ctx, req, &reply); err != nil {
		return nil, err
	}
	return r.results(reply.Data, "data", "score", reply.Error)
}
