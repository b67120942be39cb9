// Package jina embeds text with Jina AI's embeddings API (POST
// {BaseURL}/embeddings). Jina's models are trained for asymmetric search:
// text to store is embedded with the task "retrieval.passage" and search
// queries with "retrieval.query", so its embedder
// is an [embedding.QueryEmbedder] as well as an [embedding.Embedder]. Texts
// longer than MaxInputChars are split and their vectors averaged (see
// [embedding.Chunked]). Retries, timeouts and errors are
// provider/openaicompat's.
//
//	e, err := jina.NewEmbedder(jina.Config{Config: openaicompat.Config{
//		APIKey:  os.Getenv("TROVE_EMBED_API_KEY"),
//		KeyName: "TROVE_EMBED_API_KEY",
//	}})
//	docs, err := e.Embed(ctx, []string{"prefers dark mode"})              // task retrieval.passage
//	query, err := embedding.EmbedQuery(ctx, e, []string{"what theme does she like?"}) // task retrieval.query
package jina

import (
	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/provider"
	"github.com/trove-memory/trove/internal/provider/openaicompat"
)

// Defaults applied to zero Config fields.
const (
	DefaultBaseURL = "https://api.jina.ai/v1"
	DefaultModel   = "jina-embeddings-v3"
	// DefaultMaxInputChars stays under the 8192-token context of Jina's
	// v3 models for any script: even CJK text rarely takes more than one
	// token per character.
	DefaultMaxInputChars = 8192
	// Provider names Jina in Info and in errors.
	Provider = provider.Jina
)

// The task values Jina takes for retrieval.
const (
	TaskPassage = "retrieval.passage" // text to store
	TaskQuery   = "retrieval.query"   // search queries
)

// Config configures an Embedder. The embedded openaicompat.Config holds the
// connection, retry and batching settings; zero BaseURL, Model and
// Provider select DefaultBaseURL, DefaultModel and Provider. Dimensions > 0
// is sent as "dimensions" (v3 takes 32 to 1024).
type Config struct {
	openaicompat.Config
	// MaxInputChars is the longest text, in characters, sent as one
	// input; longer texts are split and their vectors averaged.
	// 0 = DefaultMaxInputChars, < 0 = no limit.
	MaxInputChars int
}

// defaults are Jina's values for zero Config fields.
var defaults = openaicompat.Defaults{Provider: Provider, BaseURL: DefaultBaseURL, Model: DefaultModel,
	MaxInputChars: DefaultMaxInputChars, KeyRequired: true}

func (c Config) withDefaults() Config {
	c.Config, c.MaxInputChars = defaults.Apply(c.Config, c.MaxInputChars)
	return c
}

// Validate reports every invalid field after defaults are applied. The API
// key is required when BaseURL is Jina's own.
func (c Config) Validate() error { return defaults.Validate(c.withDefaults().Config) }

type request struct {
	Model      string   `json:"model"`
	Input      []string `json:"input"`
	Task       string   `json:"task"`
	Dimensions int      `json:"dimensions,omitempty"`
}

// NewEmbedder validates cfg and returns Jina's embedder, split to
// MaxInputChars. It is also an [embedding.QueryEmbedder] (queries get the
// task retrieval.query, stored text retrieval.passage) and a
// [embedding.Describer] naming "jina", the model and the dimensions (0
// until the first reply when Dimensions was not set). No request is made
// until the first Embed.
func NewEmbedder(cfg Config) (embedding.Embedder, error) {
	cfg = cfg.withDefaults() // the request names the default model
	return defaults.Embedder(cfg.Config, cfg.MaxInputChars, func(texts []string, query bool) any {
		task := TaskPassage
		if query {
			task = TaskQuery
		}
		return request{Model: cfg.Model, Input: texts, Task: task, Dimensions: cfg.Dimensions}
	})
}
