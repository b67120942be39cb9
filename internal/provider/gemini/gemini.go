// Package gemini embeds text with Google's Gemini API through its
// OpenAI-compatible endpoint (POST {BaseURL}/embeddings, the key sent as a
// Bearer token). Texts longer than MaxInputChars are split and their
// vectors averaged (see [embedding.Chunked]). Retries, timeouts and errors
// are provider/openaicompat's.
//
//	e, err := gemini.NewEmbedder(gemini.Config{Config: openaicompat.Config{
//		APIKey:  os.Getenv("TROVE_EMBED_API_KEY"),
//		KeyName: "TROVE_EMBED_API_KEY",
//	}})
//	vecs, err := e.Embed(ctx, []string{"prefers dark mode"})
package gemini

import (
	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/provider/openaicompat"
)

// Defaults applied to zero Config fields.
const (
	DefaultBaseURL = "https://generativelanguage.googleapis.com/v1beta/openai"
	DefaultModel   = "gemini-embedding-001"
	// DefaultMaxInputChars keeps a text within gemini-embedding-001's
	// 2048-token input, with room to spare for text that takes more than
	// the usual four characters per token.
	DefaultMaxInputChars = 6000
	// Provider names Gemini in Info and in errors.
	Provider = "gemini"
)

// Config configures an Embedder. The embedded openaicompat.Config holds the
// connection, retry and batching settings; zero BaseURL, Model and
// Provider select the defaults above. Dimensions > 0 is sent as
// "dimensions" (gemini-embedding-001 gives 3072 unless asked for fewer).
type Config struct {
	openaicompat.Config
	// MaxInputChars is the longest text, in characters, sent as one
	// input; longer texts are split and their vectors averaged.
	// 0 = DefaultMaxInputChars, < 0 = no limit.
	MaxInputChars int
}

// defaults are Google's values for zero Config fields.
var defaults = openaicompat.Defaults{Provider: Provider, BaseURL: DefaultBaseURL, Model: DefaultModel,
	MaxInputChars: DefaultMaxInputChars, KeyRequired: true}

func (c Config) withDefaults() Config {
	c.Config, c.MaxInputChars = defaults.Apply(c.Config, c.MaxInputChars)
	return c
}

// Validate reports every invalid field after defaults are applied. The API
// key is required when BaseURL is Google's own.
func (c Config) Validate() error { return defaults.Validate(c.withDefaults().Config) }

// NewEmbedder validates cfg and returns Gemini's embedder, split to
// MaxInputChars, and a [embedding.Describer] naming "gemini", the model
// and the dimensions (0 until the first reply when Dimensions was not
// set). No request is made until the first Embed.
func NewEmbedder(cfg Config) (embedding.Embedder, error) {
	return defaults.Embedder(cfg.Config, cfg.MaxInputChars, nil)
}
