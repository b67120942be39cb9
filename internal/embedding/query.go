package embedding

import "context"

// QueryEmbedder is implemented by Embedders whose model embeds a search
// query differently from the text it is matched against: Jina's
// "retrieval.query" task, Voyage's input_type "query". For such an Embedder,
// Embed is for text to store and EmbedQuery for queries; mixing them up
// still works but recalls worse.
//
// Retrieval embeds queries through the [EmbedQuery] function, so an
// Embedder without this method (Hash, plain OpenAI) needs nothing extra.
type QueryEmbedder interface {
	EmbedQuery(ctx context.Context, texts []string) ([][]float32, error)
}

// EmbedQuery embeds texts as search queries: with e's EmbedQuery when e is a
// [QueryEmbedder], else with e.Embed.
func EmbedQuery(ctx context.Context, e Embedder, texts []string) ([][]float32, error) {
	if q, ok := e.(QueryEmbedder); ok {
		return q.EmbedQuery(ctx, texts)
	}
	return e.Embed(ctx, texts)
}
