// Package rerank is trove's contract for cross-encoder rerankers, and the
// hosted and self-hosted ones trove speaks to.
//
// A reranker scores each candidate document against the query with a
// model that reads both together, which orders a short list far better than
// vector or keyword similarity alone. Retrieval calls it on the query path,
// after fusing vector and BM25 candidates, so calls are short: a 5-second
// timeout and at most one retry, and only for failures a quick retry can
// fix (timeouts, 429, 5xx).
//
// The providers differ only in their JSON, so each is one small file here
// (jina.go serves Jina and SiliconFlow, which share a format; voyage.go,
// pinecone.go, tei.go), on provider/openaicompat's request machinery.
// Replies are checked before they are returned: an index out of range or
// twice, a missing or non-finite score, or too few results is a
// *ReplyError, not a ranking.
//
//	rr, err := rerank.New(rerank.Config{
//		Provider: "jina",
//		APIKey:   os.Getenv("TROVE_RERANK_API_KEY"),
//		KeyName:  "TROVE_RERANK_API_KEY",
//	})
//	if err != nil { ... } // the error names the Config field that is wrong
//	results, err := rr.Rerank(ctx, "which editor?", []string{"uses vim", "likes tea"}, 1)
//	// results[0] = {Index: 0, Score: 0.93}: the best document first
package rerank

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/trove-memory/trove/internal/provider/openaicompat"
)

// Reranker orders documents by relevance to a query. Implementations must
// be safe for concurrent use.
type Reranker interface {
	// Rerank returns the topN most relevant of docs, best first; topN <= 0
	// or beyond len(docs) means all of them. Each document appears at
	// most once. No docs gives no results and makes no request.
	Rerank(ctx context.Context, query string, docs []string, topN int) ([]Result, error)
}

// Result is one document's place in a ranking.
type Result struct {
	Index int // into the docs given to Rerank
	// Score is the provider's relevance score: higher is more relevant.
	// Its scale is the model's (most give 0 to 1), so compare scores from
	// one reranker only.
	Score float64
}

// Provider names accepted in Config.Provider.
const (
	Jina        = "jina"
	SiliconFlow = "siliconflow"
	Voyage      = "voyage"
	Pinecone    = "pinecone"
	TEI         = "tei" // Hugging Face text-embeddings-inference
)

// Defaults applied to zero Config fields.
const (
	DefaultTimeout            = 5 * time.Second
	DefaultMaxRetries         = 1
	DefaultPineconeAPIVersion = "2025-10"
)

// Retry timing on the query path: a short pause, and no retry at all when
// the server asks for a longer one (it would only refuse again while the
// user waits).
const (
	retryBackoff = 100 * time.Millisecond
	maxRetryWait = time.Second
)

// vendor is what differs between providers besides the wire format.
type vendor struct {
	baseURL string // default; hosted ones need a key there
	model   string // default; "" = the server serves one model and takes no name
	hosted  bool
	call    callFunc
}

var vendors = map[string]vendor{
	Jina:        {baseURL: "https://api.jina.ai/v1", model: "jina-reranker-v3", hosted: true, call: jinaRerank},
	SiliconFlow: {baseURL: "https://api.siliconflow.cn/v1", model: "BAAI/bge-reranker-v2-m3", hosted: true, call: jinaRerank},
	Voyage:      {baseURL: "https://api.voyageai.com/v1", model: "rerank-2.5", hosted: true, call: voyageRerank},
	Pinecone:    {baseURL: "https://api.pinecone.io", model: "bge-reranker-v2-m3", hosted: true, call: pineconeRerank},
	TEI:         {baseURL: "http://localhost:8080", call: teiRerank},
}

// providerNames lists the providers for error messages.
func providerNames() string {
	names := make([]string, 0, len(vendors))
	for name := range vendors {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// Config configures a Reranker. Zero values select the provider's
// defaults.
type Config struct {
	Provider string // jina, siliconflow, voyage, pinecone or tei; required
	// BaseURL is where the provider's API lives, e.g.
	// "https://api.jina.ai/v1"; POST {BaseURL}/rerank is called, or BaseURL
	// itself when it already ends in /rerank. "" = the provider's own.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer ..." (Pinecone: "Api-Key").
	// Required for a hosted provider's own BaseURL; never put in errors.
	APIKey string
	// Model is the reranking model; "" = the provider's default. TEI
	// serves one model and takes no name, so it is ignored there.
	Model string
	// APIVersion is Pinecone's X-Pinecone-API-Version;
	// "" = DefaultPineconeAPIVersion. Other providers ignore it.
	APIVersion string

	Timeout time.Duration // per attempt; 0 = DefaultTimeout
	// MaxRetries is 0 (the default: one retry), 1, or < 0 for none.
	// Rerank is on the query path, so more is refused.
	MaxRetries int

	HTTPClient *http.Client // nil = a client of its own
	// KeyName tells the user where the key comes from, for hints:
	// "check TROVE_RERANK_API_KEY". Default "the API key".
	KeyName string
}

func (c Config) withDefaults() Config {
	v := vendors[c.Provider]
	if c.BaseURL == "" {
		c.BaseURL = v.baseURL
	}
	if v.model == "" {
		c.Model = ""
	} else if c.Model == "" {
		c.Model = v.model
	}
	if c.Provider == Pinecone && c.APIVersion == "" {
		c.APIVersion = DefaultPineconeAPIVersion
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = -1 // openaicompat's "none"
	}
	if c.KeyName == "" {
		c.KeyName = "the API key"
	}
	return c
}

// Validate reports every invalid field, each error naming the field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("rerank: %s %s", field, fmt.Sprintf(format, args...)))
	}
	v, known := vendors[c.Provider]
	switch {
	case c.Provider == "":
		bad("Provider", "is required: use one of %s", providerNames())
	case !known:
		bad("Provider", "%q is unknown: use one of %s", c.Provider, providerNames())
	}
	d := c.withDefaults()
	if d.BaseURL == "" {
		if known {
			bad("BaseURL", "is required")
		}
	} else if u, err := url.Parse(d.BaseURL); err != nil {
		bad("BaseURL", "is not a valid URL: %v", err)
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("BaseURL", "%q must be an absolute http:// or https:// URL", u.Redacted())
	}
	if c.Timeout < 0 {
		bad("Timeout", "is %v; it must not be negative", c.Timeout)
	}
	if c.MaxRetries > 1 {
		bad("MaxRetries", "is %d; rerank runs while a user waits, so it retries at most once", c.MaxRetries)
	}
	if known && v.hosted && c.APIKey == "" && d.BaseURL == v.baseURL {
		bad("APIKey", "is required for %s (set %s)", v.baseURL, d.KeyName)
	}
	return errors.Join(errs...)
}

// New validates cfg and returns the provider's Reranker. No request is
// made until the first Rerank.
func New(cfg Config) (Reranker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	v := vendors[cfg.Provider]

	opts := openaicompat.EndpointOptions{
		Op:            "rerank",
		Path:          "rerank",
		Retry:         retryOnQueryPath,
		ModelOptional: v.model == "",
	}
	if u, err := url.Parse(cfg.BaseURL); err == nil && strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/rerank") {
		opts.Path = "" // a full endpoint URL, as memory-lancedb-pro's rerankEndpoint was
	}
	if cfg.Provider == Pinecone {
		opts.AuthHeader = "Api-Key"
		opts.Header = http.Header{"X-Pinecone-API-Version": {cfg.APIVersion}}
	}
	ep, err := openaicompat.NewEndpoint(openaicompat.Config{
		BaseURL:     cfg.BaseURL,
		APIKey:      cfg.APIKey,
		Model:       cfg.Model,
		Timeout:     cfg.Timeout,
		MaxRetries:  cfg.MaxRetries,
		BackoffBase: retryBackoff,
		MaxBackoff:  maxRetryWait,
		HTTPClient:  cfg.HTTPClient,
		Provider:    cfg.Provider,
		KeyName:     cfg.KeyName,
	}, opts)
	if err != nil {
		return nil, err
	}
	return &reranker{ep: ep, provider: cfg.Provider, model: cfg.Model, key: cfg.APIKey, call: v.call}, nil
}

// retryOnQueryPath allows the one retry only for failures a quick second
// try can fix. A refused connection or a bad request will fail again; a
// server asking to wait longer than maxRetryWait would only refuse again.
func retryOnQueryPath(e *openaicompat.APIError) bool {
	if e.RetryAfter > maxRetryWait {
		return false
	}
	return e.Timeout() || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// callFunc sends one provider's request for want results and returns the
// results as the reply gave them; the reranker checks and orders them.
type callFunc func(ctx context.Context, r *reranker, query string, docs []string, want int) ([]Result, error)

// reranker is every provider's Reranker; call is its wire format.
type reranker struct {
	ep       *openaicompat.Endpoint
	provider string
	model    string // "" for TEI
	key      string // only to keep it out of ReplyError, which quotes replies
	call     callFunc
}

var _ Reranker = (*reranker)(nil)

func (r *reranker) Rerank(ctx context.Context, query string, docs []string, topN int) ([]Result, error) {
	if len(docs) == 0 {
		return []Result{}, nil
	}
	if strings.TrimSpace(query) == "" {
		return nil, fmt.Errorf("%s rerank: the query is empty", r.provider)
	}
	want := topN
	if want <= 0 || want > len(docs) {
		want = len(docs)
	}
	results, err := r.call(ctx, r, query, docs, want)
	if err != nil {
		return nil, err
	}
	if err := CheckResults(results, len(docs)); err != nil {
		var re *ReplyError
		if errors.As(err, &re) {
			re.Provider = r.provider
		}
		return nil, err
	}
	if len(results) < want {
		return nil, r.bad("got %d results, expected %d", len(results), want)
	}
	// Replies are usually sorted already; a gateway's may not be, and TEI
	// ignores any limit, so order and cut here. Ties keep document order.
	slices.SortStableFunc(results, func(a, b Result) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return a.Index - b.Index
	})
	return results[:want], nil
}

// bad reports what is wrong with a reply. A server that echoes the key
// back must not get it into an error: it would end up in logs.
func (r *reranker) bad(format string, args ...any) *ReplyError {
	problem := fmt.Sprintf(format, args...)
	if len(r.key) >= 4 {
		problem = strings.ReplaceAll(problem, r.key, "[redacted]")
	}
	return &ReplyError{Provider: r.provider, Problem: problem}
}
