package openaicompat

import (
	"errors"
	"fmt"

	"github.com/trove-memory/trove/internal/embedding"
)

// Defaults are a vendor's values for the zero fields of a Config, and
// whether its own hosted URL needs an API key. The thin vendor packages
// (jina, voyage, gemini, ollama) describe themselves with one of these
// instead of each repeating the same defaulting and validation.
type Defaults struct {
	Provider      string
	BaseURL       string
	Model         string
	BatchSize     int  // 0: this package's default
	MaxInputChars int  // default for a vendor Config's MaxInputChars
	KeyRequired   bool // BaseURL (the vendor's own host) needs an API key
}

// Apply fills the zero fields of cfg and maxChars from d.
func (d Defaults) Apply(cfg Config, maxChars int) (Config, int) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = d.BaseURL
	}
	if cfg.Model == "" {
		cfg.Model = d.Model
	}
	if cfg.Provider == "" {
		cfg.Provider = d.Provider
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = d.BatchSize
	}
	if maxChars == 0 {
		maxChars = d.MaxInputChars
	}
	return cfg, maxChars
}

// Validate reports every invalid field of cfg (defaults already applied),
// including a missing key for the vendor's own host.
func (d Defaults) Validate(cfg Config) error {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if d.KeyRequired && cfg.APIKey == "" && cfg.BaseURL == d.BaseURL {
		keyName := cfg.KeyName
		if keyName == "" {
			keyName = "the API key"
		}
		errs = append(errs, fmt.Errorf("%s: APIKey is required for %s (set %s)", d.Provider, d.BaseURL, keyName))
	}
	return errors.Join(errs...)
}

// Embedder is what a vendor package's NewEmbedder returns: cfg validated
// (Validate) with d's defaults applied, posting OpenAI's request body, or
// the one build makes when the vendor takes its own (a task hint: then
// the result is also an embedding.QueryEmbedder), and split so that no
// input exceeds maxChars characters (embedding.Chunked, which keeps Info
// and EmbedQuery; 0 = d.MaxInputChars, < 0 = no limit).
func (d Defaults) Embedder(cfg Config, maxChars int, build RequestFunc) (embedding.Embedder, error) {
	cfg, maxChars = d.Apply(cfg, maxChars)
	if err := d.Validate(cfg); err != nil {
		return nil, err
	}
	var raw embedding.Embedder
	var err error
	if build == nil {
		raw, err = NewEmbedder(cfg)
	} else {
		raw, err = NewTaskEmbedder(cfg, build)
	}
	if err != nil {
		return nil, err
	}
	return embedding.Chunked(raw, maxChars), nil
}
