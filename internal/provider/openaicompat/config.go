package openaicompat

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Defaults applied to zero Config fields.
const (
	DefaultBatchSize   = 64
	DefaultTimeout     = 30 * time.Second
	DefaultMaxRetries  = 3
	DefaultBackoffBase = 500 * time.Millisecond
	DefaultMaxBackoff  = 20 * time.Second
	DefaultProvider    = "openai"
)

// Reply size limits: far above any real reply (64 inputs of 3072 floats is
// about 4 MiB of JSON), low enough that a broken server cannot exhaust memory.
const (
	maxEmbeddingsReply = 64 << 20
	maxChatReply       = 8 << 20
	maxErrorReply      = 64 << 10
)

// Config configures an Embedder or a Chat. Zero values select the defaults
// above.
type Config struct {
	BaseURL string // e.g. "https://api.openai.com/v1"; required, http or https
	APIKey  string // sent as "Authorization: Bearer ..." when set; never logged or put in errors
	Model   string // required

	// Dimensions asks an embeddings model for vectors of this length (sent
	// as "dimensions" when > 0; 0 = the model's default). Replies of any
	// other length are rejected.
	Dimensions int
	// BatchSize is the number of inputs per embeddings request.
	BatchSize int

	Timeout     time.Duration // per HTTP attempt, not per call
	MaxRetries  int           // retries after the first attempt; 0 = default, < 0 = none
	BackoffBase time.Duration // delay before the first retry, doubling after
	MaxBackoff  time.Duration // cap on any delay, including a server's Retry-After

	HTTPClient *http.Client // nil = a client of its own; its Timeout, if any, also applies

	// Provider names the service in Info and in errors ("openai").
	Provider string
	// KeyName tells the user where the API key comes from, for hints in
	// authentication errors: "check TROVE_EMBED_API_KEY". Default "the API key".
	KeyName string
}

// Validate reports every invalid field, each error naming the field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("openaicompat: %s %s", field, fmt.Sprintf(format, args...)))
	}
	if c.BaseURL == "" {
		bad("BaseURL", "is required (e.g. https://api.openai.com/v1)")
	} else if u, err := url.Parse(c.BaseURL); err != nil {
		bad("BaseURL", "is not a valid URL: %v", err)
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("BaseURL", "%q must be an absolute http:// or https:// URL", u.Redacted())
	}
	if c.Model == "" {
		bad("Model", "is required")
	}
	if c.Dimensions < 0 {
		bad("Dimensions", "is %d; use 0 for the model's default or a positive size", c.Dimensions)
	}
	if c.BatchSize < 0 {
		bad("BatchSize", "is %d; use 0 for the default (%d) or a positive size", c.BatchSize, DefaultBatchSize)
	}
	if c.Timeout < 0 {
		bad("Timeout", "is %v; it must not be negative", c.Timeout)
	}
	if c.BackoffBase < 0 {
		bad("BackoffBase", "is %v; it must not be negative", c.BackoffBase)
	}
	if c.MaxBackoff < 0 {
		bad("MaxBackoff", "is %v; it must not be negative", c.MaxBackoff)
	}
	return errors.Join(errs...)
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.BackoffBase == 0 {
		c.BackoffBase = DefaultBackoffBase
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Provider == "" {
		c.Provider = DefaultProvider
	}
	if c.KeyName == "" {
		c.KeyName = "the API key"
	}
	return c
}
