package rerank

import "context"

// Hugging Face text-embeddings-inference's format: the server runs one
// model, so there is no model field, and it scores every text (any limit
// is applied here). A key, when the server was started with --api-key, is
// a Bearer token.
//
//	POST {"query", "texts": ["..."]}
//	  -> [{"index", "score"}]

type teiRequest struct {
	Query string   `json:"query"`
	Texts []string `json:"texts"`
}

func teiRerank(ctx context.Context, r *reranker, query string, docs []string, _ int) ([]Result, error) {
	var reply []item
	if err := r.ep.Do(ctx, teiRequest{Query: query, Texts: docs}, &reply); err != nil {
		return nil, err
	}
	if reply == nil { // "null"
		return nil, r.bad("the reply has no list of scores")
	}
	return r.results(reply, "", "score", nil)
}
