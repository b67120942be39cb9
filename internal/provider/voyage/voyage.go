// Package voyage embeds text with Voyage AI's embeddings API (POST
// {BaseURL}/embeddings). Voyage's models embed text to store and search
// queries differently (input_type "document" or "query"), so its
// embedder is an [embedding.QueryEmbedder] as well as an [embedding.Embedder]. The
// request carries only Voyage's own fields: no OpenAI "dimensions" or
// "encoding_format", which it rejects. Texts longer than MaxInputChars are
// split and their vectors averaged (see [embedding.Chunked]). Retries,
// timeouts and errors are provider/openaicompat's.
//
//	e, err := voyage.NewEmbedder(voyage.Config{Config: openaicompat.Config{
//		APIKey:  os.Getenv("TROVE_EMBED_API_KEY"),
//		KeyName: "TROVE_EMBED_API_KEY",
//	}})
//	docs, err := e.Embed(ctx, []string{"prefers dark mode"})              // input_type document
//	query, err := embedding.EmbedQuery(ctx, e, []string{"what theme does she like?"}) // input_type query
package voyage

import (
	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/provider"
	"github.com/trove-memory/trove/internal/provider/openaicompat"
)

// Defaults applied to zero Config fields.
const (
	DefaultBaseURL = "https://api.voyageai.com/v1"
	DefaultModel   = "voyage-3.5"
	// DefaultMaxInputChars is far inside the 32k-token context of
	// voyage-3.5 and leaves room for DefaultBatchSize of them under
	// Voyage's per-request token cap.
	DefaultMaxInputChars = 16000
	// DefaultBatchSize is lower than openaicompat's because Voyage caps the
	// tokens of a whole request (120k for its large models).
	DefaultBatchSize = 32
	// Provider names Voyage in Info and in errors.
	Provider = provider.Voyage
)

// The input_type values Voyage takes.
const (
	InputDocument = "document" // text to store
	InputQuery    = "query"    // search queries
)

// Config configures an Embedder. The embedded openaicompat.Config holds the
// connection, retry and batching settings; zero BaseURL, Model, Provider
// and BatchSize select the defaults above. Dimensions > 0 is sent as
// "output_dimension" (voyage-3.5 takes 256, 512, 1024 or 2048).
type Config struct {
	openaicompat.Config
	// MaxInputChars is the longest text, in characters, sent as one
	// input; longer texts are split and their vectors averaged.
	// 0 = DefaultMaxInputChars, < 0 = no limit.
	MaxInputChars int
}

// defaults are Voyage's values for zero Config fields.
var defaults = openaicompat.Defaults{Provider: Provider, BaseURL: DefaultBaseURL, Model: DefaultModel,
	MaxInputChars: DefaultMaxInputChars, KeyRequired: true, BatchSize: DefaultBatchSize}

func (c Config) withDefaults() Config {
	c.Config, c.MaxInputChars = defaults.Apply(c.Config, c.MaxInputChars)
	return c
}

// Validate reports every invalid field after defaults are applied. The API
// key is required when BaseURL is Voyage's own.
func (c Config) Validate() error { return defaults.Validate(c.withDefaults().Config) }

type request struct {
	Model           string   `json:"model"`
	Input           []string `json:"input"`
	InputType       string   `json:"input_type"`
	OutputDimension int      `json:"output_dimension,omitempty"`
}

// NewEmbedder validates cfg and returns Voyage's embedder, split to
// MaxInputChars. It is also an [embedding.QueryEmbedder] (queries get
// input_type query, stored text document) and a [embedding.Describer]
// naming "voyage", the model and the dimensions (0 until the first reply
// when Dimensions was not set). No request is made until the first Embed.
func NewEmbedder(cfg Config) (embedding.Embedder, error) {
	cfg = cfg.withDefaults() // the request names the default model
	return defaults.Embedder(cfg.Config, cfg.MaxInputChars, func(texts []string, query bool) any {
		inputType := InputDocument
		if query {
			inputType = InputQuery
		}
		return request{Model: cfg.Model, Input: texts, InputType: inputType, OutputDimension: cfg.Dimensions}
	})
}
