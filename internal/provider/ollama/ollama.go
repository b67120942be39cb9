// Package ollama embeds text with a local Ollama server through its
// OpenAI-compatible endpoint (POST {BaseURL}/v1/embeddings). No API key is
// needed; one that is set is sent as a Bearer token, for a proxy in front.
// Texts longer than MaxInputChars are split and their vectors averaged
// (see [embedding.Chunked]). Retries, timeouts and errors are
// provider/openaicompat's.
//
//	e, err := ollama.NewEmbedder(ollama.Config{Config: openaicompat.Config{Model: "bge-m3"}})
//	vecs, err := e.Embed(ctx, []string{"prefers dark mode"})
package ollama

import (
	"strings"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/provider/openaicompat"
)

// Defaults applied to zero Config fields.
const (
	DefaultBaseURL = "http://localhost:11434"
	DefaultModel   = "nomic-embed-text"
	// DefaultMaxInputChars suits the small contexts local embedding
	// models run with (512 tokens for mxbai-embed-large, 2048 for
	// nomic-embed-text by default); raise it for bge-m3 and the like.
	DefaultMaxInputChars = 2048
	// Provider names Ollama in Info and in errors.
	Provider = "ollama"
)

// Config configures an Embedder. The embedded openaicompat.Config holds the
// connection, retry and batching settings. BaseURL is the Ollama server,
// e.g. "http://gpu-box:11434"; "/v1" is added unless it already ends so.
// Zero BaseURL, Model and Provider select the defaults above.
type Config struct {
	openaicompat.Config
	// MaxInputChars is the longest text, in characters, sent as one
	// input; longer texts are split and their vectors averaged.
	// 0 = DefaultMaxInputChars, < 0 = no limit.
	MaxInputChars int
}

// defaults are Ollama's values for zero Config fields.
var defaults = openaicompat.Defaults{Provider: Provider, BaseURL: DefaultBaseURL, Model: DefaultModel,
	MaxInputChars: DefaultMaxInputChars, KeyRequired: false}

func (c Config) withDefaults() Config {
	c.Config, c.MaxInputChars = defaults.Apply(c.Config, c.MaxInputChars)
	if base := strings.TrimRight(c.BaseURL, "/"); !strings.HasSuffix(base, "/v1") {
		c.BaseURL = base + "/v1"
	}
	return c
}

// Validate reports every invalid field after defaults are applied.
func (c Config) Validate() error { return defaults.Validate(c.withDefaults().Config) }

// NewEmbedder validates cfg and returns an embedder for the Ollama server,
// split to MaxInputChars, and a [embedding.Describer] naming "ollama", the
// model and the dimensions (0 until the first reply when Dimensions was
// not set). No request is made until the first Embed.
func NewEmbedder(cfg Config) (embedding.Embedder, error) {
	cfg = cfg.withDefaults()
	return defaults.Embedder(cfg.Config, cfg.MaxInputChars, nil)
}
