// Package openaicompat talks to any server that speaks the OpenAI HTTP API
// for embeddings (POST {BaseURL}/embeddings) and chat completions (POST
// {BaseURL}/chat/completions): OpenAI itself, Azure-style gateways, vLLM,
// llama.cpp, LM Studio, Ollama's /v1, LiteLLM and most hosted vendors. It is
// the workhorse provider; vendor packages are thin wrappers that fill in a
// Config. It also holds what every reranker shares (rerank.go): a vendor
// package describes its endpoint's JSON in a RerankVendor and gets a
// *Reranker with query-path timeouts, one retry and checked replies.
//
// Every call has a per-attempt timeout and is retried with exponential
// backoff and jitter on timeouts, connection failures, 429 and 5xx replies,
// honouring Retry-After. Failures are *APIError values that say what
// happened and what to try, and never contain the API key. Replies are
// checked before they are returned: a wrong number of vectors, wrong
// dimensions or an empty chat reply is an error, not data.
//
//	emb, err := openaicompat.NewEmbedder(openaicompat.Config{
//		BaseURL: "https://api.openai.com/v1",
//		APIKey:  os.Getenv("TROVE_EMBED_API_KEY"),
//		Model:   "text-embedding-3-small",
//		KeyName: "TROVE_EMBED_API_KEY",
//	})
//	if err != nil { ... } // the error names the Config field that is wrong
//	vecs, err := emb.Embed(ctx, []string{"prefers dark mode"})
//	var apiErr *openaicompat.APIError
//	if errors.As(err, &apiErr) && apiErr.Retryable() { ... } // try again later
package openaicompat
